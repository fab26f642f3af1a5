"""The loss's forward pass replayed as a CUDA graph, for batches of one shape.

On a GPU a call of the loss is bound by the host, not the device: below a
few hundred thousand rows the host takes longer to launch its 80-odd small
operations (the float64 factorisation of ``F^T F``, the class sums, the
solve) than the GPU takes to run them. A training loop calls the loss again
and again on batches of one shape, so from the third call of a shape on its
forward pass is captured once as a CUDA graph and replayed: one launch
instead of some 70. Where autograd will ask for the gradient, the graph
writes it too, and the backward pass of the call that replayed the graph
last scales it by the incoming gradient (one kernel); any other backward
pass computes it from the call's statistics, as the eager path does. Inside
the graph the float64 factorisation of ``F^T F`` runs on a second stream,
beside the class sums.

A replay reads its inputs from buffers of its own (the batch is copied in)
and runs the eager path's kernels on the same values, so it gives the same
loss and gradient, bit for bit, when the labels run from 0 to the largest
label of the capture (the class table then has the same rows); with smaller
labels the table has more empty rows, and the two agree to rounding.
Whatever a replay cannot vouch for is computed again eagerly from the start:
labels outside its table, a Gram matrix that is not comfortably inside the
dtype's range (which also catches NaN and infinity, whose errors the eager
path raises), or one the Cholesky factorisation does not invert. A replayed
call still synchronises with the host once, to read those checks.

This module is pure torch, like ``_loss``.
"""

import collections
import threading

import torch

from ._loss_algebra import (
    cholesky_inverse,
    count_rows_by_class,
    gradient_rows,
    is_pseudo_inverse,
    safe_exponent,
    solve_with_inverse,
    sum_rows_by_class,
)

# A shape is captured on its third call: one seen once or twice costs no
# capture, and the kernels and library handles a capture needs are loaded.
CALLS_BEFORE_CAPTURE = 2
# Graphs kept at once, the least recently used dropped first (training and
# validation batches, a last short batch).
MAX_GRAPHS = 4
# Larger batches run eagerly. A graph keeps a copy of its batch, of the
# gradient, and memory of its own for the rest (some 310 MB at 262,144 x 128
# in float32); at that size a replay still saves a fifth of a call (on an
# H200, 1.6 ms against 2.0 ms eager), beyond it the GPU's own work bounds a
# call.
MAX_ELEMENTS = 2**25
# A graph writes the gradient where autograd will ask for it (the backward
# pass is then one kernel, not some ten launched from the host), and
# factorises F^T F on a second stream, beside the class sums (a
# latency-bound chain of small float64 kernels that otherwise holds up the
# rest). benchmarks/bench_loss_graphs.py times each choice both ways.
GRAPHED_GRADIENT = True
SIDE_STREAM = True

_lock = threading.Lock()
_entries = collections.OrderedDict()


def replay_statistics(embeddings, labels, rtol):
    """``(loss, B, n_c^(-1/2), gradient)`` of the batch from a graph's
    replay, or None.

    None means: compute the loss eagerly (a batch no graph takes, one of the
    first calls of its shape, or a replay whose checks failed). ``labels``
    are int64 on the embeddings' device and serve as the class codes of the
    result. ``gradient`` is a ``ReplayedGradient``, or None where autograd
    will not ask for one.
    """
    if not _replayable(embeddings):
        return None
    gradient = GRAPHED_GRADIENT and torch.is_grad_enabled() and embeddings.requires_grad
    key = (
        embeddings.device,
        embeddings.dtype,
        *embeddings.shape,
        rtol,
        torch.get_float32_matmul_precision(),  # the kernels a capture keeps
        gradient,
    )
    with _lock:
        entry = _entries.pop(key, None) or _Entry()
        _entries[key] = entry  # the most recently used, last
        while len(_entries) > MAX_GRAPHS:
            _entries.popitem(last=False)
        return entry.run(embeddings.detach(), labels, rtol, gradient)


