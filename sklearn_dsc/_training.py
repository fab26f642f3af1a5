"""Moving data to torch, the epoch loop, and batched inference."""

import copy
import math

import numpy as np
import scipy.sparse as sp
import torch

from ._large_batch import chunked_backward
from ._loss import NonFiniteEmbeddingsError, spectral_clustering_loss
from ._networks import private_seed

# Rows embedded at once by ``embed``: bounds inference memory whatever n_samples.
INFERENCE_BATCH_SIZE = 4096


class Diverged(Exception):
    """The loss or the network output became NaN or infinite."""


def resolve_device(device):
    """A ``torch.device`` from ``"auto"``, a device string or a ``torch.device``."""
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(
            f"device={device!r} is not a valid torch device: use 'auto', 'cpu', "
            "'cuda', 'cuda:N' or a torch.device."
        ) from error
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was requested but CUDA is not available on this "
                "machine; use device='cpu' or device='auto'."
            )
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r} was requested but only "
                f"{torch.cuda.device_count()} CUDA device(s) exist."
            )
    return resolved


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


def is_out_of_memory(error):
    """Whether ``error`` is torch or Python running out of memory."""
    if isinstance(error, MemoryError | torch.cuda.OutOfMemoryError):
        return True
    message = str(error)
    return "out of memory" in message or "can't allocate memory" in message


def run_epoch(
    module,
    optimizer,
    data,
    class_codes,
    batches,
    on_batch=None,
    chunk_size=None,
    seed=None,
):
    """One pass of gradient steps; returns the mean batch loss and the samples seen.

    A batch larger than ``chunk_size`` is embedded in chunks, with the exact
    gradient of the whole batch (see ``chunked_backward``). With ``seed``,
    torch's random numbers (dropout masks) come from generators seeded with
    it, and torch's global random state is left as it was.

    Raises
    ------
    Diverged
        When a batch's embeddings or loss are not finite.
    """
    if seed is not None:
        with private_seed(seed, data.device):
            return run_epoch(
                module, optimizer, data, class_codes, batches, on_batch, chunk_size
            )
    module.train()
    codes = torch.as_tensor(class_codes, device=data.device)
    total, n_batches, n_seen = 0.0, 0, 0
    for batch_indices in batches:
        optimizer.zero_grad(set_to_none=True)
        n_batch = len(batch_indices)
        try:
            if chunk_size is not None and n_batch > chunk_size:
                loss = _chunked_step(
                    module, data, batch_indices, codes[batch_indices], chunk_size
                )
            else:
                embeddings = module(data.rows(batch_indices))
                loss = spectral_clustering_loss(embeddings, codes[batch_indices])
                loss.backward()
        except NonFiniteEmbeddingsError as error:
            raise Diverged("the network output is not finite") from error
        except (RuntimeError, MemoryError) as error:
            if not is_out_of_memory(error):
                raise
            lower = (
                "chunk_size" if chunk_size is not None else "batch_size (or chunk_size)"
            )
            raise MemoryError(
                f"Out of memory training on a mini-batch of {n_batch} samples on "
                f"{data.device}: lower {lower} or hidden_layer_sizes."
            ) from error
        value = loss.item()
        if not math.isfinite(value):
            raise Diverged("the loss is not finite")
        optimizer.step()
        total += value
        n_batches += 1
        n_seen += n_batch
        if on_batch is not None:
            on_batch(n_batches, value)
    return total / n_batches, n_seen


def _chunked_step(module, data, indices, labels, chunk_size):
    """Back-propagate the loss of batch ``indices``, embedding ``chunk_size`` rows
    at once; returns the loss."""
    return chunked_backward(
        lambda start, stop: module(data.rows(indices[start:stop])), labels, chunk_size
    )


def embed(module, X, device, batch_size=INFERENCE_BATCH_SIZE, dtype=torch.float32):
    """``module(X)`` as an ndarray, computed in batches without gradients.

    ``module``'s parameters and the inputs must be of ``dtype``. Memory beyond
    the output grows with ``batch_size``, not with n_samples.
    """
    module.eval()
    numpy_dtype = torch.empty((), dtype=dtype).numpy().dtype
    n_samples = X.shape[0]
    outputs = None
    with torch.no_grad():
        for start in range(0, n_samples, batch_size):
            stop = min(start + batch_size, n_samples)
            if sp.issparse(X):
                batch = sparse_rows(X, np.arange(start, stop), device, dtype)
            else:
                batch = torch.tensor(
                    np.asarray(X[start:stop], dtype=numpy_dtype), device=device
                )
            result = module(batch).cpu().numpy()
            if outputs is None:
                outputs = np.empty((n_samples, result.shape[1]), dtype=numpy_dtype)
            outputs[start:stop] = result
    return outputs


def calibrate_head(module, data, n_rows=INFERENCE_BATCH_SIZE):
    """Set an anchored module's ``head_scale`` to give its head unit spread.

    The spread (root-mean-square distance to the mean) is measured on up to
    ``n_rows`` training rows spread evenly over ``data``.
    """
    indices = np.unique(
        np.linspace(0, len(data) - 1, min(n_rows, len(data)), dtype=int)
    )
    module.head.eval()
    with torch.no_grad():
        outputs = module.head(data.rows(indices)).double()
        spread = (outputs - outputs.mean(dim=0)).square().sum(dim=1).mean().sqrt()
    module.head_scale.fill_(1.0 / spread.item() if spread > 0 else 0.0)


def snapshot(module):
    """A detached copy of the module's weights, on the CPU."""
    return {
        name: value.detach().to("cpu", copy=True)
        for name, value in module.state_dict().items()
    }


def restore(module, state):
    module.load_state_dict(state)


def restore_finite_state(module, states, data):
    """Load the newest of ``states`` whose embedding of ``data`` is finite.

    After a divergence the newest weights may be finite yet so large that the
    network's output overflows; each candidate is checked on the data.

    Raises
    ------
    ValueError
        When none of them gives finite embeddings (the inputs overflow the
        network even at its first weights).
    """
    for state in reversed(states):
        restore(module, state)
        module.eval()
        with torch.no_grad():
            finite = all(
                bool(torch.isfinite(module(data.rows(indices))).all())
                for indices in np.array_split(
                    np.arange(len(data)), max(1, len(data) // INFERENCE_BATCH_SIZE)
                )
            )
        if finite:
            return
    raise ValueError(
        "Training diverged and no earlier weights give finite embeddings: the "
        "inputs are too large for float32 training; scale them (for example with "
        "StandardScaler)."
    )


class Patience:
    """The best value of a criterion (lower is better) and epochs without progress.

    ``update`` returns ``True`` once ``n_iter_no_change`` consecutive epochs
    have not improved on the best value by more than ``tol``.
    """

    def __init__(self, tol, n_iter_no_change, initial_state):
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.best_value = math.inf
        self.best_state = initial_state
        self.stale = 0

    def update(self, value, state):
        self.stale = 0 if value < self.best_value - self.tol else self.stale + 1
        if value < self.best_value:
            self.best_value = value
            self.best_state = state
        return self.stale >= self.n_iter_no_change


def optimizer_state_on_cpu(optimizer):
    """The optimizer's state dict with every tensor copied to the CPU."""
    state = copy.deepcopy(optimizer.state_dict())
    for values in state["state"].values():
        for key, value in values.items():
            if isinstance(value, torch.Tensor):
                values[key] = value.to("cpu")
    return state
