"""The per-address limiter stays bounded without lifting the throttles it holds; a limit is
refused below its floor, where the server could not work."""

from dataclasses import fields

import pytest

from server.limits import FLOORS, AddressLimiter, Limits, with_overrides

BOUND = 100_000  # the server's bound (server.limits.MAX_ADDRESSES)


def address(i: int) -> str:
    return f"10.{i >> 16}.{(i >> 8) & 255}.{i & 255}"


def test_a_full_limiter_forgets_the_least_recently_used_address_not_everyone():
    limiter = AddressLimiter(rate=1 / 60, burst=1)  # one try a minute
    limiter.take("victim", 0.0)
    for i in range(BOUND + 10):
        assert limiter.take(address(i), 0.0) == 0.0
        if i % 1000 == 0:  # the victim keeps trying, and keeps being refused
            assert limiter.wait("victim", 0.0) > 0
    assert limiter.wait("victim", 0.0) > 0
    assert len(limiter) == BOUND
    assert limiter.wait(address(0), 0.0) == 0.0  # the oldest were forgotten
    assert limiter.wait(address(BOUND + 9), 0.0) > 0  # the newest are held


def test_using_an_address_again_makes_it_the_most_recent():
    limiter = AddressLimiter(rate=1, burst=1, max_addresses=2)
    for name in ("a", "b", "a", "c"):  # "a" used again, so "b" is the least recent
        limiter.take(name, 0.0)
    assert len(limiter) == 2
    assert limiter.wait("b", 0.0) == 0.0 and limiter.wait("a", 0.0) > 0


def test_every_limit_has_a_floor_its_default_is_within():
    assert set(FLOORS) == {f.name for f in fields(Limits)}
    assert all(FLOORS[name].admits(getattr(Limits(), name)) for name in FLOORS)


@pytest.mark.parametrize(
    ("pair", "expected"),
    [
        ("max_connections=0", "limit max_connections needs a number of 1 or more, not '0'"),
        ("max_in_flight=0", "limit max_in_flight needs a number of 1 or more, not '0'"),
        ("heartbeat_s=0", "limit heartbeat_s needs a number of 1 or more, not '0'"),
        ("rate_per_s=-1", "limit rate_per_s needs a number of 1 or more, not '-1'"),
        ("hello_timeout_s=0.0", "limit hello_timeout_s needs a number more than 0, not '0.0'"),
        ("session_check_s=-0.5", "limit session_check_s needs a number more than 0, not '-0.5'"),
        ("paused_close_s=nan", "limit paused_close_s needs a number more than 0, not 'nan'"),
        ("connection_burst_per_address=0.5", "connection_burst_per_address needs a number of 1"),
        ("max_frame=4095", "limit max_frame needs a number of 4096 or more, not '4095'"),
        ("send_buffer_bytes=-1", "limit send_buffer_bytes needs a number of 0 or more, not '-1'"),
    ],
)
def test_a_limit_below_its_floor_is_refused_naming_it_the_value_and_the_range(pair, expected):
    with pytest.raises(ValueError, match=expected):
        with_overrides(Limits(), [pair])


def test_the_limits_that_zero_turns_off_take_it_and_the_least_of_the_others_is_taken():
    off = ["send_buffer_bytes", "hashing_queue", "free_failed_logins_per_account"]
    off += ["account_backoff_s", "account_backoff_max_s"]
    limits = with_overrides(
        Limits(), [f"{name}=0" for name in off] + ["heartbeat_s=1", "session_check_s=0.01"]
    )
    assert [getattr(limits, name) for name in off] == [0] * len(off)
    assert (limits.heartbeat_s, limits.session_check_s) == (1, 0.01)


def test_an_infinite_limit_is_refused_as_a_negative_one_is() -> None:
    refused = "limit hello_timeout_s needs a number more than 0, not 'inf'"
    with pytest.raises(ValueError, match=refused):
        with_overrides(Limits(), ["hello_timeout_s=inf"])
