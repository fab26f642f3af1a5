"""The training loop: epochs, patience, hooks, divergence, history."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning

from sklearn_dsc import _training
from sklearn_dsc._networks import build_anchored, build_mlp
from sklearn_dsc._training import (
    History,
    Patience,
    TrainingSettings,
    make_optimizer,
    make_sampler,
    train,
    train_chunk,
)

from helpers import informative_and_noise

CPU = torch.device("cpu")


def settings(**changes):
    values = {
        "batch_size": 64,
        "samples_per_class": None,
        "chunk_size": None,
        "learning_rate": 1e-2,
        "weight_decay": 0.0,
        "dropout": 0.0,
        "max_iter": 5,
        "tol": 0.0,
        "n_iter_no_change": 100,
        "verbose": 0,
        "name": "Test",
        **changes,
    }
    return TrainingSettings(**values)


@pytest.fixture
def problem():
    X, codes = informative_and_noise(n_classes=4, n_per_class=48)
    return X / 4, codes


def run(module, X, codes, max_epochs=5, **kwargs):
    history = History()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        converged = train(
            module,
            X,
            codes,
            CPU,
            np.random.RandomState(0),
            kwargs.pop("training", settings()),
            history,
            max_epochs,
            **kwargs,
        )
    return converged, history


def test_patience_counts_epochs_without_progress():
    patience = Patience(tol=0.1, n_iter_no_change=2, initial_state="start")
    assert not patience.update(1.0, "a")
    assert not patience.update(0.95, "b")  # better, but not by tol
    assert patience.best_state == "b"
    assert patience.update(0.99, "c")  # two epochs without progress
    assert patience.best_state == "b"


def test_train_records_every_epoch_and_lowers_the_loss(problem):
    X, codes = problem
    module = build_mlp(24, (16,), 4, "relu", seed=0)
    converged, history = run(module, X, codes)
    assert not converged
    assert history.n_iter == len(history.loss_curve) == 5
    assert history.t == 5 * len(X)
    assert history.loss_curve[-1] < history.loss_curve[0]
    assert history.validation_scores is None
    assert history.optimizer_state is not None
    assert next(module.parameters()).device.type == "cpu"


def test_max_iter_is_warned_about_unless_asked_not_to(problem):
    X, codes = problem
    module = build_mlp(24, (8,), 4, "relu", seed=0)
    arguments = (X, codes, CPU, np.random.RandomState(0), settings(), History(), 2)
    with pytest.warns(ConvergenceWarning, match="maximum iterations"):
        train(module, *arguments)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        train(module, *arguments, warn_max_iter=False)


def test_on_epoch_sees_the_history_and_can_stop(problem):
    X, codes = problem
    module = build_mlp(24, (8,), 4, "relu", seed=0)
    seen = []

    def on_epoch(trained, history):
        assert trained is module
        seen.append(list(history.loss_curve))
        return history.n_iter == 3

    converged, history = run(module, X, codes, max_epochs=10, on_epoch=on_epoch)
    assert converged
    assert history.n_iter == 3
    assert [len(curve) for curve in seen] == [1, 2, 3]


def test_patience_stops_training(problem):
    X, codes = problem
    module = build_mlp(24, (8,), 4, "relu", seed=0)
    training = settings(tol=1e9, n_iter_no_change=2)  # no later epoch is progress
    converged, history = run(module, X, codes, max_epochs=50, training=training)
    assert converged
    assert history.n_iter == 3  # the first, then two without progress


def test_score_keeps_the_best_weights_the_start_included(problem):
    X, codes = problem
    module = build_mlp(24, (8,), 4, "relu", seed=0)
    start = {name: value.clone() for name, value in module.state_dict().items()}
    scores = iter([1.0, 0.5, 0.7, 0.2])  # the start scores best

    _, history = run(module, X, codes, max_epochs=3, score=lambda m: next(scores))
    assert history.validation_scores == [1.0, 0.5, 0.7, 0.2]
    assert history.best_validation_score == 1.0
    for name, value in module.state_dict().items():
        torch.testing.assert_close(value, start[name])


def test_divergence_keeps_finite_weights_with_a_warning(problem, monkeypatch):
    X, codes = problem
    module = build_mlp(24, (8,), 4, "relu", seed=0)
    calls = {"n": 0}
    loss = _training.spectral_clustering_loss

    def diverging(embeddings, labels):
        calls["n"] += 1
        value = loss(embeddings, labels)
        return value * float("nan") if calls["n"] > 4 else value

    monkeypatch.setattr(_training, "spectral_clustering_loss", diverging)
    history = History()
    with pytest.warns(ConvergenceWarning, match="diverged"):
        converged = train(
            module, X, codes, CPU, np.random.RandomState(0), settings(), history, 10
        )
    assert converged
    assert all(torch.isfinite(p).all() for p in module.parameters())


def test_train_chunk_continues_the_optimizer(problem):
    X, codes = problem
    module = build_anchored(
        np.eye(24)[:6], np.zeros(6), build_mlp(24, (8,), 4, "relu", 0)
    )
    history = History()
    for _ in range(2):
        train_chunk(
            module, X, codes, CPU, np.random.RandomState(0), settings(), history, None
        )
    assert history.n_iter == 2
    steps = [state["step"] for state in history.optimizer_state["state"].values()]
    assert all(float(step) == 2 * 3 for step in steps)  # 3 batches an epoch
    assert module.head_scale.item() > 0  # the head was calibrated


def test_a_diverging_chunk_is_an_error(problem, monkeypatch):
    X, codes = problem
    module = build_mlp(24, (8,), 4, "relu", seed=0)
    monkeypatch.setattr(
        _training, "spectral_clustering_loss", lambda e, c: e.sum() * float("inf")
    )
    with pytest.raises(ValueError, match="diverged on this chunk"):
        train_chunk(
            module, X, codes, CPU, np.random.RandomState(0), settings(), History(), None
        )


def test_make_optimizer_takes_the_current_learning_rate():
    module = build_mlp(3, (), 2, "relu", seed=0)
    state = make_optimizer(module, settings(learning_rate=0.1)).state_dict()
    optimizer = make_optimizer(module, settings(learning_rate=0.5), state)
    assert optimizer.param_groups[0]["lr"] == 0.5


def test_sampler_puts_every_class_in_a_batch_when_they_fit():
    codes = np.repeat(np.arange(4), 30)
    sampler = make_sampler(codes, settings(batch_size=32), np.random.RandomState(0))
    (batch,) = sampler.batches(1)
    assert np.bincount(codes[batch]).tolist() == [8, 8, 8, 8]
    sampler = make_sampler(
        codes, settings(batch_size=32, samples_per_class=16), np.random.RandomState(0)
    )
    (batch,) = sampler.batches(1)
    assert len(np.unique(codes[batch])) == 2


def test_verbose_prints_one_line_per_epoch(problem, capsys):
    X, codes = problem
    module = build_mlp(24, (8,), 4, "relu", seed=0)
    run(module, X, codes, max_epochs=2, training=settings(verbose=2))
    lines = capsys.readouterr().out.splitlines()
    assert sum(line.startswith("[Test] epoch") for line in lines) == 2
    assert any("batch 3/3" in line for line in lines)
