"""The runs of `python -m bench`, each warung measurement interleaved with its floor.

Every section returns raw samples (one per round); `bench.report` turns their medians into
the table. Server CPU comes from /proc (the server and its writer process), so a noisy
minute on the shared machine moves a rate more than a CPU time per operation."""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench import floors, processes
from bench.clients import in_batches, opened, signed_in
from bench.fanout_tail import Audience, floor_audience, warung_audience
from bench.flash_sale import flash_sale
from bench.idle_memory import idle_memory
from bench.lean_client import LeanClient
from bench.load import cash_sale, clerk_at_till, close_tills, ping, shop_scenarios
from bench.loops import Result, no_gc_pauses, run
from bench.paced import run_paced
from bench.proc_cpu import Usage, machine_usage
from bench.processes import Proc, started
from bench.shop import Shop, pg_schema, prepare
from bench.stats import percentile_ms

STOCK = 10_000_000
PACE_OF_FLOOR = 0.5  # the paced PostgreSQL run's rate, as a share of the psycopg2 floor's
Samples = dict[str, list[float]]


@dataclass(frozen=True)
class Config:
    duration: float  # seconds of each closed-loop run
    rounds: int  # interleaved rounds of each section
    clients: int  # checkout clients (the 100)
    clerks: int
    floor_checkouts: int  # of the raw sqlite3 loop, per round
    fan_sizes: tuple[int, ...]
    fan_rounds: int  # sales per audience per round
    flash_customers: int
    flash_units: int
    memory_connections: int
    memory_products: int


FULL = Config(5.0, 3, 100, 20, 3000, (1000, 5000), 5, 5000, 100, 10_000, 50)
QUICK = Config(0.5, 1, 10, 2, 200, (20, 50), 2, 60, 10, 100, 50)


def warung_cpu_us(result: Result, per: int) -> float:
    """Server CPU µs per operation of `result` (`per` = result.count or result.requests)."""
    assert result.server_cpu is not None
    return result.server_cpu / per * 1e6


def p50_ms(result: Result) -> float:
    return statistics.median(result.latencies) * 1000 if result.latencies else float("nan")


async def sqlite_section(
    cfg: Config, shop: Shop, server: Proc, echo: Proc, floor_db: Path, floor_ids: list[int]
) -> Samples:
    """Per round: the echo floor, warung checkouts, the raw sqlite3 floor, warung sales."""
    samples: Samples = {}
    ids = shop.product_ids[: min(200, len(shop.product_ids))]
    steps = shop_scenarios("checkout", ids)[0][1]
    tokens = shop.tokens[-cfg.clients :]
    echo_clients = await in_batches(lambda i: opened(LeanClient, echo.port), cfg.clients)
    clients = await in_batches(lambda i: signed_in(LeanClient, server.port, tokens[i]), cfg.clients)
    clerks = await in_batches(lambda i: clerk_at_till(server.port, i), cfg.clerks)
    try:
        for _ in range(cfg.rounds):
            echo_run = await run("echo", echo_clients, [ping], cfg.duration, echo.pid)
            add(samples, "echo_us", warung_cpu_us(echo_run, echo_run.requests))
            checkout = await run("checkout", clients, steps, cfg.duration, server.pid)
            add(samples, "checkout_us", warung_cpu_us(checkout, checkout.count))
            add(samples, "checkout_per_s", checkout.count / checkout.seconds)
            add(samples, "checkout_errors", checkout.errors)
            floor = floors.sqlite_floor(str(floor_db), floor_ids, cfg.floor_checkouts)
            add(samples, "sqlite_floor_us", floor.cpu_us)
            sales = await run("sale", clerks, [cash_sale(ids)], cfg.duration, server.pid)
            add(samples, "sale_us", warung_cpu_us(sales, sales.count))
            add(samples, "sale_per_s", sales.count / sales.seconds)
        await close_tills(clerks)
    finally:
        for client in [*echo_clients, *clients, *clerks]:
            client.close()
    return samples


