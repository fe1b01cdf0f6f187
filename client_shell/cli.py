"""Command line entry point; the program itself lands with its issue."""

import sys


def main(argv: list[str] | None = None) -> int:
    print(f"{sys.argv[0]}: not built yet", file=sys.stderr)
    return 1
