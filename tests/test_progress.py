"""The text progress bar."""

import io
from types import SimpleNamespace

from sklearn_dsc import DeepSpectralClusteringEmbedder
from sklearn_dsc._progress import EpochProgress

from helpers import informative_and_noise


def state(epoch, max_iter=4, loss=0.5, last_epoch=None):
    """What the bar reads of an estimator: ``last_epoch`` is where the run in
    progress stops at the latest, as the estimator says."""
    return SimpleNamespace(
        n_iter_=epoch,
        max_iter=max_iter,
        loss_curve_=[loss] * epoch,
        _run_last_epoch=last_epoch,
    )


def test_bar_is_redrawn_in_place_and_a_new_run_starts_a_line():
    stream = io.StringIO()
    progress = EpochProgress("fit", stream=stream, width=4, in_place=True)
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
    EpochProgress(stream=stream, width=2, in_place=True)(state(6, max_iter=3))
    assert "[##] epoch 6/6" in stream.getvalue()


def test_close_without_drawing_writes_nothing():
    stream = io.StringIO()
    EpochProgress(stream=stream).close()
    assert stream.getvalue() == ""


def test_stages_show_between_runs_and_keep_the_bars():
    stream = io.StringIO()
    progress = EpochProgress("fit", stream=stream, width=4, in_place=True)
    progress.stage("choosing the anchor: held-out class split 1 of 10")
    progress.stage("choosing the anchor: held-out class split 2 of 10")
    progress(state(1))
    progress(state(2))
    progress.stage("refit on every class for 2 epochs")
    progress(state(1, last_epoch=2))
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
    assert bar.startswith("fit [##--] epoch 1/2")  # the refit's epochs
    assert end == ""


def test_the_bar_says_at_most_how_long_the_run_has_left(monkeypatch):
    clock = iter([0.0, 2.0, 4.0, 6.0, 100.0, 101.0])
    monkeypatch.setattr("sklearn_dsc._progress.time.perf_counter", lambda: next(clock))
    stream = io.StringIO()
    # starts at 0 s
    progress = EpochProgress("fit", stream=stream, width=4, in_place=True)
    progress(state(1))  # 2 s an epoch: 3 more epochs, at most 6 s
    progress(state(2))
    progress(state(4))  # the last epoch: nothing left
    progress.stage("refit on every class for 3 epochs")  # at 100 s
    progress(state(1, last_epoch=3))  # a new run, at its own pace: 1 s an epoch
    draws = [d.rstrip() for d in stream.getvalue().replace("\n", "").split("\r")[1:]]
    assert draws[0].endswith("2.0s, at most 6s left")
    assert draws[1].endswith("4.0s, at most 4s left")
    assert draws[2].endswith("6.0s")
    assert draws[4].endswith("101.0s, at most 2s left")


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_the_bar_is_drawn_in_place_on_a_terminal_only():
    assert EpochProgress(stream=Terminal()).in_place
    assert not EpochProgress(stream=io.StringIO()).in_place


def test_elsewhere_each_draw_is_a_line():
    """A log file gets lines, not draws piled up behind carriage returns."""
    stream = io.StringIO()
    progress = EpochProgress("fit", stream=stream, width=4)
    progress.stage("choosing the anchor: held-out class split 1 of 2")
    progress(state(1))
    progress(state(2))
    progress.close()
    lines = stream.getvalue().split("\n")
    assert "\r" not in stream.getvalue()
    assert lines[0].startswith("fit: choosing the anchor: held-out class split 1 of 2")
    assert lines[1].startswith("fit [#---] epoch 1/4")
    assert lines[2].startswith("fit [##--] epoch 2/4")
    assert lines[3:] == [""]


def test_the_refit_counts_its_own_epochs():
    """Many held-out classes and a random start: the trial trains up to
    max_iter epochs, the refit on every class the trial's best number, and
    each bar counts to its own run's end."""
    X, y = informative_and_noise(n_classes=34, n_per_class=10)
    stream = io.StringIO()
    progress = EpochProgress("fit", stream=stream, width=4)
    model = DeepSpectralClusteringEmbedder(
        hidden_layer_sizes=(8,),
        init="random",
        max_iter=6,
        random_state=0,
        callback=progress,
    ).fit(X, y)
    progress.close()
    lines = stream.getvalue().splitlines()
    refit = next(i for i, line in enumerate(lines) if "refit on every class" in line)
    epochs = int(lines[refit].split(" for ")[1].split()[0])
    assert epochs < 6
    bars = [i for i, line in enumerate(lines) if line.startswith("fit [")]
    assert all(" epoch " in lines[i] and "/6 " in lines[i] for i in bars if i < refit)
    after = [lines[i] for i in bars if i > refit]
    assert [line.split(" epoch ")[1].split()[0] for line in after] == [
        f"{epoch}/{epochs}" for epoch in range(1, epochs + 1)
    ]
    assert model.n_iter_ == epochs
