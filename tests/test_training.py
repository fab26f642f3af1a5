"""The training loop: epochs, patience, hooks, divergence, history."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.exceptions import ConvergenceWarning

from sklearn_dsc import _training
from sklearn_dsc._data import TensorData
from sklearn_dsc._networks import build_anchored, build_mlp
from sklearn_dsc._training import (
    History,
    Outcome,
    Patience,
    Schedule,
    TrainingRun,
    TrainingSettings,
    make_optimizer,
    make_sampler,
    optimizer_state_on_cpu,
    snapshot,
    train,
    train_chunk,
    warn_outcome,
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


def context(training=None, on_epoch=None):
    return TrainingRun(training or settings(), CPU, np.random.RandomState(0), on_epoch)


def run(module, X, codes, max_epochs=5, training=None, on_epoch=None, **schedule):
    history = History()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # train itself warns about nothing
        outcome = train(
            module,
            X,
            codes,
            history,
            context(training, on_epoch),
            Schedule(max_epochs, **schedule),
        )
    return outcome, history


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
    outcome, history = run(module, X, codes)
    assert outcome is Outcome.MAX_ITER
    assert history.n_iter == len(history.loss_curve) == 5
    assert history.t == 5 * len(X)
    assert history.loss_curve[-1] < history.loss_curve[0]
    assert history.validation_scores is None
    assert history.optimizer_state is not None
    assert next(module.parameters()).device.type == "cpu"


@pytest.mark.parametrize(
    ("outcome", "category", "message"),
    [
        (Outcome.MAX_ITER, ConvergenceWarning, "maximum iterations \\(5\\)"),
        (Outcome.DIVERGED, ConvergenceWarning, "diverged at epoch 3"),
        (Outcome.INTERRUPTED, _training.TrainingInterrupted, "after 2 epochs"),
    ],
)
def test_each_outcome_that_deserves_it_has_its_warning(outcome, category, message):
    history = History(n_iter=2)
    with pytest.warns(category, match=message):
        warn_outcome(outcome, history, settings())


@pytest.mark.parametrize("outcome", [Outcome.CONVERGED, Outcome.STOPPED])
def test_converging_and_stopping_warn_nothing(outcome):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_outcome(outcome, History(), settings())


def test_on_epoch_sees_the_history_and_can_stop(problem):
    X, codes = problem
    module = build_mlp(24, (8,), 4, "relu", seed=0)
    seen = []

    def on_epoch(trained, history):
        assert trained is module
        seen.append(list(history.loss_curve))
        return history.n_iter == 3

    outcome, history = run(module, X, codes, max_epochs=10, on_epoch=on_epoch)
    assert outcome is Outcome.STOPPED
    assert history.n_iter == 3
    assert [len(curve) for curve in seen] == [1, 2, 3]


def test_patience_stops_training(problem):
    X, codes = problem
    module = build_mlp(24, (8,), 4, "relu", seed=0)
    training = settings(tol=1e9, n_iter_no_change=2)  # no later epoch is progress
    outcome, history = run(module, X, codes, max_epochs=50, training=training)
    assert outcome is Outcome.CONVERGED
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


def test_snapshots_share_the_frozen_anchor_and_copy_what_trains(problem):
    """A snapshot copies what training changes (the head, the buffers) and
    not the anchor, which it leaves alone: on wide inputs the anchor is the
    largest part of the network, and a run keeps up to four snapshots. The
    best weights restored are then the start's, the anchor included."""
    X, codes = problem
    rng = np.random.default_rng(0)
    weight, bias = rng.normal(size=(6, 24)), rng.normal(size=6)
    module = build_anchored(weight, bias, build_mlp(24, (8,), 4, "relu", seed=0))
    state = snapshot(module)
    anchor = module.anchor.weight
    assert state["anchor.weight"].data_ptr() == anchor.data_ptr()
    for name, value in module.state_dict().items():
        if not name.startswith("anchor."):
            assert state[name].data_ptr() != value.data_ptr(), name
    start = {name: value.clone() for name, value in module.state_dict().items()}
    scores = iter([1.0, 0.5, 0.7])  # the start scores best
    _, history = run(module, X, codes, max_epochs=2, score=lambda m: next(scores))
    assert history.n_iter == 2
    for name, value in module.state_dict().items():
        torch.testing.assert_close(value, start[name])
    assert module.anchor.weight.data_ptr() == anchor.data_ptr()


