"""The spectral clustering loss of Law, Urtasun and Zemel (ICML 2017).

This module is pure torch: it imports nothing from scikit-learn, so the loss
can be used in any torch training loop.

For a batch of embeddings ``F`` (n x d) with labels ``y`` (k distinct classes),
let ``J = Y diag(n_c)^(-1/2)`` where ``Y`` is the one-hot label matrix, so that
``P_Y = J J^T`` projects onto the span of the class indicators, and let
``P_F = F F^+`` project onto the column space of ``F``. The loss is::

    loss(F, y) = 1/4 ||P_F - P_Y||_F^2 = 1/4 (rank F + k - 2 tr(P_F P_Y))

and its gradient (the paper's closed form) is ``-(I - P_F) P_Y (F^+)^T``.

Everything is computed from two sums over the samples, ``S = F^T F`` (d x d)
and ``A = J^T F`` (k x d), in ``O(n d^2 + k d^2 + d^3)`` time and
``O(n d + k d + d^2)`` memory. No n x n or n x k matrix is ever formed::

    B = A S^+                       k x d
    tr(P_F P_Y) = sum(A * B)
    grad = -(J B - F B^T B)         (J B)_i = B[y_i] / sqrt(n_{y_i})
"""

import functools
import math

import torch

from . import _loss_graphs
from ._loss_algebra import (
    cholesky_inverse,
    computing_dtype,
    count_rows_by_class,
    eigen_pseudo_inverse,
    full_precision,
    gradient_rows,
    is_pseudo_inverse,
    power_of_two_scale,
    pseudo_inverse_psd,
    solve_with_inverse,
    sum_rows_by_class,
)
from ._wording import unequal_lengths

__all__ = ["SpectralClusteringLoss", "spectral_clustering_loss"]


class NonFiniteEmbeddingsError(ValueError):
    """The embeddings hold NaN or infinity."""


def resolve_rtol(rtol, n_features, dtype):
    """``rtol``, checked, or the default for embeddings of ``dtype``:
    ``n_features * eps`` of the dtype the loss computes in, the noise of a
    Gram matrix computed there; for half precision, ``(eps / 2)^2`` of
    ``dtype`` itself where that is larger.

    Rounding to half precision moves each entry by up to ``eps / 2`` of its
    size, and so adds to ``F`` a little along every direction, even one in
    which the rows did not vary: the output of a LayerNorm, whose rows have
    zero mean, varies along the mean's direction by 1e-3 of the largest
    singular value once rounded to bfloat16 (a quarter of ``eps / 2``; an
    eigenvalue of ``F^T F`` of 1e-6 of the largest), which float32's ``4 *
    eps`` counted as rank in 4 dimensions (loss 0.24 too high). Below ``eps
    / 2`` of the largest singular value a direction is taken for rounding;
    above it, directions are kept as float32 keeps them (in 128 dimensions
    the two tolerances meet). In float16 that bound lies below float32's
    for 3 dimensions or more.
    """
    if rtol is None:
        computed = n_features * torch.finfo(computing_dtype(dtype)).eps
        return max(computed, (torch.finfo(dtype).eps / 2) ** 2)
    return check_rtol(rtol)


def check_rtol(rtol):
    """``rtol`` as a float in [0, 1), or the error that says what it must be."""
    try:
        if isinstance(rtol, str | bytes | bool):
            raise TypeError
        value = float(rtol)
    except (TypeError, ValueError):
        raise TypeError(
            f"rtol must be a number in [0, 1) or None, got {rtol!r}."
        ) from None
    if not (0 <= value < 1):  # NaN too
        raise ValueError(f"rtol must be in [0, 1), got {rtol!r}.")
    return value


def check_normalize(normalize):
    """``normalize`` must be a truth value: a string such as "no" would
    otherwise read as true."""
    if normalize not in (True, False):
        raise TypeError(f"normalize must be True or False, got {normalize!r}.")


def check_shapes(embeddings, labels):
    """Validate types and shapes; return ``labels`` as a tensor on the right device."""
    check_embeddings(embeddings)
    return check_labels(labels, embeddings.shape[0], embeddings.device)


