"""Seconds spent in each stage of a fit."""

import time

from sklearn_dsc._clock import StageClock


def test_an_inner_stage_counts_for_itself_only():
    clock = StageClock()
    with clock("training"):
        time.sleep(0.02)
        with clock("scoring held-out data"):
            time.sleep(0.03)
    with clock("training"):  # stages add up over calls
        time.sleep(0.01)
    training, scoring = (
        clock.seconds["training"],
        clock.seconds["scoring held-out data"],
    )
    assert 0.025 <= training < 0.06
    assert 0.025 <= scoring < 0.06
    text = clock.describe()
    assert text.startswith("training ")  # in the order of STAGES
    assert ", scoring held-out data " in text
    assert text.endswith(f"; {training + scoring:.1f} s in these stages")


def test_a_stage_that_raises_is_timed_too():
    clock = StageClock()
    try:
        with clock("training"):
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        pass
    assert "training" in clock.seconds
