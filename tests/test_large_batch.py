"""Exact gradients of large batches: in chunks, and across processes."""

import copy
import time

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel

from sklearn_dsc import (
    distributed_spectral_clustering_loss,
    spectral_clustering_backward,
    spectral_clustering_loss,
)

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")


def mlp(seed, dropout=0.0, dtype=torch.float64, n_features=8, n_outputs=5):
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(n_features, 32),
        torch.nn.ReLU(),
        torch.nn.Dropout(dropout),
        torch.nn.Linear(32, n_outputs),
    ).to(dtype)


def batch(seed, n=600, n_features=8, n_classes=37, dtype=torch.float64):
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randn(n, n_features, generator=generator, dtype=dtype)
    labels = torch.randint(0, n_classes, (n,), generator=generator)
    return inputs, labels


def gradients(model):
    return [parameter.grad.clone() for parameter in model.parameters()]


def one_shot(model, inputs, labels):
    """Loss and parameter gradients of the whole batch at once."""
    model.zero_grad()
    loss = spectral_clustering_loss(model(inputs), labels)
    loss.backward()
    return loss.detach(), gradients(model)


def assert_same_gradients(actual, expected, rtol=1e-8):
    for a, e in zip(actual, expected, strict=True):
        torch.testing.assert_close(a, e, rtol=rtol, atol=rtol * e.abs().max())


@pytest.mark.parametrize("autocast", [True, False])
def test_half_precision_chunks_are_computed_in_float32(autocast):
    """A bfloat16 model, or a float32 one under the caller's
    ``torch.autocast``: the loss's sums and gradient rows are computed in
    float32 (in bfloat16, with its tolerance of the rank, the loss was 5.0
    for 5.6)."""
    dtype = torch.float32 if autocast else torch.bfloat16
    model = mlp(30, dtype=dtype, n_features=32, n_outputs=16)
    inputs, labels = batch(30, n=256, n_features=32, n_classes=8, dtype=dtype)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        loss = spectral_clustering_backward(model, inputs, labels, chunk_size=64)
        chunked = gradients(model)
        with torch.no_grad():
            embeddings = model(inputs)
        expected_loss, expected = one_shot(model, inputs, labels)
    assert embeddings.dtype == loss.dtype == torch.bfloat16
    reference = spectral_clustering_loss(embeddings.float(), labels)
    torch.testing.assert_close(loss.float(), reference, rtol=1e-2, atol=0)
    torch.testing.assert_close(expected_loss.float(), reference, rtol=1e-2, atol=0)
    assert_same_gradients(chunked, expected, rtol=2e-2)


