"""Exact loss and gradient of batches too large for one forward pass or one process.

The spectral clustering loss of a batch depends on it only through two sums
over its samples, ``S = F^T F`` (d x d) and the per-class sums of the rows of
``F`` (k x d), and each row of the gradient needs only its own row of ``F``
and the k x d matrix ``B = A S^+``. So the exact loss and gradient of a batch
can be computed

- in chunks: a pass without gradients accumulates the sums, then each chunk
  is embedded again with gradients and back-propagated with its rows of the
  closed-form gradient; peak memory follows the chunk, not the batch;
- across processes: every rank all-reduces its sums (``d^2 + k d + k``
  numbers) and back-propagates the rows of its own samples.

Both combine. This module is pure torch, like ``_loss``.
"""

import contextlib
import math
from collections.abc import Mapping

import torch
import torch.distributed as dist

from ._loss import (
    NonFiniteEmbeddingsError,
    check_embeddings,
    check_labels,
    check_shapes,
    differentiable_once,
    label_tensor,
    resolve_rtol,
    saved_gradient_rows,
)
from ._loss_algebra import (
    autocast_enabled,
    computing_dtype,
    full_precision,
    gradient_rows,
    power_of_two_scale,
    solve_statistics,
    sum_rows_by_class,
)
from ._wording import counted

__all__ = ["distributed_spectral_clustering_loss", "spectral_clustering_backward"]


class _Statistics:
    """``F^T F``, per-class sums and class sizes of a batch seen piece by piece.

    The sums are kept in float64 at a common power-of-two scale (that of the
    largest entry seen so far), so that neither large nor small embeddings
    overflow or underflow and rescaling is exact.
    """

    def __init__(self, n_rows, n_features, device):
        self.gram = torch.zeros(
            (n_features, n_features), dtype=torch.float64, device=device
        )
        self.class_sums = torch.zeros(
            (n_rows, n_features), dtype=torch.float64, device=device
        )
        self.counts = torch.zeros(n_rows, dtype=torch.float64, device=device)
        self.scale = None  # set by the first piece

    def add(self, embeddings, codes):
        """Add a piece of the batch: embeddings and the class row of each
        (half precision is summed in float32)."""
        embeddings = embeddings.to(computing_dtype(embeddings.dtype))
        amax = embeddings.detach().abs().max().item() if len(embeddings) else 0.0
        if not math.isfinite(amax):
            raise NonFiniteEmbeddingsError("embeddings contains NaN or infinity.")
        scale = power_of_two_scale(amax, embeddings.dtype)
        self._rescale(scale if self.scale is None else max(scale, self.scale))
        # The piece's sums are formed at its own scale in its own dtype, then
        # brought to the common scale in float64: exact, and no underflow.
        scaled = embeddings if scale == 1.0 else embeddings / scale
        ratio = scale / self.scale
        self.gram += (scaled.T @ scaled).double() * ratio**2
        sums = sum_rows_by_class(scaled, codes, len(self.counts))
        self.class_sums += sums.double() * ratio
        self.counts += torch.bincount(codes, minlength=len(self.counts))

    def _rescale(self, scale):
        if self.scale is None:
            self.scale = scale
        elif scale != self.scale:
            ratio = self.scale / scale
            self.gram *= ratio**2
            self.class_sums *= ratio
            self.scale = scale

    def all_reduce(self, group):
        """Sum the statistics of every rank of ``group``."""
        exponent = torch.tensor(
            [math.log2(self.scale)], dtype=torch.float64, device=self.gram.device
        )
        dist.all_reduce(exponent, op=dist.ReduceOp.MAX, group=group)
        self._rescale(2.0 ** exponent.item())
        flat = torch.cat([self.gram.flatten(), self.class_sums.flatten(), self.counts])
        dist.all_reduce(flat, group=group)
        n_gram, n_sums = self.gram.numel(), self.class_sums.numel()
        self.gram = flat[:n_gram].view_as(self.gram)
        self.class_sums = flat[n_gram : n_gram + n_sums].view_as(self.class_sums)
        self.counts = flat[n_gram + n_sums :]

    def solve(self, rtol, dtype):
        """``(loss, B, inv_sqrt_counts)``; the loss and ``B`` in ``dtype``."""
        loss, b, inv_sqrt_counts = solve_statistics(
            self.gram, self.class_sums, self.counts, rtol
        )
        return loss.to(dtype), b.to(dtype), inv_sqrt_counts.to(dtype)


