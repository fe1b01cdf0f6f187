"""The line above a paged table: where the rows on screen are in the whole listing ("41-90
of 399") and what the listing holds (its search, its category, and the key that widens it)."""

from __future__ import annotations

EVERYWHERE_KEY = "Ctrl+G"


def position(first: int, last: int, loaded: int, total: int | None, more: bool) -> str:
    """ "41-90 of 399"; just "12" when every row is on screen; of what is loaded ("of 40+")
    without a `total`; "" for no rows."""
    if not loaded:
        return ""
    whole = str(total) if total is not None else f"{loaded}{'+' if more else ''}"
    if first <= 1 and last >= loaded and not more:
        return whole
    return f"{first}-{last} of {whole}"


def scope(where: str, query: str, category: str | None, loading: bool = False) -> str:
    """`where` from `position` before what is listed: "41-90 of 399 products",
    "3 results for “susu” in Kopi & Teh · Ctrl+G search everywhere". `category` None: every
    product."""
    query = query.strip()
    noun = "result" if query else "product"
    if loading:
        text = f"Finding {noun}s"
    elif not where:
        text = f"No {noun}s"
    else:
        text = f"{where} {noun}{'' if where == '1' else 's'}"
    if query:
        text += f" for “{query}”"
    if category is None:
        return text
    text += f" in {category}"
    return f"{text} · {EVERYWHERE_KEY} {'search everywhere' if query else 'all products'}"
