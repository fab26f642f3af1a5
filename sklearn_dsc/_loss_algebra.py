"""The loss's algebra on a batch's two sums, ``S = F^T F`` and the class sums.

Shared by the eager loss (``_loss``), its CUDA graphs (``_loss_graphs``) and
the batches summed piece by piece (``_large_batch``); see ``_loss`` for the
formulation. Pure torch.
"""

import contextlib
import math

import torch

HALF_DTYPES = (torch.float16, torch.bfloat16)


def computing_dtype(dtype):
    """The dtype the loss computes in for embeddings of ``dtype``: float32
    for half precision, which cannot hold the Gram matrix accurately."""
    return torch.float32 if dtype in HALF_DTYPES else dtype


def full_precision(device):
    """A context that turns ``torch.autocast`` off for the loss's products
    where it is on for the type of ``device`` (a ``torch.device``), and
    ``contextlib.nullcontext`` elsewhere.

    Under autocast the Gram matrix ``F^T F`` and the other products would
    run in half precision, whose rounding (2^-8 of the largest entry in
    bfloat16) exceeds the small eigenvalues that set the rank, and would mix
    dtypes that the closed form's algebra refuses.
    """
    if not autocast_enabled(device.type):
        return contextlib.nullcontext()
    return torch.autocast(device.type, enabled=False)


def autocast_enabled(device_type):
    """Whether ``torch.autocast`` is on for ``device_type`` ("cpu", "cuda",
    ...); False for a type that autocast does not know ("meta")."""
    try:
        return torch.is_autocast_enabled(device_type)
    except TypeError:  # torch < 2.4 has one query for CUDA and one for the CPU
        query = {
            "cuda": torch.is_autocast_enabled,
            "cpu": torch.is_autocast_cpu_enabled,
        }.get(device_type)
        return query is not None and query()
    except RuntimeError:  # "unknown device type for autocast"
        return False


def safe_exponent(dtype):
    """``e`` such that entries from ``2^-e`` to ``2^e`` (in size) need no
    scaling: a quarter of ``dtype``'s largest exponent, so that ``F^T F``
    neither overflows nor underflows."""
    return int(math.log2(torch.finfo(dtype).max)) // 4


def power_of_two_scale(amax, dtype):
    """1 for entries of moderate size, else a power of two near ``amax``.

    Dividing by it is exact, and ``F^T F`` of ``F`` divided by it neither
    overflows nor underflows in ``dtype``.
    """
    exponent = safe_exponent(dtype)
    if amax == 0 or 2.0**-exponent <= amax <= 2.0**exponent:
        return 1.0
    return math.ldexp(1.0, math.frexp(amax)[1] - 1)


def pseudo_inverse_psd(gram, rtol):
    """Pseudo-inverse and rank of the symmetric positive semi-definite ``gram``.

    Eigenvalues ``<= rtol * max(eigenvalue)`` count as zero. The work runs in
    float64 whatever the input dtype (it is only d x d); the result is
    float64. The rank is a Python int after a Cholesky factorisation, a 0-d
    tensor after an eigendecomposition.

    The inverse comes first from a Cholesky factorisation
    (``cholesky_inverse``); an eigendecomposition drops the small
    eigenvalues where it is not the pseudo-inverse. The two give the same
    result where both apply; the first is several times faster on a GPU, and
    deciding between them costs a single host synchronisation.
    """
    gram = gram.to(torch.float64)
    inverse, info, spread = cholesky_inverse(gram)
    if is_pseudo_inverse(*torch.stack([info.double(), spread]).tolist(), rtol):
        return inverse, gram.shape[0]
    return eigen_pseudo_inverse(gram, rtol)


def cholesky_inverse(gram):
    """The inverse of ``gram`` (float64) from a Cholesky factorisation, and
    what ``is_pseudo_inverse`` reads of it: the factorisation's ``info`` (0
    where it succeeded) and ``||S^-1||_F ||S||_F``, both 0-d tensors.
    Nothing is read back to the host.
    """
    factor, info = torch.linalg.cholesky_ex(gram)
    identity = torch.eye(gram.shape[0], dtype=gram.dtype, device=gram.device)
    # No error check here: a failed factorisation only fails the test.
    inverse_factor = torch.linalg.solve_triangular(factor, identity, upper=False)
    inverse = inverse_factor.T @ inverse_factor
    spread = torch.linalg.matrix_norm(inverse) * torch.linalg.matrix_norm(gram)
    return inverse, info, spread


def is_pseudo_inverse(info, spread, rtol):
    """Whether ``cholesky_inverse``'s inverse is the pseudo-inverse at
    ``rtol``, from its ``info`` and ``spread`` read back as floats (on the
    host: no operation on the device).

    It is when the factorisation succeeded and
    ``||S^-1||_F * rtol * ||S||_F < 1``: then every eigenvalue exceeds
    ``rtol * ||S||_F >= rtol * max(eigenvalue)`` and nothing is to be dropped.
    """
    return info == 0 and spread * rtol < 1