def clear():
    """Drop every captured graph and the GPU memory it holds."""
    with _lock:
        _entries.clear()


def _replayable(embeddings):
    return (
        embeddings.is_cuda
        and embeddings.dtype in (torch.float32, torch.float64)
        and embeddings.numel() <= MAX_ELEMENTS
        and not torch.cuda.is_current_stream_capturing()
        # (buffers made in inference mode cannot be written outside it)
        and not torch.is_inference_mode_enabled()
    )


class _Entry:
    """The calls of one shape so far, and its graph once captured.

    A graph whose labels outgrow its class table is captured again on the
    next call, with a table that holds them. A shape runs eagerly from then
    on where its capture or a replay fails, where its labels are negative or
    larger than a table may be, or where two replays in a row fail their
    checks (a batch of fewer rows than columns, whose Gram matrix is
    singular, say).
    """

    def __init__(self):
        self.calls = 0
        self.graph = None
        self.rows = 0  # rows of the class table, at least
        self.misses = 0
        self.eager = False

    def run(self, embeddings, labels, rtol, gradient):
        self.calls += 1
        if self.eager or self.calls <= CALLS_BEFORE_CAPTURE:
            return None
        if self.graph is None:
            self.graph = self._capture(embeddings, labels, gradient)
            if self.graph is None:
                self.eager = True
                return None
        try:
            result = self.graph.run(embeddings, labels, rtol)
        except RuntimeError:
            self.eager, self.graph = True, None
            return None
        if self.graph.rows_needed > self.graph.rows:
            self.rows, self.graph = self.graph.rows_needed, None
        elif result is None:
            self.misses += 1
            if self.misses == 2:
                self.eager, self.graph = True, None
        else:
            self.misses = 0
        return result

    def _capture(self, embeddings, labels, gradient):
        """A graph of this shape, or None: labels no class table takes
        (negative, or a table of more than twice the batch's rows, the eager
        path's bound), or a capture that fails."""
        low, high = torch.stack(torch.aminmax(labels)).tolist()
        rows = max(int(high) + 1, self.rows)
        if low < 0 or rows > 2 * labels.shape[0]:
            return None
        try:
            return _ForwardGraph(embeddings, rows, gradient)
        except (RuntimeError, TypeError):  # not capturable with this torch
            return None


