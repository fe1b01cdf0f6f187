"""Headless Chromium (Debian's `chromium` and `chromium-driver`) driven by Selenium, and the
terminal in the page read as text.

textual-serve's page keeps its xterm.js terminal to itself; a script run before the page's
own (`HOOK`) catches it as it is assigned, so a test reads what the terminal shows (its
buffer, line by line) and where each cell is on the page. Keys are typed into the
terminal's input; clicks and taps land on the cells of a text found on screen.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.actions import interaction
from selenium.webdriver.common.actions.action_builder import ActionBuilder
from selenium.webdriver.common.actions.pointer_input import PointerInput
from selenium.webdriver.common.by import By

FAILED = pytest.StashKey[bool]()  # the test's body failed (set by conftest's report hook)
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PHONE = (390, 844)
DESKTOP = (1440, 900)
STILL_S = 0.2
RETAPS, RETAP_S = 3, 2.0
SWIPE_STEPS = 10

HOOK = """
Object.defineProperty(Object.prototype, "terminal", {
  configurable: true,
  set(value) {
    Object.defineProperty(this, "terminal", {value, writable: true, enumerable: true});
    window.__warungTerminal = value;
  },
});
"""
SCREEN = """
const t = window.__warungTerminal;
if (!t || !t.element) return null;
const b = t.buffer.active, lines = [];
for (let y = 0; y < t.rows; y++) lines.push(b.getLine(b.viewportY + y).translateToString(true));
const r = t.element.querySelector(".xterm-screen").getBoundingClientRect();
return {lines, cols: t.cols, rows: t.rows, left: r.left, top: r.top, width: r.width,
        height: r.height};
