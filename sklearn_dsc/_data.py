"""Torch data: devices, training rows served batch by batch, batched inference.

Everything that moves inputs between NumPy/SciPy and torch lives here, so
that the training loop (``_training``) and the estimator see rows as tensors
on a device and nothing else.
"""

import contextlib
import threading

import numpy as np
import scipy.sparse as sp
import torch

from ._loss_algebra import full_precision
from ._networks import keeps_its_inputs, sparse_inference
from ._warnings import warn
from ._wording import alternatives, choice, in_python, setting

# Rows embedded at once by ``embed``: bounds inference memory whatever n_samples.
INFERENCE_BATCH_SIZE = 4096
# ... and by a convolutional network on the CPU, whose activations then stay
# in the caches: 4,096 32x32 or 28x28 images through ``ConvNet`` in 0.34x the
# time of one call (2 cores; 32 to 64 rows a call alike, 16 and 128 up to
# 0.66x), and the same bits, or float32 rounding apart where the CPU's
# kernels depend on the number of rows (benchmarks/bench_inference_batch.py).
CPU_CONV_INFERENCE_BATCH_SIZE = 64


# Torch's process-wide settings that ``exact_float32`` overrides, and how
# many blocks are inside it: the first to enter saves them, the last to
# leave puts them back, so that fits in concurrent threads keep them set.
_EXACT_FLOAT32 = {"lock": threading.Lock(), "depth": 0, "saved": None}


@contextlib.contextmanager
def exact_float32():
    """Inside the block, torch computes as the estimator expects, whatever
    its caller set: float32 convolutions and matrix products round as
    float32, convolutions choose deterministic algorithms, new tensors and
    layers are float32 and made on the CPU unless a device is named,
    gradients are recorded and autocast is off.

    On Ampere and later GPUs torch runs float32 convolutions in TF32 (10
    bits of mantissa) unless told otherwise, and lets cuDNN pick algorithms
    that add in a varying order; the embedding then differs from the CPU's by
    more than float32 rounding and from one fit to the next. Those settings
    and the default dtype are process-wide: they hold until the last of the
    blocks open in any thread ends, then the caller's are put back. Under
    ``torch.set_default_dtype(torch.float64)`` the networks were built in
    float64 and training failed on float32 rows ("mat1 and mat2 must have
    the same dtype").

    Gradients, inference mode, autocast and the default device are the
    calling thread's own. A fit inside ``torch.no_grad()`` or
    ``torch.inference_mode()`` failed with "element 0 of tensors does not
    require grad"; one under ``torch.autocast`` trained in bfloat16, whose
    embeddings NumPy cannot hold ("Got unsupported ScalarType BFloat16");
    one in a ``torch.device("meta")`` block built its layers there ("Cannot
    copy out of meta tensor"), and a default device of ``"cuda"`` would
    draw their weights from the GPU's generator.
    """
    state = _EXACT_FLOAT32
    with state["lock"]:
        if state["depth"] == 0:
            state["saved"] = _float32_settings()
            _set_float32_settings("highest", False, True, False, torch.float32)
        state["depth"] += 1
    try:
        with contextlib.ExitStack() as modes:
            modes.enter_context(torch.inference_mode(False))
            modes.enter_context(torch.enable_grad())
            for device_type in ("cpu", "cuda"):
                modes.enter_context(full_precision(torch.device(device_type)))
            if torch.empty(()).device.type != "cpu":
                # torch.set_default_device or a torch.device block: tensors
                # made without a device stay on the CPU, as the estimator's
                # device and random numbers expect. (Only then: the block
                # passes every torch call through Python.)
                modes.enter_context(torch.device("cpu"))
            yield
    finally:
        with state["lock"]:
            state["depth"] -= 1
            if state["depth"] == 0:
                _set_float32_settings(*state["saved"])


def _float32_settings():
    """``(matmul precision, cuDNN TF32, deterministic, benchmark, default
    dtype)`` as they are."""
    cudnn = torch.backends.cudnn
    return (
        torch.get_float32_matmul_precision(),
        cudnn.allow_tf32,
        cudnn.deterministic,
        cudnn.benchmark,
        torch.get_default_dtype(),
    )


