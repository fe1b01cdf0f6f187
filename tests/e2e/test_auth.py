"""Two-factor sign-in, token lifetime rules, and checkout races on one key."""

import time
from concurrent.futures import ThreadPoolExecutor

import pyotp
import pytest

from protocol.errors import BadRequest, Conflict, InvalidState, Unauthenticated
from tests.e2e.harness import wait_until
from tests.totp_codes import TotpCodes

CARD = {"method": "card", "token": "tok"}


def test_totp_enroll_confirm_then_sign_in_needs_the_code(shop):
    with shop.client() as c:
        c.call("auth.register", username="dua-faktor", password="password-2fa")
        c.login("dua-faktor", "password-2fa")
        enrolled = c.call("auth.totp.enroll", password="password-2fa")
        assert enrolled["uri"].startswith("otpauth://totp/")
        totp, now = pyotp.TOTP(enrolled["secret"]), time.time()
        codes = TotpCodes(enrolled["secret"])
        current = {totp.at(now + step * 30) for step in (-2, -1, 0, 1, 2)}
        with pytest.raises(BadRequest) as wrong:
            code = next(c for c in ("000000", "111111", "222222") if c not in current)
            c.call("auth.totp.confirm", password="password-2fa", code=code)
        assert wrong.value.details["field"] == "code"
        confirmed = c.call("auth.totp.confirm", password="password-2fa", code=codes.first())
        assert len(confirmed["recovery_codes"]) == 10
        with pytest.raises(InvalidState) as again:
            c.call("auth.totp.enroll", password="password-2fa")
        assert again.value.details == {"reason": "totp_enabled"}
    with shop.client() as c:
        with pytest.raises(Unauthenticated) as needs:
            c.login("dua-faktor", "password-2fa")
        assert needs.value.details == {"totp_required": True}
        assert c.login("dua-faktor", "password-2fa", codes.second())["user"]["totp_enabled"]


def test_the_same_key_with_another_payment_while_running_is_a_conflict(slow_shop):
    with slow_shop.client("customer") as c:
        product = next(p for p in c.call("catalog.list")["items"] if p["stock"] > 5)
        c.call("cart.clear")
        c.call("cart.add", product_id=product["id"])
        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(c.checkout, CARD, "race-key")
            with pytest.raises(Conflict) as clash:
                for _ in range(200):  # until the first is surely running
                    c.checkout({"method": "ewallet", "token": "other"}, "race-key")
            assert clash.value.details["field"] == "idempotency_key"
        assert first.result()["status"] == "paid"


def test_a_pending_order_cannot_be_cancelled_while_it_is_paid_for(slow_shop):
    with slow_shop.client("customer") as c, slow_shop.client("customer") as other:
        product = next(p for p in c.call("catalog.list")["items"] if p["stock"] > 5)
        c.call("cart.clear")
        c.call("cart.add", product_id=product["id"])
        with ThreadPoolExecutor(1) as pool:
            checkout = pool.submit(c.checkout, CARD, "pending-cancel")
            [pending] = wait_until(
                lambda: other.call("order.list", status="pending")["items"], what="the order"
            )
            with pytest.raises(InvalidState) as busy:
                other.call("order.cancel", order_id=pending["id"])
            assert busy.value.details == {"status": "pending", "reason": "payment_in_progress"}
        order = checkout.result()
        assert order["id"] == pending["id"] and order["status"] == "paid"