def test_running_statistics_see_each_chunk_once():
    """Batch normalisation in training mode updates its running statistics
    in every forward pass: the first pass's updates are undone, so that each
    chunk updates them once, as one forward pass of each chunk would (they
    moved twice as far before)."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(8, 16), torch.nn.BatchNorm1d(16), torch.nn.Linear(16, 4)
    ).double()
    once = copy.deepcopy(model)
    inputs, labels = batch(32, n=64)
    spectral_clustering_backward(model, inputs, labels, chunk_size=16)
    with torch.no_grad():
        for start in range(0, 64, 16):
            once(inputs[start : start + 16])
    for name, buffer in once.named_buffers():
        torch.testing.assert_close(model.get_buffer(name), buffer, msg=name)
    assert int(model[1].num_batches_tracked) == 4


def test_a_layer_norm_under_autocast_trains_every_layer():
    """A network ending in a LayerNorm, chunked under ``torch.autocast``.

    Its rows have zero mean, and rounded to bfloat16 they vary along the
    mean's direction by rounding alone, which float32's ``rtol`` counted as
    rank (the loss 1.48 for 1.24, and gradients of that noise). And until
    pytorch/pytorch#112583 was fixed, autocast kept the weights it cast in
    the pass without gradients for the pass with them: under torch 2.2
    neither Linear layer got a gradient."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(8, 16),
        torch.nn.ReLU(),
        torch.nn.Linear(16, 4),
        torch.nn.LayerNorm(4),
    )
    inputs, labels = batch(31, n=64, n_classes=4, dtype=torch.float32)
    expected_loss, expected = one_shot(model, inputs, labels)  # in float32
    model.zero_grad(set_to_none=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = spectral_clustering_backward(model, inputs, labels, chunk_size=16)
    assert all(parameter.grad is not None for parameter in model.parameters())
    torch.testing.assert_close(loss.float(), expected_loss, rtol=1e-2, atol=0)
    # the LayerNorm's weight has no gradient in float32 (the loss does not
    # see the rows' scale): compared to the largest of all
    largest = max(gradient.abs().max() for gradient in expected)
    for found, wanted in zip(gradients(model), expected, strict=True):
        torch.testing.assert_close(found, wanted, rtol=2e-2, atol=1e-2 * largest)


@pytest.mark.parametrize("chunk_size", [1, 7, 64, 599, 600, 5000])
def test_chunked_gradient_equals_one_shot_float64(chunk_size):
    model = mlp(0)
    inputs, labels = batch(1)
    expected_loss, expected = one_shot(model, inputs, labels)
    model.zero_grad()
    loss = spectral_clustering_backward(model, inputs, labels, chunk_size=chunk_size)
    torch.testing.assert_close(loss, expected_loss, rtol=1e-10, atol=0)
    assert not loss.requires_grad
    assert_same_gradients(gradients(model), expected)


@pytest.mark.parametrize(
    "labels",
    [
        torch.tensor([10**12, -5, 10**12, 3] * 50),  # far apart: sorted, not indexed
        torch.tensor([7.0, 7.0, 2.0, 2.0] * 50),  # whole floats
        torch.zeros(200, dtype=torch.int64),  # one class
        torch.tensor([-(2**63), 2**63 - 1] * 100),  # the ends of int64
    ],
)
def test_chunked_handles_any_labels(labels):
    model = mlp(2)
    inputs, _ = batch(3, n=200)
    expected_loss, expected = one_shot(model, inputs, labels)
    model.zero_grad()
    loss = spectral_clustering_backward(model, inputs, labels, chunk_size=33)
    torch.testing.assert_close(loss, expected_loss, rtol=1e-10, atol=1e-12)
    assert_same_gradients(gradients(model), expected)


@pytest.mark.parametrize("scale", [2.0**-300, 2.0**300, 1e-200, 1e250])
def test_chunked_extreme_scales(scale):
    inputs, labels = batch(4, n=120)
    linear = torch.nn.Linear(8, 4, dtype=torch.float64)

    def model(x):
        return linear(x) * scale

    expected_loss, expected = one_shot(linear, inputs, labels)
    linear.zero_grad()
    loss = spectral_clustering_backward(model, inputs, labels, chunk_size=50)
    torch.testing.assert_close(loss, expected_loss, rtol=1e-9, atol=0)
    # d loss / d W scales as 1/scale times the chain rule's scale: unchanged
    assert_same_gradients(gradients(linear), expected)


def test_chunks_of_different_scales_share_one():
    """A chunk of much larger entries rescales what was accumulated before it."""
    inputs, labels = batch(5, n=90)
    weights = torch.ones(90, 1, dtype=torch.float64)
    weights[60:] = 2.0**400
    linear = torch.nn.Linear(8, 4, dtype=torch.float64)

    def model(x):
        return linear(x[:, :8]) * x[:, 8:]

    augmented = torch.cat([inputs, weights], dim=1)
    embeddings = model(augmented).detach().requires_grad_(True)
    reference = spectral_clustering_loss(embeddings / 2.0**400, labels)
    loss = spectral_clustering_backward(model, augmented, labels, chunk_size=30)
    torch.testing.assert_close(loss, reference.detach(), rtol=1e-9, atol=0)


def test_dropout_masks_are_replayed():
    """The second pass draws the first pass's masks, so the gradient is the
    exact gradient at the embeddings the loss was computed on."""
    model = mlp(6, dropout=0.5)
    inputs, labels = batch(7, n=300)
    chunks = [(start, min(start + 64, 300)) for start in range(0, 300, 64)]

    torch.manual_seed(123)
    embeddings = torch.cat([model(inputs[a:b]) for a, b in chunks])
    expected_loss = spectral_clustering_loss(embeddings, labels)
    expected_loss.backward()
    expected = gradients(model)
    state_after = torch.get_rng_state()

    model.zero_grad()
    torch.manual_seed(123)
    loss = spectral_clustering_backward(model, inputs, labels, chunk_size=64)
    torch.testing.assert_close(loss, expected_loss.detach(), rtol=1e-10, atol=0)
    assert_same_gradients(gradients(model), expected)
    # the generator ends where one pass over the batch leaves it
    assert torch.equal(torch.get_rng_state(), state_after)


def test_gradients_accumulate_like_backward():
    model = mlp(8)
    inputs, labels = batch(9)
    _, once = one_shot(model, inputs, labels)
    spectral_clustering_backward(model, inputs, labels, chunk_size=100)
    assert_same_gradients(gradients(model), [2 * g for g in once])


def test_float32_chunked_is_close_to_one_shot():
    model = mlp(10, dtype=torch.float32)
    inputs, labels = batch(11, dtype=torch.float32)
    expected_loss, expected = one_shot(model, inputs, labels)
    model.zero_grad()
    loss = spectral_clustering_backward(model, inputs, labels, chunk_size=128)
    assert loss.dtype == torch.float32
    torch.testing.assert_close(loss, expected_loss, rtol=1e-4, atol=1e-4)
    assert_same_gradients(gradients(model), expected, rtol=1e-3)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"chunk_size": 0}, ValueError, "chunk_size must be at least 1"),
        ({"chunk_size": 2.5}, TypeError, "chunk_size must be an int"),
        ({"chunk_size": True}, TypeError, "chunk_size must be an int"),
        ({"chunk_size": 8, "rtol": 2.0}, ValueError, "rtol must be in"),
        ({"chunk_size": 8, "distributed": True}, RuntimeError, "process group"),
    ],
)
def test_bad_arguments(kwargs, error, message):
    inputs, labels = batch(12, n=20)
    with pytest.raises(error, match=message):
        spectral_clustering_backward(mlp(0), inputs, labels, **kwargs)


