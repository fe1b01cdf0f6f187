"""Sign-in and sign-up under attack, over the wire: a pipelined wave of guesses gets no more
passwords checked than the limits allow, a flood of sign-ups cannot hold up reads, and the
hashing pool answers at once when full."""

from __future__ import annotations

from typing import Any

from tests.e2e.harness import wait_until
from tests.e2e.raw import RawConnection

FREE = 5  # failed sign-ins in a row per account before the delays start (the default)
# A first delay longer than any test (so the cap, 300 s): none runs out during a test.
NO_EXPIRY = ("--limit", "account_backoff_s=600")


def arrivals(raw: RawConnection, ids: list[int]) -> list[dict[str, Any]]:
    """The answers to `ids`, in the order they arrived."""
    pending, answers = set(ids), []
    while pending:
        answer = raw.receive(lambda m: "event" not in m and m.get("id") in pending)
        pending.remove(answer["id"])
        answers.append(answer)
    return answers


def codes(answers: list[dict[str, Any]]) -> list[str]:
    return ["ok" if a["ok"] else a["error"]["code"] for a in answers]


def test_a_pipelined_wave_of_guesses_gets_few_passwords_checked_and_the_right_one_refused(
    servers,
):
    server = servers.start(*NO_EXPIRY)
    raw = server.raw()
    guesses = [
        raw.request("auth.login", username="customer", password=f"guess-{i:03d}") for i in range(60)
    ]
    right = raw.request("auth.login", username="customer", password=server.passwords["customer"])

    answers = {a["id"]: a for a in arrivals(raw, [*guesses, right])}

    checked = codes([answers[i] for i in guesses]).count("unauthenticated")
    assert 1 <= checked <= FREE, "one at a time, then the account waits"
    refused = [
        answers[i]["error"]
        for i in [*guesses, right]
        if answers[i]["error"]["code"] != "unauthenticated"
    ]
    assert len(refused) == 61 - checked
    assert {e["code"] for e in refused} == {"rate_limited"}
    assert {e["details"]["reason"] for e in refused} == {"account"}
    assert answers[right]["error"]["code"] == "rate_limited", "the right password did not sign in"
    assert not raw.call("cart.get")["ok"], "not signed in"
    raw.close()

    def failures_logged() -> int:
        return "".join(server.log).count('"event":"auth.login.failed"')

    wait_until(lambda: failures_logged() >= checked, what="the security log's lines")
    assert failures_logged() == checked
    assert '"event":"auth.login.ok"' not in "".join(server.log)


def test_an_account_that_failed_too_often_refuses_even_the_right_password_elsewhere(servers):
    server = servers.start(*NO_EXPIRY)
    for _ in range(FREE):  # one at a time, each on a connection of its own
        raw = server.raw()
        wrong = raw.call("auth.login", username="customer", password="tebak-tebak")
        assert wrong["error"]["code"] == "unauthenticated"
        raw.close()
    raw = server.raw()

    refused = raw.call("auth.login", username="customer", password=server.passwords["customer"])

    assert refused["error"]["code"] == "rate_limited"
    assert refused["error"]["details"]["reason"] == "account"
    assert 200_000 < refused["error"]["details"]["retry_after_ms"] <= 300_001  # the cap
    assert raw.call("auth.login", username="clerk", password=server.passwords["clerk"])["ok"]
    raw.close()


def test_reads_are_answered_while_a_flood_of_sign_ups_waits_for_the_hashing_pool(servers):
    """Each sign-up hashes a password; the reads of the same connection, sent after them,
    do not wait behind those hashes (they did on the shared reader pool)."""
    server = servers.start("--limit", "registrations_per_address_per_hour=1000")
    raw = server.raw("customer")
    sign_ups = [
        raw.request("auth.register", username=f"banjir-{i:02d}", password=f"banjir-{i:02d}-kopi")
        for i in range(30)
    ]
    read = raw.request("cart.get")

    answers = arrivals(raw, [*sign_ups, read])

    assert codes(answers) == ["ok"] * 31
    assert answers[0]["id"] == read, "the read was answered before any sign-up"
    raw.close()


def test_a_full_hashing_pool_answers_unavailable_at_once(servers):
    server = servers.start(
        "--limit",
        "hashing_threads=1",
        "--limit",
        "hashing_queue=2",
        "--limit",
        "registrations_per_address_per_hour=1000",
    )
    raw = server.raw()
    sign_ups = [
        raw.request("auth.register", username=f"antri-{i:02d}", password=f"antri-{i:02d}-kopi")
        for i in range(12)
    ]

    answers = arrivals(raw, sign_ups)

    busy = [a["error"] for a in answers if not a["ok"]]
    assert 1 <= len(busy) <= 12 - 3, "at most one hashing and two waiting at a time"
    assert {e["code"] for e in busy} == {"unavailable"}
    assert all(e["details"] == {"reason": "hashing_busy", "retry_after_ms": 1000} for e in busy)
    assert codes(answers).index("ok") >= len(busy) // 2, "refusals came first, without waiting"
    raw.close()


def test_sign_up_refuses_a_common_password_and_the_username(servers):
    raw = servers.start().raw()
    common = raw.call("auth.register", username="putu-ayu", password="password")
    same = raw.call("auth.register", username="putu-ayu", password="Putu-Ayu")

    for refused, rule in [(common, "is one of the most common"), (same, "must not be the user")]:
        assert refused["error"]["code"] == "bad_request"
        assert refused["error"]["details"]["field"] == "password"
        assert refused["error"]["details"]["rule"].startswith(rule)
    assert raw.call("auth.register", username="putu-ayu", password="kopi-luwak-putu")["ok"]
    raw.close()
