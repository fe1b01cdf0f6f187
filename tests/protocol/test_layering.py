import subprocess
import sys

FORBIDDEN = ("twisted", "peewee", "textual", "prompt_toolkit", "asyncio", "socket")


def test_protocol_core_imports_no_io_framework():
    code = (
        "import sys, protocol, protocol.framing, protocol.envelope, protocol.ops, "
        "protocol.schema, protocol.codec, protocol.rules\n"
        f"bad = [m for m in {FORBIDDEN!r} if m in sys.modules]\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
