"""The security log alone, deterministic on task.Clock: flood suppression, summaries, the
bounded key memory, timestamps, and what it refuses or cuts from what it is given."""

import json
import random
from typing import Any

import pytest
from twisted.internet.task import Clock

from server import security_log
from server.log_flood import FloodGate
from server.security_log import NAME_EXCERPT, SecurityLog, safe_username

WINDOW_S = 60.0
PER_WINDOW = 3


def make(**options: Any) -> tuple[SecurityLog, list[dict[str, Any]], Clock]:
    """A log on a Clock at 2025-11-30T09:45:17.250Z, and the entries of the lines it wrote."""
    clock = Clock()
    clock.advance(1_764_495_917.25)
    written: list[dict[str, Any]] = []

    def write(line: str) -> None:
        assert line.endswith("\n") and line.count("\n") == 1
        written.append(json.loads(line))

    options = {"lines_per_window": PER_WINDOW, "window_s": WINDOW_S, **options}
    return SecurityLog(clock, write, **options), written, clock


def counted(written: list[dict[str, Any]], event: str) -> int:
    """Events of `event` the lines stand for: one a line, `suppressed` a summary."""
    return sum(e.get("suppressed", 1) for e in written if e["event"] == event)


@pytest.mark.parametrize(
    "event", ["auth.throttled", "auth.login.failed", "auth.login.ok", "conn.refused"]
)
def test_a_flood_writes_a_few_lines_then_one_summary_when_the_window_ends(event: str):
    security, written, clock = make()
    for _ in range(10_000):
        security.record(event, "10.0.0.9", username="ani", reason="address")
        clock.advance(0.001)
    assert len(written) == PER_WINDOW
    clock.advance(WINDOW_S)
    assert len(written) == PER_WINDOW + 1
    summary = written[-1]
    assert summary["summary"] is True
    assert summary["suppressed"] == 10_000 - PER_WINDOW
    assert (summary["event"], summary["address"]) == (event, "10.0.0.9")
    assert summary["username"] == "ani" and summary["reason"] == "address"
    assert summary["first"] < summary["last"] <= summary["ts"]
    assert counted(written, event) == 10_000


def test_after_the_summary_a_new_window_writes_again():
    security, written, clock = make()
    for _ in range(PER_WINDOW + 2):
        security.record("auth.login.failed", "10.0.0.9", username="ani")
    clock.advance(WINDOW_S)
    security.record("auth.login.failed", "10.0.0.9", username="ani")
    assert [e.get("summary", False) for e in written] == [False] * PER_WINDOW + [True, False]
    assert written[PER_WINDOW]["suppressed"] == 2


def test_a_window_that_suppressed_nothing_writes_no_summary():
    security, written, clock = make()
    for _ in range(PER_WINDOW):
        security.record("auth.login.ok", "10.0.0.9", 7, "ani")
    clock.advance(10 * WINDOW_S)
    assert len(written) == PER_WINDOW
    assert not clock.getDelayedCalls()


def test_each_event_address_op_and_user_has_its_own_budget():
    security, written, _ = make()
    keys = [
        ("authz.forbidden", "10.0.0.1", "clerk.restock", 5),
        ("authz.forbidden", "10.0.0.2", "clerk.restock", 5),
        ("authz.forbidden", "10.0.0.1", "clerk.adjust", 5),
        ("authz.forbidden", "10.0.0.1", "clerk.restock", 6),
        ("authz.unauthenticated", "10.0.0.1", "clerk.restock", None),
    ]
    for event, address, op, user_id in keys * PER_WINDOW:
        security.record(event, address, user_id, op=op)
    assert len(written) == len(keys) * PER_WINDOW


def test_a_summary_keeps_only_the_fields_every_counted_event_shared():
    security, written, clock = make(lines_per_window=1)
    security.record("auth.login.failed", "10.0.0.9", username="ani", reason="password")
    security.record("auth.login.failed", "10.0.0.9", username="budi", reason="password")
    security.record("auth.login.failed", "10.0.0.9", username="citra", reason="password")
    clock.advance(WINDOW_S)
    summary = written[-1]
    assert summary["username"] is None and summary["user_id"] is None
    assert summary["reason"] == "password"
    assert summary["suppressed"] == 2


def test_the_keys_remembered_are_bounded_and_a_forgotten_count_is_written_at_once():
    clock = Clock()
    summaries: list[tuple[Any, int]] = []
    gate = FloodGate(clock, lambda key, s: summaries.append((key, s.count)), str, 1, max_keys=100)
    gate.admit("first", {})
    assert not gate.admit("first", {})  # counted, pending
    for address in range(1000):
        gate.admit(address, {})
        assert len(gate) <= 100
    assert summaries == [("first", 1)]
    assert len(clock.getDelayedCalls()) == 0  # its timer went with it


def test_many_addresses_share_a_budget_past_which_their_events_are_counted_together():
    security, written, clock = make(group_lines=50)
    for n in range(5000):
        security.record("conn.refused", f"2001:db8::{n:x}", reason="max_connections")
    security.record("auth.login.failed", "10.0.0.9", username="ani")  # another event's budget
    assert len(written) == 51 and written[-1]["event"] == "auth.login.failed"
    clock.advance(WINDOW_S)
    summary = written[-1]
    assert (summary["event"], summary["address"], summary["suppressed"]) == (
        "conn.refused",
        None,
        4950,
    )
    assert summary["reason"] == "max_connections"
    assert counted(written, "conn.refused") == 5000


