"""The text progress bar."""

import io
from types import SimpleNamespace

from sklearn_dsc._progress import EpochProgress


def state(epoch, max_iter=4, loss=0.5):
    return SimpleNamespace(n_iter_=epoch, max_iter=max_iter, loss_curve_=[loss] * epoch)


def test_bar_is_redrawn_in_place_and_a_new_run_starts_a_line():
    stream = io.StringIO()
    progress = EpochProgress("fit", stream=stream, width=4)
    assert progress(state(1)) is False  # never stops training
    progress(state(2))
    progress(state(1))  # a new training run (the refit)
    progress.close()
    text = stream.getvalue()
    first, second = text.split("\n")[:2]
    assert first.startswith("\rfit [#---] epoch 1/4")
    assert "\rfit [##--] epoch 2/4  loss 0.5000" in first
    assert second.startswith("\rfit [#---] epoch 1/4")
    assert text.endswith("\n")


def test_more_epochs_than_max_iter_fill_the_bar():
    stream = io.StringIO()
    EpochProgress(stream=stream, width=2)(state(6, max_iter=3))
    assert "[##] epoch 6/6" in stream.getvalue()


def test_close_without_drawing_writes_nothing():
    stream = io.StringIO()
    EpochProgress(stream=stream).close()
    assert stream.getvalue() == ""


def test_stages_show_between_runs_and_keep_the_bars():
    stream = io.StringIO()
    progress = EpochProgress("fit", stream=stream, width=4)
    progress.stage("choosing the anchor: held-out class split 1 of 10")
    progress.stage("choosing the anchor: held-out class split 2 of 10")
    progress(state(1))
    progress(state(2))
    progress.stage("refit on every class for 2 epochs")
    progress(state(1))
    progress.close()
    first, second, end = stream.getvalue().split("\n")
    _, stage_1, stage_2, bar_1, bar_2 = first.split("\r")
    assert "split 1 of 10" in stage_1
    assert "split 2 of 10" in stage_2
    assert bar_2.startswith("fit [##--] epoch 2/4")
    # a shorter line blanks what the longer one before it left
    assert len(bar_1) == len(stage_2) > len(bar_1.rstrip())
    _, refit, bar = second.split("\r")
    assert refit.startswith("fit: refit on every class for 2 epochs")
    assert bar.startswith("fit [#---] epoch 1/4")
    assert end == ""
