"""The web server of `warung web`: textual-serve's, with the page of this package (works
offline: every file it loads is served from the installed packages), the addresses in the
page taken from the request (or from `public_url` behind a reverse proxy), a limit on open
tabs, and a port of 0 meaning a free one."""

from __future__ import annotations

import asyncio
import signal
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from textual_serve.server import Server

HERE = Path(__file__).resolve().parent
TEMPLATES, STATIC = HERE / "templates", HERE / "static"
SHUTDOWN_S = 3.0  # tabs still open when the server stops get this long to quit


class WebServer(Server):
    """Serves `command` (one process per browser tab) on `host:port`."""

    def __init__(
        self,
        command: str,
        host: str,
        port: int,
        *,
        public_url: str | None = None,
        max_tabs: int = 100,
        title: str = "warung",
    ) -> None:
        super().__init__(command, host, port, title=title, templates_path=TEMPLATES)
        self.fixed_url = public_url.rstrip("/") if public_url else None
        self.max_tabs = max_tabs
        self.open_tabs = 0

    def base_url(self, request: web.Request) -> str:
        """Where browsers reach this server: `public_url`, else what the request says."""
        return self.fixed_url or f"{request.scheme}://{request.host}"

    @aiohttp_jinja2.template("app_index.html")
    async def handle_index(self, request: web.Request) -> dict[str, Any]:
        base = self.base_url(request)
        socket_url = ("wss:" if base.startswith("https:") else "ws:") + base.split(":", 1)[1]
        return {
            "font_size": _font_size(request.query.get("fontsize", "")),
            "app_websocket_url": f"{socket_url}/ws",
            "config": {"static": {"url": f"{base}/static/"}},
            "own_static_url": f"{base}/warung/",
            "application": {"name": self.title},
        }

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.router.add_static("/warung", STATIC)
        return app

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """One tab: its own app process, unless `max_tabs` are open already."""
        if self.open_tabs >= self.max_tabs:
            raise web.HTTPServiceUnavailable(text=f"{self.max_tabs} tabs are open: try later.")
        self.open_tabs += 1
        try:
            return await super().handle_websocket(request)
        finally:
            self.open_tabs -= 1

    async def on_startup(self, app: web.Application) -> None:
        """textual-serve prints a banner here; `run` prints the address instead."""

    async def run(self, started: Callable[[str, str], None]) -> None:
        """Serve until SIGINT or SIGTERM; once listening, `started` gets the URL to open
        and the address listened on (`http://host:port/`)."""
        self.initialize_logging()
        runner = web.AppRunner(
            await self._make_app(), handle_signals=False, shutdown_timeout=SHUTDOWN_S
        )
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
            self.port = runner.addresses[0][1]
            listening = f"http://{_url_host(self.host)}:{self.port}/"
            started(f"{self.fixed_url}/" if self.fixed_url else listening, listening)
            await _signalled()
        finally:
            await runner.cleanup()


async def _signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()


def _font_size(text: str) -> int:
    """The page's `?fontsize=`, within reason (16 px without it, or with anything but ASCII
    digits: `"²".isdigit()` holds, and `int` refuses over 4,300 digits)."""
    if not (text.isascii() and text.isdigit()):
        return 16
    digits = text.lstrip("0") or "0"
    return min(max(int(digits) if len(digits) <= 2 else 48, 8), 48)


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::", ""):
        return socket.gethostname()
    return f"[{host}]" if ":" in host else host