def _world(group):
    if not (dist.is_available() and dist.is_initialized()):
        raise RuntimeError(
            "distributed=True needs an initialised torch.distributed process group: "
            "call torch.distributed.init_process_group first (torchrun sets up its "
            "environment)."
        )
    return dist.get_world_size(group)


def _encode_labels(labels, group):
    """The class row of each label, the same on every rank, and the row count.

    Labels in a short range (the usual case) index rows by value; otherwise
    the distinct labels of every rank are gathered and sorted.
    """
    n_samples = torch.tensor(len(labels), device=labels.device)
    low, high = torch.aminmax(labels)
    # -(low + 1) cannot overflow int64, unlike -low
    summary = torch.stack([-(low + 1), high, n_samples])
    if group is not False:
        dist.all_reduce(summary, op=dist.ReduceOp.MAX, group=group)
    neg_low, high, n_max = summary.tolist()
    neg_low += 1
    n_ranks = 1 if group is False else dist.get_world_size(group)
    if high + neg_low < 2 * n_max * n_ranks:
        return labels + neg_low, high + neg_low + 1
    distinct = torch.unique(labels)
    if group is not False:
        sizes = [torch.zeros_like(n_samples) for _ in range(n_ranks)]
        dist.all_gather(
            sizes, torch.tensor(len(distinct), device=labels.device), group=group
        )
        longest = max(int(size) for size in sizes)
        padded = distinct.new_full((longest,), distinct[0])
        padded[: len(distinct)] = distinct
        gathered = [torch.empty_like(padded) for _ in range(n_ranks)]
        dist.all_gather(gathered, padded, group=group)
        distinct = torch.unique(torch.cat(gathered))
    return torch.searchsorted(distinct, labels), len(distinct)


class _DistributedLossFunction(torch.autograd.Function):
    """The loss of the batch spread over the ranks; backward gives this rank's rows."""

    @staticmethod
    def forward(ctx, embeddings, codes, n_rows, rtol, group, gradient_scale):
        statistics = _Statistics(n_rows, embeddings.shape[1], embeddings.device)
        statistics.add(embeddings, codes)
        statistics.all_reduce(group)
        loss, b, inv_sqrt_counts = statistics.solve(rtol, embeddings.dtype)
        ctx.save_for_backward(embeddings, codes, b, inv_sqrt_counts)
        ctx.scale = statistics.scale
        ctx.gradient_scale = gradient_scale
        return loss

    @staticmethod
    @differentiable_once
    def backward(ctx, grad_output):
        rows = saved_gradient_rows(ctx, grad_output * ctx.gradient_scale)
        return rows, None, None, None, None, None