def test_the_state_kept_of_an_optimizer_on_the_cpu_is_its_own():
    """An optimizer that steps no more leaves its state on the CPU as it
    is (twice the trained weights), not a copy."""
    module = build_mlp(24, (8,), 4, "relu", seed=0)
    optimizer = torch.optim.AdamW(module.parameters())
    module(torch.ones(3, 24)).sum().backward()
    optimizer.step()
    kept = optimizer_state_on_cpu(optimizer)
    for index, values in optimizer.state_dict()["state"].items():
        assert values.keys() == kept["state"][index].keys()
        for key, value in values.items():
            assert kept["state"][index][key].data_ptr() == value.data_ptr(), key
    assert all(values["step"] == 1 for values in kept["state"].values())


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
    outcome, history = run(module, X, codes, max_epochs=10)
    assert outcome is Outcome.DIVERGED
    assert history.n_iter == 1  # the second epoch diverged
    assert all(torch.isfinite(p).all() for p in module.parameters())


def anchored():
    """A head beside a fixed anchor of 6 of the 24 inputs."""
    return build_anchored(
        np.eye(24)[:6], np.zeros(6), build_mlp(24, (8,), 4, "relu", 0)
    )


def test_train_chunk_continues_the_optimizer(problem):
    X, codes = problem
    module = anchored()
    history = History()
    for _ in range(2):
        train_chunk(module, X, codes, history, context())
    assert history.n_iter == 2
    steps = [state["step"] for state in history.optimizer_state["state"].values()]
    assert all(float(step) == 2 * 3 for step in steps)  # 3 batches an epoch
    assert module.head_scale.item() > 0  # the head was calibrated


@pytest.mark.parametrize("sparse", [False, True])
def test_the_head_is_calibrated_through_a_copy_of_its_weight_on_sparse_rows(
    problem, sparse
):
    """As ``embed`` does: the same scale, read faster from sparse rows."""
    X = problem[0]
    module = anchored()
    seen = []
    module.head[0].register_forward_hook(lambda m, i, o: seen.append(m._transposed))
    rows = sp.csr_matrix(np.maximum(X, 0)) if sparse else np.maximum(X, 0)
    _training.calibrate_head(module, TensorData(rows, CPU))
    assert seen
    assert all((copy is not None) == sparse for copy in seen)
    assert module.head[0]._transposed is None
    scale = module.head_scale.item()
    _training.calibrate_head(module, TensorData(np.maximum(X, 0), CPU))
    assert module.head_scale.item() == pytest.approx(scale, rel=1e-6)


def test_the_head_is_scaled_where_its_scale_is_read(problem, monkeypatch):
    X, codes = problem
    calls = []
    calibrate = _training.calibrate_head
    monkeypatch.setattr(
        _training,
        "calibrate_head",
        lambda module, data: calls.append(1) or calibrate(module, data),
    )
    alone, watched, scored = anchored(), anchored(), anchored()
    run(alone, X, codes, max_epochs=4)
    assert len(calls) == 1  # nothing reads it between epochs: once, at the end
    run(watched, X, codes, max_epochs=4, on_epoch=lambda module, history: False)
    assert len(calls) == 1 + 4  # the hook sees every epoch's scale
    run(scored, X, codes, max_epochs=4, score=lambda module: 0.5)
    assert len(calls) == 1 + 4 + 4
    # the same weights and the same scale, however often it was set
    for name, value in alone.state_dict().items():
        torch.testing.assert_close(watched.state_dict()[name], value, rtol=0, atol=0)
    assert alone.head_scale.item() > 0
    # after a divergence, once: for the finite weights kept
    loss = _training.spectral_clustering_loss
    steps = []

    def diverging(embeddings, labels):
        steps.append(1)
        return loss(embeddings, labels) * (float("nan") if len(steps) > 4 else 1.0)

    monkeypatch.setattr(_training, "spectral_clustering_loss", diverging)
    outcome, _ = run(anchored(), X, codes, max_epochs=4)
    assert outcome is Outcome.DIVERGED
    assert len(calls) == 1 + 4 + 4 + 1


