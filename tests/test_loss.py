import math
import re
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_dsc import SpectralClusteringLoss, spectral_clustering_loss

from helpers import host_synchronisations, loss_and_grad

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")


def reference_loss(embeddings, labels):
    """The definition 1/4 ||P_F - P_Y||_F^2 with dense n x n projections."""
    _, index = torch.unique(labels, return_inverse=True)
    one_hot = torch.nn.functional.one_hot(index).to(embeddings.dtype)
    j = one_hot / one_hot.sum(0).sqrt()
    projection = embeddings @ torch.linalg.pinv(embeddings)
    return 0.25 * ((projection - j @ j.T) ** 2).sum()


def random_case(seed, n, d, k, dtype=torch.float64):
    generator = torch.Generator().manual_seed(seed)
    embeddings = torch.randn(n, d, generator=generator, dtype=dtype)
    labels = torch.randint(0, k, (n,), generator=generator)
    return embeddings, labels


@pytest.mark.parametrize(
    ("seed", "n", "d", "k"),
    [(0, 20, 3, 2), (1, 50, 5, 7), (2, 64, 16, 30), (3, 200, 10, 3), (4, 30, 29, 12)],
)
def test_matches_autograd_of_reference_float64(seed, n, d, k):
    embeddings, labels = random_case(seed, n, d, k)
    loss, grad = loss_and_grad(spectral_clustering_loss, embeddings, labels)
    ref_loss, ref_grad = loss_and_grad(reference_loss, embeddings, labels)
    torch.testing.assert_close(loss, ref_loss, rtol=1e-8, atol=0)
    torch.testing.assert_close(
        grad, ref_grad, rtol=1e-8, atol=1e-8 * ref_grad.abs().max()
    )


def test_gradcheck():
    embeddings, labels = random_case(5, 40, 6, 5)
    embeddings.requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda f: spectral_clustering_loss(f, labels), (embeddings,)
    )


def test_gradient_matches_paper_closed_form():
    """-(I - P_F) P_Y (F^+)^T, written with dense matrices."""
    embeddings, labels = random_case(6, 25, 4, 6)
    _, grad = loss_and_grad(spectral_clustering_loss, embeddings, labels)
    one_hot = torch.nn.functional.one_hot(labels).to(torch.float64)
    one_hot = one_hot[:, one_hot.sum(0) > 0]
    p_y = (one_hot / one_hot.sum(0)) @ one_hot.T
    pinv = torch.linalg.pinv(embeddings)
    p_f = embeddings @ pinv
    expected = -(torch.eye(25, dtype=torch.float64) - p_f) @ p_y @ pinv.T
    torch.testing.assert_close(grad, expected, rtol=1e-9, atol=1e-12)


def test_module_matches_function():
    embeddings, labels = random_case(7, 30, 4, 3)
    criterion = SpectralClusteringLoss()
    assert criterion(embeddings, labels) == spectral_clustering_loss(embeddings, labels)
    assert "rtol=None, normalize=False" in repr(criterion)
    normalizing = SpectralClusteringLoss(normalize=True)
    assert normalizing(embeddings, labels) == spectral_clustering_loss(
        embeddings, labels, normalize=True
    )


@pytest.mark.parametrize(("seed", "n", "d", "k"), [(0, 20, 3, 2), (2, 64, 16, 30)])
def test_normalized_rows_match_autograd_of_reference_float64(seed, n, d, k):
    """The loss of the rows divided by their norms: its value and gradient
    are those of the reference on ``F / ||F||_rows``, through autograd."""
    embeddings, labels = random_case(seed, n, d, k)
    embeddings[0] *= 1e3  # the norms differ, so the division changes the loss
    loss, grad = loss_and_grad(
        lambda f, y: spectral_clustering_loss(f, y, normalize=True), embeddings, labels
    )
    ref_loss, ref_grad = loss_and_grad(
        lambda f, y: reference_loss(torch.nn.functional.normalize(f, dim=1), y),
        embeddings,
        labels,
    )
    torch.testing.assert_close(loss, ref_loss, rtol=1e-8, atol=0)
    torch.testing.assert_close(
        grad, ref_grad, rtol=1e-8, atol=1e-8 * ref_grad.abs().max()
    )
    assert not torch.isclose(loss, spectral_clustering_loss(embeddings, labels))
    # each row's gradient is orthogonal to the row: scaling a row changes nothing
    torch.testing.assert_close(
        (grad * embeddings).sum(dim=1),
        torch.zeros(n, dtype=torch.float64),
        atol=1e-10,
        rtol=0,
    )


