"""The words of a catalog query that reach the database (`catalog.search_words`)."""

from server.services.catalog import search_words


def test_each_word_counts_once_and_a_word_inside_another_not_at_all() -> None:
    assert search_words("e " * 50) == ["e"]
    assert search_words("Kopi kop KOPI susu") == ["kopi", "susu"]
    assert search_words("gula aren\u00a0gula") == ["aren", "gula"]
    assert search_words("   ") == []
