"""docs/architecture.md stays true to the tree: every file and test it names exists."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "architecture.md").read_text()
PATHS = sorted(set(re.findall(r"`((?:[a-z_]+/)+[a-z_]+\.py)(?:::(\w+))?`", DOC)))


def test_the_doc_names_files():
    assert len(PATHS) > 30


def test_every_named_file_and_test_exists():
    missing = []
    for path, test in PATHS:
        source = ROOT / path
        if not source.is_file():
            missing.append(path)
        elif test and not re.search(rf"^(async )?def {test}\(", source.read_text(), re.M):
            missing.append(f"{path}::{test}")
    assert missing == []