async def pg_section(cfg: Config, shop: Shop, url: str, one: Proc, two: Proc) -> Samples:
    """Per round: psycopg2 on one and eight connections, warung on one server (all clients)
    and on two (half each), then on one server with the clients paced to half the rate of
    this round's eight-connection floor (`bench.paced`): the latency a customer sees in a
    busy shop, not the queue of a closed loop."""
    samples: Samples = {}
    ids = shop.product_ids[: min(200, len(shop.product_ids))]
    steps = shop_scenarios("checkout", ids)[0][1]
    tokens = shop.tokens[-2 * cfg.clients :]
    alone = await in_batches(lambda i: signed_in(LeanClient, one.port, tokens[i]), cfg.clients)
    pair = await in_batches(
        lambda i: signed_in(LeanClient, (one, two)[i % 2].port, tokens[cfg.clients + i]),
        cfg.clients,
    )
    try:
        for _ in range(cfg.rounds):
            for connections in (1, 8):
                with machine_usage() as used:
                    floor = await asyncio.to_thread(
                        floors.pg_floor, url, shop.product_ids, connections, cfg.duration
                    )
                add(samples, f"psycopg2_{connections}_per_s", floor.rate)
                add(samples, f"psycopg2_{connections}_p50_ms", floor.p50_ms)
                add(samples, f"psycopg2_{connections}_cpu_us", floor.cpu_us)
                add_usage(samples, f"psycopg2_{connections}", used, floor.checkouts)
            for name, clients, servers in (("one", alone, [one]), ("two", pair, [one, two])):
                cpu = sum(s.cpu_s() for s in servers)
                with machine_usage() as used:
                    result = await run(name, clients, steps, cfg.duration, None)
                cpu = sum(s.cpu_s() for s in servers) - cpu
                add(samples, f"pg_{name}_per_s", result.count / result.seconds)
                add(samples, f"pg_{name}_p50_ms", p50_ms(result))
                add(samples, f"pg_{name}_cpu_us", cpu / max(1, result.count) * 1e6)
                add(samples, f"pg_{name}_errors", result.errors)
                add_usage(samples, f"pg_{name}", used, result.count)
            pace = PACE_OF_FLOOR * samples["psycopg2_8_per_s"][-1]
            paced = await run_paced("one, paced", alone, steps, cfg.duration, pace)
            add(samples, "pg_paced_per_s", paced.count / paced.seconds)
            add(samples, "pg_paced_p50_ms", p50_ms(paced))
            add(samples, "pg_paced_p99_ms", percentile_ms(paced.latencies, 0.99))
            add(samples, "pg_paced_errors", paced.errors)
    finally:
        for client in [*alone, *pair]:
            client.close()
    return samples


async def fanout_section(cfg: Config, audiences: dict[str, Audience]) -> dict[str, Any]:
    """Rounds of each audience in turn (floor, warung, floor, ...), size by size, after one
    round of each that is not counted (a server's first sale to an audience takes longer)."""
    for size in cfg.fan_sizes:
        for audience in audiences.values():
            await audience.round(size)
            audience.latencies.clear()
    with no_gc_pauses():
        for size in cfg.fan_sizes:
            for _ in range(cfg.rounds * cfg.fan_rounds):
                for audience in audiences.values():
                    await audience.round(size)
    return {
        name: {
            str(size): {
                "p50_ms": percentile_ms(audience.latencies[size], 0.5),
                "p99_ms": percentile_ms(audience.latencies[size], 0.99),
                "max_ms": percentile_ms(audience.latencies[size], 1.0),
                "samples": len(audience.latencies[size]),
            }
            for size in cfg.fan_sizes
        }
        for name, audience in audiences.items()
    }


def add(samples: Samples, name: str, value: float) -> None:
    samples.setdefault(name, []).append(value)


def add_usage(samples: Samples, name: str, used: Usage, checkouts: int) -> None:
    """The machine's busy share and, when PostgreSQL runs on this machine, the database's
    CPU per checkout: where the limit is."""
    add(samples, f"{name}_busy", used.busy)
    if used.postgres_s is not None:
        add(samples, f"{name}_db_us", used.postgres_s / max(1, checkouts) * 1e6)


@contextlib.contextmanager
def sqlite_shop(
    folder: Path, name: str, stock: int, customers: int, clerks: int = 0
) -> Iterator[tuple[Shop, Proc]]:
    shop = prepare(f"sqlite:///{folder / name}", stock, customers, clerks)
    with started(processes.warung(shop.url)) as server:
        yield shop, server


