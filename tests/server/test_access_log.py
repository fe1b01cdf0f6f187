"""The access log alone, on task.Clock: a flood of failed requests is bounded (per address and
code, and over many addresses) with nothing lost from the counts; connections are never
gated; a client's unknown op is only excerpted. And the log's formats (server.log_setup):
one JSON object a line, text in words, the file rotated and the rotated ones bounded."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from twisted.internet.task import Clock
from twisted.logger import LogEvent, Logger, LogLevel
from twisted.python.failure import Failure
from twisted.python.logfile import LogFile

from server.access_log import AccessLog
from server.log_setup import LineFile, json_line, observer, open_file

WINDOW_S = 60.0
PER_WINDOW = 3


def make(**gate: Any) -> tuple[AccessLog, Clock]:
    clock = Clock()
    clock.advance(1_764_495_917.25)
    return AccessLog(clock, per_window=PER_WINDOW, window_s=WINDOW_S, **gate), clock


def access(events: list[LogEvent], name: str | None = None) -> list[LogEvent]:
    """The access log's events (of the `event` `name`)."""
    return [
        e
        for e in events
        if e.get("log_namespace") == "warung.access" and name in (None, e["event"])
    ]


def counted(events: list[LogEvent]) -> int:
    """Failed requests the lines stand for: one a line, `suppressed` a summary."""
    return len(access(events, "request.failed")) + sum(
        e["suppressed"] for e in access(events, "request.failed.summary")
    )


def test_a_flood_from_one_address_is_a_few_lines_then_one_summary(logged):
    log, clock = make()
    for n in range(10_000):
        log.failed(7, "10.0.0.9", "ani", n, "cart.get", "unauthenticated")
        clock.advance(0.001)
    assert len(access(logged)) == PER_WINDOW
    clock.advance(WINDOW_S)
    [summary] = access(logged, "request.failed.summary")
    assert summary["suppressed"] == 10_000 - PER_WINDOW
    assert (summary["conn"], summary["address"], summary["user"]) == (7, "10.0.0.9", "ani")
    assert (summary["op"], summary["code"]) == ("cart.get", "unauthenticated")
    assert summary["first"] < summary["last"]
    assert counted(logged) == 10_000


def test_each_address_and_code_has_its_own_lines(logged):
    log, _ = make()
    keys = [("10.0.0.1", "forbidden"), ("10.0.0.2", "forbidden"), ("10.0.0.1", "not_found")]
    for address, code in keys * (PER_WINDOW + 2):
        log.failed(1, address, None, 1, "order.get", code)
    assert len(access(logged, "request.failed")) == len(keys) * PER_WINDOW


def test_many_addresses_share_a_budget_and_are_summarised_together(logged):
    log, clock = make(group_lines=50)
    for n in range(5000):
        log.failed(n, f"2001:db8::{n:x}", None, 1, "cart.get", "unauthenticated")
    log.failed(1, "10.0.0.9", "ani", 2, "clerk.restock", "forbidden")  # another code's budget
    lines = access(logged, "request.failed")
    assert len(lines) == 51 and lines[-1]["code"] == "forbidden"
    clock.advance(WINDOW_S)
    [summary] = access(logged, "request.failed.summary")
    assert (summary["address"], summary["conn"], summary["suppressed"]) == (None, None, 4950)
    assert "from many addresses" in summary["log_format"]
    assert counted(logged) == 5001


def test_a_stop_writes_the_summary_of_a_window_still_counting(logged):
    log, _ = make()
    for n in range(PER_WINDOW + 4):
        log.failed(1, "10.0.0.9", None, n, "cart.get", "unauthenticated")
    log.flush()
    [summary] = access(logged, "request.failed.summary")
    assert summary["suppressed"] == 4


def test_connections_are_never_gated_and_each_has_its_own_id(logged):
    log, clock = make()
    ids = [log.opened("10.0.0.9") for _ in range(1000)]
    clock.advance(2.5)
    for conn in ids:
        log.closed(conn, "10.0.0.9", None, 10, 20, clock.seconds() - 2.5, "closed")
    assert len(set(ids)) == 1000
    assert len(access(logged, "conn.opened")) == len(access(logged, "conn.closed")) == 1000
    assert access(logged, "conn.closed")[0]["duration_s"] == 2.5