def _set_float32_settings(precision, allow_tf32, deterministic, benchmark, dtype):
    torch.set_float32_matmul_precision(precision)
    torch.backends.cudnn.allow_tf32 = allow_tf32
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = benchmark
    torch.set_default_dtype(dtype)


def resolve_device(device, for_inference=False):
    """A ``torch.device`` from ``"auto"``, a device string or a ``torch.device``.

    A device that this machine lacks is an error naming it; with
    ``for_inference`` (a model trained elsewhere, say on a GPU, used here)
    it is replaced by the CPU, with a warning.
    """
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as error:
        python_only = in_python("a torch.device")
        choices = [choice(name) for name in ("auto", "cpu", "cuda", "cuda:N")]
        if python_only:
            choices.append(python_only)
        raise ValueError(
            f"{setting('device', device)} is not a valid torch device: use "
            f"{alternatives(choices)}."
        ) from error
    problem = _unavailable(resolved)
    if problem is None:
        return resolved
    if for_inference:
        warn(f"{setting('device', device)}: {problem}; embedding on the CPU instead.")
        return torch.device("cpu")
    raise ValueError(
        f"{setting('device', device)} was requested but {problem}; use "
        f"{setting('device', 'cpu')} or {setting('device', 'auto')}."
    )


def _unavailable(device):
    """Why ``device`` cannot be used on this machine, or ``None``."""
    if device.type == "cpu":
        return None
    if device.type == "meta":
        return "tensors on the 'meta' device hold shapes but no values"
    if device.type == "cuda":
        if not torch.cuda.is_available():
            return "CUDA is not available on this machine"
        if device.index is not None and device.index >= torch.cuda.device_count():
            return f"only {torch.cuda.device_count()} CUDA device(s) exist"
        return None
    try:
        torch.empty(1, device=device)
    except (RuntimeError, AssertionError):
        return f"torch cannot use {device.type!r} devices on this machine"
    return None


# Dense training data is copied to the GPU when it takes at most this share of
# the GPU's free memory; otherwise batches are staged through pinned memory.
DEVICE_MEMORY_SHARE = 0.5


def fits_on_device(n_bytes, device):
    """Whether ``n_bytes`` of training data should live on ``device``."""
    if device.type != "cuda":
        return True
    free, _ = torch.cuda.mem_get_info(device)
    return n_bytes <= DEVICE_MEMORY_SHARE * free


class TensorData:
    """Training inputs, served as torch tensors on ``device`` batch by batch.

    Dense inputs move to the device once, as float32, when they fit (on a
    GPU: within ``DEVICE_MEMORY_SHARE`` of its free memory). Otherwise they
    stay where they are (a memory map stays on disk): each batch is gathered
    on the host into a page-locked buffer and copied to the GPU
    asynchronously. Sparse inputs stay a SciPy CSR matrix; each batch becomes
    a sparse COO tensor, so the whole matrix is never densified.
    """

    def __init__(self, X, device):
        self.device = device
        self.sparse = sp.issparse(X)
        self.staging = None
        if self.sparse:
            self.X = sp.csr_matrix(X, dtype=np.float32)
        elif fits_on_device(X.shape[0] * X.shape[1] * 4, device):
            X = np.ascontiguousarray(X, dtype=np.float32)
            # torch.tensor copies, so read-only arrays (memmaps) are safe.
            self.X = torch.tensor(X, device=device)
        else:
            self.X = X
            self.staging = StagedRows(X.shape[1], device)

    def __len__(self):
        return self.X.shape[0]

    def rows(self, indices):
        if self.sparse:
            return sparse_rows(self.X, indices, self.device)
        if self.staging is not None:
            return self.staging.copy(self.X, indices)
        return self.X[torch.as_tensor(indices, device=self.device)]