async def run_all(cfg: Config, pg: str | None) -> dict[str, Any]:
    """Every section; PostgreSQL's only when `pg` (a base URL) is given."""
    found: dict[str, Any] = {"clients": cfg.clients, "config": asdict(cfg)}
    customers = max(cfg.fan_sizes) + 1 + 2 * cfg.clients
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        folder = Path(tmp)
        shop, server = stack.enter_context(
            sqlite_shop(folder, "shop.db", STOCK, customers, cfg.clerks)
        )
        floor_shop = prepare(f"sqlite:///{folder / 'floor.db'}", STOCK, 0)
        echo = stack.enter_context(started(processes.floor("echo_server.py")))
        fan = stack.enter_context(started(processes.floor("fanout_server.py")))
        found["sqlite"] = await sqlite_section(
            cfg, shop, server, echo, folder / "floor.db", floor_shop.product_ids
        )
        fan_products = fan_products_of(shop, cfg)
        audiences = {
            "floor": await floor_audience(fan.port, fan_products),
            "one server (SQLite)": await warung_audience(
                server.port, server.port, shop.tokens, fan_products
            ),
        }
        if pg is not None:
            url = stack.enter_context(pg_schema(pg))
            pg_shop = prepare(url, STOCK, customers)
            one = stack.enter_context(started(processes.warung(url)))
            two = stack.enter_context(started(processes.warung(url)))
            found["pg"] = await pg_section(cfg, pg_shop, url, one, two)
            audiences["two servers (PostgreSQL)"] = await warung_audience(
                one.port, two.port, pg_shop.tokens, fan_products_of(pg_shop, cfg)
            )
        try:
            found["fanout"] = await fanout_section(cfg, audiences)
        finally:
            for audience in audiences.values():
                audience.close()
    found["flash_sale"] = await flash_sales(cfg, pg)
    found["memory"] = await memory(cfg)
    return found


async def run_pg_only(cfg: Config, pg: str) -> Samples:
    """The PostgreSQL section alone (`python -m bench --only pg`)."""
    with pg_schema(pg) as url, contextlib.ExitStack() as stack:
        shop = prepare(url, STOCK, 2 * cfg.clients)
        one = stack.enter_context(started(processes.warung(url)))
        two = stack.enter_context(started(processes.warung(url)))
        return await pg_section(cfg, shop, url, one, two)


async def run_sqlite_only(cfg: Config) -> Samples:
    """The SQLite section alone (`python -m bench --only sqlite`): target 1's rows."""
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        folder = Path(tmp)
        shop, server = stack.enter_context(
            sqlite_shop(folder, "shop.db", STOCK, cfg.clients, cfg.clerks)
        )
        floor_shop = prepare(f"sqlite:///{folder / 'floor.db'}", STOCK, 0)
        echo = stack.enter_context(started(processes.floor("echo_server.py")))
        return await sqlite_section(
            cfg, shop, server, echo, folder / "floor.db", floor_shop.product_ids
        )


def fan_products_of(shop: Shop, cfg: Config) -> dict[int, int]:
    return dict(zip(cfg.fan_sizes, shop.product_ids[-len(cfg.fan_sizes) :], strict=True))


async def flash_sales(cfg: Config, pg: str | None) -> list[dict[str, Any]]:
    sales = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        sqlite_shop(Path(tmp), "flash.db", cfg.flash_units, cfg.flash_customers) as (shop, server),
    ):
        sale = await flash_sale(
            "one server (SQLite)",
            [server.port],
            [server.pid],
            shop.tokens,
            shop.product_ids[0],
            cfg.flash_units,
        )
        sales.append(sale.as_dict())
    if pg is not None:
        with pg_schema(pg) as url, contextlib.ExitStack() as stack:
            shop = prepare(url, cfg.flash_units, cfg.flash_customers)
            servers = [stack.enter_context(started(processes.warung(url))) for _ in range(2)]
            sale = await flash_sale(
                "two servers (PostgreSQL)",
                [s.port for s in servers],
                [s.pid for s in servers],
                shop.tokens,
                shop.product_ids[0],
                cfg.flash_units,
            )
            sales.append(sale.as_dict())
    return sales


async def memory(cfg: Config) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory() as tmp,
        sqlite_shop(Path(tmp), "idle.db", STOCK, cfg.memory_connections) as (shop, server),
    ):
        return await idle_memory(
            server.pid, server.port, shop.tokens, shop.product_ids[: cfg.memory_products]
        )
