"""The built-in fake payment provider: approvals, declines, references, retries."""

from __future__ import annotations

from twisted.internet import defer
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock

from server.payments import PAYMENT_TIMEOUT_S, Charge, FakeProvider, in_time


def charged(provider: FakeProvider, order_id: int, token: str = "tok") -> Charge:
    results: list[Charge] = []
    provider.charge(order_id, 1000, "IDR", "card", token).addCallback(results.append)
    assert results, "an undelayed fake answers at once"
    return results[0]


def test_every_approved_charge_has_its_own_reference_on_every_server() -> None:
    one, other = FakeProvider(Clock()), FakeProvider(Clock())
    ours = [str(charged(one, n).reference) for n in range(1, 4)]
    theirs = [str(charged(other, n).reference) for n in range(1, 4)]
    assert all(ref.startswith("fake-") for ref in ours + theirs)
    assert len(set(ours + theirs)) == 6
    # one server's prefix, drawn once; the other server's differs
    assert len({ref.rsplit("-", 1)[0] for ref in ours}) == 1
    assert ours[0].rsplit("-", 1)[0] != theirs[0].rsplit("-", 1)[0]


def test_a_retried_charge_is_the_same_charge_and_a_decline_has_no_reference() -> None:
    provider = FakeProvider(Clock())
    assert charged(provider, 7) == charged(provider, 7)
    declined = charged(provider, 8, token="decline")
    assert not declined.approved and declined.reference is None


def test_a_delay_holds_the_answer_until_the_clock_has_moved() -> None:
    clock = Clock()
    provider = FakeProvider(clock, delay_s=2.0)
    results: list[Charge] = []
    provider.charge(1, 1000, "IDR", "card", "tok").addCallback(results.append)
    clock.advance(1.9)
    assert results == []
    clock.advance(0.2)
    assert results and results[0].approved


def test_charges_are_remembered_for_an_hour_then_forgotten() -> None:
    clock = Clock()
    provider = FakeProvider(clock)
    first = charged(provider, 1)
    clock.advance(FakeProvider.REMEMBER_S - 1)
    assert looked_up(provider, 1) == first
    assert charged(provider, 1) == first  # a retry within the hour is the same charge
    clock.advance(2)
    charged(provider, 2)
    assert looked_up(provider, 1) is None
    assert list(provider.charges) == [2]  # memory holds only the last hour's charges


def looked_up(provider: FakeProvider, order_id: int) -> Charge | None:
    results: list[Charge | None] = []
    provider.lookup(order_id).addCallback(results.append)
    return results[0]


def test_an_answer_already_there_is_taken_with_no_timer() -> None:
    clock = Clock()
    results: list[str] = []
    in_time(succeed("answer"), clock).addCallback(results.append)
    assert results == ["answer"]
    assert clock.getDelayedCalls() == []


def test_an_answer_still_to_come_is_timed_out_and_cancelled() -> None:
    clock = Clock()
    waiting: Deferred[str] = Deferred()
    outer: Deferred[str] = succeed("first").addCallback(lambda _: waiting)  # called, paused
    failures: list[type[BaseException]] = []
    for asking in (Deferred(), outer):
        in_time(asking, clock).addErrback(lambda f: failures.append(f.type))
    clock.advance(PAYMENT_TIMEOUT_S)
    assert failures == [defer.TimeoutError, defer.TimeoutError]