def test_gradient_flows_to_embeddings_only():
    model = torch.nn.Linear(5, 3, dtype=torch.float64)
    inputs, labels = random_case(8, 40, 5, 4)
    loss = SpectralClusteringLoss()(model(inputs), labels)
    loss.backward()
    assert model.weight.grad is not None
    assert torch.isfinite(model.weight.grad).all()
    assert not labels.requires_grad


def penalised_network(normalize):
    """A two-layer network, and the gradient of the loss of its outputs with
    respect to its parameters, kept as a graph (``create_graph=True``)."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)
    ).double()
    inputs, labels = random_case(9, 40, 6, 4)
    loss = spectral_clustering_loss(model(inputs), labels, normalize=normalize)
    parameters = list(model.parameters())
    return model, torch.autograd.grad(loss, parameters, create_graph=True)


@pytest.mark.parametrize("normalize", [False, True])
def test_a_second_derivative_through_the_loss_is_refused(normalize):
    """The gradient is a closed form, not a graph: a gradient penalty would
    otherwise differentiate it as a constant, silently, wherever the rest of
    the network keeps a graph of its own."""
    _, gradients = penalised_network(normalize)
    penalty = sum(gradient.square().sum() for gradient in gradients)
    with pytest.raises(RuntimeError, match="differentiable once"):
        penalty.backward()


@pytest.mark.parametrize(
    ("transform", "shape"),
    [
        (torch.func.vmap, (2, 12, 3)),  # two batches of 12 rows
        (torch.func.grad, (12, 3)),
        (torch.func.jacrev, (12, 3)),
    ],
    ids=["vmap", "grad", "jacrev"],
)
def test_torch_func_transforms_are_refused_by_name(transform, shape):
    """Without the check, vmap failed on a tensor without storage and grad
    asked for the autograd.Function's setup_context, both from torch."""
    _, labels = random_case(0, 12, 3, 3)
    transformed = transform(lambda rows: spectral_clustering_loss(rows, labels))
    with pytest.raises(
        RuntimeError, match=r"cannot run under torch\.func's transforms"
    ):
        transformed(torch.randn(*shape, dtype=torch.float64))


@pytest.mark.parametrize("normalize", [False, True])
def test_create_graph_leaves_the_first_derivative_as_it_is(normalize):
    model, kept = penalised_network(normalize)
    inputs, labels = random_case(9, 40, 6, 4)
    loss = spectral_clustering_loss(model(inputs), labels, normalize=normalize)
    plain = torch.autograd.grad(loss, list(model.parameters()))
    for with_graph, without in zip(kept, plain, strict=True):
        torch.testing.assert_close(with_graph.detach(), without, rtol=0, atol=0)


# ---------------------------------------------------------------- properties


def well_conditioned(size, generator):
    """An invertible matrix: orthogonal times a diagonal in [e^-1, e]."""
    q, _ = torch.linalg.qr(
        torch.randn(size, size, generator=generator, dtype=torch.float64)
    )
    return q * torch.exp(
        torch.rand(size, generator=generator, dtype=torch.float64) * 2 - 1
    )