def test_bad_labels_and_outputs():
    inputs, labels = batch(13, n=20)
    with pytest.raises(ValueError, match="one entry per input"):
        spectral_clustering_backward(mlp(0), inputs, labels[:5], chunk_size=8)
    with pytest.raises(ValueError, match="fractional part"):
        spectral_clustering_backward(mlp(0), inputs, labels + 0.5, chunk_size=8)
    with pytest.raises(ValueError, match="the batch is empty"):
        spectral_clustering_backward(mlp(0), inputs[:0], labels[:0], chunk_size=8)
    with pytest.raises(ValueError, match="NaN or infinity"):
        spectral_clustering_backward(
            lambda x: mlp(0)(x) * float("nan"), inputs, labels, chunk_size=8
        )
    with pytest.raises(ValueError, match="2-D tensor"):
        spectral_clustering_backward(
            lambda x: mlp(0)(x).sum(1), inputs, labels, chunk_size=8
        )
    with pytest.raises(ValueError, match="returned 1 row for a chunk of 8"):
        spectral_clustering_backward(
            lambda x: mlp(0)(x)[:1], inputs, labels, chunk_size=8
        )


def test_a_mapping_of_inputs_is_chunked_value_by_value():
    """A tokenizer's output: named tensors of one row a sample; the model
    gets each chunk's rows of every one."""
    model = mlp(3)
    inputs, labels = batch(14, n=50)
    mask = (torch.arange(50) % 3 > 0).to(inputs.dtype)[:, None]
    named = {"features": inputs, "mask": mask}

    def embed(chunk):
        return model(chunk["features"] * chunk["mask"])

    expected_loss = spectral_clustering_loss(embed(named), labels)
    expected_loss.backward()
    expected = gradients(model)
    model.zero_grad()
    loss = spectral_clustering_backward(embed, named, labels, chunk_size=8)
    torch.testing.assert_close(loss, expected_loss, rtol=1e-10, atol=0)
    assert_same_gradients(gradients(model), expected)
    with pytest.raises(ValueError, match=r"their lengths are \{'features': 50, 'm"):
        spectral_clustering_backward(
            embed, {**named, "mask": mask[:10]}, labels, chunk_size=8
        )