def distributed_spectral_clustering_loss(embeddings, labels, *, rtol=None, group=None):
    """Spectral clustering loss of a batch spread over the processes of a group.

    Every rank passes the embeddings and labels of its own samples; the loss
    returned on every rank is that of the whole (global) batch, computed by
    all-reducing ``F^T F``, the per-class sums and the class sizes:
    ``d^2 + k d + k`` numbers per step, whatever the number of samples. Each
    rank's backward pass gives the exact rows of the global gradient for its
    own samples, multiplied by the world size, so that averaging parameter
    gradients over the ranks, as
    :class:`~torch.nn.parallel.DistributedDataParallel` does, yields exactly
    the gradient of the global loss.

    Must be called by every rank of ``group``, in the same order as the
    group's other collectives. Labels name the same classes on every rank.

    Parameters
    ----------
    embeddings : torch.Tensor of shape (n_local_samples, n_components)
        This rank's embeddings, on the device of the group's backend (CPU for
        gloo, CUDA for nccl).
    labels : torch.Tensor of shape (n_local_samples,)
        Integer class labels of this rank's samples.
    rtol : float, default=None
        Relative tolerance of the pseudo-inverse; see
        :func:`spectral_clustering_loss`.
    group : torch.distributed.ProcessGroup, default=None
        The process group; ``None`` is the default (world) group.

    Returns
    -------
    loss : torch.Tensor
        0-d tensor, the same on every rank: the loss of the concatenated
        batch.

    See Also
    --------
    spectral_clustering_loss : The loss of a batch held by one process.
    spectral_clustering_backward : Exact gradients of batches too large for
        one forward pass (also across processes).

    Examples
    --------
    Run with ``torchrun --nproc-per-node 2 script.py``::

        import torch
        import torch.distributed as dist
        from torch.nn.parallel import DistributedDataParallel
        from sklearn_dsc import distributed_spectral_clustering_loss

        dist.init_process_group("gloo")  # "nccl" on GPUs
        model = DistributedDataParallel(torch.nn.Linear(16, 4))
        optimizer = torch.optim.Adam(model.parameters())
        inputs, labels = ...  # this rank's share of the batch
        loss = distributed_spectral_clustering_loss(model(inputs), labels)
        loss.backward()  # DDP averages: the exact gradient of the whole batch
        optimizer.step()
    """
    n_ranks = _world(group)
    labels = check_shapes(embeddings, labels)
    dtype = embeddings.dtype
    with full_precision(embeddings.device):
        # half precision is computed in float32; autograd casts the gradient
        embeddings = embeddings.to(computing_dtype(dtype))
        rtol = resolve_rtol(rtol, embeddings.shape[1], dtype)
        codes, n_rows = _encode_labels(labels, group)
        loss = _DistributedLossFunction.apply(
            embeddings, codes, n_rows, rtol, group, float(n_ranks)
        )
    return loss.to(dtype)


def spectral_clustering_backward(
    model, inputs, labels, *, chunk_size, rtol=None, distributed=False, group=None
):
    """Exact loss of a large batch and its gradient, computed in chunks.

    Back-propagates the spectral clustering loss of ``model(inputs)`` into
    ``model``'s parameters (gradients accumulate, as with ``loss.backward()``)
    while embedding at most ``chunk_size`` samples at once. A first pass
    without gradients accumulates ``F^T F`` and the per-class sums of the
    embeddings; then each chunk is embedded again with gradients and
    back-propagated with its rows of the closed-form gradient. The result
    equals ``spectral_clustering_loss(model(inputs), labels).backward()`` up
    to rounding, for twice the forward computation, and peak memory follows
    the chunk instead of the batch.

    The two passes must give the same embeddings: each chunk's second
    forward pass replays the random numbers of its first (dropout masks
    match), but layers whose output depends on the other samples of the chunk
    (batch normalisation in training mode) see chunks, not the batch. A
    module's buffers are put back after the first pass, so that running
    statistics are updated once per chunk, not twice.

    Parameters
    ----------
    model : callable
        Maps a chunk of ``inputs`` to its embeddings, a tensor of shape
        (n_chunk_samples, n_components); usually a :class:`torch.nn.Module`.
        A :class:`~torch.nn.parallel.DistributedDataParallel` model
        synchronises its gradients once, after the last chunk.
    inputs : torch.Tensor, sequence or mapping
        The batch: anything with ``len`` and slicing along the first axis
        (the chunk ``inputs[start:stop]`` is passed to ``model``), or a
        mapping of such values with one row a sample each, as a tokenizer
        returns (``model`` gets a dict of each value's rows of the chunk).
    labels : torch.Tensor of shape (n_samples,)
        Integer class labels.
    chunk_size : int
        Samples embedded at once, at least 1.
    rtol : float, default=None
        Relative tolerance of the pseudo-inverse; see
        :func:`spectral_clustering_loss`.
    distributed : bool, default=False
        The batch is spread over the ranks of ``group``, each passing its own
        samples; see :func:`distributed_spectral_clustering_loss`, whose
        gradient convention (parameter gradients averaged over the ranks are
        exact) applies.
    group : torch.distributed.ProcessGroup, default=None
        The process group when ``distributed``; ``None`` is the world.

    Returns
    -------
    loss : torch.Tensor
        0-d tensor without gradient: the loss of the whole batch.

    Raises
    ------
    RuntimeError
        Called where gradients are off (``torch.no_grad()``,
        ``torch.inference_mode()``).
    ValueError
        Embeddings that no gradient can flow back from (no parameter, and no
        input, requires grad), or bad labels or embeddings, named.

    Examples
    --------
    >>> import torch
    >>> from sklearn_dsc import spectral_clustering_backward
    >>> model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(),
    ...                             torch.nn.Linear(16, 4))
    >>> inputs, labels = torch.randn(10_000, 8), torch.randint(0, 50, (10_000,))
    >>> loss = spectral_clustering_backward(model, inputs, labels, chunk_size=1024)
    >>> model[0].weight.grad.shape
    torch.Size([16, 8])
    """
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int):
        raise TypeError(f"chunk_size must be an int, got {chunk_size!r}.")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}.")
    n_samples, rows = _rows_of(inputs)
    labels = label_tensor(labels)
    if labels.ndim != 1 or len(labels) != n_samples:
        raise ValueError(
            f"labels must be a 1-D tensor with one entry per input; got shape "
            f"{tuple(labels.shape)} for {n_samples} inputs."
        )
    return chunked_backward(
        lambda start, stop: model(rows(start, stop)),
        labels,
        chunk_size,
        rtol=rtol,
        group=group if distributed else False,
        no_sync=getattr(model, "no_sync", None),
        buffers=model_buffers(model),
    )


