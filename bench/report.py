"""The table of `python -m bench`: each warung figure beside its floor, their ratio and the
issue's target (issue 19); also written as JSON and drawn as a PNG chart."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FLOOR = "bare Twisted fan-out"


@dataclass
class Row:
    metric: str
    where: str
    warung: float
    floor: float
    floor_name: str
    unit: str
    at_most: float | None = None  # target: ratio <= this
    at_least: float | None = None  # target: ratio >= this
    absolute_below: float | None = None  # target: warung < this (in `unit`)

    @property
    def ratio(self) -> float:
        return self.warung / self.floor if self.floor else float("nan")

    @property
    def target(self) -> str:
        if self.at_most is not None:
            return f"ratio <= {self.at_most:g}"
        if self.at_least is not None:
            return f"ratio >= {self.at_least:g}"
        if self.absolute_below is not None:
            return f"< {self.absolute_below:g} {self.unit}"
        return ""

    @property
    def met(self) -> bool | None:
        if self.at_most is not None:
            return self.ratio <= self.at_most
        if self.at_least is not None:
            return self.ratio >= self.at_least
        if self.absolute_below is not None:
            return self.warung < self.absolute_below
        return None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio, "target": self.target, "met": self.met}


def median(samples: dict[str, list[float]], name: str) -> float:
    return statistics.median(samples[name])


def rows(found: dict[str, Any]) -> list[Row]:
    made = sqlite_rows(found["sqlite"])
    for where, fan in found["fanout"].items():
        if where != "floor":
            made += _fan_rows(where, fan, found["fanout"]["floor"])
    if "pg" in found:
        made += pg_rows(found["pg"], found["clients"], median(found["sqlite"], "echo_us"))
    return made


def sqlite_rows(s: dict[str, list[float]]) -> list[Row]:
    echo, floor = median(s, "echo_us"), median(s, "sqlite_floor_us")
    where = "one server (SQLite)"
    return [
        Row("server CPU per checkout", where, median(s, "checkout_us"), floor + 2 * echo,
            "sqlite3 loop + 2 echo requests", "µs", at_most=2.0),
        Row("server CPU per POS sale", where, median(s, "sale_us"), floor + echo,
            "sqlite3 loop + 1 echo request", "µs", at_most=2.0),
    ]  # fmt: skip


def _fan_rows(where: str, fan: dict[str, Any], floor: dict[str, Any]) -> list[Row]:
    made = []
    for size, got in fan.items():
        for stat, target in (("p50_ms", None), ("p99_ms", 1.5)):
            metric = f"fan-out {stat[:3]}, {int(size):,} subscribers"
            made.append(
                Row(metric, where, got[stat], floor[size][stat], FLOOR, "ms", at_most=target)
            )
    return made


def pg_rows(s: dict[str, list[float]], clients: int, echo_us: float | None) -> list[Row]:
    """The PostgreSQL rows; without `echo_us` (no echo floor measured), the CPU row's floor
    is psycopg2's client CPU alone. A closed loop's p50 is about clients / rate, so the
    paced run's (`bench.paced`, at half the eight-connection floor's rate) is the latency at
    a load the server carries, beside one checkout transaction of psycopg2 alone."""
    floor8 = "psycopg2, 8 connections"
    cpu_floor, cpu_floor_name = median(s, "psycopg2_8_cpu_us"), "psycopg2 client CPU"
    if echo_us is not None:
        cpu_floor, cpu_floor_name = cpu_floor + 2 * echo_us, cpu_floor_name + " + 2 echo requests"
    one, two = median(s, "pg_one_per_s"), median(s, "pg_two_per_s")
    one_p50, two_p50 = median(s, "pg_one_p50_ms"), median(s, "pg_two_p50_ms")
    return [
        Row(f"checkouts/s, {clients} clients", "one server (PostgreSQL)", one,
            median(s, "psycopg2_8_per_s"), floor8, "/s", at_least=1.0),
        Row(f"checkout p50, {clients} clients", "one server (PostgreSQL)", one_p50,
            median(s, "psycopg2_8_p50_ms"), floor8, "ms", absolute_below=30.0),
        Row(f"checkouts/s, {clients} clients", "two servers (PostgreSQL)", two,
            median(s, "psycopg2_8_per_s"), floor8, "/s"),
        Row("checkouts/s, two servers / one", "PostgreSQL", two, one, "one server", "/s",
            at_least=1.6),
        Row(f"checkout p50, {clients} clients", "two servers (PostgreSQL)", two_p50,
            median(s, "psycopg2_8_p50_ms"), floor8, "ms", absolute_below=30.0),
        Row(f"checkout p50, {clients} paced clients", "one server (PostgreSQL)",
            median(s, "pg_paced_p50_ms"), median(s, "psycopg2_1_p50_ms"),
            "psycopg2, 1 connection", "ms", absolute_below=30.0),
        Row("server CPU per checkout (no target)", "one server (PostgreSQL)",
            median(s, "pg_one_cpu_us"), cpu_floor, cpu_floor_name, "µs"),
        Row("server CPU per checkout (no target)", "two servers (PostgreSQL)",
            median(s, "pg_two_cpu_us"), cpu_floor, cpu_floor_name, "µs"),
        *limit_rows(s, floor8),
    ]  # fmt: skip


def limit_rows(s: dict[str, list[float]], floor8: str) -> list[Row]:
    """Where the PostgreSQL runs' limit is: how busy the machine's cores were (100% is every
    core, the database, servers and load generator together) and the database's own CPU per
    checkout, each beside the eight-connection floor's."""
    cores = f"% of {os.cpu_count()} cores"
    made = []
    for name, where in (("one", "one server (PostgreSQL)"), ("two", "two servers (PostgreSQL)")):
        made.append(Row("machine busy (no target)", where, 100 * median(s, f"pg_{name}_busy"),
                        100 * median(s, "psycopg2_8_busy"), floor8, cores))  # fmt: skip
        if f"pg_{name}_db_us" in s:  # PostgreSQL runs on this machine
            made.append(Row("database CPU per checkout (no target)", where,
                            median(s, f"pg_{name}_db_us"), median(s, "psycopg2_8_db_us"),
                            floor8, "µs"))  # fmt: skip
    return made