def rounding(embeddings):
    """How far float64 rounding can move the loss and its gradient at
    ``embeddings``: the loss works on ``F^T F``, whose rounding is about
    ``cond(F)^2 * eps``, and the gradient's scale is ``||F^+|| = 1 / s_min``.

    Far below 1e-9 for almost every draw, so their tolerances stay at 1e-9;
    a nearly singular square draw (condition number 4e4, which hypothesis
    finds among a few hundred examples) moves the gradient by 1e-4.
    """
    singular = torch.linalg.svdvals(embeddings)
    singular = singular[singular > singular[0] * 1e-12]
    ill = (singular[0] / singular[-1]) ** 2 * torch.finfo(torch.float64).eps
    return ill.item(), (ill / singular[-1]).item()


shapes = st.tuples(
    st.integers(min_value=2, max_value=40),  # n
    st.integers(min_value=1, max_value=8),  # d
    st.integers(min_value=1, max_value=10),  # k
    st.integers(min_value=0, max_value=2**31 - 1),  # seed
)


@settings(max_examples=60, deadline=None)
@given(shapes)
def test_invariant_to_invertible_right_multiplication(shape):
    n, d, k, seed = shape
    embeddings, labels = random_case(seed, n, min(d, n), k)
    generator = torch.Generator().manual_seed(seed + 1)
    mixing = well_conditioned(embeddings.shape[1], generator)
    transformed = embeddings @ mixing
    loss_rounding, _ = rounding(transformed)
    torch.testing.assert_close(
        spectral_clustering_loss(transformed, labels),
        spectral_clustering_loss(embeddings, labels),
        rtol=1e-7,
        atol=1e-9 + 10 * loss_rounding,
    )


@settings(max_examples=60, deadline=None)
@given(shapes)
def test_invariant_to_permutation_and_label_renaming(shape):
    n, d, k, seed = shape
    embeddings, labels = random_case(seed, n, d, k)
    generator = torch.Generator().manual_seed(seed + 2)
    permutation = torch.randperm(n, generator=generator)
    renamed = torch.randperm(k, generator=generator)[labels] * 7 - 100
    base_loss, base_grad = loss_and_grad(spectral_clustering_loss, embeddings, labels)
    loss, grad = loss_and_grad(
        spectral_clustering_loss, embeddings[permutation], renamed[permutation]
    )
    loss_rounding, grad_rounding = rounding(embeddings)
    torch.testing.assert_close(
        loss, base_loss, rtol=1e-9, atol=1e-9 + 10 * loss_rounding
    )
    torch.testing.assert_close(
        grad, base_grad[permutation], rtol=1e-7, atol=1e-9 + 10 * grad_rounding
    )


@settings(max_examples=60, deadline=None)
@given(shapes)
def test_bounds(shape):
    n, d, k, seed = shape
    embeddings, labels = random_case(seed, n, d, k)
    loss = spectral_clustering_loss(embeddings, labels).item()
    rank = torch.linalg.matrix_rank(embeddings).item()
    n_classes = len(torch.unique(labels))
    assert -1e-9 <= loss <= (rank + n_classes) / 4 + 1e-9


@settings(max_examples=60, deadline=None)
@given(shapes)
def test_zero_when_columns_span_class_indicators(shape):
    n, _, k, seed = shape
    _, labels = random_case(seed, n, 1, k)
    _, index = torch.unique(labels, return_inverse=True)
    indicators = torch.nn.functional.one_hot(index).to(torch.float64)
    generator = torch.Generator().manual_seed(seed + 3)
    mixing = well_conditioned(indicators.shape[1], generator)
    embeddings, grad = loss_and_grad(
        spectral_clustering_loss, indicators @ mixing, labels
    )
    assert abs(embeddings.item()) < 1e-9
    assert grad.abs().max() < 1e-8


# ---------------------------------------------------------------- edge cases