"""


def system_browser() -> tuple[str, str]:
    """Debian's chromium and chromedriver; skip without them, unless CI=true (then fail:
    .ci/run installs them)."""
    chromium = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    chromedriver = CHROMEDRIVER if Path(CHROMEDRIVER).exists() else shutil.which("chromedriver")
    if chromium and chromedriver:
        return chromium, chromedriver
    reason = "chromium and chromedriver are not installed (apt-get install chromium "
    reason += "chromium-driver; .ci/run installs them)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI=true, so this fails instead of skipping", pytrace=False)
    pytest.skip(reason)


class Screen:
    """One look at the terminal: its lines and where its cells are on the page."""

    def __init__(self, seen: dict[str, Any]) -> None:
        self.lines: list[str] = seen["lines"]
        self.cols, self.rows = seen["cols"], seen["rows"]
        self.left, self.top = seen["left"], seen["top"]
        self.cell_w, self.cell_h = seen["width"] / self.cols, seen["height"] / self.rows

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def find(self, text: str, *, last: bool = False) -> tuple[int, int] | None:
        """(column, row) of the first cell of `text` (of its last showing, if `last`)."""
        rows = reversed(range(self.rows)) if last else range(self.rows)
        for row in rows:
            line = self.lines[row]
            if (col := line.rfind(text) if last else line.find(text)) >= 0:
                return col, row
        return None

    def point(self, text: str, *, last: bool = False) -> tuple[float, float]:
        """The page coordinates of the middle of `text` on screen."""
        found = self.find(text, last=last)
        assert found is not None, f"{text!r} is not on screen:\n{self.text}"
        col, row = found
        return (
            self.left + (col + len(text) / 2) * self.cell_w,
            self.top + (row + 0.5) * self.cell_h,
        )


class Browser:
    """A headless Chromium window of `size` CSS pixels; `phone`: a touch screen that says
    it is a phone (mobile emulation), so the page's viewport and taps are a phone's."""

    def __init__(self, size: tuple[int, int], *, phone: bool = False) -> None:
        chromium, chromedriver = system_browser()
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
            options.add_argument(flag)
        options.add_argument(f"--window-size={size[0]},{size[1]}")
        if phone:
            metrics = {"width": size[0], "height": size[1], "pixelRatio": 1.0, "touch": True}
            options.add_experimental_option("mobileEmulation", {"deviceMetrics": metrics})
        self.driver = webdriver.Chrome(options=options, service=Service(chromedriver))
        self.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": HOOK})
        if not phone:
            self.driver.set_window_rect(width=size[0], height=size[1])
            self._fit_viewport(size)
        self.phone = phone

    def _fit_viewport(self, size: tuple[int, int]) -> None:
        """Make the page's viewport itself `size` (the window has borders of its own)."""
        self.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": size[0], "height": size[1], "deviceScaleFactor": 1, "mobile": False},
        )

    def new_tab(self) -> None:
        """A new tab, in front (the hook goes in each tab)."""
        self.driver.switch_to.new_window("tab")
        self.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": HOOK})

    def open(self, url: str) -> None:
        self.driver.get(url)

    def screen(self) -> Screen | None:
        seen = self.driver.execute_script(SCREEN)
        return Screen(seen) if seen else None

    def wait_for(self, text: str, timeout: float = 15.0) -> Screen:
        """The screen once `text` is on it; fail after `timeout` s showing what was."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if screen is not None and screen.find(text) is not None:
                return screen
            if time.monotonic() > deadline:
                shown = screen.text if screen else "(no terminal)"
                raise AssertionError(f"timed out waiting for {text!r} on the page:\n{shown}")
            time.sleep(0.05)

    def settled(self, text: str, timeout: float = 15.0) -> Screen:
        """The screen once `text` is on it and the screen has stayed the same for
        `STILL_S` (as a person sees a dialog before tapping its button)."""
        screen = self.wait_for(text, timeout)
        deadline = time.monotonic() + timeout
        still_since = time.monotonic()
        while time.monotonic() - still_since < STILL_S:
            time.sleep(0.05)
            now = self.wait_for(text, max(0.0, deadline - time.monotonic()))
            if now.lines != screen.lines:
                screen, still_since = now, time.monotonic()
        return screen

    def wait_gone(self, text: str, timeout: float = 15.0) -> Screen:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if screen is not None and screen.find(text) is None:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} still on the page after {timeout} s")
            time.sleep(0.05)

    def keys(self, *keys: str) -> None:
        """Type into the terminal, as a person at the keyboard."""
        field = self.driver.find_element(By.CSS_SELECTOR, ".xterm-helper-textarea")
        field.send_keys(*keys)

    def tap(self, text: str, *, last: bool = False, timeout: float = 15.0) -> None:
        """Click (a mouse) or tap (a finger, on a phone) the middle of `text` on screen
        (of its last showing, if `last`: a button under a title that says the same)."""
        x, y = self.settled(text, timeout).point(text, last=last)
        kind = interaction.POINTER_TOUCH if self.phone else interaction.POINTER_MOUSE
        actions = ActionBuilder(self.driver, mouse=PointerInput(kind, "finger"))
        actions.pointer_action.move_to_location(int(x), int(y))
        actions.pointer_action.pointer_down().pause(0.05).pointer_up()
        actions.perform()

    def swipe(self, text: str, dx: int, dy: int = 0) -> None:
        """Drag a finger from the middle of `text` by (dx, dy) CSS pixels (kept on the
        terminal)."""
        screen = self.settled(text)
        x, y = screen.point(text)
        right, bottom = (
            screen.left + screen.cols * screen.cell_w,
            screen.top + screen.rows * screen.cell_h,
        )
        dx = int(min(max(x + dx, screen.left + 1), right - 1) - x)
        dy = int(min(max(y + dy, screen.top + 1), bottom - 1) - y)
        actions = ActionBuilder(self.driver, mouse=PointerInput(interaction.POINTER_TOUCH, "f"))
        actions.pointer_action.move_to_location(int(x), int(y)).pointer_down()
        for step in range(1, SWIPE_STEPS + 1):
            actions.pointer_action.move_to_location(
                int(x + dx * step / SWIPE_STEPS), int(y + dy * step / SWIPE_STEPS)
            )
        actions.pointer_action.pointer_up()
        actions.perform()

    def tap_for(self, text: str, expect: str, *, last: bool = False) -> Screen:
        """Tap `text` until `expect` shows (a tap that lands while the app is still
        redrawing can go unseen: a person taps again, if what they tapped is still
        there). Only for taps that change nothing twice over: a tab, a dialog that opens,
        a dialog's button that closes it."""
        for _ in range(RETAPS):
            self.tap(text, last=last)
            try:
                return self.wait_for(expect, RETAP_S)
            except AssertionError:
                if self.showing(text):
                    continue
                # the tap was taken (what was tapped is gone) and its answer is slow, as
                # a sale under load: wait for it, tapping nothing that has gone
                return self.wait_for(expect)
        return self.wait_for(expect, RETAP_S)

    def showing(self, text: str) -> bool:
        screen = self.screen()
        return screen is not None and screen.find(text) is not None

    def screenshot(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(path))
        return path

    def keep_if_failed(self, request: pytest.FixtureRequest, folder: Path) -> None:
        """After a failed test: a screenshot and the terminal's text, named after it."""
        if not request.node.stash.get(FAILED, False):
            return
        shot = self.screenshot(folder / f"failed-{request.node.name}.png")
        screen = self.screen()
        text = screen.text if screen else "(no terminal)"
        print(f"\n{request.node.name} failed; the page ({shot}):\n{text}")

    def close(self) -> None:
        self.driver.quit()