# torch.func's transforms wrap the tensors they pass (torch 2.0 and later)
_is_functorch_wrapped = getattr(
    getattr(torch._C, "_functorch", None), "is_functorch_wrapped_tensor", None
)
# torch.compile traces with tensors of its own, and would break its graph at
# the question (torch 2.3 and later answer is_compiling there)
_is_compiling = getattr(getattr(torch, "compiler", None), "is_compiling", None)


def _wrapped_by_torch_func(tensor):
    """Whether ``tensor`` is one that a ``torch.func`` transform (``vmap``,
    ``grad``, ``jacrev``, ...) passes to the function it transforms; not
    asked while ``torch.compile`` traces."""
    if _is_functorch_wrapped is None or (_is_compiling and _is_compiling()):
        return False
    return _is_functorch_wrapped(tensor)


def check_embeddings(embeddings):
    if not isinstance(embeddings, torch.Tensor):
        raise TypeError(
            f"embeddings must be a torch.Tensor, got {type(embeddings).__name__}."
        )
    if _wrapped_by_torch_func(embeddings):
        raise RuntimeError(UNDER_TORCH_FUNC)
    if embeddings.ndim != 2:
        raise ValueError(
            "embeddings must be a 2-D tensor (n_samples, n_components), got a "
            f"tensor of shape {tuple(embeddings.shape)}."
        )
    if not embeddings.is_floating_point():
        raise ValueError(
            f"embeddings must be a floating point tensor, got dtype {embeddings.dtype}."
        )
    if embeddings.shape[0] == 0:
        raise ValueError("embeddings is empty: the loss needs at least one sample.")
    if embeddings.shape[1] == 0:
        raise ValueError("embeddings has 0 columns: the loss needs at least one.")


def label_tensor(labels):
    """``labels`` as a tensor (the tensor itself, where they are one); a
    ``TypeError`` that says how to encode labels that make none."""
    if isinstance(labels, torch.Tensor):
        return labels
    dtype = getattr(labels, "dtype", None)
    if getattr(dtype, "isnative", True) is False:  # a NumPy array's
        # torch reads this machine's byte order alone; arrays of FITS files,
        # or of .npy files written on another machine, may have the other
        labels = labels.astype(dtype.newbyteorder("="))
    elif getattr(getattr(labels, "flags", None), "writeable", True) is False:
        # a read-only array (memory-mapped, say): torch would share its
        # memory and warn that it cannot keep it from being written
        labels = labels.copy()
    try:
        return torch.as_tensor(labels)
    except (TypeError, ValueError, RuntimeError) as error:
        raise TypeError(
            "labels must be integer class ids (a tensor, array or list); "
            f"these make no tensor ({error}). Encode other labels first, "
            "for example as np.unique(labels, return_inverse=True)[1]."
        ) from None


def _as_class_ids(shape, n_samples):
    """How labels of ``shape``, a row a sample, become class ids: a column
    is flattened, one-hot rows (or scores) give the index of their largest
    entry."""
    if len(shape) != 2 or shape[0] != n_samples:
        return ""
    if shape[1] == 1:
        return ": labels.view(-1) flattens a column"
    return ": for one-hot labels, labels.argmax(dim=1) gives the class ids"


def check_labels(labels, n_samples, device):
    """``labels`` as an int64 tensor on ``device``, checked against ``n_samples``."""
    labels = label_tensor(labels)
    if labels.ndim != 1:
        raise ValueError(
            "labels must be a 1-D tensor of class ids, got a tensor of shape "
            f"{tuple(labels.shape)}{_as_class_ids(labels.shape, n_samples)}."
        )
    if labels.shape[0] != n_samples:
        raise ValueError(
            unequal_lengths("embeddings", n_samples, "labels", labels.shape[0])
        )
    if labels.is_complex():
        raise ValueError("labels must be integers, got a complex tensor.")
    labels = labels.to(device)
    if labels.is_floating_point() and not bool(
        torch.all(torch.isfinite(labels) & (labels == labels.round()))
    ):
        raise ValueError(
            "labels must be integers; got floating point labels with a "
            "fractional part (or NaN/inf)."
        )
    return labels.to(torch.int64)