def eigen_pseudo_inverse(gram, rtol):
    """Pseudo-inverse and rank (a 0-d tensor) of ``gram`` (float64) from its
    eigendecomposition, eigenvalues ``<= rtol * max(eigenvalue)`` dropped."""
    eigenvalues, eigenvectors = torch.linalg.eigh(gram)
    threshold = rtol * eigenvalues[-1].clamp(min=0)
    keep = eigenvalues > threshold
    inverse = torch.where(keep, 1.0 / torch.where(keep, eigenvalues, 1.0), 0.0)
    pinv = (eigenvectors * inverse) @ eigenvectors.T
    return pinv, keep.sum()


# Up to this many rows of the class table, a GPU sums the rows of each class
# as one product by the indicator matrix, which classes of many rows do not
# slow down; the sorted accumulation adds a class's rows one after another
# (one H200, n = 262,144, d = 128, 16 classes: 0.13 ms against 11.6 ms).
INDICATOR_SUM_ROWS = 64


def sum_rows_by_class(scaled, codes, n_rows):
    """The per-class sums of the rows of ``scaled`` (``n_rows`` x d).

    On a GPU they are the same from one run to the next, so that a fit is
    too: a table of at most ``INDICATOR_SUM_ROWS`` rows is one matrix product
    (``indicator_sums``; float32 products in full precision only, so not
    where torch is set to TF32), a larger one adds the rows of a class in the
    order of a stable sort of ``codes`` (``index_put_`` with
    ``accumulate``), not in the varying order of atomic additions
    (``index_add_``).
    """
    if not scaled.is_cuda:
        return scaled.new_zeros((n_rows, scaled.shape[1])).index_add_(0, codes, scaled)
    full_precision = scaled.dtype != torch.float32 or (
        torch.get_float32_matmul_precision() == "highest"
    )
    if n_rows <= INDICATOR_SUM_ROWS and full_precision:
        return indicator_sums(scaled, codes, n_rows)
    sums = scaled.new_zeros((n_rows, scaled.shape[1]))
    return sums.index_put_((codes,), scaled, accumulate=True)


def count_rows_by_class(like, codes, n_rows):
    """How many of ``codes`` fall in each of ``n_rows`` rows, in ``like``'s
    dtype and on its device (whole numbers, so the additions are exact in
    any order)."""
    return like.new_zeros(n_rows).index_add_(
        0, codes, like.new_ones(1).expand(codes.shape[0])
    )


def indicator_sums(scaled, codes, n_rows):
    """The per-class sums as ``Y^T F``, ``Y`` the n x ``n_rows`` indicator of
    ``codes``."""
    indicator = scaled.new_zeros((n_rows, scaled.shape[0]))
    return indicator.scatter_(0, codes[None, :], 1.0) @ scaled


def solve_statistics(gram, class_sums, counts, rtol):
    """Loss, ``B = A S^+`` and ``n_c^(-1/2)`` from a batch's sums.

    ``gram`` is ``F^T F``, ``class_sums`` the per-class sums of the rows of
    ``F`` and ``counts`` the class sizes (a class may be empty), however they
    were accumulated. Returns ``(loss, B, inv_sqrt_counts)`` in
    ``class_sums``' dtype.
    """
    gram_pinv, rank = pseudo_inverse_psd(gram, rtol)
    return solve_with_inverse(class_sums, counts, gram_pinv, rank)


def solve_with_inverse(class_sums, counts, gram_pinv, rank):
    """``solve_statistics`` given the pseudo-inverse of ``F^T F`` and its rank."""
    # An empty class has a zero sum, so its (arbitrary) factor never matters.
    inv_sqrt_counts = counts.clamp(min=1).rsqrt()
    a = class_sums * inv_sqrt_counts[:, None]
    b = a @ gram_pinv.to(a.dtype)
    trace = torch.vdot(a.flatten(), b.flatten())
    size = (torch.count_nonzero(counts) + rank).to(a.dtype)
    # tr(P_F P_Y) <= min(rank F, k), so the loss is at least 0; in float32 a
    # Gram matrix with eigenvalues near the rank cutoff can give a trace
    # above the rank by its rounding (a loss of -3e-3 for a 6 x 6 batch with
    # condition number 1e3 and one sample per class, whose loss is 0).
    loss = torch.sub(size / 4, trace, alpha=0.5).clamp(min=0)
    return loss, b, inv_sqrt_counts


def gradient_rows(scaled, codes, b, inv_sqrt_counts, factor):
    """``factor`` times the rows ``-(J B - F B^T B)`` of the gradient.

    ``scaled`` may be any subset of the batch's rows (in the batch's scale)
    with their ``codes``: each row of the gradient needs only its own
    row of ``F`` and the batch's ``B``. ``factor`` may be a 0-d tensor.
    """
    jb = (b * (inv_sqrt_counts * factor)[:, None]).index_select(0, codes)
    btb = (b.T @ b) * factor
    return jb.addmm_(scaled, btb, beta=-1)
