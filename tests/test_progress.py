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


def test_the_bar_says_at_most_how_long_the_run_has_left(monkeypatch):
    clock = iter([0.0, 2.0, 4.0, 6.0, 100.0, 101.0])
    monkeypatch.setattr("sklearn_dsc._progress.time.perf_counter", lambda: next(clock))
    stream = io.StringIO()
    progress = EpochProgress("fit", stream=stream, width=4)  # starts at 0 s
    progress(state(1))  # 2 s an epoch: 3 more epochs, at most 6 s
    progress(state(2))
    progress(state(4))  # the last epoch: nothing left
    progress.stage("refit on every class for 4 epochs")  # at 100 s
    progress(state(1))  # a new run, at its own pace: 1 s an epoch
    draws = [d.rstrip() for d in stream.getvalue().replace("\n", "").split("\r")[1:]]
    assert draws[0].endswith("2.0s, at most 6s left")
    assert draws[1].endswith("4.0s, at most 4s left")
    assert draws[2].endswith("6.0s")
    assert draws[4].endswith("101.0s, at most 3s left")
