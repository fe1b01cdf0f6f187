"""The twistd/twist plugin is found, is packaged (editable or not), and costs nothing to find.

tests/e2e/test_twisted_plugin.py runs it; this checks what makes Twisted find it."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from setuptools import find_namespace_packages
from twisted.application.service import IServiceMaker
from twisted.plugin import getPlugins

ROOT = Path(__file__).parents[2]
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_twisted_finds_the_warung_plugin() -> None:
    makers = {maker.tapname: maker for maker in getPlugins(IServiceMaker)}
    options = makers["warung"].options()
    options.parseOptions(["--port", "0", "--limit", "max_in_flight=8"])
    assert (options.args.port, options.args.limit) == (0, ["max_in_flight=8"])


def test_the_plugin_directory_is_packaged_as_a_namespace_shared_with_twisted() -> None:
    """A wheel holds twisted/plugins/warung_plugin.py and no __init__.py, which would hide
    Twisted's own package (or, in twisted/plugins, the other packages' plugins)."""
    found = find_namespace_packages(str(ROOT), include=SETUPTOOLS["packages"]["find"]["include"])
    assert "twisted.plugins" in found and "twisted" not in found
    assert not (ROOT / "twisted" / "__init__.py").exists()
    assert not (ROOT / "twisted" / "plugins" / "__init__.py").exists()


def test_an_editable_install_puts_the_checkout_on_sys_path() -> None:
    """Twisted looks for twisted/plugins/ in sys.path's directories: setuptools' editable
    import hook would not show it, its static .pth for a package-dir of "." does."""
    assert SETUPTOOLS["package-dir"] == {"": "."}


def test_finding_the_plugin_imports_nothing_of_the_server() -> None:
    """Twisted imports every plugin module whenever its cache is stale, for any plugin."""
    probe = (
        "import sys, twisted.plugins.warung_plugin; "
        "print(sorted(m for m in ('peewee', 'server.cli', 'server.service') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