def _summarise(embeddings, labels, rtol):
    """Validate the values, encode the labels and invert ``F^T F``, with one
    host synchronisation.

    Returns ``(codes, counts, scale, gram_pinv, rank)``: ``codes[i]`` is the
    row of sample ``i``'s class, ``counts`` the number of samples of each row
    (a row may be empty), ``scale`` a power of two by which to divide ``F``,
    and ``gram_pinv`` (float64) and ``rank`` the pseudo-inverse and rank of
    the Gram matrix of ``F / scale`` (see ``pseudo_inverse_psd``).

    The loss is invariant to scaling ``F`` by a scalar, so it is computed on
    ``F / scale``. For entries of moderate size ``scale`` is 1; otherwise it
    is a power of two near ``max |F|``, so that ``F^T F`` neither overflows
    nor underflows whatever the input's scale. Dividing by a power of two is
    exact.

    The Gram matrix and its Cholesky factorisation are formed at scale 1
    before the range of the values is known, so that one synchronisation
    reads the ranges of the values and the labels and whether the
    factorisation gives the pseudo-inverse; entries far from unit size (the
    rare case) form them again at their scale.
    """
    detached = embeddings.detach()
    value_range = torch.stack(torch.aminmax(detached))
    label_range = torch.stack(torch.aminmax(labels))
    # float64 once, for the factorisation and, where it fails, the eigenvalues
    gram = (detached.T @ detached).to(torch.float64)
    inverse, info, spread = cholesky_inverse(gram)
    summary = torch.cat(
        [value_range.double(), label_range.double(), info.double()[None], spread[None]]
    ).tolist()
    low, high, label_low_value, label_high_value, info, spread = summary
    accepted = is_pseudo_inverse(info, spread, rtol)
    amax = max(-low, high)
    if not math.isfinite(amax):
        raise NonFiniteEmbeddingsError("embeddings contains NaN or infinity.")
    scale = power_of_two_scale(amax, embeddings.dtype)
    if scale != 1.0:
        scaled = detached / scale
        gram_pinv, rank = pseudo_inverse_psd(scaled.T @ scaled, rtol)
    elif accepted:
        gram_pinv, rank = inverse, gram.shape[0]
    else:
        gram_pinv, rank = eigen_pseudo_inverse(gram, rtol)

    n_samples = labels.shape[0]
    span = label_high_value - label_low_value
    if max(-label_low_value, label_high_value) < 2**53 and span < 2 * n_samples:
        # Labels in a short range: index by value, no sort needed.
        codes = labels if label_low_value == 0 else labels - label_range[0]
        counts = count_rows_by_class(embeddings, codes, int(span) + 1)
    else:
        _, codes = torch.unique(labels, return_inverse=True)
        counts = torch.bincount(codes).to(embeddings.dtype)

    return codes, counts, scale, gram_pinv, rank


SECOND_DERIVATIVE = (
    "the spectral clustering loss is differentiable once: its gradient is "
    "evaluated in closed form, not by autograd, so it cannot be "
    "differentiated again (a backward pass with create_graph=True, then a "
    "derivative of the gradient it gave)."
)
UNDER_TORCH_FUNC = (
    "the spectral clustering loss cannot run under torch.func's transforms "
    "(vmap, grad, jacrev, ...): its gradient is evaluated in closed form by a "
    "torch.autograd.Function that reads values of the batch on the host. "
    "Differentiate it with loss.backward() or torch.autograd.grad, one batch "
    "at a time."
)


class _DifferentiatedOnce(torch.autograd.Function):
    """The closed-form gradient rows, where autograd keeps a graph of the
    backward pass: differentiating them raises ``SECOND_DERIVATIVE``."""

    @staticmethod
    def forward(ctx, rows, embeddings):
        return rows.clone()

    @staticmethod
    def backward(ctx, grad_rows):
        raise RuntimeError(SECOND_DERIVATIVE)


