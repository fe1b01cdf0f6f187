"""Sign-in throttles, per address and per account, checked and charged before any hash.

A sign-in attempt is admitted by `SignInThrottle.begin` in one step on the reactor thread:
nothing else runs between the check and the charge, so a pipelined wave of guesses cannot
get more passwords checked than the limits allow, however fast it arrives.

- Per address: a token bucket (`failed_logins_per_address_per_min`, as a burst too). Each
  attempt takes a token up front; a success or an attempt that checked nothing (database
  or hashing pool unavailable) gives it back, so only failures spend the budget.
- Per account name (whether or not such an account exists, so the answers tell nothing):
  at most one attempt in flight, and after `free` failures in a row each further attempt
  waits a delay that doubles from `base_s` up to `cap_s`. A success forgets the failures.
  The cap is what keeps an attacker from locking a customer out: the worst they can do is
  make the owner wait `cap_s` between attempts.

Both remember at most `MAX_ADDRESSES` keys, forgetting the least recently used (see
`AddressLimiter`). The state is in memory, per server process.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocol.errors import RateLimited
from server.clock import Clock
from server.limits import MAX_ADDRESSES, AddressLimiter, Limits

BUSY_RETRY_S = 1.0  # when another attempt on the account is being checked


def retry_after_ms(wait_s: float) -> int:
    """Milliseconds to wait, rounded up (never 0: the client must wait at least a little)."""
    return int(wait_s * 1000) + 1


def rate_limited(reason: str, wait_s: float, what: str = "sign-in attempts") -> RateLimited:
    """The answer to an attempt refused by the `reason` (`address` or `account`) limit."""
    where = "from this address" if reason == "address" else "on this account"
    return RateLimited(
        f"too many {what} {where}: wait retry_after_ms and try again",
        {"reason": reason, "retry_after_ms": retry_after_ms(wait_s)},
    )


class _Account:
    __slots__ = ("busy", "failures", "until")

    def __init__(self) -> None:
        self.failures = 0
        self.until = 0.0  # no attempt before this time
        self.busy = False


class AccountBackoff:
    """Growing delays after failed sign-ins, and one attempt at a time, per account name."""

    def __init__(
        self, free: int, base_s: float, cap_s: float, max_accounts: int = MAX_ADDRESSES
    ) -> None:
        self.free = free
        self.base_s = base_s
        self.cap_s = cap_s
        self.max_accounts = max_accounts
        self._accounts: dict[str, _Account] = {}  # least recently used first

    def __len__(self) -> int:
        return len(self._accounts)

    def delay(self, failures: int) -> float:
        """Seconds before the next attempt after `failures` failures in a row."""
        if failures < self.free:
            return 0.0
        return min(self.cap_s, self.base_s * 2.0 ** (failures - self.free))

    def wait(self, name: str, now: float) -> float:
        """Seconds until `name` may be tried (0.0: now), admitting nothing."""
        account = self._accounts.get(name)
        if account is None:
            return 0.0
        return BUSY_RETRY_S if account.busy else max(0.0, account.until - now)

    def admit(self, name: str) -> None:
        """Mark an attempt on `name` in flight (call only when `wait` said 0.0)."""
        self._entry(name).busy = True

    def failed(self, name: str, now: float) -> None:
        account = self._entry(name)
        account.busy = False
        account.failures += 1
        account.until = now + self.delay(account.failures)

    def succeeded(self, name: str) -> None:
        self._accounts.pop(name, None)

    def released(self, name: str) -> None:
        """The attempt checked nothing: it neither counts nor holds the account any more."""
        account = self._accounts.get(name)
        if account is not None:
            account.busy = False

    def _entry(self, name: str) -> _Account:
        """The state of `name`, made most recently used (and made, evicting if full)."""
        account = self._accounts.pop(name, None)
        if account is None:
            if len(self._accounts) >= self.max_accounts:
                del self._accounts[next(iter(self._accounts))]
            account = _Account()
        self._accounts[name] = account
        return account


@dataclass
class Attempt:
    """An admitted sign-in attempt: report how it ended exactly once."""

    throttle: SignInThrottle
    address: str
    account: str

    def failed(self) -> None:
        """A wrong password or code: the address's token stays spent, the account's delay
        grows."""
        self.throttle.accounts.failed(self.account, self.throttle.clock.seconds())

    def succeeded(self) -> None:
        self.throttle.addresses.give_back(self.address)
        self.throttle.accounts.succeeded(self.account)

    def released(self) -> None:
        """Nothing was checked (the database or the hashing pool was unavailable)."""
        self.throttle.addresses.give_back(self.address)
        self.throttle.accounts.released(self.account)


class SignInThrottle:
    def __init__(self, limits: Limits, clock: Clock) -> None:
        self.clock = clock
        per_min = limits.failed_logins_per_address_per_min
        self.addresses = AddressLimiter(per_min / 60.0, per_min)
        self.accounts = AccountBackoff(
            limits.free_failed_logins_per_account,
            limits.account_backoff_s,
            limits.account_backoff_max_s,
        )

    def begin(self, address: str, account: str) -> Attempt:
        """Admit an attempt on `account` from `address`, charging both, or raise
        `RateLimited` (charging neither)."""
        now = self.clock.seconds()
        wait = self.addresses.wait(address, now)
        if wait:
            raise rate_limited("address", wait)
        wait = self.accounts.wait(account, now)
        if wait:
            raise rate_limited("account", wait)
        self.accounts.admit(account)
        self.addresses.take(address, now)
        return Attempt(self, address, account)
