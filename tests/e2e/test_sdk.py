"""The client SDK against a real server: pipelining, pushes, reconnect, resume, safe retry."""

import asyncio
import socket
from types import CoroutineType

import pytest

from protocol.client import AsyncClient, ConnectionLost, Push, State
from protocol.client.link import SESSION_ENDED_EVENT, SNAPSHOT_EVENT
from protocol.errors import Unauthenticated
from tests.e2e.harness import wait_until, wait_until_async
from tests.e2e.proxy import CuttableProxy
from tests.e2e.shopdb import facts

CARD = {"method": "card", "token": "tok"}


def test_a_thousand_pipelined_requests_each_reach_their_caller(shop):
    async def run():
        async with await shop.async_client("customer") as c:
            ids = [p["id"] for p in (await c.call("catalog.list", limit=200))["items"]]
            wanted = [ids[i % len(ids)] for i in range(1000)]
            got = await asyncio.gather(*(c.call("catalog.get", product_id=p) for p in wanted))
            return wanted, [p["id"] for p in got]

    wanted, got = asyncio.run(run())
    assert got == wanted


def test_a_push_between_a_request_and_its_answer_goes_to_the_push_handler(shop):
    async def run():
        async with await shop.async_client("customer") as c:
            pushes: list[Push] = []
            c.on_event(pushes.append)
            product = next(p for p in (await c.call("catalog.list"))["items"] if p["stock"] > 3)
            await c.subscribe_stock([product["id"]])
            await c.call("cart.clear")
            await c.call("cart.add", product_id=product["id"])
            order = await c.checkout(CARD)
            await wait_until_async(lambda: pushed(pushes, "stock"), what="the stock push")
            return product, order, pushes

    product, order, pushes = asyncio.run(run())
    assert order["status"] == "paid" and "event" not in order
    stock = [p for p in pushes if p.event == "stock"]
    assert stock[0].data == {
        "product_id": product["id"],
        "stock": product["stock"] - 1,
        "version": product["version"] + 1,
    }
    assert [p.seq for p in pushes] == list(range(1, len(pushes) + 1))


@pytest.fixture
def proxy(shop):
    proxy = CuttableProxy(shop.port)
    yield proxy
    proxy.close()


def test_a_cut_link_reconnects_resumes_without_password_and_restores_the_feed(shop, proxy):
    async def run():
        c = AsyncClient("127.0.0.1", proxy.port, backoff_min=0.05)
        states: list[State] = []
        pushes: list[Push] = []
        c.on_state(states.append)
        c.on_event(pushes.append)
        await c.connect()
        await c.login("customer", shop.passwords["customer"])
        product = next(p for p in (await c.call("catalog.list"))["items"] if p["stock"] > 3)
        await c.subscribe_stock([product["id"]])
        proxy.cut()
        await wait_until_async(lambda: pushed(pushes, SNAPSHOT_EVENT), what="the snapshot")
        assert c.state == State.CONNECTED and proxy.accepted == 2
        assert (await c.call("cart.get"))["currency"] == "IDR"  # signed in again, by token
        await c.call("cart.clear")
        await c.call("cart.add", product_id=product["id"])
        await c.checkout(CARD)
        await wait_until_async(lambda: pushed(pushes, "stock"), what="the stock push")
        await c.close()
        return product, states, pushes

    product, states, pushes = asyncio.run(run())
    assert states[:4] == [State.CONNECTING, State.CONNECTED, State.RECONNECTING, State.CONNECTED]
    [snapshot] = [p for p in pushes if p.event == SNAPSHOT_EVENT]
    assert snapshot.data["snapshot"][0]["product_id"] == product["id"]
    [event] = [p for p in pushes if p.event == "stock"]
    assert event.data["stock"] == snapshot.data["snapshot"][0]["stock"] - 1