def test_an_unknown_op_is_logged_only_as_its_excerpt(logged):
    log, _ = make()
    log.failed(1, "10.0.0.9", None, 1, "x\n" * 500, "bad_request")
    [line] = access(logged, "request.failed")
    assert "\n" not in line["op"] and len(line["op"]) < 100


def captured(log_format: str) -> tuple[Logger, io.StringIO]:
    out = io.StringIO()
    return Logger(namespace="warung.access", observer=observer(log_format, out)), out


def test_json_is_one_object_a_line_with_the_event_fields_as_keys():
    logger, out = captured("json")
    logger.info("conn {conn} opened", event="conn.opened", conn=3, where=object())
    try:
        raise ZeroDivisionError("boom")
    except ZeroDivisionError:
        logger.failure("it broke in {where}", Failure(), where="a\nb")
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert out.getvalue().count("\n") == 2
    assert (first["level"], first["namespace"], first["message"]) == (
        "info",
        "warung.access",
        "conn 3 opened",
    )
    assert (first["event"], first["conn"]) == ("conn.opened", 3) and first["ts"].endswith("Z")
    assert first["where"].startswith("<object object")  # what JSON cannot carry, as its str
    assert not any(key.startswith("log_") for key in first)
    assert second["level"] == "critical" and "ZeroDivisionError" in second["traceback"]


def test_an_event_that_names_a_field_ts_or_message_keeps_the_log_s_own():
    line = json_line(
        {"log_format": "hi", "log_time": 0.0, "log_level": LogLevel.warn, "message": "x", "ts": 1}
    )
    assert json.loads(line) == {
        "ts": "1970-01-01T00:00:00.000Z",
        "level": "warn",
        "namespace": None,
        "message": "hi",
    }


def test_a_field_json_cannot_carry_even_as_a_string_is_written_as_its_text():
    cycle: list[Any] = []
    cycle.append(cycle)
    for value in ({(1, 2): "tuple key"}, cycle):
        line = json_line({"log_format": "x", "log_level": LogLevel.info, "odd": value})
        assert json.loads(line)["odd"] == str(value) and line.count("\n") == 1


def test_text_says_the_line_in_words():
    logger, out = captured("text")
    logger.info("conn {conn} opened from {address}", conn=3, address="10.0.0.9")
    assert out.getvalue().endswith("[warung.access#info] conn 3 opened from 10.0.0.9\n")


def test_the_file_is_rotated_by_size_and_only_so_many_rotated_ones_are_kept(tmp_path: Path):
    path = tmp_path / "server.log"
    file = open_file(str(path), rotate_bytes=100, keep=2)
    for n in range(20):
        file.write(f"line {n:02} {'x' * 40}\n")
    file.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "server.log",
        "server.log.1",
        "server.log.2",
    ]
    assert (tmp_path / "server.log.1").read_text().startswith("line 15 ")
    assert path.stat().st_mode & 0o777 == 0o640


class FlushInterrupted(LogFile):
    """A log file whose next flush first runs `interrupt`, as a signal handler would."""

    interrupt: Callable[[], None] | None = None

    def flush(self) -> None:
        interrupt, self.interrupt = self.interrupt, None
        if interrupt is not None:
            interrupt()
        super().flush()


def test_a_line_logged_while_a_write_rotates_waits_for_it(tmp_path: Path):
    """As when SIGTERM's handler logs in the middle of a write: between the write finding
    the file full and rotating it. No rotated file is left with that one line alone."""
    path = tmp_path / "server.log"
    logfile = FlushInterrupted(path.name, str(tmp_path), rotateLength=100)
    file = LineFile(logfile)
    for n in range(3):
        file.write(f"line {n} {'x' * 40}\n")

    logfile.interrupt = lambda: file.write("Received SIGTERM, shutting down.\n")
    file.write("line 3\n")  # finds the file full: flushes, then rotates
    file.close()
    rotated = (tmp_path / "server.log.1").read_text()
    assert len(rotated) >= 100 and rotated.startswith("line 0 "), rotated
    assert path.read_text() == "line 3\nReceived SIGTERM, shutting down.\n"
