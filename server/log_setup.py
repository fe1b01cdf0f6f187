"""Where the server's log goes and in which format: the observers of `warung-server serve`.

`--log-format text` is Twisted's own text format; `--log-format json` is one JSON object
per line (JSON Lines), its keys `ts`, `level`, `namespace`, `message` and then the event's
own fields (`conn`, `op`, `code`, ...), a failure's traceback as `traceback`. Twisted's
`jsonFileLogObserver` is not used: it frames each record with an RS character (RFC 7464),
which line-based shippers (journald, Filebeat, Vector, Promtail) pass on as part of the
line, and its records hold Twisted's internals rather than the message (`log_level` as a
serialised constant, `log_format` unformatted, `log_flattened`).

`--log-file PATH` appends to a file that Twisted's `LogFile` rotates by size (PATH.1 the
newest of the rotated ones, a bounded number kept); without it, standard error, which
journald (or any supervisor) collects. docs/operations.md ("Logs") is the admin's side.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from argparse import Namespace
from collections import deque
from typing import IO, Any

from twisted.logger import FileLogObserver, ILogObserver, LogEvent, formatEvent
from twisted.logger import textFileLogObserver as text_observer
from twisted.python.logfile import LogFile

from server.security_log import FILE_MODE, iso_utc

_OWN = ("ts", "level", "namespace", "message")


def observers(args: Namespace) -> list[ILogObserver]:
    """The observers for `args.log_format` and `args.log_file` (with `args.log_rotate_bytes`
    and `args.log_keep`). Raises OSError when the file cannot be opened."""
    out: IO[str] | LineFile = sys.stderr
    if args.log_file is not None:
        out = open_file(args.log_file, args.log_rotate_bytes, args.log_keep)
    return [observer(args.log_format, out)]


def observer(log_format: str, out: Any) -> ILogObserver:
    """An observer writing events to `out` (anything with `write(str)`) in `log_format`."""
    if log_format == "json":
        made: Any = FileLogObserver(out, json_line)
    else:
        made = text_observer(out)
    return ILogObserver(made)  # mypy cannot see the class's @implementer


def open_file(path: str, rotate_bytes: int, keep: int) -> LineFile:
    """The log file at `path`: appended, rotated when a write finds it `rotate_bytes` long,
    `keep` rotated files kept (PATH.1 the newest). Raises OSError."""
    return LineFile(
        LogFile.fromFullPath(
            path, rotateLength=rotate_bytes, defaultMode=FILE_MODE, maxRotatedFiles=keep
        )
    )


class LineFile:
    """A `LogFile` that finishes each write before it starts the next, also when a signal
    handler logs in the middle of one (Twisted's SIGTERM handler does, on the thread it
    interrupted). `LogFile.write` decides to rotate, then rotates: a write that slipped in
    between rotated first, so the outer write rotated again a file holding one line. Such a
    line now waits, and is written as soon as the write it interrupted is done."""

    def __init__(self, file: LogFile) -> None:
        self.file = file
        self._lock = threading.RLock()  # other threads wait; the interrupted one comes back in
        self._writing = False
        self._waiting: deque[str] = deque()

    def write(self, text: str) -> None:
        with self._lock:
            self._waiting.append(text)
            while self._waiting and not self._writing:  # one more came as the last ended
                self._writing = True
                try:
                    while self._waiting:
                        self.file.write(self._waiting.popleft())
                finally:
                    self._writing = False

    def flush(self) -> None:
        """Flush, but not in the middle of a write (its file may be closed for rotating):
        that write's own flush follows it."""
        with self._lock:
            if not self._writing:
                self.file.flush()

    def close(self) -> None:
        with self._lock:
            self.file.close()


def json_line(event: LogEvent) -> str:
    """`event` as one line of JSON: its time (UTC), level, namespace and formatted message,
    then its own fields (values JSON cannot carry as their `str`)."""
    level, when = event.get("log_level"), event.get("log_time")
    entry: dict[str, Any] = {
        "ts": iso_utc(time.time() if when is None else when),
        "level": None if level is None else level.name,
        "namespace": event.get("log_namespace"),
        "message": formatEvent(event),
    }
    for name, value in event.items():
        if not name.startswith("log_") and name not in _OWN:
            entry[name] = value
    failure = event.get("log_failure")
    if failure is not None:
        entry["traceback"] = failure.getTraceback()
    try:
        return json.dumps(entry, default=str) + "\n"
    except (TypeError, ValueError):  # a map with keys JSON cannot have, a cycle: as text
        return json.dumps({name: str(value) for name, value in entry.items()}) + "\n"