def test_labels_with_gaps_negatives_and_floats_are_remapped():
    embeddings, labels = random_case(9, 30, 4, 3)
    expected = spectral_clustering_loss(embeddings, labels)
    for renamed in (labels * 7, labels - 5, (labels * 1000).double(), labels.int()):
        torch.testing.assert_close(
            spectral_clustering_loss(embeddings, renamed), expected
        )
    # numpy and list labels are accepted too
    torch.testing.assert_close(
        spectral_clustering_loss(embeddings, labels.numpy()), expected
    )
    # in either byte order: torch reads only this machine's (arrays of FITS
    # files or of other machines' .npy files may have the other)
    swapped = labels.numpy().astype(labels.numpy().dtype.newbyteorder("S"))
    assert not swapped.dtype.isnative
    torch.testing.assert_close(spectral_clustering_loss(embeddings, swapped), expected)
    # and read-only (memory-mapped, say), without torch's warning that it
    # cannot keep the array from being written
    read_only = labels.numpy().copy()
    read_only.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = spectral_clustering_loss(embeddings, read_only)
    torch.testing.assert_close(loss, expected)


def test_single_class_batch():
    # all rows equal: F spans the constant vector, which is P_Y's only direction
    embeddings = torch.ones(5, 1, dtype=torch.float64)
    labels = torch.zeros(5, dtype=torch.int64)
    assert spectral_clustering_loss(embeddings, labels).item() == pytest.approx(0)
    embeddings, _ = random_case(10, 6, 2, 1)
    loss = spectral_clustering_loss(embeddings, labels.new_zeros(6))
    ones = torch.ones(6, 1, dtype=torch.float64)
    expected = reference_loss(embeddings, labels.new_zeros(6))
    torch.testing.assert_close(loss, expected)
    p_f_ones = embeddings @ torch.linalg.lstsq(embeddings, ones).solution
    torch.testing.assert_close(loss, (2 + 1 - 2 * (p_f_ones**2).sum() / 6) / 4)


def test_singleton_classes():
    embeddings, _ = random_case(11, 8, 3, 1)
    labels = torch.arange(8)  # every sample its own class: P_Y = I
    loss = spectral_clustering_loss(embeddings, labels)
    torch.testing.assert_close(
        loss, torch.tensor((3 + 8 - 2 * 3) / 4, dtype=torch.float64)
    )
    torch.testing.assert_close(loss, reference_loss(embeddings, labels))


def test_float32_rounding_never_makes_the_loss_negative():
    # a square batch with one sample per class has loss 0; in float32 its
    # smallest eigenvalue (1.4 times the rank cutoff) is rounded enough that
    # the trace exceeded the rank: -3e-3 before the loss was clamped at 0. (It
    # is 0 with vector kernels; ATen's scalar ones leave it 1.8e-3 above.)
    generator = torch.Generator().manual_seed(6)
    embeddings = torch.randn(6, 6, generator=generator)
    labels = torch.tensor([10, -1, 12, 0, 5, 13])
    loss = spectral_clustering_loss(embeddings * 1e-10, labels).item()
    assert 0.0 <= loss < 1e-2
    double = spectral_clustering_loss(embeddings.double(), labels).item()
    assert double == pytest.approx(0, abs=1e-12)