def machine() -> dict[str, Any]:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "commit": commit,
        "load_average": list(os.getloadavg()),
    }


def fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"


def table(made: list[Row]) -> str:
    wide = max([len("metric"), *(len(row.metric) for row in made)])
    head = f"{'metric':<{wide}} {'where':<26} {'warung':>9} {'floor':>9} {'ratio':>6}  target"
    lines = [head, "-" * len(head)]
    for row in made:
        met = {True: "met", False: "NOT met", None: ""}[row.met]
        lines.append(
            f"{row.metric:<{wide}} {row.where:<26} {fmt(row.warung):>9} {fmt(row.floor):>9}"
            f" {row.ratio:>6.2f}  {row.target} {met}  ({row.unit}; floor: {row.floor_name})"
        )
    return "\n".join(lines)


def flash_table(sales: list[dict[str, Any]]) -> str:
    lines = []
    for s in sales:
        met = s["met"]
        lines.append(
            f"flash sale, {s['where']}: {s['customers']:,} customers, {s['units']} units: "
            f"{s['paid']} paid, {s['out_of_stock']:,} out_of_stock, {s['other']} other "
            f"(exact: {_yes(met['exact'])}); all answered in {s['answered_s']:.2f} s "
            f"(target 2 s: {_yes(met['answered_within_2s'])}); every watcher sold out at least "
            f"{s['sold_out_lag_s']:.3f} s after the last sale (target 0.5 s: "
            f"{_yes(met['sold_out_within_0_5s'])}; {s['watchers_sold_out']:,} saw 0; first to "
            f"last watcher {s['sold_out_spread_s']:.3f} s, last paid answer to last watcher "
            f"{s['sold_out_after_last_paid_s']:.3f} s); servers' CPU until the last answer "
            f"{s['server_cpu_s']:.2f} s"
        )
    return "\n".join(lines)


def memory_line(m: dict[str, Any]) -> str:
    idle, sub = m["kib_per_idle_connection"], m["kib_per_subscribed_connection"]
    return (
        f"memory, {m['connections']:,} idle signed-in connections: "
        f"{idle['rss']:.2f} KiB RSS ({idle['pss']:.2f} PSS) each unsubscribed, "
        f"{sub['rss']:.2f} KiB RSS ({sub['pss']:.2f} PSS) each subscribed to "
        f"{m['products_per_connection']} products"
    )


def _yes(flag: bool) -> str:
    return "met" if flag else "NOT met"


def write(found: dict[str, Any], made: list[Row], out: Path, began: dict[str, Any]) -> Path:
    """JSON (`bench.json`) and the chart (`bench.png`) under `out`; the JSON's path."""
    out.mkdir(parents=True, exist_ok=True)
    document = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine_at_start": began,
        "machine_at_end": machine(),
        "rows": [row.as_dict() for row in made],
        "flash_sale": found["flash_sale"],
        "memory": found["memory"],
        "raw": {k: v for k, v in found.items() if k in ("config", "sqlite", "pg", "fanout")},
    }
    path = out / "bench.json"
    path.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    chart(made, out / "bench.png")
    return path


def chart(made: list[Row], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [row for row in made if row.at_most is not None or row.at_least is not None]
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(shown) + 1.2))
    labels = [f"{row.metric}\n{row.where}" for row in shown]
    colours = ["tab:green" if row.met else "tab:red" for row in shown]
    ys = range(len(shown))
    ax.barh(ys, [row.ratio for row in shown], color=colours)
    for y, row in zip(ys, shown, strict=True):
        target = row.at_most if row.at_most is not None else row.at_least or 0.0
        ax.plot([target, target], [y - 0.4, y + 0.4], color="black", linewidth=2)
        ax.text(row.ratio, y, f" {row.ratio:.2f}", va="center", fontsize=7)
    ax.set_yticks(list(ys), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("warung / floor (black: the issue's target; green met, red not)")
    ax.set_title("warung against its floors (python -m bench)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
