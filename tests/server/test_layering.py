"""The domain services sit below the transport (docs/architecture.md, the server's rules):
they may not import the connection, the factory or the composition root, nor Twisted's
protocol and transport machinery; they get a clock and a session registry instead."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SERVICES = Path(__file__).parents[2] / "server" / "services"
TRANSPORT = (
    "server.connection",
    "server.factory",
    "server.app",
    "server.turn_output",
    "twisted.internet.protocol",
    "twisted.internet.reactor",
)


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("path", sorted(SERVICES.glob("*.py")), ids=lambda p: p.name)
def test_a_service_imports_nothing_of_the_transport(path: Path):
    reached = {
        name
        for name in imported(path)
        if any(name == t or name.startswith(t + ".") for t in TRANSPORT)
    }
    assert not reached, f"{path.name} reaches past the service layer: {sorted(reached)}"