def test_a_key_in_use_is_not_the_one_forgotten():
    clock = Clock()
    gate = FloodGate(clock, lambda key, s: None, str, 1, max_keys=3)
    for key in ("a", "b", "c"):
        gate.admit(key, {})
    gate.admit("a", {})  # "b" is now the least recently used
    gate.admit("d", {})
    assert not gate.admit("a", {})  # still remembered: its one line is spent
    assert gate.admit("b", {})  # forgotten, so a new window


def test_every_event_is_written_or_counted_whatever_the_order():
    """Conservation: random events over many keys and windows, then the stop's flush."""
    rng = random.Random(14)
    security, written, clock = make(group_lines=20)
    sent: dict[str, int] = {}
    for _ in range(5_000):
        event = rng.choice(("auth.login.failed", "auth.throttled", "request.throttled"))
        security.record(event, f"10.0.{rng.randrange(3)}.{rng.randrange(40)}", username="ani")
        sent[event] = sent.get(event, 0) + 1
        clock.advance(rng.expovariate(50.0))
    security.flush()
    assert {event: counted(written, event) for event in sent} == sent
    assert not clock.getDelayedCalls()
    assert len(written) < 5_000 / 10


def test_flush_writes_the_pending_summaries_now():
    security, written, clock = make()
    for _ in range(PER_WINDOW + 4):
        security.record("privileged.change", "10.0.0.9", 2, "kasir", op="clerk.sale")
    security.flush()
    assert written[-1]["suppressed"] == 4 and written[-1]["op"] == "clerk.sale"
    assert written[-1]["user_id"] == 2 and written[-1]["username"] == "kasir"
    clock.advance(WINDOW_S)
    assert len(written) == PER_WINDOW + 1  # no second summary of the same count


def test_lines_are_json_with_an_iso_utc_timestamp_first():
    security, written, _ = make()
    security.record("authz.forbidden", "10.0.0.9", 5, "ani", op="clerk.restock", role="customer")
    assert written == [
        {
            "ts": "2025-11-30T09:45:17.250Z",
            "event": "authz.forbidden",
            "address": "10.0.0.9",
            "user_id": 5,
            "username": "ani",
            "op": "clerk.restock",
            "role": "customer",
        }
    ]
    assert next(iter(written[0])) == "ts"


def test_listeners_get_what_is_written_summaries_included():
    security, written, clock = make(lines_per_window=1)
    heard: list[dict[str, Any]] = []
    security.listeners.append(heard.append)
    for _ in range(3):
        security.record("auth.throttled", "10.0.0.9", username="ani")
    clock.advance(WINDOW_S)
    assert heard == written and len(heard) == 2


@pytest.mark.parametrize("key", ["password", "token", "totp", "secret"])
def test_a_secret_in_the_details_is_refused(key: str):
    security, written, _ = make()
    secret: dict[str, Any] = {key: "x"}
    with pytest.raises(ValueError, match=key):
        security.record("auth.login.failed", "10.0.0.9", username="ani", **secret)
    assert written == []


def test_an_attempted_name_is_kept_as_the_account_it_names():
    assert safe_username("Ani.Wijaya") == "ani.wijaya"
    assert safe_username(None) is None


def test_an_attempted_name_that_cannot_be_an_account_is_cut_to_an_excerpt():
    """What fails the username rule is often a password typed in the wrong field."""
    typed = "Tr0ub4dor&3xyz!"
    kept = safe_username(typed)
    assert kept == "tr0u…" and len(kept) == NAME_EXCERPT + 1
    assert safe_username("a\x00\x1b[2J") == "a??[…"
    security, written, _ = make()
    security.record("auth.login.failed", "10.0.0.9", username=typed)
    assert typed not in json.dumps(written) and written[0]["username"] == kept


def test_the_file_is_appended_to_line_by_line_and_rotated_by_size(tmp_path, monkeypatch):
    path = tmp_path / "security.jsonl"
    path.write_text('{"event":"from.before"}\n')
    monkeypatch.setattr(security_log, "ROTATE_BYTES", 1000)
    security, _, _ = make()
    security.write_to(security_log.open_file(str(path)))
    for n in range(40):
        security.record("authz.forbidden", f"10.0.0.{n}", op="clerk.restock", role="customer")
        assert path.read_text().endswith("\n")  # on disk at once, whole lines
    rotated = sorted(tmp_path.glob("security.jsonl.*"), key=lambda p: int(p.suffix[1:]))
    assert rotated and all(p.stat().st_size <= 1000 + 200 for p in [path, *rotated])
    lines = [
        json.loads(line) for p in [*reversed(rotated), path] for line in p.read_text().splitlines()
    ]
    assert lines[0] == {"event": "from.before"}
    assert [e["address"] for e in lines[1:]] == [f"10.0.0.{n}" for n in range(40)]


def test_a_new_file_is_for_its_owner_and_group_only(tmp_path):
    path = tmp_path / "security.jsonl"
    security_log.open_file(str(path))("{}\n")
    assert path.stat().st_mode & 0o777 == 0o640
