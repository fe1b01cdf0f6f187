"""server/events.EventHub's stock fan-out: changes are coalesced per product until the next
reactor turn, then each watcher is sent the newest value once, encoded once for all."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from twisted.internet.task import Clock

from protocol.envelope import PushTemplate
from server.events import EventHub, StockChange, next_turn


@dataclass(eq=False)
class Peer:
    """A subscriber that keeps the stock templates it was handed."""

    got: list[PushTemplate] = field(default_factory=list)

    def send_stock(self, product_id: int, template: PushTemplate) -> None:
        assert template.data["product_id"] == product_id
        self.got.append(template)

    def send_event(self, event: str, data: dict[str, Any]) -> None:
        raise AssertionError(f"a stock watcher was sent {event}")

    def send_order(self, order_id: int, template: PushTemplate) -> None:
        raise AssertionError(f"a stock watcher was sent order {order_id}")

    def values(self) -> list[tuple[int, int, int]]:
        return [(t.data["product_id"], t.data["stock"], t.data["version"]) for t in self.got]


def hub_with(*products: int, watchers: int = 3) -> tuple[EventHub, Clock, list[Peer]]:
    clock = Clock()
    hub = EventHub(next_turn(clock))
    peers = [Peer() for _ in range(watchers)]
    for peer in peers:
        hub.subscribe(peer, products)
    return hub, clock, peers


def test_changes_of_one_product_in_a_turn_send_each_watcher_only_the_newest_once():
    hub, clock, peers = hub_with(7)
    hub.publish_stock([StockChange(7, 9, 2)])
    hub.publish_stock([StockChange(7, 8, 3), StockChange(7, 7, 4)])
    assert all(peer.got == [] for peer in peers), "nothing before the turn ends"
    assert hub.latest[7] == StockChange(7, 7, 4), "known at once (snapshots read it)"
    clock.advance(0)
    assert [peer.values() for peer in peers] == [[(7, 7, 4)]] * 3


def test_changes_of_two_products_in_a_turn_send_both_in_the_order_first_changed():
    hub, clock, peers = hub_with(7, 8)
    hub.publish_stock([StockChange(8, 1, 5), StockChange(7, 9, 2)])
    hub.publish_stock([StockChange(8, 0, 6)])
    clock.advance(0)
    assert [peer.values() for peer in peers] == [[(8, 0, 6), (7, 9, 2)]] * 3


def test_a_change_in_a_later_turn_is_sent_again():
    hub, clock, (peer,) = hub_with(7, watchers=1)
    hub.publish_stock([StockChange(7, 9, 2)])
    clock.advance(0)
    hub.publish_stock([StockChange(7, 8, 3)])
    clock.advance(0)
    assert peer.values() == [(7, 9, 2), (7, 8, 3)]
    clock.advance(0)
    assert peer.values() == [(7, 9, 2), (7, 8, 3)], "a turn with no change sends nothing"


def test_an_older_version_published_in_the_same_turn_is_not_sent():
    hub, clock, (peer,) = hub_with(7, watchers=1)
    hub.publish_stock([StockChange(7, 4, 10), StockChange(7, 5, 9)])
    clock.advance(0)
    assert peer.values() == [(7, 4, 10)]


def test_the_watchers_at_the_flush_are_sent_it():
    """One who unsubscribed before the turn ended gets nothing; one subscribed to every
    product (`all`) gets it too."""
    hub, clock, (stays, leaves) = hub_with(7, watchers=2)
    everything = Peer()
    hub.subscribe(everything, None)
    hub.publish_stock([StockChange(7, 9, 2)])
    hub.unsubscribe(leaves, [7])
    clock.advance(0)
    assert (stays.values(), leaves.values(), everything.values()) == ([(7, 9, 2)], [], [(7, 9, 2)])


def test_one_encode_serves_every_subscriber():
    hub, clock, peers = hub_with(7, watchers=50)
    hub.publish_stock([StockChange(7, 1, 2)])
    clock.advance(0)
    assert len({id(t) for peer in peers for t in peer.got}) == 1
    assert sum(len(peer.got) for peer in peers) == 50


def test_listeners_hear_of_every_change_at_once():
    hub, _, _ = hub_with(7)
    heard: list[StockChange] = []
    hub.listeners.append(heard.append)
    hub.publish_stock([StockChange(7, 9, 2), StockChange(7, 8, 3)])
    assert heard == [StockChange(7, 9, 2), StockChange(7, 8, 3)]
