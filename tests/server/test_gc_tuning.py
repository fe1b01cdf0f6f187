"""The server's garbage collector settings: startup frozen, full collections spaced out."""

import gc

from server import gc_tuning


def test_tune_freezes_what_exists_and_waits_longer_for_full_collections() -> None:
    before = gc.get_threshold()
    try:
        gc_tuning.tune()
        assert gc.get_freeze_count() > 0
        young, middle, old = gc.get_threshold()
        assert (young, middle) == before[:2] and old > before[2]
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