def test_a_link_cut_again_during_the_resume_leaves_one_reconnect_loop(shop, proxy, monkeypatch):
    """Cut while the client resumes after a first cut: the loop that was resuming tries
    again, and no second loop starts beside it (two would race, and one could mark the
    client connected while the other's new link is not signed in yet)."""

    def reconnect_loops():
        coros = [t.get_coro() for t in asyncio.all_tasks()]
        return sum(
            1
            for coro in coros
            if isinstance(coro, CoroutineType) and coro.__qualname__.endswith("_reconnect_loop")
        )

    async def run():
        c = AsyncClient("127.0.0.1", proxy.port, backoff_min=0.05)
        await c.connect()
        await c.login("customer", shop.passwords["customer"])
        resume = c._resume
        loops: list[int] = []

        async def cut_during_the_first_resume(token):
            if loops:
                return await resume(token)
            proxy.cut()
            with pytest.raises(ConnectionLost):
                await resume(token)
            loops.append(reconnect_loops())
            raise ConnectionLost("auth.resume")

        monkeypatch.setattr(c, "_resume", cut_during_the_first_resume)
        proxy.cut()
        await wait_until_async(lambda: loops, what="the cut during the resume")
        await c.wait_connected(timeout=30)
        assert loops == [1]
        assert (await c.call("cart.get"))["currency"] == "IDR"  # signed in again
        await wait_until_async(lambda: reconnect_loops() == 0, what="the loop's end")
        assert proxy.accepted == 3
        await c.close()

    asyncio.run(run())


def test_a_server_restart_is_survived_the_same_way(fresh_shop):
    async def run():
        c = await fresh_shop.async_client("customer", backoff_min=0.05, backoff_max=0.5)
        pushes: list[Push] = []
        c.on_event(pushes.append)
        await c.subscribe_stock(None)
        await asyncio.to_thread(fresh_shop.restart)
        await c.wait_connected(timeout=30)
        snapshots = [p for p in pushes if p.event == SNAPSHOT_EVENT]
        assert len(snapshots) == 1 and len(snapshots[0].data["snapshot"]) >= 300
        assert (await c.call("order.list"))["items"] == []
        await c.close()

    asyncio.run(run())


def test_a_checkout_cut_mid_flight_and_retried_makes_exactly_one_order(slow_shop):
    proxy = CuttableProxy(slow_shop.port)

    async def run():
        c = await slow_shop.async_client("customer", port=proxy.port, backoff_min=0.05)
        product = next(p for p in (await c.call("catalog.list"))["items"] if p["stock"] > 3)
        await c.call("cart.clear")
        await c.call("cart.add", product_id=product["id"])
        checkout = asyncio.create_task(c.checkout(CARD, idempotency_key="cut-and-retry"))
        # cut once the order is written and its slow payment has not yet answered
        await asyncio.to_thread(
            wait_until, lambda: pending_orders(slow_shop.db_url, product["id"]) == 1
        )
        proxy.cut()
        order = await checkout
        await c.close()
        return product, order

    try:
        product, order = asyncio.run(run())
    finally:
        proxy.close()
    assert order["status"] == "paid"
    assert proxy.accepted == 2
    assert wait_until(lambda: facts(slow_shop.db_url, product["id"])["orders"]) == {"paid": 1}


def test_a_keyed_call_cut_mid_flight_is_sent_again_with_its_key_and_done_once(slow_shop):
    """`call_keyed` for any keyed op: a card sale at the till, cut while it is charged."""
    proxy = CuttableProxy(slow_shop.port)

    async def run():
        c = await slow_shop.async_client("clerk", port=proxy.port, backoff_min=0.05)
        await c.call("clerk.register.open", station="kasir-cut", opening_cash=0)
        product = next(p for p in (await c.call("catalog.list"))["items"] if p["stock"] > 3)
        before = facts(slow_shop.db_url, product["id"])
        sent = []
        call = c.call

        async def counted(op, args=None, /, **kw):
            if op == "clerk.sale":
                sent.append(kw["idempotency_key"])
            return await call(op, args, **kw)

        c.call = counted
        sale = asyncio.create_task(
            c.call_keyed(
                "clerk.sale",
                {"lines": [{"product_id": product["id"], "qty": 2}], "payment": CARD},
                attempts=3,
            )
        )
        # cut once the order is written and its slow payment has not yet answered
        await asyncio.to_thread(
            wait_until, lambda: pending_orders(slow_shop.db_url, product["id"]) == 1
        )
        proxy.cut()
        order = await sale
        await c.close()
        return before, order, sent

    try:
        before, order, sent = asyncio.run(run())
    finally:
        proxy.close()
    assert order["status"] == "completed" and order["lines"][0]["qty"] == 2
    assert len(sent) == 2 and sent[0] == sent[1]  # a key made up once, sent twice
    assert proxy.accepted == 2
    after = facts(slow_shop.db_url, order["lines"][0]["product_id"])
    assert after["orders"] == {**before["orders"], "completed": 1}
    assert after["stock"] == before["stock"] - 2 and after["problems"] == []


