"""docs/security.md names real tests: every `file::function` it gives as proof of a
requirement or a fix is a test function in that file under tests/."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "security.md").read_text()
NAMED = sorted(set(re.findall(r"`((?:[\w.-]+/)*[\w.-]+\.py)::(\w+)`", DOC)))


def test_the_doc_names_tests() -> None:
    assert len(NAMED) > 100


def test_every_named_test_is_in_its_file() -> None:
    missing = []
    for path, name in NAMED:
        source = ROOT / "tests" / path
        if not source.is_file() or not re.search(
            rf"^(async )?def {name}\(", source.read_text(), re.M
        ):
            missing.append(f"{path}::{name}")
    assert missing == []