@pytest.mark.parametrize(
    "case", ["wide", "zero_column", "duplicate_columns", "duplicate_rows", "rank_one"]
)
def test_rank_deficient_matches_reference(case):
    embeddings, labels = random_case(12, 12, 4, 3)
    if case == "wide":
        embeddings, labels = random_case(12, 6, 20, 3)
    elif case == "zero_column":
        embeddings[:, 1] = 0
    elif case == "duplicate_columns":
        embeddings[:, 2] = embeddings[:, 0]
    elif case == "duplicate_rows":
        embeddings[6:] = embeddings[:6]
    elif case == "rank_one":
        embeddings = embeddings[:, :1] @ torch.ones(1, 4, dtype=torch.float64)
    loss, grad = loss_and_grad(spectral_clustering_loss, embeddings, labels)
    ref_loss, ref_grad = loss_and_grad(reference_loss, embeddings, labels)
    assert torch.isfinite(grad).all()
    torch.testing.assert_close(loss, ref_loss, rtol=1e-7, atol=1e-9)
    torch.testing.assert_close(grad, ref_grad, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_all_zero_embeddings(dtype):
    embeddings = torch.zeros(6, 3, dtype=dtype, requires_grad=True)
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    loss = spectral_clustering_loss(embeddings, labels)
    loss.backward()
    assert loss.item() == pytest.approx(3 / 4)
    assert (embeddings.grad == 0).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("width", [20, 30])
def test_embeddings_that_span_the_batch(dtype, width):
    """Rank n: P_F is the identity, so the loss is (n - k) / 4 whatever the
    embeddings, and nothing moves them."""
    generator = torch.Generator().manual_seed(0)
    embeddings = torch.randn(20, width, generator=generator, dtype=dtype)
    embeddings.requires_grad_(True)
    labels = torch.arange(20) % 4
    loss = spectral_clustering_loss(embeddings, labels)
    loss.backward()
    assert loss.item() == pytest.approx((20 - 4) / 4, rel=1e-5)
    # rounding alone, where narrower embeddings get gradients of order 0.1
    narrower = embeddings.detach()[:, :10].requires_grad_(True)
    spectral_clustering_loss(narrower, labels).backward()
    noise = torch.finfo(dtype).eps ** 0.5
    assert embeddings.grad.abs().max() < noise < 0.01 < narrower.grad.abs().max()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("scale", [1e-30, 1e-12, 1e12, 1e30])
def test_extreme_scales(dtype, scale):
    embeddings, labels = random_case(13, 40, 5, 6, dtype=dtype)
    base_loss, base_grad = loss_and_grad(spectral_clustering_loss, embeddings, labels)
    loss, grad = loss_and_grad(spectral_clustering_loss, embeddings * scale, labels)
    torch.testing.assert_close(loss, base_loss)
    # dL/d(cF) = dL/dF / c
    torch.testing.assert_close(grad * scale, base_grad)


def test_float32_agrees_with_float64():
    embeddings, labels = random_case(14, 500, 32, 60)
    loss64, grad64 = loss_and_grad(spectral_clustering_loss, embeddings, labels)
    loss32, grad32 = loss_and_grad(spectral_clustering_loss, embeddings.float(), labels)
    assert loss32.dtype == grad32.dtype == torch.float32
    torch.testing.assert_close(loss32.double(), loss64, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(
        grad32.double(), grad64, rtol=1e-3, atol=1e-4 * grad64.abs().max()
    )


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_is_computed_in_float32(dtype):
    embeddings, labels = random_case(15, 50, 4, 5, dtype=torch.float32)
    embeddings = embeddings.to(dtype)
    loss, grad = loss_and_grad(spectral_clustering_loss, embeddings, labels)
    expected, expected_grad = loss_and_grad(
        spectral_clustering_loss, embeddings.float(), labels
    )
    assert loss.dtype == grad.dtype == dtype
    torch.testing.assert_close(loss.float(), expected, rtol=1e-2, atol=1e-2)
    torch.testing.assert_close(grad.float(), expected_grad, rtol=2e-2, atol=1e-2)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("shape", ["rows of zero mean", "spreads over 1.5 decades"])
def test_half_precision_rank_follows_the_embeddings_rounding(dtype, shape):
    """Rows of zero mean, as a LayerNorm returns them, do not vary along one
    direction; rounded to bfloat16 they do, by 1e-3 of the largest singular
    value, which float32's rtol counted as rank in 4 dimensions. The
    default rtol of half precision drops what rounding adds, and still keeps
    directions that are small but real."""
    generator = torch.Generator().manual_seed(18)
    width = 4 if shape == "rows of zero mean" else 16
    labels = torch.arange(300) % 6
    offsets = torch.randn(6, width, generator=generator)[labels]
    exact = torch.randn(300, width, generator=generator) + 2 * offsets
    if shape == "rows of zero mean":
        exact = exact - exact.mean(dim=1, keepdim=True)
    else:  # the smallest singular value is 0.014 of the largest
        exact = exact * torch.logspace(0, -1.5, width)
    expected, expected_grad = loss_and_grad(spectral_clustering_loss, exact, labels)
    loss, grad = loss_and_grad(spectral_clustering_loss, exact.to(dtype), labels)
    torch.testing.assert_close(loss.float(), expected, rtol=1e-2, atol=0)
    torch.testing.assert_close(
        grad.float(), expected_grad, rtol=5e-2, atol=2e-2 * expected_grad.abs().max()
    )


@pytest.mark.parametrize("backward_inside", [False, True])
def test_autocast_leaves_the_loss_in_float32(backward_inside):
    """Mixed precision training: under ``torch.autocast`` the loss's own
    products stay in float32, as for embeddings given in half precision
    (autocast ran ``F^T F`` in bfloat16 and mixed dtypes). A backward pass
    inside the context, which autograd also runs under it, is the same."""
    embeddings, labels = random_case(17, 256, 16, 8, dtype=torch.float32)
    embeddings = embeddings.to(torch.bfloat16).requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = spectral_clustering_loss(embeddings, labels)
        if backward_inside:
            loss.backward()
    if not backward_inside:
        loss.backward()
    expected, expected_grad = loss_and_grad(
        spectral_clustering_loss, embeddings.detach().float(), labels
    )
    assert loss.dtype == embeddings.grad.dtype == torch.bfloat16
    torch.testing.assert_close(loss.float(), expected, rtol=1e-2, atol=0)
    torch.testing.assert_close(
        embeddings.grad.float(), expected_grad, rtol=2e-2, atol=1e-3
    )


def test_rtol_sets_the_numerical_rank():
    embeddings, labels = random_case(16, 30, 3, 4)
    embeddings[:, 2] *= 1e-4  # singular values ratio about 1e-4
    full = spectral_clustering_loss(embeddings, labels)
    truncated = spectral_clustering_loss(
        embeddings, labels, rtol=1e-6
    )  # eigenvalues 1e-8
    torch.testing.assert_close(
        truncated, spectral_clustering_loss(embeddings[:, :2], labels)
    )
    assert full != truncated


def test_large_batch_never_forms_n_by_k():
    """n = 40000 samples in 20000 classes: an n x k float32 matrix would be 3.2 GB."""
    n, d, k = 40000, 8, 20000
    generator = torch.Generator().manual_seed(17)
    embeddings = torch.randn(n, d, generator=generator, requires_grad=True)
    labels = torch.arange(n) % k
    with torch.profiler.profile(
        activities=[torch.profiler.ProfilerActivity.CPU], profile_memory=True
    ) as profile:
        spectral_clustering_loss(embeddings, labels).backward()
    largest = max(event.cpu_memory_usage for event in profile.events())
    assert largest > 0
    # the largest tensors are n x d (1.28 MB), n int64 and k x d
    assert largest <= 4 * n * d * 4
    assert torch.isfinite(embeddings.grad).all()


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("embeddings", "labels", "message"),
    [
        (torch.randn(5), torch.arange(5), "2-D"),
        (torch.randn(2, 3, 4), torch.arange(2), "2-D"),
        (torch.randn(5, 2), torch.arange(4), "5 rows but labels has 4 entries"),
        (torch.randn(1, 2), torch.arange(2), "1 row but labels has 2 entries"),
        (torch.randn(5, 2), torch.arange(5).reshape(5, 1), r"1-D.*view\(-1\)"),
        (
            torch.randn(5, 2),
            torch.eye(3, dtype=torch.int64)[[0, 1, 2, 0, 1]],
            r"shape \(5, 3\): for one-hot labels, labels\.argmax\(dim=1\)",
        ),
        (torch.randn(5, 2), torch.zeros(2, 5, dtype=torch.int64), r"\(2, 5\)\.$"),
        (torch.randn(0, 2), torch.arange(0), "empty"),
        (torch.randn(5, 0), torch.arange(5), "0 columns"),
        (torch.tensor([[1.0, math.nan], [0.0, 1.0]]), torch.arange(2), "NaN"),
        (torch.tensor([[1.0, math.inf], [0.0, 1.0]]), torch.arange(2), "infinity"),
        (torch.randn(3, 2), torch.tensor([0.0, 0.5, 1.0]), "fractional"),
        (torch.randn(3, 2), torch.tensor([0.0, math.nan, 1.0]), "fractional"),
        (torch.randn(3, 2), torch.tensor([0.0, math.inf, 1.0]), "fractional"),
        (torch.arange(6).reshape(3, 2), torch.arange(3), "floating point"),
    ],
)
def test_bad_input_raises_clear_error(embeddings, labels, message):
    with pytest.raises(ValueError, match=message):
        spectral_clustering_loss(embeddings, labels)


def test_non_tensor_embeddings_raise_type_error():
    with pytest.raises(TypeError, match=r"torch\.Tensor"):
        spectral_clustering_loss(np.ones((3, 2)), [0, 1, 1])


@pytest.mark.parametrize(
    "labels", [np.array(["a", "b", "a"]), np.array([0, 1, 0], dtype=object), None]
)
def test_labels_that_make_no_tensor_raise_type_error(labels):
    with pytest.raises(
        TypeError, match=r"labels must be integer class ids.*np\.unique"
    ):
        spectral_clustering_loss(torch.randn(3, 2), labels)


@pytest.mark.parametrize(
    ("rtol", "error", "message"),
    [
        (-1e-3, ValueError, r"rtol must be in \[0, 1\), got -0.001"),
        (1.0, ValueError, r"rtol must be in \[0, 1\), got 1.0"),
        (2.0, ValueError, r"rtol must be in \[0, 1\)"),
        (math.nan, ValueError, r"rtol must be in \[0, 1\), got nan"),
        ("a", TypeError, r"rtol must be a number in \[0, 1\) or None, got 'a'"),
        ("0.1", TypeError, r"rtol must be a number in \[0, 1\) or None"),
        (True, TypeError, r"rtol must be a number in \[0, 1\) or None, got True"),
    ],
)
def test_bad_rtol(rtol, error, message):
    """The function says what rtol must be when called, the module when
    built, as torch's modules check their arguments."""
    with pytest.raises(error, match=message):
        spectral_clustering_loss(
            torch.randn(4, 2), torch.tensor([0, 0, 1, 1]), rtol=rtol
        )
    with pytest.raises(error, match=message):
        SpectralClusteringLoss(rtol=rtol)


@pytest.mark.parametrize("rtol", [np.float32(1e-3), torch.tensor(1e-3), 0])
def test_rtol_of_numpy_or_torch_scalars(rtol):
    embeddings, labels = random_case(24, 20, 3, 4)
    expected = spectral_clustering_loss(embeddings, labels, rtol=float(rtol))
    assert SpectralClusteringLoss(rtol=rtol)(embeddings, labels) == expected


@pytest.mark.parametrize("normalize", ["yes", "no", None, 0.5])
def test_normalize_must_be_a_truth_value(normalize):
    """A string such as "no" would read as true."""
    message = f"normalize must be True or False, got {normalize!r}"
    with pytest.raises(TypeError, match=re.escape(message)):
        SpectralClusteringLoss(normalize=normalize)
    with pytest.raises(TypeError, match=re.escape(message)):
        spectral_clustering_loss(
            torch.randn(4, 2), torch.tensor([0, 0, 1, 1]), normalize=normalize
        )


# ---------------------------------------------------------------- CUDA


@CUDA
@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cuda_matches_cpu(dtype):
    embeddings, labels = random_case(18, 1000, 32, 100, dtype=dtype)
    loss, grad = loss_and_grad(spectral_clustering_loss, embeddings, labels)
    loss_gpu, grad_gpu = loss_and_grad(
        spectral_clustering_loss, embeddings.cuda(), labels.cuda()
    )
    assert loss_gpu.device.type == grad_gpu.device.type == "cuda"
    tolerance = 1e-4 if dtype == torch.float32 else 1e-10
    torch.testing.assert_close(loss_gpu.cpu(), loss, rtol=tolerance, atol=tolerance)
    torch.testing.assert_close(
        grad_gpu.cpu(), grad, rtol=100 * tolerance, atol=tolerance * grad.abs().max()
    )


@CUDA
@pytest.mark.cuda
def test_cuda_rank_deficient_and_bad_input():
    embeddings = torch.randn(10, 40, device="cuda", requires_grad=True)
    labels = torch.arange(10, device="cuda") % 3
    spectral_clustering_loss(embeddings, labels).backward()
    assert torch.isfinite(embeddings.grad).all()
    with pytest.raises(ValueError, match="NaN"):
        spectral_clustering_loss(
            torch.full((3, 2), math.nan, device="cuda"), torch.arange(3, device="cuda")
        )


@CUDA
@pytest.mark.cuda
@pytest.mark.parametrize("scale", [1.0, 1e30])
def test_cuda_one_host_synchronisation_per_call(scale):
    """Forward and backward read the device once: the ranges of the values
    and labels and the Cholesky test together (entries of moderate size)."""
    embeddings = (torch.randn(4096, 32, device="cuda") * scale).requires_grad_()
    labels = torch.arange(4096, device="cuda") % 100
    spectral_clustering_loss(embeddings, labels).backward()  # load the kernels
    syncs = host_synchronisations(
        lambda: spectral_clustering_loss(embeddings, labels).backward()
    )
    # entries far from unit size form the Gram matrix again at their scale
    assert len(syncs) == (1 if scale == 1.0 else 2), syncs


@CUDA
@pytest.mark.cuda
def test_cuda_class_sums_are_the_same_from_run_to_run():
    generator = torch.Generator().manual_seed(21)
    embeddings = torch.randn(65536, 64, generator=generator).cuda().requires_grad_()
    labels = torch.randint(0, 50, (65536,), generator=generator).cuda()
    first = loss_and_grad(spectral_clustering_loss, embeddings, labels)
    for _ in range(3):
        again = loss_and_grad(spectral_clustering_loss, embeddings, labels)
        torch.testing.assert_close(again, first, rtol=0, atol=0)


def test_sparse_label_values_use_the_same_classes():
    embeddings, labels = random_case(19, 30, 4, 3)
    expected = spectral_clustering_loss(embeddings, labels)
    spread = labels * 10**15 - 2**62  # far apart: encoded by sorting, not by value
    torch.testing.assert_close(spectral_clustering_loss(embeddings, spread), expected)


@CUDA
@pytest.mark.cuda
def test_cuda_autocast_leaves_the_loss_in_float32():
    """Mixed precision on a GPU, past the calls that capture a CUDA graph:
    the loss of float16 embeddings under ``torch.autocast`` is that of the
    same embeddings in float32 outside it."""
    embeddings, labels = random_case(23, 1000, 32, 100, dtype=torch.float32)
    embeddings, labels = embeddings.cuda().half(), labels.cuda()
    expected, expected_grad = loss_and_grad(
        spectral_clustering_loss, embeddings.float(), labels
    )
    for _ in range(4):  # eager, then a capture and its replays
        leaf = embeddings.clone().requires_grad_(True)
        with torch.autocast("cuda", dtype=torch.float16):
            loss = spectral_clustering_loss(leaf, labels)
        loss.backward()
        assert loss.dtype == leaf.grad.dtype == torch.float16
        torch.testing.assert_close(loss.float(), expected, rtol=1e-3, atol=0)
        torch.testing.assert_close(
            leaf.grad.float(), expected_grad, rtol=2e-2, atol=1e-3
        )
