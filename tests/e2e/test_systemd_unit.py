"""deploy/warung.service: systemd accepts it, it has the settings docs/operations.md promises,
its ExecStart is a command line `warung-server` accepts, and the server runs (TLS, sign-in,
checkout, reload, drain) under the unit's system call filter, as systemd would apply it.

Needs systemd-analyze (Debian's systemd package) and Debian's python3 with python3-seccomp
for the confined runs. Without them those tests skip, unless CI=true: then they fail, since
.ci/run installs both.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import shutil
import signal
import ssl
import subprocess
import sys
from pathlib import Path

import pytest

from server.app import CLOSE_S, DRAIN_S
from server.cli import build_parser
from server.writer_link import STOP_S
from tests.e2e.certs import make_certificate
from tests.e2e.harness import SERVE, ServerProcess, Servers, wait_until

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "warung.service"
CONFINE = Path(__file__).with_name("confine.py")
SYSTEM_PYTHON = "/usr/bin/python3"
CARD = {"method": "card", "token": "tok"}


def unit_settings(text: str) -> dict[str, list[tuple[str, str]]]:
    """A unit file's settings by section, in order, repeats kept (systemd.syntax(7))."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for line in re.sub(r"\\\n", " ", text).splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), [])
        else:
            key, _, value = line.partition("=")
            current.append((key.strip(), value.strip()))
    return sections


SERVICE = unit_settings(UNIT.read_text())["Service"]


def setting(key: str) -> str:
    """The last value given to `key` in [Service] (one that is set once)."""
    values = [value for name, value in SERVICE if name == key]
    assert values, f"{key}= is not set"
    return values[-1]


def needs(tool: str, present: bool) -> None:
    if not present:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{tool} is missing (.ci/run installs it)")
        pytest.skip(f"needs {tool}")


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    """`systemd-analyze verify`, with ExecStart pointed at this venv's warung-server (it
    checks that the program exists); and its exposure score: at most 2.0 (`--threshold` counts
    tenths), where 10 is an unprotected service. It is 1.3."""
    needs("systemd-analyze", shutil.which("systemd-analyze") is not None)
    installed = str(Path(sys.executable).with_name("warung-server"))
    unit = tmp_path / "warung.service"
    unit.write_text(UNIT.read_text().replace("/opt/warung/.venv/bin/warung-server", installed))
    verify = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True
    )
    assert (verify.returncode, verify.stderr) == (0, "")
    security = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", "--threshold=20", str(unit)],
        capture_output=True,
        text=True,
    )
    assert security.returncode == 0, security.stdout[-2000:]


def test_the_unit_has_the_promised_settings() -> None:
    expected = {
        "User": "warung",
        "StateDirectory": "warung",
        "Restart": "on-failure",
        "KillSignal": "SIGTERM",
        "KillMode": "mixed",
        "ExecReload": "/bin/kill -HUP $MAINPID",
        "NoNewPrivileges": "yes",
        "CapabilityBoundingSet": "",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    }
    assert {key: setting(key) for key in expected} == expected
    assert "DynamicUser" not in dict(SERVICE)
    assert next(v for k, v in SERVICE if k == "SystemCallFilter") == "@system-service"
    # The stop timeout covers the whole drain, the writer's last commit included.
    assert float(setting("TimeoutStopSec").removesuffix("s")) > DRAIN_S + CLOSE_S + STOP_S


def test_exec_start_is_a_command_line_warung_server_accepts() -> None:
    program, *argv = shlex.split(setting("ExecStart"))
    assert Path(program).name == "warung-server"
    args = build_parser().parse_args(argv)
    assert args.command == "serve"
    assert args.db == "sqlite:////var/lib/warung/warung.db"  # in StateDirectory=warung
    assert args.security_log.startswith("/var/log/warung/")  # in LogsDirectory=warung
    assert (args.tls_cert, args.tls_key) == ("/etc/warung/tls/cert.pem", "/etc/warung/tls/key.pem")
    assert args.port > 1024  # no CAP_NET_BIND_SERVICE in the empty bounding set


def allowed_system_calls() -> list[str]:
    """What the unit's SystemCallFilter= lines let through, as systemd resolves them."""
    listing = subprocess.run(
        ["systemd-analyze", "syscall-filter"], capture_output=True, text=True, check=True
    ).stdout
    groups: dict[str, list[str]] = {}
    for line in listing.splitlines():
        if line.startswith("@"):
            members = groups.setdefault(line.strip(), [])
        elif line.startswith("    ") and not line.strip().startswith("#"):
            members.append(line.strip())

    def expand(name: str) -> set[str]:
        if not name.startswith("@"):
            return {name}
        return set().union(*(expand(member) for member in groups[name]))

    allowed: set[str] = set()
    for key, value in SERVICE:
        if key == "SystemCallFilter":
            denied = value.startswith("~")
            names = set().union(*(expand(name) for name in value.lstrip("~").split()))
            allowed = allowed - names if denied else allowed | names
    if os.geteuid() == 0:
        # SQLite gives the WAL and journal files it creates to the database's owner, with
        # fchown, only when it runs as root; under the unit it runs as warung.
        allowed.add("fchown")
    return sorted(allowed)


def confined(*options: str) -> tuple[str, ...]:
    needs("systemd-analyze", shutil.which("systemd-analyze") is not None)
    has_seccomp = (
        Path(SYSTEM_PYTHON).exists()
        and subprocess.run([SYSTEM_PYTHON, "-c", "import seccomp"], capture_output=True).returncode
        == 0
    )
    needs("python3-seccomp", has_seccomp)
    return (SYSTEM_PYTHON, str(CONFINE), *options, "--", *SERVE)


def shop_round(server: ServerProcess, trusted: ssl.SSLContext | None) -> str:
    """Sign in (argon2, in the hashing threads) and check out (through the writer process)."""

    async def run() -> str:
        async with await server.async_client("customer", tls=trusted or False) as c:
            product = next(p for p in (await c.call("catalog.list"))["items"] if p["stock"] > 2)
            await c.call("cart.add", product_id=product["id"])
            order = await c.call("order.checkout", idempotency_key="unit-1", payment=CARD)
            return str(order["status"])

    return asyncio.run(run())


def test_the_server_runs_under_the_units_system_call_filter(
    servers: Servers, tmp_path: Path
) -> None:
    command = confined("--allow", ",".join(allowed_system_calls()))
    cert, key = make_certificate(tmp_path / "tls")
    server = servers.start(
        "--tls-cert", str(cert), "--tls-key", str(key), "--metrics-port", "0", command=command
    )
    assert shop_round(server, ssl.create_default_context(cafile=str(cert))) == "paid"
    assert server.metrics()
    assert server.proc is not None
    server.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: "reloaded the TLS certificate" in "".join(server.log), what="reload")
    server.proc.terminate()
    assert server.proc.wait(30) == 0  # not -SIGSYS: no system call outside the filter
    assert "Traceback" not in "".join(server.log)


def test_memory_deny_write_execute_lets_plain_tcp_run_but_not_tls(
    servers: Servers, tmp_path: Path
) -> None:
    """Why the unit leaves MemoryDenyWriteExecute= out, and when a drop-in may add it."""
    command = confined("--mdwe")
    plain = servers.start(command=command)
    assert shop_round(plain, None) == "paid"
    cert, key = make_certificate(tmp_path / "tls")
    with pytest.raises(RuntimeError, match=re.escape("write+execute memory for ffi.callback()")):
        servers.start("--tls-cert", str(cert), "--tls-key", str(key), command=command)
