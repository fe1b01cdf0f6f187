"""The admin's calls about the shop's people (PROTOCOL.md 12.8), over the session's client."""

from __future__ import annotations

from typing import Any

from protocol.client import AsyncClient
from protocol.ops import Op

PEOPLE_PAGE = 50


class People:
    def __init__(self, client: AsyncClient) -> None:
        self.client = client

    async def page(self, cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """A page of accounts by username, each with `last_sign_in_at`."""
        args: dict[str, Any] = {"limit": PEOPLE_PAGE}
        if cursor is not None:
            args["cursor"] = cursor
        result = await self.client.call(Op.ADMIN_USER_LIST, args)
        return result["items"], result.get("next_cursor")

    async def create(self, username: str, password: str, role: str) -> dict[str, Any]:
        args = {"username": username, "password": password, "role": role}
        return dict((await self.client.call(Op.ADMIN_USER_CREATE, args))["user"])

    async def set_role(self, user_id: int, role: str) -> dict[str, Any]:
        """The account's sessions end: its new role applies from its next sign-in."""
        args = {"user_id": user_id, "role": role}
        return dict((await self.client.call(Op.ADMIN_USER_SET_ROLE, args))["user"])

    async def set_disabled(self, user_id: int, disabled: bool) -> dict[str, Any]:
        """Disabling ends the account's sessions; enabling lets it sign in again."""
        args = {"user_id": user_id, "disabled": disabled}
        return dict((await self.client.call(Op.ADMIN_USER_DISABLE, args))["user"])
