"""The loss's forward pass replayed as a CUDA graph.

The policy (when a shape is captured, captured again, or left eager) is
tested on any machine with a stand-in for the graph; the graphs themselves
need CUDA.
"""

import math
from types import SimpleNamespace

import pytest
import torch

from sklearn_dsc import _loss_graphs, spectral_clustering_loss
from sklearn_dsc._loss import _ReplayedLossFunction
from sklearn_dsc._loss_algebra import cholesky_inverse, solve_with_inverse

import helpers
from helpers import host_synchronisations

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")


def loss_and_grad(embeddings, labels):
    return helpers.loss_and_grad(spectral_clustering_loss, embeddings, labels)


def batch(seed, n, d, k, device="cpu", dtype=torch.float32):
    generator = torch.Generator().manual_seed(seed)
    embeddings = torch.randn(n, d, generator=generator, dtype=dtype)
    labels = torch.arange(n) % k  # 0 to k - 1: the eager path's table
    labels = labels[torch.randperm(n, generator=generator)]
    return embeddings.to(device), labels.to(device)


# ---------------------------------------------------------------- policy


class StandInGraph:
    """Records captures; replays give what ``outcomes`` says."""

    captured = []
    outcomes = []

    def __init__(self, embeddings, rows, gradient):
        self.rows = rows
        self.rows_needed = 0
        StandInGraph.captured.append(rows)

    def run(self, embeddings, labels, rtol):
        outcome = StandInGraph.outcomes.pop(0) if StandInGraph.outcomes else "ok"
        if outcome == "outgrown":
            self.rows_needed = int(labels.max()) + 1
            return None
        return None if outcome == "miss" else "statistics"


@pytest.fixture
def stand_in(monkeypatch):
    StandInGraph.captured, StandInGraph.outcomes = [], []
    monkeypatch.setattr(_loss_graphs, "_ForwardGraph", StandInGraph)
    return StandInGraph


def test_a_shape_is_captured_on_its_third_call(stand_in):
    entry, labels = _loss_graphs._Entry(), torch.tensor([0, 3, 1, 3])
    results = [entry.run(None, labels, 1e-6, True) for _ in range(4)]
    assert results == [None, None, "statistics", "statistics"]
    assert stand_in.captured == [4]  # one row per label from 0 to the largest


def test_labels_that_outgrow_the_table_are_captured_again_with_more_rows(
    stand_in,
):
    entry = _loss_graphs._Entry()
    for _ in range(3):
        entry.run(None, torch.tensor([0, 5, 2, 5]), 1e-6, True)
    stand_in.outcomes = ["outgrown"]
    assert entry.run(None, torch.tensor([0, 7, 2, 1]), 1e-6, True) is None
    # the next batch's labels are smaller, but the table keeps the rows seen
    assert entry.run(None, torch.tensor([0, 1, 2, 1]), 1e-6, True) == "statistics"
    assert stand_in.captured == [6, 8]


def test_two_misses_in_a_row_leave_the_shape_eager(stand_in):
    entry = _loss_graphs._Entry()
    for _ in range(2):
        entry.run(None, torch.tensor([0, 1, 0, 1]), 1e-6, True)
    stand_in.outcomes = ["miss", "ok", "miss", "miss", "ok"]
    results = [
        entry.run(None, torch.tensor([0, 1, 0, 1]), 1e-6, True) for _ in range(5)
    ]
    assert results == [None, "statistics", None, None, None]
    assert entry.graph is None
    assert stand_in.captured == [2]


@pytest.mark.parametrize(
    "labels",
    [torch.tensor([-1, 0, 1, 1]), torch.tensor([0, 1, 2, 8])],
    ids=["negative", "more rows than twice the batch"],
)
def test_labels_no_table_can_hold_leave_the_shape_eager(stand_in, labels):
    entry = _loss_graphs._Entry()
    assert [entry.run(None, labels, 1e-6, True) for _ in range(4)] == [None] * 4
    assert stand_in.captured == []


def test_a_failed_capture_leaves_the_shape_eager(monkeypatch):
    def refuse(embeddings, rows, gradient):
        raise RuntimeError("operation not permitted when stream is capturing")

    monkeypatch.setattr(_loss_graphs, "_ForwardGraph", refuse)
    entry = _loss_graphs._Entry()
    assert [entry.run(None, torch.tensor([0, 1]), 1e-6, True) for _ in range(4)] == [
        None
    ] * 4
    assert entry.eager


