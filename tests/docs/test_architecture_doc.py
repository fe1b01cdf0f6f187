"""docs/architecture.md stays true to the tree: every file, test, function and class it names
exists where it says.

A name is checked when the doc ties it to a module in one of three ways: "`name` in
`path.py`", "`name` (`path.py`)" or "`path.py`'s `name`". A plain name must be defined
somewhere in the module (a function, a class or a module-level assignment); `Class.member`
must be a method, class attribute or `self.` attribute of that class. A bare `test_...`
name must be a test somewhere under tests/.
"""

import ast
import re
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "architecture.md").read_text()

PATH = r"(?:[\w.-]+/)+[\w.-]+\.(?:py|js|md)"
NAME = r"[A-Za-z_]\w*(?:\.\w+)?"
PATHS = sorted(set(re.findall(rf"`({PATH})(?:::(\w+))?`", DOC)))
FOLDERS = sorted(set(re.findall(r"`((?:[\w.-]+/)+)`", DOC)))
SYMBOLS = sorted(
    {(path, name) for name, path in re.findall(rf"`({NAME})`\s+in\s+`({PATH})`", DOC)}
    | {(path, name) for name, path in re.findall(rf"`({NAME})`\s+\(`({PATH})`", DOC)}
    | set(re.findall(rf"`({PATH})`'s\s+`({NAME})`", DOC))
)
TESTS = sorted(set(re.findall(r"`(test_\w+)`", DOC)))


@cache
def defined(path: str) -> tuple[frozenset[str], dict[str, frozenset[str]]]:
    """The names a module defines anywhere, and each class's members."""
    tree = ast.parse((ROOT / path).read_text())
    names = {n.name for n in ast.walk(tree) if isinstance(n, _DEFS)}
    names |= _assigned(tree.body)
    members = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            own = {n.name for n in node.body if isinstance(n, _DEFS)} | _assigned(node.body)
            own |= {
                target.attr
                for n in ast.walk(node)
                for target in _targets(n)
                if isinstance(target, ast.Attribute)
                and isinstance(target.value, ast.Name)
                and target.value.id == "self"
            }
            members[node.name] = frozenset(own)
    return frozenset(names), members


_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _targets(node: ast.AST) -> list[ast.expr]:
    if isinstance(node, ast.Assign):
        return node.targets
    if isinstance(node, ast.AnnAssign):
        return [node.target]
    return []


def _assigned(body: list[ast.stmt]) -> set[str]:
    return {t.id for n in body for t in _targets(n) if isinstance(t, ast.Name)}


def test_the_doc_names_files_and_what_is_in_them():
    assert len(PATHS) > 60 and len(SYMBOLS) > 30 and len(TESTS) > 15


def test_every_named_file_folder_and_test_exists():
    missing = [folder for folder in FOLDERS if not (ROOT / folder).is_dir()]
    for path, test in PATHS:
        source = ROOT / path
        if not source.is_file():
            missing.append(path)
        elif test and not re.search(rf"^(async )?def {test}\(", source.read_text(), re.M):
            missing.append(f"{path}::{test}")
    assert missing == []


def test_every_named_function_and_class_is_in_its_module():
    missing = []
    for path, name in SYMBOLS:
        if not (ROOT / path).is_file():
            missing.append(path)
            continue
        names, members = defined(path)
        owner, _, member = name.partition(".")
        found = member in members.get(owner, ()) if member else name in names
        if not found:
            missing.append(f"{path}: {name}")
    assert missing == []


def test_every_named_test_is_a_test():
    sources = "\n".join(p.read_text() for p in (ROOT / "tests").rglob("test_*.py"))
    defined_tests = set(re.findall(r"^(?:async )?def (test_\w+)\(", sources, re.M))
    assert [name for name in TESTS if name not in defined_tests] == []
