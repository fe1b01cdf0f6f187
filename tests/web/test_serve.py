"""`warung web` without a browser: the page loads nothing from elsewhere, names the address
given by --public-url, refuses tabs beyond --max-tabs, and a tab's app is the one the page
promises (tests/tui/test_signin.py: no server to choose)."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import urllib.request
from argparse import Namespace

import aiohttp
import pytest

from client_tui.connection import Target
from client_web.cli import shop_target, tab_command
from client_web.server import _font_size
from tests.e2e.harness import ServerProcess
from tests.web.webproc import WebProcess

LINKS = re.compile(r'(?:src|href)="([^"]+)"|url\("([^"]+)"\)')


def fetch(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return answer.status, answer.read()


def test_the_page_loads_every_file_from_warung_web_itself(shop: ServerProcess):
    served = WebProcess(shop.port)
    try:
        status, page = fetch(served.url)
        assert status == 200
        links = [a or b for a, b in LINKS.findall(page.decode())]
        assert len(links) >= 4  # stylesheet, font, textual.js, touch.js
        for link in links:
            assert link.startswith(served.url), f"{link} is not served by warung web"
            assert fetch(link)[0] == 200, link
        assert f'data-session-websocket-url="ws://{served.url[7:]}ws"' in page.decode()
        assert b'name="viewport"' in page  # a phone lays it out at its own width
    finally:
        served.stop()


def test_behind_a_proxy_the_page_names_the_public_address(shop: ServerProcess):
    served = WebProcess(shop.port, "--public-url", "https://shop.example/")
    try:
        assert served.url == "https://shop.example/"
        page = fetch(served.local)[1].decode()
        assert 'data-session-websocket-url="wss://shop.example/ws"' in page
        assert "https://shop.example/static/js/textual.js" in page
    finally:
        served.stop()


def test_a_tab_beyond_max_tabs_is_refused_and_one_closed_makes_room(shop: ServerProcess):
    served = WebProcess(shop.port, "--max-tabs", "1")
    socket_url = served.url.replace("http:", "ws:") + "ws?width=80&height=24"

    async def run() -> None:
        async with aiohttp.ClientSession() as session:
            first = await session.ws_connect(socket_url)
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(socket_url)
            assert refused.value.status == 503
            await first.close()

            async def room() -> bool:
                try:
                    again = await session.ws_connect(socket_url)
                except aiohttp.WSServerHandshakeError:
                    return False
                await again.close()
                return True

            deadline = asyncio.get_running_loop().time() + 20
            while not await room():
                assert asyncio.get_running_loop().time() < deadline, "no room after closing"
                await asyncio.sleep(0.1)

    try:
        asyncio.run(run())
    finally:
        served.stop()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--server", "shop:http"], "not a port"),
        (["--port", "70000"], "--port must be from 0 to 65535"),
        (["--max-tabs", "0"], "--max-tabs at least 1"),
    ],
)
def test_bad_options_are_refused_with_a_reason(argv: list[str], message: str):
    done = subprocess.run(
        [sys.executable, "-m", "client_tui", "web", *argv],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert message in done.stderr


def test_the_tab_command_carries_the_shop_and_its_tls_options_quoted():
    target = shop_target(Namespace(server="[::1]:7411", tls=False, tls_ca="/a b/ca.pem"))
    assert target == Target("::1", 7411, True, "/a b/ca.pem")
    command = tab_command(target)
    assert command.endswith("-m client_web.tab --host ::1 --port 7411 --tls --tls-ca '/a b/ca.pem'")


@pytest.mark.parametrize(
    ("query", "size"),
    [("", 16), ("14", 14), ("007", 8), ("99", 48), ("9" * 5000, 48), ("²", 16), ("-3", 16)],
)
def test_the_font_size_in_the_url_is_kept_within_reason(query: str, size: int):
    """Never an error page: a superscript digit or 5,000 digits made `int` raise."""
    assert _font_size(query) == size
