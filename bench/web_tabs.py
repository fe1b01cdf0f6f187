"""How many browser tabs one machine's `warung web` holds: memory and CPU per idle tab, and
the time from opening the URL to the sign-in form and from *Sign in* to the catalog.

    python bench/web_tabs.py [--tabs 10] [--idle 10]

Starts a demo shop (`warung-server`) and `warung web` on free ports, opens `--tabs` tabs in
one headless Chromium (Debian's `chromium` and `chromedriver`), signs each in as the demo
customer, then leaves them idle for `--idle` seconds and reads /proc for the processes that
`warung web` runs (one app per tab): PSS and RSS each, CPU time used while idle.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from selenium.webdriver.common.keys import Keys

from bench.proc_cpu import cpu_s, processes
from tests.e2e.harness import Servers
from tests.web.browser import DESKTOP, Browser
from tests.web.webproc import WebProcess


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for process, _, fields in processes():
        children.setdefault(int(fields[1]), []).append(int(process))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def memory_kib(pid: int) -> tuple[int, int]:
    """(PSS, RSS) of `pid` in KiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value = line.split(":")
        fields[name] = int(value.split()[0])
    return fields["Pss"], fields["Rss"]


def apps(web: WebProcess) -> list[int]:
    """The tab processes: the Python ones under `warung web` (not their /bin/sh)."""
    return [
        pid
        for pid in descendants(web.proc.pid)
        if b"client_web.tab" in Path(f"/proc/{pid}/cmdline").read_bytes()
        and Path(f"/proc/{pid}/exe").resolve().name.startswith("python")
    ]


def open_tab(browser: Browser, url: str, password: str) -> tuple[float, float, float]:
    """Seconds from opening the URL to the sign-in form, from *Sign in* to the catalog, and
    from opening the URL to the catalog (the form typed as fast as the app takes it)."""
    opened = started = time.monotonic()
    browser.open(url)
    browser.wait_for("Username", timeout=60)
    form = time.monotonic() - started
    browser.keys("customer")
    browser.settled("customer")
    browser.keys(Keys.TAB)
    browser.settled("Password")
    browser.keys(password)
    browser.wait_for("•" * len(password))
    started = time.monotonic()
    browser.keys(Keys.ENTER)
    browser.wait_for("in stock", timeout=60)
    done = time.monotonic()
    return form, done - started, done - opened


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tabs", type=int, default=10)
    parser.add_argument("--idle", type=float, default=10.0, help="seconds idle to measure CPU")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, Servers(Path(folder)) as servers:
        shop = servers.start()
        web = WebProcess(shop.port)
        browser = Browser(DESKTOP)
        try:
            times = []
            for n in range(args.tabs):
                if n:
                    browser.new_tab()
                times.append(open_tab(browser, web.url, shop.passwords["customer"]))
            pids = apps(web)
            assert len(pids) == args.tabs, f"{len(pids)} app processes for {args.tabs} tabs"
            before = {pid: cpu_s(pid) for pid in pids}
            time.sleep(args.idle)
            used = [cpu_s(pid) - before[pid] for pid in pids]
            pss, rss = zip(*(memory_kib(pid) for pid in pids), strict=True)
            server_pss, server_rss = memory_kib(web.proc.pid)
        finally:
            browser.close()
            web.stop()
    forms, catalogs, totals = zip(*times, strict=True)
    print(f"tabs: {args.tabs} (desktop, 1440x900), each its own app process")
    print(
        f"URL to the sign-in form: median {statistics.median(forms):.2f} s, max {max(forms):.2f} s"
    )
    print(
        f"Sign in to the first catalog page: median {statistics.median(catalogs):.2f} s, "
        f"max {max(catalogs):.2f} s"
    )
    print(
        f"URL to the first catalog page, signing in: median {statistics.median(totals):.2f} s, "
        f"max {max(totals):.2f} s"
    )
    print(
        f"memory per tab: PSS median {statistics.median(pss) / 1024:.1f} MiB, "
        f"RSS median {statistics.median(rss) / 1024:.1f} MiB"
    )
    print(f"warung web itself: PSS {server_pss / 1024:.1f} MiB, RSS {server_rss / 1024:.1f} MiB")
    print(
        f"CPU per idle tab over {args.idle:.0f} s: median "
        f"{100 * statistics.median(used) / args.idle:.2f} %, max "
        f"{100 * max(used) / args.idle:.2f} % of one core"
    )


if __name__ == "__main__":
    main()