class _ForwardGraph:
    """A captured forward pass: copy a batch in, replay, check, copy out.

    With ``gradient`` the graph also writes the loss's gradient at the
    batch, for the backward pass of the call that replayed it last
    (``ReplayedGradient``); a replay runs on the stream of the call, after
    whatever the previous replay's stream still has to do.
    """

    def __init__(self, embeddings, rows, gradient):
        n_samples = embeddings.shape[0]
        device = embeddings.device
        self.rows = rows
        self.rows_needed = 0  # set by a replay whose labels outgrow the table
        self.with_gradient = gradient
        self.replays = 0
        self.stream = None  # the stream of the last replay
        # Entries from 2^-e to 2^e keep the eager path at scale 1
        # (power_of_two_scale). The Gram matrix's largest diagonal entry, the
        # largest squared column norm, lies between amax^2 and n amax^2, so
        # inside these bounds amax is inside those.
        exponent = safe_exponent(embeddings.dtype)
        self.largest_diagonal = 2.0 ** (2 * exponent - 2)
        self.smallest_diagonal = n_samples * 2.0 ** (2 - 2 * exponent)
        self.embeddings = torch.zeros(
            embeddings.shape, dtype=embeddings.dtype, device=device
        )
        self.labels = torch.zeros(n_samples, dtype=torch.int64, device=device)
        self.side_stream = None
        if device.type == "cuda" and SIDE_STREAM:
            self.side_stream = torch.cuda.Stream(device)
        self.outputs = self._capture()

    def _capture(self):
        """Capture ``_forward`` into ``self.graph``; its outputs, which each
        replay writes again."""
        device = self.embeddings.device
        self.graph = torch.cuda.CUDAGraph()
        stream = torch.cuda.Stream(device)
        with torch.cuda.device(device):
            stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(stream):
                self._forward()  # a warm-up on the capture's stream
            # (its temporaries, some made on the side stream, are freed)
            torch.cuda.synchronize(device)
            with torch.cuda.graph(
                self.graph, stream=stream, capture_error_mode="thread_local"
            ):
                return self._forward()

    def _forward(self):
        """The eager path's operations on the graph's buffers, at scale 1,
        with the Cholesky inverse and the labels as class codes: the checks,
        the statistics in one flat tensor, and the gradient (or None)."""
        embeddings, n_features = self.embeddings, self.embeddings.shape[1]
        gram = (embeddings.T @ embeddings).to(torch.float64)
        if self.side_stream is None:
            inverse, info, spread = cholesky_inverse(gram)
        else:
            # the factorisation, latency-bound, beside the class sums
            main = torch.cuda.current_stream(embeddings.device)
            self.side_stream.wait_stream(main)
            with torch.cuda.stream(self.side_stream):
                inverse, info, spread = cholesky_inverse(gram)
        label_range = torch.stack(torch.aminmax(self.labels))
        codes = self.labels.clamp(0, self.rows - 1)
        counts = count_rows_by_class(embeddings, codes, self.rows)
        sums = sum_rows_by_class(embeddings, codes, self.rows)
        if self.side_stream is not None:
            main.wait_stream(self.side_stream)
        loss, b, inv_sqrt_counts = solve_with_inverse(sums, counts, inverse, n_features)
        checks = torch.cat(
            [
                label_range.double(),
                info.double()[None],
                spread[None],
                gram.diagonal().max()[None],
            ]
        )
        statistics = torch.cat([loss[None], b.flatten(), inv_sqrt_counts])
        gradient = None
        if self.with_gradient:
            gradient = gradient_rows(embeddings, codes, b, inv_sqrt_counts, 1.0)
        return checks, statistics, gradient

    def run(self, embeddings, labels, rtol):
        """``(loss, B, n_c^(-1/2), gradient)`` of the batch, or None where a
        check fails (``rows_needed`` says so where the labels outgrew the
        table)."""
        if embeddings.is_cuda:
            stream = torch.cuda.current_stream(embeddings.device)
            if self.stream is not None and self.stream != stream:
                stream.wait_stream(self.stream)  # its copies out, its backward
            self.stream = stream
        self.embeddings.copy_(embeddings)
        self.labels.copy_(labels)
        self.graph.replay()
        self.replays += 1
        checks, statistics, _ = self.outputs
        # copied out before the read, which then waits for the copy too
        statistics = statistics.clone()
        low, high, info, spread, largest = checks.tolist()
        if high >= self.rows:
            self.rows_needed = int(high) + 1
            return None
        if low < 0:
            return None
        # (NaN fails every comparison)
        if not self.smallest_diagonal <= largest <= self.largest_diagonal:
            return None
        if not is_pseudo_inverse(info, spread, rtol):
            return None
        size = self.embeddings.shape[1] * self.rows
        loss, b, inv_sqrt_counts = statistics.split([1, size, self.rows])
        gradient = ReplayedGradient(self) if self.with_gradient else None
        # the loss a tensor of its own: a caller who keeps it (detached, say)
        # keeps its value, not the whole of the statistics
        return loss[0].clone(), b.view(self.rows, -1), inv_sqrt_counts, gradient


class ReplayedGradient:
    """The gradient a replay wrote, for as long as no other replay of its
    graph has written over it."""

    def __init__(self, graph):
        self.graph = graph
        self.replay = graph.replays
        self.stream = graph.stream

    def times(self, factor):
        """``factor`` times the gradient, a tensor of its own; or None where
        the graph has been replayed since, or the caller's stream is not the
        replay's (the next replay would not wait for it)."""
        with _lock:
            if self.graph.replays != self.replay:
                return None
            if self.stream is not None and (
                torch.cuda.current_stream(self.stream.device) != self.stream
            ):
                return None
            return torch.mul(self.graph.outputs[2], factor)
