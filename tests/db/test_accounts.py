import sqlite3

import pytest

from db.accounts import UserExists, create_user, set_disabled
from db.connect import connect, disconnect
from db.migrations import migrate
from db.models import User
from db.passwords import hash_password, verify_password


def test_hash_is_argon2id_salted_and_verifies():
    first, second = hash_password("rahasia-123"), hash_password("rahasia-123")
    assert first.startswith("$argon2id$")
    assert first != second
    assert "rahasia-123" not in first
    assert verify_password(first, "rahasia-123")
    assert not verify_password(first, "rahasia-124")
    assert not verify_password("not a hash", "rahasia-123")


def test_a_hash_made_with_other_parameters_still_verifies():
    from argon2 import PasswordHasher

    old = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash("pw-12345678")
    assert verify_password(old, "pw-12345678")
    assert not verify_password(old, "pw-12345679")


def test_create_user_stores_lowercase_name_and_only_a_hash(database):
    user = create_user("Sari", "rahasia-123", "clerk")
    stored = User.get_by_id(user.id)
    assert (stored.username, stored.role) == ("sari", "clerk")
    assert stored.password_hash != "rahasia-123"
    assert verify_password(stored.password_hash, "rahasia-123")
    assert (stored.disabled, stored.totp_enabled) == (False, False)


def test_existing_name_raises_user_exists(database):
    create_user("budi", "rahasia-123", "customer")
    with pytest.raises(UserExists, match="'budi' already exists"):
        create_user("BUDI", "lain-lagi-456", "admin")
    assert User.select().count() == 1


def test_unknown_role(database):
    with pytest.raises(ValueError, match="role must be one of customer, clerk, admin"):
        create_user("budi", "rahasia-123", "owner")


def test_disabling_holds_the_write_lock_from_its_first_read(tmp_path):
    """`warung-server user disable` runs beside a live server on the same SQLite file.

    A deferred transaction that reads the user and then writes fails at once with "database is
    locked" when the server commits in between; this one takes the write lock up front, so the
    server's write waits for it (here: is refused, with no wait allowed) instead.
    """
    path = tmp_path / "shop.db"
    db = connect(f"sqlite:///{path}")
    migrate(db)
    create_user("dewi", "rahasia-123", "customer")
    server = sqlite3.connect(path, timeout=0, isolation_level=None)
    server_wrote: list[bool] = []

    def write_between(statement: str) -> None:
        if statement.startswith("UPDATE") and not server_wrote:  # after it read the user
            try:
                server.execute("INSERT INTO settings (key, value) VALUES ('between', 'x')")
                server_wrote.append(True)
            except sqlite3.OperationalError:
                server_wrote.append(False)

    db.connection().set_trace_callback(write_between)
    try:
        set_disabled("dewi", True)
        assert server_wrote == [False]
        assert User.get(User.username == "dewi").disabled
    finally:
        db.connection().set_trace_callback(None)
        server.close()
        disconnect(db)
