"""Run a command under the seccomp filters systemd would give it (tests/e2e/test_systemd_unit.py).

    /usr/bin/python3 confine.py [--allow SYSCALL,...] [--mdwe] -- COMMAND ARGS...

--allow: only these system calls; any other kills the process with SIGSYS (what
`SystemCallFilter=` does without `SystemCallErrorNumber=`). --mdwe: the rules of systemd's
`MemoryDenyWriteExecute=` (src/shared/seccomp-util.c): no mapping both writable and
executable, no mprotect to executable, no executable shared memory.

Runs on Debian's python3 with its python3-seccomp, not in the project's venv; seccomp
filters stay through execve, so COMMAND runs confined.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import mmap
import os

import seccomp  # type: ignore[import-not-found]  # Debian's python3-seccomp; not in the venv

SHM_EXEC = 0o100000


def allow_only(names: list[str]) -> None:
    confined = seccomp.SyscallFilter(defaction=seccomp.KILL_PROCESS)
    for name in names:
        with contextlib.suppress(RuntimeError, ValueError):  # not on this architecture
            confined.add_rule(seccomp.ALLOW, name)
    confined.load()


def deny_write_execute() -> None:
    refuse = seccomp.ERRNO(errno.EPERM)
    both = mmap.PROT_WRITE | mmap.PROT_EXEC
    confined = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    confined.add_rule(refuse, "mmap", seccomp.Arg(2, seccomp.MASKED_EQ, both, both))
    for call in ("mprotect", "pkey_mprotect"):
        exe = mmap.PROT_EXEC
        confined.add_rule(refuse, call, seccomp.Arg(2, seccomp.MASKED_EQ, exe, exe))
    confined.add_rule(refuse, "shmat", seccomp.Arg(2, seccomp.MASKED_EQ, SHM_EXEC, SHM_EXEC))
    confined.load()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--allow")
    parser.add_argument("--mdwe", action="store_true")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if args.mdwe:
        deny_write_execute()
    if args.allow:
        allow_only(args.allow.split(","))
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
