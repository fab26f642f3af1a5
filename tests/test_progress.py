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