def test_a_session_ended_elsewhere_leaves_the_client_connected_and_signed_out(shop, proxy):
    async def run():
        c = await shop.async_client("customer", port=proxy.port, backoff_min=0.05)
        pushes: list[Push] = []
        states: list[State] = []
        c.on_event(pushes.append)
        c.on_state(states.append)
        await c.subscribe_stock([1])
        async with AsyncClient("127.0.0.1", shop.port) as other:
            await other.resume(c.token)
            await other.logout()  # ends the session for every connection using the token
        proxy.cut()
        await wait_until_async(lambda: pushed(pushes, SESSION_ENDED_EVENT), what="session.ended")
        await c.wait_connected(timeout=10)
        assert c.token is None and c.user is None
        with pytest.raises(Unauthenticated):
            await c.call("cart.get")
        assert (await c.call("ping"))["time"]
        await c.close()
        return states

    states = asyncio.run(run())
    assert states[-2:] == [State.CONNECTED, State.CLOSED]


def test_a_failed_connect_leaves_the_client_closed():
    async def run():
        with socket.socket() as probe:  # a port nobody listens on
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        c = AsyncClient("127.0.0.1", port)
        states: list[State] = []
        stop = c.on_state(states.append)
        with pytest.raises(OSError):
            await c.connect()
        stop()
        await c.close()
        return c.state, states

    state, states = asyncio.run(run())
    assert state == State.CLOSED
    assert states == [State.CONNECTING, State.CLOSED]


def test_the_blocking_client_hands_pushes_to_next_event(shop):
    with shop.client("customer") as c:
        product = next(p for p in c.call("catalog.list")["items"] if p["stock"] > 3)
        c.subscribe_stock([product["id"]])
        c.call("cart.clear")
        c.call("cart.add", product_id=product["id"])
        order = c.checkout(CARD)
        push = c.next_event(timeout=10)
        while push.event != "stock":
            push = c.next_event(timeout=10)
        assert push.data["stock"] == product["stock"] - 1
        c.call("order.cancel", order_id=order["id"])


def pending_orders(url: str, product_id: int) -> int:
    return facts(url, product_id)["orders"].get("pending", 0)


def boom(_):
    raise RuntimeError("a bug in the application's callback")


def test_a_raising_push_callback_is_logged_and_the_connection_keeps_answering(shop, caplog):
    async def run():
        c = AsyncClient("127.0.0.1", shop.port, call_timeout=10)
        states: list[State] = []
        pushes: list[Push] = []
        c.on_state(states.append)
        c.on_event(boom)
        c.on_event(pushes.append)
        await c.connect()
        await c.login("customer", shop.passwords["customer"])
        product = next(p for p in (await c.call("catalog.list"))["items"] if p["stock"] > 3)
        await c.subscribe_stock([product["id"]])
        await c.call("cart.clear")
        await c.call("cart.add", product_id=product["id"])
        order = await c.checkout(CARD)
        await wait_until_async(lambda: pushed(pushes, "stock"), what="the stock push")
        assert (await c.call("ping"))["time"]
        await c.call("order.cancel", order_id=order["id"])
        await c.close()
        return states

    states = asyncio.run(asyncio.wait_for(run(), 30))
    assert states == [State.CONNECTING, State.CONNECTED, State.CLOSED]  # never reconnecting
    logged = [r for r in caplog.records if r.name == "protocol.client.aio"]
    assert logged and all(r.exc_info[0] is RuntimeError for r in logged)  # with the traceback


@pytest.mark.parametrize("raising", ["on_event", "on_state"])
def test_a_raising_callback_does_not_stop_the_reconnect_after_a_restart(fresh_shop, raising):
    async def run():
        c = await fresh_shop.async_client("customer", backoff_min=0.05, backoff_max=0.5)
        pushes: list[Push] = []
        c.on_event(pushes.append)
        product = next(p for p in (await c.call("catalog.list"))["items"] if p["stock"] > 3)
        await c.subscribe_stock([product["id"]])
        getattr(c, raising)(boom)
        await asyncio.to_thread(fresh_shop.restart)
        await c.wait_connected(timeout=20)
        await wait_until_async(lambda: pushed(pushes, SNAPSHOT_EVENT), what="the snapshot")
        await c.call("cart.add", product_id=product["id"])
        order = await asyncio.wait_for(c.checkout(CARD), 20)
        await c.close()
        return order

    assert asyncio.run(run())["status"] == "paid"


