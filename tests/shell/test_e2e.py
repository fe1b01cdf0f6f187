"""`python -m client_shell.cli -c ...` against a real server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.e2e.harness import ServerProcess
from tests.e2e.raw import RawConnection
from tests.totp_codes import TotpCodes

ROOT = Path(__file__).resolve().parents[2]


def shell(
    server: ServerProcess, *commands: str, password: str | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "client_shell.cli", "--port", str(server.port)]
    for command in commands:
        argv += ["-c", command]
    env = {key: value for key, value in os.environ.items() if key != "WARUNG_PASSWORD"}
    if password is not None:
        env["WARUNG_PASSWORD"] = password
    return subprocess.run(
        argv,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=20,
        input=stdin,
    )


def test_login_and_list_two_products(shop: ServerProcess) -> None:
    run = shell(
        shop, "\\login customer", "catalog.list limit=2", password=shop.passwords["customer"]
    )
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    login_end = run.stdout.index("\n}\n") + 3  # the login answer comes first
    login, page = json.loads(run.stdout[:login_end]), json.loads(run.stdout[login_end:])
    assert login["user"]["username"] == "customer"
    assert len(page["items"]) == 2
    assert {"id", "name", "price", "stock"} <= set(page["items"][0])


def test_bad_argument_is_an_error_answer(shop: ServerProcess) -> None:
    run = shell(
        shop, "\\login customer", "catalog.list limit=0", password=shop.passwords["customer"]
    )
    assert run.returncode == 1
    assert run.stderr.startswith("error bad_request: argument 'limit' must be from 1 to 200")
    assert '"field": "limit"' in run.stderr


def test_unknown_op_is_bad_request(shop: ServerProcess) -> None:
    run = shell(shop, "no.such.op")
    assert run.returncode == 1
    assert run.stderr.startswith("error bad_request: unknown op 'no.such.op'")


def test_parse_error_exits_2_and_stops(shop: ServerProcess) -> None:
    run = shell(shop, "catalog.list limit", "ping")
    assert run.returncode == 2
    assert run.stderr == "parse error: expected key=value, got 'limit'\n"
    assert run.stdout == ""


def test_hello_is_implicit_and_ping_works_signed_out(shop: ServerProcess) -> None:
    run = shell(shop, "ping")
    assert run.returncode == 0, run.stderr
    assert "time" in json.loads(run.stdout)


def test_wrong_password(shop: ServerProcess) -> None:
    run = shell(shop, "\\login customer", password="not-the-password")
    assert run.returncode == 1
    assert run.stderr.startswith("error unauthenticated:")


def test_no_server_exits_1() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "client_shell.cli", "--port", "1", "-c", "ping"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert run.returncode == 1
    assert run.stderr.startswith("warung-shell: cannot connect to 127.0.0.1:1")


def test_password_from_stdin_without_a_terminal(shop: ServerProcess) -> None:
    run = shell(shop, "\\login clerk", "order.list limit=1", stdin=shop.passwords["clerk"] + "\n")
    assert run.returncode == 0, run.stderr
    assert '"role": "clerk"' in run.stdout


def test_login_without_any_password_is_a_usage_error(shop: ServerProcess) -> None:
    run = shell(shop, "\\login customer")
    assert run.returncode == 2
    assert run.stderr == "\\login: no password (type it, or set WARUNG_PASSWORD)\n"


def test_subscribe_prints_the_snapshot(shop: ServerProcess) -> None:
    run = shell(
        shop,
        "\\login clerk",
        "stock.subscribe product_ids=[1,2]",
        password=shop.passwords["clerk"],
    )
    assert run.returncode == 0, run.stderr
    snapshot = json.loads(run.stdout[run.stdout.index("\n}\n") + 3 :])["snapshot"]
    assert [row["product_id"] for row in snapshot] == [1, 2]


def test_help_lists_exactly_the_ops_the_server_offers(shop: ServerProcess) -> None:
    offered = RawConnection(shop.port).hello()["result"]["ops"]
    done = shell(shop, "\\help")
    assert done.returncode == 0, done.stderr
    listed = done.stdout.split("shell commands:")[0].splitlines()[1:]
    assert [line.split()[0] for line in listed] == offered


def test_login_asks_for_the_code_of_an_account_with_two_factor_sign_in(shop: ServerProcess) -> None:
    password = "dua-faktor-1"
    with shop.client("admin") as admin:
        admin.call("admin.user.create", username="dua-faktor", password=password, role="clerk")
    with shop.client() as clerk:
        clerk.login("dua-faktor", password)
        codes = TotpCodes(clerk.call("auth.totp.enroll", password=password)["secret"])
        clerk.call("auth.totp.confirm", password=password, code=codes.first())
    wrong = next(code for code in ("000000", "111111", "222222") if code != codes.second())
    run = shell(shop, "\\login dua-faktor", "order.list limit=1", stdin=f"{password}\n{wrong}\n")
    assert run.returncode == 1
    assert "error unauthenticated" in run.stderr, run.stderr

    run = shell(
        shop, "\\login dua-faktor", "order.list limit=1", stdin=f"{password}\n{codes.second()}\n"
    )
    assert run.returncode == 0, run.stderr
    assert '"username": "dua-faktor"' in run.stdout


def test_a_mistyped_op_gets_the_nearest_name(shop: ServerProcess) -> None:
    run = shell(shop, "catalog.lst limit=1")
    assert run.returncode == 1
    assert run.stderr.splitlines()[-1] == "did you mean catalog.list? (\\help lists the ops)"