class StagedRows:
    """Rows of a host array copied to ``device`` through one reusable buffer.

    On a GPU the buffer is page-locked and the copy asynchronous; before the
    buffer is refilled, the previous copy is waited for.
    """

    def __init__(self, n_features, device):
        self.n_features = n_features
        self.device = device
        self.pinned = device.type == "cuda"
        self.buffer = None
        self.copied = None  # CUDA event recorded after the last copy

    def copy(self, X, indices):
        n_rows = len(indices)
        if self.buffer is None or len(self.buffer) < n_rows:
            self.buffer = torch.empty(
                (n_rows, self.n_features), dtype=torch.float32, pin_memory=self.pinned
            )
        elif self.copied is not None:
            self.copied.synchronize()
        batch = self.buffer[:n_rows]
        batch.numpy()[...] = X[np.asarray(indices)]  # gather and cast on the host
        if not self.pinned:
            return batch.to(self.device, copy=True)
        result = batch.to(self.device, non_blocking=True)
        self.copied = torch.cuda.Event()
        self.copied.record()
        return result


def sparse_rows(X, indices, device, dtype=torch.float32):
    """Rows of a CSR matrix as a sparse COO tensor of ``dtype`` on ``device``."""
    batch = X[indices].tocoo()
    coordinates = torch.tensor(np.vstack([batch.row, batch.col]), dtype=torch.int64)
    values = torch.tensor(batch.data, dtype=dtype)
    # scipy's indices are valid by construction: skip torch's invariant checks
    return torch.sparse_coo_tensor(
        coordinates, values, batch.shape, check_invariants=False
    ).to(device)


def inference_batch_size(module, device):
    """The rows that ``module`` embeds at once on ``device``: fewer for a
    convolutional network on the CPU (``CPU_CONV_INFERENCE_BATCH_SIZE``)."""
    convolutional = any(
        isinstance(layer, torch.nn.modules.conv._ConvNd) for layer in module.modules()
    )
    if convolutional and torch.device(device).type == "cpu":
        return CPU_CONV_INFERENCE_BATCH_SIZE
    return INFERENCE_BATCH_SIZE


# The stored values, per column of the inputs, that the rows to embed must
# hold for sparse_inference's copy of the weights. On 2 CPU cores
# (benchmarks/bench_sparse_layout.py) the copy took 0.69x, 0.48x and 0.20x
# the time of the strided product at 0.85, 1.02 and 1.56 of them (30,000,
# 100,000 and 2^18 columns), but 1.47x to 8.1x at 0.02 to 0.26.
COPY_STORED_PER_COLUMN = 1.0


def for_sparse_rows(module, X, n_rows=None):
    """``sparse_inference(module)`` to embed ``n_rows`` rows (by default
    all) of ``X``, where ``X`` is sparse and they hold enough stored values
    to pay for the copy (``COPY_STORED_PER_COLUMN``); else nothing, and
    the rows read the weights as torch lays them out."""
    if not sp.issparse(X):
        return contextlib.nullcontext()
    n_rows = X.shape[0] if n_rows is None else n_rows
    stored = X.nnz * n_rows / max(X.shape[0], 1)
    if stored < COPY_STORED_PER_COLUMN * X.shape[1]:
        return contextlib.nullcontext()
    return sparse_inference(module)


def embed(module, X, device, batch_size=None, dtype=torch.float32):
    """``module(X)`` as an ndarray, computed in batches without gradients.

    ``module``'s parameters and the inputs must be of ``dtype``. Memory beyond
    the output grows with ``batch_size`` (by default
    ``inference_batch_size``), not with n_samples.
    """
    if batch_size is None:
        batch_size = inference_batch_size(module, device)
    module.eval()
    numpy_dtype = torch.empty((), dtype=dtype).numpy().dtype
    # the rows themselves, where they are as the network takes them and it
    # writes to none; else a copy
    shared = torch.device(device).type == "cpu" and keeps_its_inputs(module)
    n_samples = X.shape[0]
    outputs = None
    with torch.no_grad(), for_sparse_rows(module, X):
        for start in range(0, n_samples, batch_size):
            stop = min(start + batch_size, n_samples)
            if sp.issparse(X):
                batch = sparse_rows(X, np.arange(start, stop), device, dtype)
            else:
                rows = np.ascontiguousarray(X[start:stop], dtype=numpy_dtype)
                if shared and rows.flags.writeable:  # torch warns on read-only
                    batch = torch.from_numpy(rows)
                else:
                    batch = torch.tensor(rows, device=device)
            result = module(batch).cpu().numpy()
            if outputs is None:
                outputs = np.empty((n_samples, result.shape[1]), dtype=numpy_dtype)
            outputs[start:stop] = result
    return outputs