def test_cpu_batches_are_never_captured():
    embeddings, labels = batch(0, 64, 4, 8)
    for _ in range(4):
        assert _loss_graphs.replay_statistics(embeddings, labels, 1e-6) is None
    assert not _loss_graphs._entries


def replayed_loss(embeddings, labels):
    """The loss of the autograd function that serves a replay, from the
    statistics the eager path computes, and the embeddings it differentiates."""
    n_classes, width = int(labels.max()) + 1, embeddings.shape[1]
    sums = torch.zeros(n_classes, width, dtype=embeddings.dtype)
    sums.index_add_(0, labels, embeddings)
    counts = torch.bincount(labels).to(embeddings.dtype)
    inverse, _, _ = cholesky_inverse(embeddings.T @ embeddings)
    statistics = solve_with_inverse(sums, counts, inverse, width)
    replayed = embeddings.clone().requires_grad_(True)
    return _ReplayedLossFunction.apply(replayed, labels, *statistics), replayed


def test_replayed_statistics_give_the_eager_loss_and_gradient():
    """The autograd function that serves a replay: from the same statistics
    as the eager path, the same loss and gradient."""
    embeddings, labels = batch(1, 60, 5, 6, dtype=torch.float64)
    loss, replayed = replayed_loss(embeddings, labels)
    loss.backward()
    expected, expected_grad = loss_and_grad(embeddings, labels)
    torch.testing.assert_close(loss.detach(), expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(replayed.grad, expected_grad, rtol=1e-10, atol=1e-12)


def test_the_replays_function_refuses_a_second_derivative():
    embeddings, labels = batch(1, 60, 5, 6, dtype=torch.float64)
    loss, replayed = replayed_loss(embeddings, labels)
    (rows,) = torch.autograd.grad(loss, replayed, create_graph=True)
    _, expected_grad = loss_and_grad(embeddings, labels)
    torch.testing.assert_close(rows.detach(), expected_grad, rtol=1e-10, atol=1e-12)
    with pytest.raises(RuntimeError, match="differentiable once"):
        rows.square().sum().backward()


# ---------------------------------------------------------------- CUDA


def graphed_shapes():
    return [entry for entry in _loss_graphs._entries.values() if entry.graph]


def eager_loss_and_grad(embeddings, labels):
    """The loss and gradient computed eagerly (no graph of the shape yet)."""
    _loss_graphs.clear()
    return loss_and_grad(embeddings, labels)


def captured(embeddings, labels):
    """Capture a graph of the batch's shape (and its labels' table)."""
    _loss_graphs.clear()
    for _ in range(_loss_graphs.CALLS_BEFORE_CAPTURE + 1):
        loss_and_grad(embeddings, labels)
    assert len(graphed_shapes()) == 1


@CUDA
@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cuda_replays_give_the_eager_loss_and_gradient_bit_for_bit(dtype):
    embeddings, labels = batch(2, 4096, 32, 300, "cuda", dtype)
    first = loss_and_grad(embeddings, labels)  # eager
    for _ in range(4):
        again = loss_and_grad(embeddings, labels)
        torch.testing.assert_close(again, first, rtol=0, atol=0)
    assert len(graphed_shapes()) == 1


@CUDA
@pytest.mark.cuda
def test_cuda_replays_follow_new_batches_and_labels():
    """Each batch of the shape gets its own loss: the same bits with labels
    that fill the table, the same to rounding with fewer (a larger table),
    and the eager result where the labels outgrow the table."""
    shape = (2048, 16)
    for k, tolerance in ((40, 0), (25, 1e-5), (70, 0)):
        captured(*batch(3, *shape, 40, "cuda"))
        embeddings, labels = batch(4, *shape, k, "cuda")
        replayed = loss_and_grad(embeddings, labels)
        torch.testing.assert_close(
            replayed,
            eager_loss_and_grad(embeddings, labels),
            rtol=tolerance,
            atol=tolerance / 10,
        )


@CUDA
@pytest.mark.cuda
@pytest.mark.parametrize("change", ["1e-30", "1e30", "a zero column"])
def test_cuda_replays_leave_rescaling_and_singular_batches_to_the_eager_path(
    change,
):
    embeddings, labels = batch(7, 1024, 8, 10, "cuda")
    captured(embeddings, labels)
    if change == "a zero column":
        embeddings[:, 0] = 0  # the Cholesky factorisation fails
    else:
        embeddings = embeddings * float(change)  # formed again at its scale
    replayed = loss_and_grad(embeddings, labels)
    torch.testing.assert_close(
        replayed, eager_loss_and_grad(embeddings, labels), rtol=0, atol=0
    )


@CUDA
@pytest.mark.cuda
def test_cuda_replays_leave_nan_to_the_eager_path_which_refuses_it():
    embeddings, labels = batch(7, 1024, 8, 10, "cuda")
    captured(embeddings, labels)
    with pytest.raises(ValueError, match="NaN"):
        spectral_clustering_loss(torch.full_like(embeddings, math.nan), labels)


@CUDA
@pytest.mark.cuda
def test_cuda_losses_of_two_replays_backpropagate_each_its_own_batch():
    shape = (1024, 8, 10)
    for _ in range(3):
        loss_and_grad(*batch(8, *shape, "cuda"))
    (a, labels_a), (b, labels_b) = batch(9, *shape, "cuda"), batch(10, *shape, "cuda")
    a.requires_grad_(True)
    b.requires_grad_(True)
    total = spectral_clustering_loss(a, labels_a) + spectral_clustering_loss(
        b, labels_b
    )
    total.backward()
    for embeddings, labels in ((a, labels_a), (b, labels_b)):
        _, expected = eager_loss_and_grad(embeddings, labels)
        torch.testing.assert_close(embeddings.grad, expected, rtol=0, atol=0)


@CUDA
@pytest.mark.cuda
def test_cuda_a_graph_without_autograd_writes_no_gradient():
    embeddings, labels = batch(22, 1024, 8, 10, "cuda")
    expected, _ = eager_loss_and_grad(embeddings, labels)
    with torch.no_grad():
        losses = [spectral_clustering_loss(embeddings, labels) for _ in range(4)]
    (entry,) = graphed_shapes()
    assert not entry.graph.with_gradient
    assert entry.graph.outputs[2] is None
    for loss in losses:
        torch.testing.assert_close(loss, expected, rtol=0, atol=0)


@CUDA
@pytest.mark.cuda
def test_cuda_a_replayed_call_synchronises_once():
    embeddings, labels = batch(11, 4096, 32, 100, "cuda")
    embeddings.requires_grad_(True)
    for _ in range(3):
        spectral_clustering_loss(embeddings, labels).backward()
    assert len(graphed_shapes()) == 1
    syncs = host_synchronisations(
        lambda: spectral_clustering_loss(embeddings, labels).backward()
    )
    assert len(syncs) == 1, syncs


@CUDA
@pytest.mark.cuda
def test_cuda_graphs_are_kept_for_the_shapes_used_last():
    for n in range(100, 100 + _loss_graphs.MAX_GRAPHS + 2):
        for _ in range(3):
            loss_and_grad(*batch(12, n, 4, 5, "cuda"))
    assert len(_loss_graphs._entries) == _loss_graphs.MAX_GRAPHS
    assert len(graphed_shapes()) == _loss_graphs.MAX_GRAPHS


# ------------------------------------------- a replay's checks, on any device


class EagerReplay(_loss_graphs._ForwardGraph):
    """The graph's forward pass and checks, its "replay" the eager run of
    the operations a capture records (what a CUDA graph runs, less the
    launches)."""

    def _capture(self):
        def replay():
            self.outputs = self._forward()

        self.graph = SimpleNamespace(replay=replay)
        return None


def replayed_loss_and_grad(graph, embeddings, labels, rtol=None):
    rtol = 5 * torch.finfo(embeddings.dtype).eps if rtol is None else rtol
    statistics = graph.run(embeddings, labels, rtol)
    if statistics is None:
        return None
    replayed = embeddings.clone().requires_grad_(True)
    loss = _ReplayedLossFunction.apply(replayed, labels, *statistics)
    loss.backward()
    return loss.detach(), replayed.grad


@pytest.mark.parametrize("gradient", [True, False], ids=["its gradient", "eager"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_a_replay_gives_the_eager_loss_where_its_checks_pass(dtype, gradient):
    """The loss, and the gradient from the replay's own or from its
    statistics in the backward pass."""
    embeddings, labels = batch(13, 300, 5, 12, dtype=dtype)
    graph = EagerReplay(embeddings, 12, gradient)
    for seed in (13, 14):  # a batch, then another through the same buffers
        embeddings, labels = batch(seed, 300, 5, 12, dtype=dtype)
        replayed = replayed_loss_and_grad(graph, embeddings, labels)
        torch.testing.assert_close(
            replayed, loss_and_grad(embeddings, labels), rtol=0, atol=0
        )
    # smaller labels: more rows than the eager table, the same loss to rounding
    embeddings, labels = batch(15, 300, 5, 7, dtype=dtype)
    torch.testing.assert_close(
        replayed_loss_and_grad(graph, embeddings, labels),
        loss_and_grad(embeddings, labels),
    )
    assert graph.rows_needed == 0


@pytest.mark.parametrize(
    "change",
    ["NaN", "infinity", "1e-30", "1e30", "a zero column", "a label of -1"],
)
def test_a_replay_refuses_what_the_eager_path_must_decide(change):
    """NaN and infinity (the eager path raises), entries far from unit size
    (it rescales), a singular Gram matrix (it takes the eigendecomposition)
    and negative labels: no statistics, and no call for a larger table."""
    embeddings, labels = batch(16, 200, 4, 10)
    graph = EagerReplay(embeddings, 10, True)
    if change in ("NaN", "infinity"):
        embeddings[7, 2] = math.nan if change == "NaN" else math.inf
    elif change == "a zero column":
        embeddings[:, 1] = 0
    elif change == "a label of -1":
        labels[3] = -1
    else:
        embeddings = embeddings * float(change)
    assert graph.run(embeddings, labels, 1e-6) is None
    assert graph.rows_needed == 0


def test_a_replay_asks_for_a_larger_table_where_labels_outgrow_it():
    embeddings, labels = batch(17, 200, 4, 10)
    graph = EagerReplay(embeddings, 8, True)
    assert graph.run(embeddings, labels, 1e-6) is None
    assert graph.rows_needed == 10


def test_a_replay_is_not_changed_by_the_next_one():
    """What a replay returns is copied out of the graph's buffers, which the
    next replay writes again."""
    embeddings, labels = batch(18, 200, 4, 10)
    graph = EagerReplay(embeddings, 10, True)
    first = [t.clone() for t in graph.run(embeddings, labels, 1e-6)[:3]]
    kept = graph.run(embeddings, labels, 1e-6)[:3]
    graph.run(*batch(19, 200, 4, 10), 1e-6)
    for before, after in zip(first, kept, strict=True):
        assert torch.equal(before, after)


def test_a_replayed_loss_holds_no_more_memory_than_its_value():
    embeddings, labels = batch(23, 200, 4, 10)
    graph = EagerReplay(embeddings, 10, True)
    loss = graph.run(embeddings, labels, 1e-6)[0]
    assert loss.untyped_storage().nbytes() == loss.element_size()


def test_a_replayed_gradient_refuses_embeddings_changed_in_place():
    """As the eager path does, though the replay's gradient needs none of
    the saved tensors."""
    embeddings, labels = batch(22, 200, 4, 10)
    graph = EagerReplay(embeddings, 10, True)
    leaf = embeddings.clone().requires_grad_(True)
    hidden = leaf * 2
    statistics = graph.run(hidden.detach(), labels, 1e-6)
    loss = _ReplayedLossFunction.apply(hidden, labels, *statistics)
    hidden.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_a_replayed_gradient_serves_until_the_next_replay():
    """The backward pass of a call takes the gradient its replay wrote, a
    tensor of its own, scaled by the incoming gradient; once the graph has
    been replayed again, it computes the gradient from its statistics."""
    (a, labels_a), (b, labels_b) = batch(20, 200, 4, 10), batch(21, 200, 4, 10)
    graph = EagerReplay(a, 10, True)
    gradient_a = graph.run(a, labels_a, 1e-6)[3]
    taken = gradient_a.times(torch.tensor(2.0))
    _, expected_a = loss_and_grad(a, labels_a)
    torch.testing.assert_close(taken, 2 * expected_a)
    taken.zero_()  # its own: the graph's buffer is untouched
    torch.testing.assert_close(gradient_a.times(torch.tensor(1.0)), expected_a)

    statistics_a = graph.run(a, labels_a, 1e-6)
    statistics_b = graph.run(b, labels_b, 1e-6)
    assert statistics_a[3].times(torch.tensor(1.0)) is None
    a_grad, b_grad = a.clone().requires_grad_(True), b.clone().requires_grad_(True)
    total = _ReplayedLossFunction.apply(a_grad, labels_a, *statistics_a)
    total = total + _ReplayedLossFunction.apply(b_grad, labels_b, *statistics_b)
    total.backward()
    torch.testing.assert_close(a_grad.grad, expected_a, rtol=0, atol=0)
    _, expected_b = loss_and_grad(b, labels_b)
    torch.testing.assert_close(b_grad.grad, expected_b, rtol=0, atol=0)