def differentiable_once(backward):
    """A ``backward`` whose first result, the rows of ``dL/dF``, come from the
    saved embeddings (``ctx.saved_tensors[0]``) in closed form.

    It runs without a graph, as ``torch.autograd.function.once_differentiable``
    runs it. Where autograd keeps a graph (``create_graph=True``) the rows are
    tied to the embeddings by ``_DifferentiatedOnce``, so that a second
    derivative through them raises: ``once_differentiable`` does so only where
    the incoming gradient itself has a graph, and otherwise the rest of the
    graph would differentiate the rows as a constant (a gradient penalty on a
    network's parameters would silently miss the loss's own curvature).
    """

    @functools.wraps(backward)
    def wrapper(ctx, *grad_outputs):
        keeps_graph = torch.is_grad_enabled()
        with torch.no_grad():
            rows, *others = backward(ctx, *grad_outputs)
        if keeps_graph and rows is not None:
            rows = _DifferentiatedOnce.apply(rows, ctx.saved_tensors[0])
        return (rows, *others)

    return wrapper


class _ReplayedLossFunction(torch.autograd.Function):
    """The loss and closed-form backward from statistics a CUDA graph's
    replay computed (``_loss_graphs``), at scale 1 with the labels as class
    codes."""

    @staticmethod
    def forward(ctx, embeddings, codes, loss, b, inv_sqrt_counts, gradient=None):
        ctx.save_for_backward(embeddings, codes, b, inv_sqrt_counts)
        ctx.scale = 1.0
        ctx.gradient = gradient  # the replay's own, while it lasts
        return loss

    @staticmethod
    @differentiable_once
    def backward(ctx, grad_output):
        # unpacked whichever gradient serves, so that embeddings changed in
        # place since the forward pass raise autograd's error, as eagerly
        _ = ctx.saved_tensors
        rows = None if ctx.gradient is None else ctx.gradient.times(grad_output)
        if rows is None:
            rows = saved_gradient_rows(ctx, grad_output)
        return rows, None, None, None, None, None


class _SpectralClusteringLossFunction(torch.autograd.Function):
    """Forward value and closed-form backward of the loss."""

    @staticmethod
    def forward(ctx, embeddings, codes, counts, scale, gram_pinv, rank):
        scaled = embeddings if scale == 1.0 else embeddings / scale
        sums = sum_rows_by_class(scaled, codes, counts.shape[0])
        loss, b, inv_sqrt_counts = solve_with_inverse(sums, counts, gram_pinv, rank)
        ctx.save_for_backward(embeddings, codes, b, inv_sqrt_counts)
        ctx.scale = scale
        return loss

    @staticmethod
    @differentiable_once
    def backward(ctx, grad_output):
        rows = saved_gradient_rows(ctx, grad_output)
        return rows, None, None, None, None, None


def saved_gradient_rows(ctx, factor):
    """``factor`` times ``dL/dF``, from what an autograd ``forward`` saved.

    ``ctx`` holds ``(F, codes, B, inv_sqrt_counts)`` and the scale
    ``s`` of ``F``. For ``F_s = F / s``, ``dL/dF = -(J B - F_s B^T B) / s``,
    where ``(J B)_i = B[y_i] / sqrt(n_{y_i})``; ``factor`` and ``1/s`` are
    folded into the small matrices.
    """
    embeddings, codes, b, inv_sqrt_counts = ctx.saved_tensors
    # (a backward pass run inside torch.autocast would run it in half)
    with full_precision(embeddings.device):
        if ctx.scale == 1.0:
            return gradient_rows(embeddings, codes, b, inv_sqrt_counts, factor)
        scaled = embeddings / ctx.scale
        return gradient_rows(scaled, codes, b, inv_sqrt_counts, factor / ctx.scale)


