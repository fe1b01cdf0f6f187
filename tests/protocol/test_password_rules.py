"""The password rules every place that sets a password asks: length, not the username, not
one of the 3,000 most common passwords (a data file shipped in the `protocol` package)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from protocol.rules import PASSWORD_MAX, PASSWORD_MIN, common_passwords, password_problem

COMMON = "is one of the most common passwords: choose one that is hard to guess"


def test_the_list_holds_3000_passwords_the_length_rule_lets_through() -> None:
    listed = common_passwords()
    assert len(listed) == 3000
    assert {"password", "12345678", "qwertyuiop", "iloveyou"} <= listed
    assert all(PASSWORD_MIN <= len(p) <= PASSWORD_MAX and p == p.casefold() for p in listed)


def test_the_list_is_package_data_so_an_installed_server_has_it() -> None:
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    assert "common_passwords.txt" in pyproject["tool"]["setuptools"]["package-data"]["protocol"]


@pytest.mark.parametrize(
    ("password", "username", "problem"),
    [
        ("pendek", None, f"password must be {PASSWORD_MIN} to {PASSWORD_MAX} characters"),
        ("password", None, f"password {COMMON}"),
        ("PassWord", "siti", f"password {COMMON}"),
        ("Siti.Rahayu", "siti.rahayu", "password must not be the username"),
        ("siti.rahayu", None, None),
        ("kopi-luwak-siti", "siti.rahayu", None),
    ],
)
def test_password_problem(password: str, username: str | None, problem: str | None) -> None:
    assert password_problem(password, username) == problem