def test_nothing_to_differentiate_is_said_so():
    inputs, labels = batch(14, n=20)
    model = mlp(0)
    for context in (torch.no_grad, torch.inference_mode):
        with (
            context(),
            pytest.raises(RuntimeError, match="gradients, but they are off"),
        ):
            spectral_clustering_backward(model, inputs, labels, chunk_size=8)
    assert all(parameter.grad is None for parameter in model.parameters())
    frozen = mlp(0).requires_grad_(False)
    with pytest.raises(ValueError, match="embeddings do not require grad"):
        spectral_clustering_backward(frozen, inputs, labels, chunk_size=8)
    # inputs that require grad get it, with no parameter at all
    inputs.requires_grad_(True)
    spectral_clustering_backward(torch.nn.Identity(), inputs, labels, chunk_size=8)
    assert inputs.grad is not None


def test_distributed_loss_needs_a_process_group():
    embeddings, labels = batch(14, n=20)
    with pytest.raises(RuntimeError, match="init_process_group"):
        distributed_spectral_clustering_loss(embeddings, labels)


# ------------------------------------------------------------- distributed

# Uneven shards, and classes that only some ranks hold.
SHARDS = [(0, 230), (230, 600)]


def _distributed_worker(rank, world_size, rendezvous, labels_kind, results):
    dist.init_process_group(
        "gloo", init_method=rendezvous, rank=rank, world_size=world_size
    )
    try:
        torch.set_num_threads(1)
        inputs, labels = batch(20)
        if labels_kind == "far apart":
            labels = labels * 10**12 - 3
        start, stop = SHARDS[rank]
        local_inputs, local_labels = inputs[start:stop], labels[start:stop]
        model = mlp(21)
        expected_loss, expected = one_shot(model, inputs, labels)

        ddp = DistributedDataParallel(model)
        model.zero_grad()
        loss = distributed_spectral_clustering_loss(ddp(local_inputs), local_labels)
        loss.backward()
        torch.testing.assert_close(loss.detach(), expected_loss, rtol=1e-10, atol=0)
        assert_same_gradients(gradients(model), expected)

        model.zero_grad()
        loss = spectral_clustering_backward(
            ddp, local_inputs, local_labels, chunk_size=50, distributed=True
        )
        torch.testing.assert_close(loss, expected_loss, rtol=1e-10, atol=0)
        assert_same_gradients(gradients(model), expected)

        # Without DDP, the rows of each rank are those of the global gradient
        # times the world size; summed over ranks they give the exact gradient.
        embeddings = inputs[:, :5].clone().requires_grad_(True)
        spectral_clustering_loss(embeddings, labels).backward()
        local = embeddings.detach()[start:stop].clone().requires_grad_(True)
        distributed_spectral_clustering_loss(local, local_labels).backward()
        torch.testing.assert_close(
            local.grad / world_size, embeddings.grad[start:stop], rtol=1e-9, atol=1e-12
        )
        # a second derivative through the loss is refused, as on one process
        (rows,) = torch.autograd.grad(
            distributed_spectral_clustering_loss(local, local_labels),
            local,
            create_graph=True,
        )
        with pytest.raises(RuntimeError, match="differentiable once"):
            rows.square().sum().backward()

        # half precision, and autocast, are computed in float32, as one
        # process computes them (with bfloat16's own tolerance of the rank,
        # 16 * 2**-7, the loss was 10.4 for 12.7)
        generator = torch.Generator().manual_seed(22)
        spread = torch.logspace(0, -1.5, 16)
        half = torch.randn(len(labels), 16, generator=generator) * spread
        half = half.to(torch.bfloat16)
        expected_loss = spectral_clustering_loss(half.float(), labels)
        local = half[start:stop]
        loss = distributed_spectral_clustering_loss(local, local_labels)
        torch.testing.assert_close(loss.float(), expected_loss, rtol=1e-2, atol=0)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = distributed_spectral_clustering_loss(local, local_labels)
        torch.testing.assert_close(loss.float(), expected_loss, rtol=1e-2, atol=0)
        results[rank] = "ok"
    finally:
        dist.destroy_process_group()
        # gloo may release the last collectives after this returns; a
        # release during interpreter shutdown aborts the process (see
        # examples/distributed_training.py)
        time.sleep(0.5)