def spectral_clustering_loss(embeddings, labels, *, rtol=None, normalize=False):
    """Spectral clustering loss of a batch of embeddings, with a closed-form gradient.

    Computes ``1/4 ||P_F - P_Y||_F^2`` (Law et al., 2017), where ``P_F`` is the
    orthogonal projection onto the column space of ``embeddings`` and ``P_Y``
    the projection onto the span of the class indicator vectors. The loss is
    0 exactly when the embedding's columns span the class indicators, so that
    spectral clustering of the batch recovers its labels.

    The backward pass uses the paper's closed-form gradient
    ``-(I - P_F) P_Y (F^+)^T``, evaluated from ``F^T F`` and per-class sums in
    ``O(n d^2 + k d^2 + d^3)`` time and ``O(n d + k d + d^2)`` memory: it never
    forms an n x n or n x k matrix, however many classes the batch holds.

    Parameters
    ----------
    embeddings : torch.Tensor of shape (n_samples, n_components)
        Floating point batch of embeddings, on any device. Gradients flow
        to it.
    labels : torch.Tensor of shape (n_samples,)
        Integer class labels of any values (gaps and negative values are
        fine; they are remapped internally), or an array or list of them.
        Floating point labels are accepted when they hold whole numbers;
        others (strings, say) raise a ``TypeError``: encode them first.
    rtol : float, default=None
        Relative tolerance of the pseudo-inverse of ``F^T F``: eigenvalues at
        or below ``rtol`` times the largest one are treated as zero, which
        sets the numerical rank of ``F``. ``None`` uses
        ``n_components * eps`` of the dtype, which is the noise level of a
        Gram matrix computed in that dtype (in singular values of ``F``: about
        ``4e-3`` relative for float32 and ``1.7e-7`` for float64 at
        ``n_components=128``). Half precision, computed in float32, also
        drops the directions whose singular values lie below ``eps / 2`` of
        the half dtype (relative), about what rounding the embeddings adds
        along a direction in which they did not vary (in bfloat16,
        ``2^-8``).
    normalize : bool, default=False
        Divide each row of ``embeddings`` by its Euclidean norm first, so
        that the loss sees only the embeddings' directions (autograd carries
        the gradient through the division; an all-zero row stays zero). The
        unseen classes are then best clustered on rows normalised alike.
        With an MLP on glyph and font images, rows normalised in the loss,
        batches of 16 classes of 16 rows and 16 outputs came within 0.03 and
        0.01 NMI of MultiSimilarity on unseen classes, where the plain loss
        trailed by 0.13 and 0.08 (``benchmarks/mlp_gap.py``; user guide).

    Returns
    -------
    loss : torch.Tensor
        0-d tensor in ``embeddings``' dtype, between 0 and
        ``(rank F + n_classes) / 4``.

    Notes
    -----
    The loss is invariant to multiplying ``embeddings`` on the right by any
    invertible matrix (in particular to its scale), to permuting the samples
    together with their labels, and to renaming the labels.

    Edge cases are defined, never NaN:

    - a class with a single sample contributes its one-hot column to ``P_Y``;
    - a batch with a single class gives ``1/4 (rank F + 1 - 2 ||P_F 1||^2 / n)``,
      which is 0 when ``F`` is rank one with rows all equal;
    - rank-deficient embeddings (more columns than rows, zero or duplicated
      columns, duplicated rows) use the pseudo-inverse; all-zero embeddings
      give ``n_classes / 4`` and a zero gradient;
    - embeddings that span the batch (rank ``n_samples``, which takes at
      least as many columns as rows) project onto all of it: the loss is
      ``(n_samples - n_classes) / 4`` whatever they are, and the gradient
      zero. Keep the embedding well narrower than the batch.

    Embeddings in half precision are computed in float32 (with an ``rtol``
    that drops what their own rounding adds), and under
    :class:`torch.autocast` the loss's own products stay in float32 while
    the network's run in half precision; the loss and gradient come back in
    the embeddings' dtype.

    Embeddings are scaled by a power of two near their largest absolute
    entry before ``F^T F`` is formed, so inputs from ``1e-30`` to ``1e30``
    neither overflow nor underflow.

    The gradient is evaluated in closed form, not by autograd, so the loss
    is differentiable once: a second derivative through it (a gradient
    penalty on the gradient that ``torch.autograd.grad(...,
    create_graph=True)`` gives, the outer step of MAML) raises a
    ``RuntimeError`` that says so, and the transforms of ``torch.func``
    (``grad``, ``vmap``) refuse it.

    On a GPU a call synchronises with the host once, and the per-class sums
    add rows in a fixed order, so that the loss and its gradient are the
    same from one run to the next. From the third call of a batch shape on
    (up to ``2**25`` entries), the forward pass, with the gradient where
    autograd will ask for it, is captured once as a CUDA graph and
    replayed, one launch instead of some 70; a replay gives the eager
    computation's loss and gradient (bit for bit where the labels run from
    0 to the largest label of the capture), and whatever its checks do not
    vouch for is computed eagerly.

    References
    ----------
    .. [1] Marc T. Law, Raquel Urtasun and Richard S. Zemel. "Deep Spectral
       Clustering Learning". ICML 2017.

    Examples
    --------
    >>> import torch
    >>> from sklearn_dsc import spectral_clustering_loss
    >>> labels = torch.tensor([0, 0, 1, 1])
    >>> embeddings = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 2.0], [0.0, 2.0]])
    >>> round(spectral_clustering_loss(embeddings, labels).item(), 6)
    0.0
    >>> embeddings = torch.randn(4, 2, dtype=torch.float64, requires_grad=True)
    >>> loss = spectral_clustering_loss(embeddings, labels)
    >>> loss.backward()
    >>> embeddings.grad.shape
    torch.Size([4, 2])
    """
    labels = check_shapes(embeddings, labels)
    check_normalize(normalize)
    dtype = embeddings.dtype
    with full_precision(embeddings.device):
        # half precision is computed in float32; autograd casts the gradient
        embeddings = embeddings.to(computing_dtype(dtype))
        if normalize:
            embeddings = torch.nn.functional.normalize(embeddings, dim=1)
        rtol = resolve_rtol(rtol, embeddings.shape[1], dtype)
        replayed = _loss_graphs.replay_statistics(embeddings, labels, rtol)
        if replayed is not None:
            loss = _ReplayedLossFunction.apply(embeddings, labels, *replayed)
        else:
            codes, counts, scale, gram_pinv, rank = _summarise(embeddings, labels, rtol)
            loss = _SpectralClusteringLossFunction.apply(
                embeddings, codes, counts, scale, gram_pinv, rank
            )
    return loss.to(dtype)