def test_a_diverging_chunk_is_an_error(problem, monkeypatch):
    X, codes = problem
    module = build_mlp(24, (8,), 4, "relu", seed=0)
    monkeypatch.setattr(
        _training, "spectral_clustering_loss", lambda e, c: e.sum() * float("inf")
    )
    with pytest.raises(ValueError, match="diverged on this chunk"):
        train_chunk(module, X, codes, History(), context())


def test_make_optimizer_takes_the_current_learning_rate():
    module = build_mlp(3, (), 2, "relu", seed=0)
    state = make_optimizer(module, settings(learning_rate=0.1)).state_dict()
    optimizer = make_optimizer(module, settings(learning_rate=0.5), state)
    assert optimizer.param_groups[0]["lr"] == 0.5


def test_make_optimizer_is_fused_where_torch_has_the_kernel(monkeypatch):
    module = build_mlp(3, (), 2, "relu", seed=0)
    optimizer = make_optimizer(module, settings())
    cpu_kernel = tuple(int(part) for part in torch.__version__.split(".")[:2]) >= (2, 4)
    assert bool(optimizer.defaults["fused"]) == cpu_kernel
    original = torch.optim.AdamW

    def without_fused_kernels(parameters, fused=None, **kwargs):
        if fused:
            raise RuntimeError("`fused=True` requires ... supported devices")
        return original(parameters, **kwargs)

    monkeypatch.setattr(torch.optim, "AdamW", without_fused_kernels)
    unfused = make_optimizer(module, settings())
    assert not unfused.defaults["fused"]
    # the state of either kind continues in the other, of the kind made
    fused_state = optimizer.state_dict()
    assert not make_optimizer(module, settings(), fused_state).defaults["fused"]
    monkeypatch.undo()
    continued = make_optimizer(module, settings(), unfused.state_dict())
    assert continued.param_groups[0]["fused"] == optimizer.defaults["fused"]


def test_fused_and_unfused_steps_agree():
    X = torch.randn(64, 3, generator=torch.Generator().manual_seed(0))
    modules = [build_mlp(3, (8,), 2, "relu", seed=0) for _ in range(2)]
    try:
        torch.optim.AdamW(modules[0].parameters(), fused=True)
    except RuntimeError:  # the CPU has fused AdamW from torch 2.4
        pytest.skip("this torch has no fused AdamW for the CPU")
    for module, fused in zip(modules, [True, False], strict=True):
        optimizer = torch.optim.AdamW(module.parameters(), lr=0.01, fused=fused)
        for _ in range(5):
            optimizer.zero_grad()
            module(X).square().sum().backward()
            optimizer.step()
    for fused, unfused in zip(*(m.parameters() for m in modules), strict=True):
        torch.testing.assert_close(fused, unfused)


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


@pytest.mark.parametrize(
    ("n_components", "rows", "larger"),
    [
        (64, "at most 64 rows", "or make batches larger (batch_size)"),
        (192, "at most 192 rows", ""),
    ],
)
def test_outputs_as_wide_as_a_batch_are_warned_of(problem, n_components, rows, larger):
    """Outputs that span a batch leave the loss nothing to lower; where every
    row is in every batch already, only narrower outputs help."""
    X, codes = problem  # 4 classes of 48 rows; batches of 64 rows
    module = build_mlp(X.shape[1], (256,), n_components, "relu", seed=0)
    with pytest.warns(UserWarning, match="outputs are .* wide") as record:
        _training.train(
            module,
            X,
            codes,
            History(),
            context(settings(batch_size=min(n_components, len(X)))),
            Schedule(1),
        )
    (message,) = [str(w.message) for w in record if "wide" in str(w.message)]
    assert f"outputs are {n_components} wide, and a batch holds {rows}" in message
    assert message.endswith(
        f"well below the rows of a batch{', ' * bool(larger)}{larger}."
    )
    run(build_mlp(X.shape[1], (256,), 63, "relu", seed=0), X, codes, max_epochs=1)


def test_verbose_prints_one_line_per_epoch(problem, capsys):
    X, codes = problem
    module = build_mlp(24, (8,), 4, "relu", seed=0)
    run(module, X, codes, max_epochs=2, training=settings(verbose=2))
    lines = capsys.readouterr().out.splitlines()
    assert sum(line.startswith("[Test] epoch") for line in lines) == 2
    assert any("batch 3/3" in line for line in lines)
