"""In-process tests of the domain services: a real SQLite file, a `Clock`, no threads.

`InlineDatabase` is the services' `server.dbexec.Executor` (`read(work)`, `write(job,
*args)`), but does the work on the test's thread before returning an already-fired Deferred:

- a read is `work(db)`;
- a write is the real write job, looked up by name and run the way the SQLite writer
  process runs it (`server.writer_process.run_batch`: its own transaction and savepoint,
  the arguments and the result through msgpack, an error rebuilt from its wire map). So a
  job that is not registered, or returns what msgpack cannot carry, fails here as it
  would in the server.

Nothing waits on the database, so the only time that passes is the `Clock`'s: a
`FakeProvider(clock, delay_s)` answers a charge when the test advances the clock past
`delay_s`, which stops a checkout between its two transactions for as long as the test
likes. `reads` and `writes` count the round trips a service made.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import peewee as pw
from twisted.internet.defer import Deferred, fail, maybeDeferred, succeed
from twisted.python.failure import Failure

from db.models import Category, Product, User
from protocol.codec import packb, unpackb
from protocol.envelope import PushTemplate, Request
from protocol.errors import WarungError, from_wire
from server.dispatch import Dispatcher, Handler, Identity
from server.write_jobs import job_name
from server.writer_process import run_batch

T = TypeVar("T")
CURRENCY = "IDR"


class InlineDatabase:
    """The services' database executor, run inline on a real database."""

    def __init__(self, db: pw.Database) -> None:
        self.db = db
        self.reads = 0
        self.writes = 0

    def read(self, work: Callable[[pw.Database], T]) -> Deferred[T]:
        self.reads += 1
        return maybeDeferred(work, self.db)

    def write(self, job: Callable[..., T], *args: Any) -> Deferred[T]:
        self.writes += 1
        ((_, ok, value),) = run_batch(self.db, [[0, job_name(job), unpackb(packb(args))]])["done"]
        return succeed(unpackb(value)) if ok else fail(from_wire(value))


class InlineHashing:
    """The hashing pool (`server.hashing`), run inline; counts the hashes and checks."""

    def __init__(self) -> None:
        self.runs = 0

    def run(self, work: Callable[..., T], *args: Any) -> Deferred[T]:
        self.runs += 1
        return maybeDeferred(work, *args)


@dataclass
class Shop:
    """A minimal shop: two customers, a clerk, two products with known stock."""

    ani: Identity
    budi: Identity
    clerk: Identity
    kopi: int  # product ids
    teh: int


def minimal_shop() -> Shop:
    """Fill a migrated, empty database (the models bound to it) with `Shop`'s rows."""
    category = Category.create(name="Minuman")
    people = [User.create(username=n, password_hash="x", role=r) for n, r in PEOPLE]
    kopi, teh = (
        Product.create(
            sku=sku,
            name=name,
            price=price,
            currency=CURRENCY,
            stock=stock,
            initial_stock=stock,
            category=category,
        )
        for sku, name, price, stock in PRODUCTS
    )
    ani, budi, clerk = (Identity(u.id, u.username, u.role, session_id=0) for u in people)
    return Shop(ani, budi, clerk, kopi.id, teh.id)


PEOPLE = (("ani", "customer"), ("budi", "customer"), ("citra", "clerk"))
PRODUCTS = (("KOPI-1", "Kopi Tubruk", 17500, 5), ("TEH-1", "Teh Melati", 9000, 3))


def ask(handler: Handler, who: Identity | None, op: str, **args: Any) -> Deferred[Any]:
    """`ask_from` a fresh connection signed in as `who` (None: signed in as nobody)."""
    return ask_from(Recorder(identity=who), handler, op, **args)


def ask_from(peer: Recorder, handler: Handler, op: str, **args: Any) -> Deferred[Any]:
    """`op` answered by `handler` through the real `Dispatcher` for `peer` (its address, whom
    it is signed in as, what it is sent; roles and argument schema checked, defaults filled
    in), as a Deferred: a raised error, a result, a coroutine or a Deferred alike."""
    try:
        answer = Dispatcher({op: handler}).dispatch(Request(1, op, args), peer)
    except WarungError:
        return fail()
    return answer if isinstance(answer, Deferred) else succeed(answer)


@dataclass(eq=False)
class Recorder:
    """A connection as the event hub and the services see it; keeps what it was sent."""

    address: str = "test"
    client_name: str = "test-client"
    identity: Identity | None = None
    closing: bool = False
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def sign_in(self, identity: Identity | None) -> None:
        self.identity = identity

    def set_max_frame(self, max_frame: int | None) -> None:
        """Frame sizes are the connection's business; no service test sends big pushes."""

    def send_event(self, event: str, data: dict[str, Any]) -> None:
        self.events.append((event, data))

    def send_stock(self, product_id: int, template: PushTemplate) -> None:
        self.events.append(("stock", template.data))

    def send_order(self, order_id: int, template: PushTemplate) -> None:
        self.events.append((template.event, template.data))

    def of(self, event: str) -> list[dict[str, Any]]:
        return [data for name, data in self.events if name == event]


def result(d: Deferred[T]) -> T:
    """The result of a Deferred that has fired with one (else the test fails, saying why)."""
    outcome = _outcome(d)
    if isinstance(outcome, Failure):
        outcome.raiseException()
    return outcome


def error(d: Deferred[Any]) -> WarungError:
    """The `WarungError` a fired Deferred failed with (else the test fails, saying why)."""
    outcome = _outcome(d)
    assert isinstance(outcome, Failure), f"expected a failure, got {outcome!r}"
    assert isinstance(outcome.value, WarungError), outcome.getTraceback()
    return outcome.value


def _outcome(d: Deferred[Any]) -> Any:
    box: list[Any] = []
    d.addBoth(box.append)
    assert box, "the Deferred has not fired: something still waits (the payment? the clock?)"
    return box[0]
