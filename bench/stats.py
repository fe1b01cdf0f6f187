"""The one percentile the benches report: the sample at rank `int(n * p)` (the largest for
p = 1), in milliseconds."""

from __future__ import annotations


def percentile_ms(values: list[float], p: float) -> float:
    """The `p` percentile of `values` (seconds), in ms; `values` must not be empty."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000