class SpectralClusteringLoss(torch.nn.Module):
    """Spectral clustering loss as a :class:`torch.nn.Module`.

    A thin module around :func:`spectral_clustering_loss`, for use in a torch
    training loop like any other criterion.

    Parameters
    ----------
    rtol : float, default=None
        Relative tolerance of the pseudo-inverse; see
        :func:`spectral_clustering_loss`.
    normalize : bool, default=False
        L2-normalise each row of the embeddings before the loss; see
        :func:`spectral_clustering_loss`.

    Examples
    --------
    >>> import torch
    >>> from sklearn_dsc import SpectralClusteringLoss
    >>> criterion = SpectralClusteringLoss()
    >>> model = torch.nn.Linear(8, 3)
    >>> inputs, labels = torch.randn(32, 8), torch.arange(32) % 4
    >>> loss = criterion(model(inputs), labels)
    >>> loss.backward()
    >>> model.weight.grad.shape
    torch.Size([3, 8])
    """

    def __init__(self, rtol=None, normalize=False):
        super().__init__()
        # checked here, as torch's modules check theirs, not at the first call
        if rtol is not None:
            check_rtol(rtol)
        check_normalize(normalize)
        self.rtol = rtol
        self.normalize = normalize

    def forward(self, embeddings, labels):
        return spectral_clustering_loss(
            embeddings, labels, rtol=self.rtol, normalize=self.normalize
        )

    def extra_repr(self):
        return f"rtol={self.rtol}, normalize={self.normalize}"