def pushed(pushes, event):
    return [p for p in pushes if p.event == event]


def test_a_new_identity_ends_the_subscriptions_and_a_reconnect_does_not_take_them_again(
    shop, proxy
):
    async def run():
        c = AsyncClient("127.0.0.1", proxy.port, backoff_min=0.05)
        pushes: list[Push] = []
        c.on_event(pushes.append)
        await c.connect()
        await c.login("customer", shop.passwords["customer"])
        first, second = (await c.call("catalog.list", limit=2))["items"]
        await c.subscribe_stock(None)  # every product
        await c.login("clerk", shop.passwords["clerk"])  # the server ends it (10.4)
        proxy.cut()
        await wait_until_async(lambda: proxy.accepted == 2, what="the new link")
        await c.wait_connected(timeout=30)
        await c.subscribe_stock([second["id"]])  # the clerk's own, after the reconnect
        for product in (first, second):
            await c.call("clerk.restock", product_id=product["id"], qty=1, reason="sdk test")
        await wait_until_async(lambda: pushed(pushes, "stock"), what="the second's push")
        await c.close()
        return second, pushes

    second, pushes = asyncio.run(run())
    assert pushed(pushes, SNAPSHOT_EVENT) == [], "nothing was taken again after the reconnect"
    assert [p.data["product_id"] for p in pushed(pushes, "stock")] == [second["id"]]


def test_a_ping_unanswered_for_a_heartbeat_drops_the_link_and_reconnects(servers):
    shop = servers.start("--limit", "heartbeat_s=1")
    proxy = CuttableProxy(shop.port)

    async def run():
        c = AsyncClient("127.0.0.1", proxy.port, backoff_min=0.05)
        states: list[State] = []
        c.on_state(states.append)
        await c.connect()
        await c.login("customer", shop.passwords["customer"])
        proxy.hang()  # open and silent, as a frozen server
        await wait_until_async(lambda: State.RECONNECTING in states, what="the link given up")
        await c.wait_connected(timeout=30)
        cart = await c.call("cart.get")  # signed in again on the new link
        await c.close()
        return states, cart

    try:
        states, cart = asyncio.run(run())
    finally:
        proxy.close()
    assert states[:4] == [State.CONNECTING, State.CONNECTED, State.RECONNECTING, State.CONNECTED]
    assert cart["currency"] == "IDR" and proxy.accepted == 2


def test_retry_now_ends_the_wait_between_reconnect_tries(shop, proxy):
    async def run():
        # 60-120 s between tries: only retry_now can bring the link back within the test
        c = AsyncClient("127.0.0.1", proxy.port, backoff_min=120.0, backoff_max=120.0)
        await c.connect()
        await c.login("customer", shop.passwords["customer"])
        assert c.retry_now() is False  # connected: nothing to do
        proxy.cut()
        await wait_until_async(lambda: c.state == State.RECONNECTING, what="the loss")
        assert c.retry_now() is True
        await wait_until_async(lambda: c.state == State.CONNECTED, what="back at once")
        cart = await c.call("cart.get")  # signed in again, by token
        await c.close()
        return cart, proxy.accepted

    cart, accepted = asyncio.run(run())
    assert cart["currency"] == "IDR" and accepted == 2


def test_connect_later_connects_when_the_server_answers_and_resumes_the_session(shop, proxy):
    """A client started while the server is away (a till started offline): reconnecting
    from the start, then connected and signed in with the kept token."""

    async def run():
        with shop.client() as first:
            token = first.login("clerk", shop.passwords["clerk"])["token"]
        proxy.down()
        c = AsyncClient("127.0.0.1", proxy.port, backoff_min=0.05, backoff_max=0.2)
        c.connect_later(token)
        assert c.state == State.RECONNECTING
        with pytest.raises(ConnectionLost):
            await c.call("clerk.register.get")
        with pytest.raises(RuntimeError):
            c.connect_later(token)  # only for a client not yet connected
        proxy.up()
        await wait_until_async(lambda: c.state == State.CONNECTED, what="connected")
        user = c.user
        await c.close()
        return user

    assert asyncio.run(run())["username"] == "clerk"
