"""The per-address limiter stays bounded without lifting the throttles it holds."""

from server.limits import AddressLimiter

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