def _rows_of(inputs):
    """``(n_samples, rows)``: the batch's number of samples, and
    ``rows(start, stop)``, its samples from ``start`` to ``stop``:
    ``inputs[start:stop]``, or for a mapping (a tokenizer's output) a dict of
    each value's rows, which must all hold one a sample."""
    if not isinstance(inputs, Mapping):
        return len(inputs), lambda start, stop: inputs[start:stop]
    lengths = {key: len(value) for key, value in inputs.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(
            "inputs is a mapping, whose values must hold one row a sample each, "
            f"as many as the labels; their lengths are {lengths}."
        )
    (n_samples,) = set(lengths.values())
    return n_samples, lambda start, stop: {
        key: value[start:stop] for key, value in inputs.items()
    }


def model_buffers(model):
    """The buffers of ``model`` (a ``torch.nn.Module``; none for another
    callable), which the first pass of ``chunked_backward`` leaves as they
    were."""
    return list(model.buffers()) if isinstance(model, torch.nn.Module) else []


def chunked_backward(
    embed, labels, chunk_size, rtol=None, group=False, no_sync=None, buffers=()
):
    """The two passes of :func:`spectral_clustering_backward`.

    ``embed(start, stop)`` embeds samples ``start:stop`` of the batch of
    ``len(labels)`` samples, at most ``chunk_size`` at once. ``group`` is
    ``False`` for a batch held by this process, else the process group
    (``None`` for the world). ``no_sync`` is a DistributedDataParallel
    model's context manager that defers gradient synchronisation.
    ``buffers`` (the model's) are put back as they were after the first
    pass, so that a forward pass that updates them (batch normalisation's
    running statistics in training mode) does so once per chunk, as one
    forward pass of the batch would, and not twice.
    """
    n_ranks = 1 if group is False else _world(group)
    n_samples = len(labels)
    if n_samples == 0:
        raise ValueError("the batch is empty: the loss needs at least one sample.")
    bounds = [
        (start, min(start + chunk_size, n_samples))
        for start in range(0, n_samples, chunk_size)
    ]
    labels = check_labels(labels, len(labels), labels.device)

    # Pass 1: the batch's statistics, keeping each chunk's random state.
    random_states, statistics = [], None
    with torch.no_grad(), _kept_as_they_are(buffers):
        for start, stop in bounds:
            random_states.append(_random_state())
            embeddings = embed(start, stop)
            check_embeddings(embeddings)
            if len(embeddings) != stop - start:
                raise ValueError(
                    f"the model returned {counted(len(embeddings), 'row')} for a "
                    f"chunk of {stop - start} inputs; it must embed each input."
                )
            if statistics is None:
                # on the embeddings' device: collectives of nccl need CUDA
                device, dtype = embeddings.device, embeddings.dtype
                codes, n_rows = _encode_labels(labels.to(device), group)
                statistics = _Statistics(n_rows, embeddings.shape[1], device)
            # the model runs under the caller's autocast, the loss does not
            with full_precision(device):
                statistics.add(embeddings, codes[start:stop])
    del embeddings
    if autocast_enabled(device.type):
        # Pass 1 ran under no_grad, and autocast keeps the weights it casts
        # for the next forward pass; until pytorch/pytorch#112583 was fixed
        # it kept them without their gradient history, and pass 2 left those
        # weights without gradients (torch 2.2: every Linear of a network
        # that ends in a LayerNorm). Pass 2 casts them anew.
        torch.clear_autocast_cache()
    if group is not False:
        statistics.all_reduce(group)
    # B in float32 at least, the embeddings' dtype for what is returned
    computed = computing_dtype(dtype)
    rtol = resolve_rtol(rtol, statistics.gram.shape[0], dtype)
    with full_precision(device):
        loss, b, inv_sqrt_counts = statistics.solve(rtol, computed)

    # Pass 2: each chunk again with the same random numbers (dropout), and
    # with gradients, back-propagating its rows of the gradient.
    factor = n_ranks / statistics.scale
    end_state = _random_state()
    try:
        chunks = zip(bounds, random_states, strict=True)
        for i, ((start, stop), state) in enumerate(chunks):
            _set_random_state(state)
            last = i == len(bounds) - 1
            context = no_sync() if no_sync is not None and not last else None
            with context or contextlib.nullcontext():
                embeddings = embed(start, stop)
                _check_differentiable(embeddings)
                scaled = embeddings.detach().to(computed)
                if statistics.scale != 1.0:
                    scaled = scaled / statistics.scale
                with full_precision(device):
                    rows = gradient_rows(
                        scaled, codes[start:stop], b, inv_sqrt_counts, factor
                    )
                embeddings.backward(rows.to(embeddings.dtype))
    finally:
        _set_random_state(end_state)
    return loss.detach().to(dtype)


def _check_differentiable(embeddings):
    """Refuse a chunk's embeddings that no gradient can flow back from, with
    the reason, rather than torch's "element 0 of tensors does not require
    grad" from inside the backward pass."""
    if embeddings.requires_grad:
        return
    if not torch.is_grad_enabled():
        raise RuntimeError(
            "spectral_clustering_backward computes gradients, but they are off "
            "here (torch.no_grad() or torch.inference_mode()): call it where "
            "they are on."
        )
    raise ValueError(
        "the model's embeddings do not require grad, so no gradient can reach "
        "anything: give a model with parameters that require grad (or inputs "
        "that do)."
    )


@contextlib.contextmanager
def _kept_as_they_are(buffers):
    """After the block, ``buffers`` (tensors) hold the values they held
    before it."""
    saved = [buffer.clone() for buffer in buffers]
    try:
        yield
    finally:
        for buffer, value in zip(buffers, saved, strict=True):
            buffer.copy_(value)


def _random_state():
    """The CPU generator's state and, once CUDA is in use, every GPU's."""
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    return torch.get_rng_state(), cuda


def _set_random_state(state):
    cpu, cuda = state
    torch.set_rng_state(cpu)
    if cuda is not None:
        torch.cuda.set_rng_state_all(cuda)