@pytest.mark.parametrize("labels_kind", ["short range", "far apart"])
def test_two_processes_on_gloo_give_the_single_process_gradient(tmp_path, labels_kind):
    """2 processes, each with its share of a batch, wrapped in
    DistributedDataParallel: after backward every rank holds the exact
    gradient of the concatenated batch, with and without chunks."""
    results = mp.Manager().dict()
    mp.spawn(
        _distributed_worker,
        args=(2, f"file://{tmp_path / 'rendezvous'}", labels_kind, results),
        nprocs=2,
        join=True,
    )
    assert dict(results) == {0: "ok", 1: "ok"}


@CUDA
def test_cuda_chunked_matches_one_shot():
    model = mlp(30, dtype=torch.float32).cuda()
    inputs, labels = batch(31, dtype=torch.float32)
    inputs, labels = inputs.cuda(), labels.cuda()
    expected_loss, expected = one_shot(model, inputs, labels)
    model.zero_grad()
    loss = spectral_clustering_backward(model, inputs, labels, chunk_size=100)
    torch.testing.assert_close(loss, expected_loss, rtol=1e-4, atol=1e-4)
    assert_same_gradients(gradients(model), expected, rtol=1e-3)


def test_labels_of_numpy_type_are_accepted():
    model = mlp(40)
    inputs, labels = batch(41, n=50)
    expected_loss, _ = one_shot(model, inputs, labels)
    codes = np.asarray(labels)
    for numpy_labels in (codes, codes.astype(codes.dtype.newbyteorder("S"))):
        loss = spectral_clustering_backward(model, inputs, numpy_labels, chunk_size=16)
        torch.testing.assert_close(loss, expected_loss, rtol=1e-10, atol=0)


# ---------------------------------------------------------------- estimator


def test_estimator_chunk_size_trains_like_whole_batches():
    from sklearn.datasets import load_digits

    from sklearn_dsc import DeepSpectralClusteringEmbedder

    X, y = load_digits(return_X_y=True)
    params = dict(
        init="random",
        hidden_layer_sizes=(32,),
        batch_size=200,
        max_iter=3,
        early_stopping=False,
        random_state=0,
        device="cpu",
    )
    whole = DeepSpectralClusteringEmbedder(**params).fit(X / 16, y)
    chunked = DeepSpectralClusteringEmbedder(chunk_size=64, **params).fit(X / 16, y)
    np.testing.assert_allclose(chunked.loss_curve_, whole.loss_curve_, rtol=1e-4)
    np.testing.assert_allclose(
        chunked.transform(X / 16), whole.transform(X / 16), rtol=1e-3, atol=1e-3
    )
    # a chunk as large as the batch is the whole batch, bit for bit
    same = DeepSpectralClusteringEmbedder(chunk_size=200, **params).fit(X / 16, y)
    np.testing.assert_array_equal(same.transform(X / 16), whole.transform(X / 16))
