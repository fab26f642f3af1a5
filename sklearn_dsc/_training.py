"""The training loop: epochs of Adam on the spectral clustering loss.

``train`` runs epochs with patience, divergence and interrupt handling and
verbose lines, and returns how it ended (``Outcome``), which its callers warn
about (``warn_outcome``); ``train_epoch`` is the one epoch body that ``fit``
and ``partial_fit`` share. Both record what they did in a ``History``, and
call the ``TrainingRun``'s ``on_epoch(module, history)`` after every epoch:
the estimator's hook, which shows the network and its history to the
``callback``.
"""

import collections
import dataclasses
import enum
import math
import time
from collections.abc import Callable

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from ._data import (
    INFERENCE_BATCH_SIZE,
    TensorData,
    for_sparse_rows,
    inference_batch_size,
)
from ._fitted_state import map_optimizer_tensors
from ._large_batch import chunked_backward, model_buffers
from ._loss import NonFiniteEmbeddingsError, spectral_clustering_loss
from ._networks import AnchoredEmbedding, evaluated, private_seed
from ._sampling import ClassBalancedSampler
from ._warnings import warn
from ._wording import counted, parameter


class Diverged(Exception):
    """The loss or the network output became NaN or infinite."""


class TrainingInterrupted(UserWarning):
    """Training was interrupted (Ctrl-C) after at least one epoch; the weights
    reached are kept. Turn it into an error to abort instead, as the command
    line does: ``warnings.simplefilter("error", TrainingInterrupted)``."""


# Epochs without improvement after which training stops, with
# n_iter_no_change="auto", and the improvement that counts, with tol="auto",
# unless the run's Schedule says otherwise.
PATIENCE = 10
TOLERANCE = 1e-4


@dataclasses.dataclass(frozen=True)
class TrainingSettings:
    """The estimator's parameters that the training loop reads."""

    batch_size: int
    samples_per_class: int | None
    chunk_size: int | None
    learning_rate: float
    weight_decay: float
    dropout: float
    max_iter: int
    tol: float | str  # "auto": the schedule's (Schedule.auto_tolerance)
    n_iter_no_change: int | str  # "auto": the schedule's (Schedule.auto_patience)
    verbose: int
    name: str  # the prefix of verbose lines


@dataclasses.dataclass
class History:
    """What training did: the estimator's fitted attributes of the same names
    (``loss_curve_``, ``n_iter_``, ...) and the optimizer's state."""

    loss_curve: list = dataclasses.field(default_factory=list)
    n_iter: int = 0
    t: int = 0
    validation_scores: list | None = None
    best_validation_score: float | None = None
    validation_metric: str | None = None  # what the validation scores are
    # held-out classes that scored it, and the spread of the anchor's score
    # over the sets of held-out classes that chose it (None when not drawn)
    n_validation_classes: int | None = None
    validation_spread: float | None = None
    optimizer_state: dict | None = None
    # the epoch (counted as n_iter) at which the training run in progress, or
    # the last one, stops at the latest; None before any (and for chunks)
    last_epoch: int | None = None

    def begin(self, scored, max_epochs, metric=None):
        """Start a training run of at most ``max_epochs``: validation scores
        anew (a list when ``scored``, else ``None``) of ``metric``; returns
        the epochs trained so far."""
        self.validation_scores = [] if scored else None
        self.best_validation_score = None
        self.validation_metric = metric if scored else None
        self.last_epoch = self.n_iter + max_epochs
        return self.n_iter

    def epoch_scored(self, index):
        """The epoch, counted as ``n_iter``, whose weights scored
        ``validation_scores[index]``, for a run that scored its start first
        (index 0: the epoch it began at)."""
        return self.n_iter - (len(self.validation_scores) - 1) + index

    def record_score(self, score):
        """Append a validation score, keep the best so far; returns it."""
        self.validation_scores.append(score)
        self.best_validation_score = max(self.validation_scores)
        return score


def trained_part(module):
    """The part of ``module`` that the loss trains: the head of an anchored one."""
    return getattr(module, "head", module)


def make_optimizer(module, settings, state=None):
    """AdamW over the trained part; ``state`` continues an earlier run, with the
    current learning rate and weight decay.

    Torch's fused AdamW, one kernel for every parameter, where the device has
    it (CPU and CUDA from torch 2.4): on the CPU it takes a training step of
    the default MLP on 1,024 inputs in 70 % of the time of the loop over
    parameters, with the same arithmetic up to rounding.
    """
    parameters = list(trained_part(module).parameters())
    hyperparameters = {
        "lr": settings.learning_rate,
        "weight_decay": settings.weight_decay,
    }
    try:
        optimizer = torch.optim.AdamW(parameters, **hyperparameters, fused=True)
    except RuntimeError:  # no fused kernel for this device or release
        optimizer = torch.optim.AdamW(parameters, **hyperparameters)
    if state is not None:
        fused = optimizer.defaults["fused"]
        # a copy: torch keeps the tensors already of the parameters' device
        # and dtype, and each step would change the estimator's stored state
        # in place, which a call that fails must leave as it was
        optimizer.load_state_dict(map_optimizer_tensors(state, torch.clone))
        for group in optimizer.param_groups:  # set_params takes effect
            group["lr"] = settings.learning_rate
            group["weight_decay"] = settings.weight_decay
            group["fused"] = fused  # the state of either kind serves both
    return optimizer


def batch_shape(n_classes, settings):
    """``(samples_per_class, classes_per_batch)`` of the batches of
    ``n_classes`` classes: every class in every batch when they fit."""
    samples_per_class = settings.samples_per_class or max(
        2, settings.batch_size // n_classes
    )
    return samples_per_class, max(2, settings.batch_size // samples_per_class)


def make_sampler(codes, settings, random_state):
    """Class-balanced batches (``batch_shape``)."""
    shape = batch_shape(len(np.unique(codes)), settings)
    return ClassBalancedSampler(codes, *shape, random_state)


def train_epoch(module, optimizer, data, codes, sampler, run, history):
    """One epoch on ``data``: the epoch body of ``fit`` and ``partial_fit``,
    with the ``TrainingRun``'s settings and random state.

    Records the mean loss and the samples seen in ``history``. An anchored
    module's ``head_scale`` is left as it was: callers set it
    (``calibrate_head``) where it is read. Raises ``Diverged``.
    """
    settings, random_state = run.settings, run.random_state
    n_batches = max(1, round(len(data) / settings.batch_size))
    batches = sampler.batches(n_batches)
    # dropout masks come from a seed drawn from random_state, before the batches
    seed = (
        int(random_state.randint(np.iinfo(np.int32).max))
        if settings.dropout > 0
        else None
    )
    loss, n_seen = run_epoch(
        trained_part(module),
        optimizer,
        data,
        codes,
        batches,
        _batch_progress(settings, n_batches),
        chunk_size=settings.chunk_size,
        seed=seed,
    )
    history.loss_curve.append(loss)
    history.n_iter += 1
    history.t += n_seen
    return loss


class Outcome(enum.Enum):
    """How a training run ended."""

    CONVERGED = "converged"  # the criterion stopped improving (patience)
    MAX_ITER = "max_iter"  # every epoch allowed was run
    DIVERGED = "diverged"  # the loss became non-finite; last finite weights kept
    INTERRUPTED = "interrupted"  # Ctrl-C after an epoch; training stops there
    STOPPED = "stopped"  # the on_epoch hook (the estimator's callback) said stop


@dataclasses.dataclass(frozen=True)
class TrainingRun:
    """What every training run of one ``fit`` shares: the settings, the
    device, the random state and the ``on_epoch(module, history)`` hook."""

    settings: TrainingSettings
    device: torch.device
    random_state: np.random.RandomState
    on_epoch: Callable | None = None


@dataclasses.dataclass(frozen=True)
class Schedule:
    """How long one run trains and what stops it early: at most
    ``max_epochs``; with ``score`` (held-out data's score of the module,
    higher is better) patience watches it instead of the training loss and
    the best-scoring weights are kept, the starting ones among them when
    ``score_start``; ``metric`` names what ``score`` measures (the history's
    ``validation_metric``, and verbose's epoch lines)."""

    max_epochs: int
    score: Callable | None = None
    score_start: bool = True
    # the epochs of patience that n_iter_no_change="auto" means for this run,
    # and the improvement that resets them that tol="auto" means
    auto_patience: int = PATIENCE
    auto_tolerance: float = TOLERANCE
    metric: str | None = None


def patience_epochs(settings, schedule):
    """The epochs without improvement after which ``schedule``'s run stops:
    ``settings.n_iter_no_change``, or the schedule's own with ``"auto"``."""
    if settings.n_iter_no_change == "auto":
        return schedule.auto_patience
    return settings.n_iter_no_change


def patience_tolerance(settings, schedule):
    """The improvement that resets ``schedule``'s patience: ``settings.tol``,
    or the schedule's own with ``"auto"``."""
    if settings.tol == "auto":
        return schedule.auto_tolerance
    return settings.tol


def train(module, X, codes, history, run, schedule):
    """Train ``module`` on ``X`` for ``schedule``, recorded in ``history``.

    Training stops when the criterion (the training loss, or minus the
    schedule's score) has not improved by ``patience_tolerance(settings,
    schedule)`` for ``patience_epochs(settings, schedule)`` epochs, or when
    ``run.on_epoch(module, history)`` returns ``True``. A divergence keeps
    the last weights with finite embeddings; an interrupt (Ctrl-C) after an
    epoch keeps the current ones and marks the history (before any, it
    propagates). Returns the ``Outcome``; callers warn about it
    (``warn_outcome``). The module ends on the CPU.
    """
    settings = run.settings
    data, sampler, optimizer = _prepare(module, X, codes, run)
    score = schedule.score
    anchored = isinstance(module, AnchoredEmbedding)
    # a score and the callback read the head's scale after every epoch;
    # otherwise it is set once, for the weights kept
    calibrate_each_epoch = anchored and (score is not None or run.on_epoch is not None)
    n_iter_at_start = history.begin(
        score is not None, schedule.max_epochs, schedule.metric
    )
    patience = Patience(
        patience_tolerance(settings, schedule),
        patience_epochs(settings, schedule),
        snapshot(module),
    )
    # Epoch-end weights, newest last, to fall back on if training diverges.
    recent_states = collections.deque([patience.best_state], maxlen=3)
    if score is not None and schedule.score_start:
        # a candidate too: the model is never worse there than its start
        patience.update(-history.record_score(score(module)), patience.best_state)
    outcome = Outcome.MAX_ITER
    run_start = time.perf_counter()
    try:
        for done in range(1, schedule.max_epochs + 1):
            start = time.perf_counter()
            loss = train_epoch(module, optimizer, data, codes, sampler, run, history)
            if calibrate_each_epoch:
                calibrate_head(module, data)
            criterion = loss if score is None else -history.record_score(score(module))
            recent_states.append(snapshot(module))
            out_of_patience = patience.update(criterion, recent_states[-1])
            now = time.perf_counter()
            # at most the epochs left, at this run's pace (patience may stop it)
            left = (now - run_start) / done * (schedule.max_epochs - done)
            print_epoch(settings, history, now - start, left)
            if run.on_epoch is not None and run.on_epoch(module, history):
                outcome = Outcome.STOPPED
                break
            if out_of_patience:
                outcome = Outcome.CONVERGED
                break
    except Diverged:
        restore_finite_state(module, recent_states, data)  # sets the head's scale
        outcome = Outcome.DIVERGED
    except KeyboardInterrupt:
        if history.n_iter == n_iter_at_start:
            raise  # nothing trained: fit puts the estimator back as it was
        outcome = Outcome.INTERRUPTED
    if score is not None:
        restore(module, patience.best_state)
    elif anchored and not calibrate_each_epoch and outcome is not Outcome.DIVERGED:
        calibrate_head(module, data)
    history.optimizer_state = optimizer_state_on_cpu(optimizer)
    module.to("cpu")
    return outcome


def warn_outcome(outcome, history, settings):
    """The warning an ``Outcome`` deserves: running out of epochs and
    diverging are ``ConvergenceWarning``s, an interrupt a
    ``TrainingInterrupted``; converging and a callback's stop say nothing."""
    if outcome is Outcome.MAX_ITER:
        warn(
            f"DeepSpectralClusteringEmbedder: maximum iterations ({settings.max_iter}) "
            "reached and the optimization hasn't converged yet.",
            ConvergenceWarning,
        )
    elif outcome is Outcome.DIVERGED:
        warn(
            f"Training diverged at epoch {history.n_iter + 1} (non-finite loss); "
            f"the last finite weights are kept: lower "
            f"{parameter('learning_rate_init')}.",
            ConvergenceWarning,
        )
    elif outcome is Outcome.INTERRUPTED:
        warn(
            "Training interrupted by the user after "
            f"{counted(history.n_iter, 'epoch')}; the fit ends without training "
            "further, with the network trained so far wherever it would have "
            "kept a trained one.",
            TrainingInterrupted,
        )


def _prepare(module, X, codes, run, state=None):
    """Move ``module`` to the run's device; its data, sampler and optimizer
    there (the optimizer continuing ``state``)."""
    module.to(run.device)
    data = TensorData(X, run.device)
    sampler = make_sampler(codes, run.settings, run.random_state)
    _warn_if_as_wide_as_a_batch(trained_part(module), data, sampler)
    return data, sampler, make_optimizer(module, run.settings, state)


def _warn_if_as_wide_as_a_batch(module, data, sampler):
    """Warn where ``module``'s outputs are at least as wide as a batch has
    rows. Outputs that span a batch project onto all of it, where the loss
    is constant and its gradient zero; near that, the loss is mostly their
    rank and training moves them little. (On 512 noisy features of 20
    classes, with batches of 250 rows, outputs 400 wide lowered the loss
    from 53.7 to 52.8 in 10 epochs; 16 wide, from 3.8 to 1.8.)"""
    width = evaluated(module, data.rows(np.arange(min(2, len(data))))).shape[1]
    rows = min(len(data), sampler.largest_batch())
    if width < rows:
        return
    # where a batch holds every row already, only narrower outputs help
    larger = (
        ""
        if rows == len(data)
        else f", or make batches larger ({parameter('batch_size')})"
    )
    warn(
        f"The trained network's outputs are {width} wide, and a batch holds "
        f"at most {counted(rows, 'row')}: outputs as wide as a batch can span "
        "it, and the spectral clustering loss of a batch they span is constant "
        "(its gradient zero), so training moves them little or not at all. "
        f"Keep {parameter('n_components')} (or a network's output) well below "
        f"the rows of a batch{larger}."
    )


def train_chunk(module, X, codes, history, run):
    """One epoch of ``partial_fit`` on a chunk, continuing the optimizer's state."""
    settings = run.settings
    data, sampler, optimizer = _prepare(module, X, codes, run, history.optimizer_state)
    start = time.perf_counter()
    try:
        train_epoch(module, optimizer, data, codes, sampler, run, history)
        if isinstance(module, AnchoredEmbedding):
            calibrate_head(module, data)
    except Diverged:
        raise ValueError(
            "training diverged on this chunk (non-finite loss); lower "
            f"{parameter('learning_rate_init')}"
        ) from None
    history.optimizer_state = optimizer_state_on_cpu(optimizer)
    module.to("cpu")
    print_epoch(settings, history, time.perf_counter() - start)
    if run.on_epoch is not None:
        run.on_epoch(module, history)


def print_epoch(settings, history, seconds, left=0.0):
    """``verbose``'s line for the epoch just recorded in ``history``, with
    the seconds it took and at most ``left`` more for this run."""
    if not settings.verbose:
        return
    loss = history.loss_curve[-1]
    line = f"[{settings.name}] epoch {history.n_iter:4d}  loss {loss:.6f}"
    if history.validation_scores:
        metric = history.validation_metric or "validation score"
        line += f"  {metric} {history.validation_scores[-1]:.4f}"
    line += f"  {seconds:.2f}s"
    if left > 0:
        line += f"  (at most {left:.0f}s left)"
    print(line, flush=True)


def _batch_progress(settings, n_batches):
    """``verbose=2``'s lines within an epoch, about ten of them."""
    if settings.verbose < 2:
        return None
    every = max(1, n_batches // 10)

    def report(batch, loss):
        if batch % every == 0 or batch == n_batches:
            print(
                f"[{settings.name}]   batch {batch}/{n_batches}  loss {loss:.6f}",
                flush=True,
            )

    return report


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
    codes,
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
                module, optimizer, data, codes, batches, on_batch, chunk_size
            )
    module.train()
    codes = torch.as_tensor(codes, device=data.device)
    total, n_batches, n_seen = 0.0, 0, 0
    for batch_indices in batches:
        optimizer.zero_grad(set_to_none=True)
        n_batch = len(batch_indices)
        try:
            if chunk_size is not None and n_batch > chunk_size:
                loss = _chunked_step(
                    module, data, batch_indices, codes[batch_indices], chunk_size
                )
                value = loss.item()
            else:
                embeddings = module(data.rows(batch_indices))
                loss = spectral_clustering_loss(embeddings, codes[batch_indices])
                # read now, when the loss has synchronised with the device
                # already, rather than after the backward pass, which a read
                # would make the host wait for on a GPU
                value = loss.item()
                loss.backward()
        except NonFiniteEmbeddingsError as error:
            raise Diverged("the network output is not finite") from error
        except (RuntimeError, MemoryError) as error:
            if not is_out_of_memory(error):
                raise
            chunk = parameter("chunk_size")
            lower = (
                chunk
                if chunk_size is not None
                else f"{parameter('batch_size')} (or {chunk})"
            )
            raise MemoryError(
                f"Out of memory training on a mini-batch of {n_batch} samples on "
                f"{data.device}: lower {lower} or {parameter('hidden_layer_sizes')}."
            ) from error
        if not math.isfinite(value):
            raise Diverged("the loss is not finite")
        optimizer.step()
        total += value
        n_batches += 1
        n_seen += n_batch
        if on_batch is not None:
            on_batch(n_batches, value)
    return total / n_batches, n_seen


def _chunked_step(module, data, indices, codes, chunk_size):
    """Back-propagate the loss of batch ``indices``, embedding ``chunk_size`` rows
    at once; returns the loss."""
    return chunked_backward(
        lambda start, stop: module(data.rows(indices[start:stop])),
        codes,
        chunk_size,
        buffers=model_buffers(module),
    )


def calibrate_head(module, data, n_rows=INFERENCE_BATCH_SIZE):
    """Set an anchored module's ``head_scale`` to give its head unit spread.

    The spread (root-mean-square distance to the mean) is measured on up to
    ``n_rows`` training rows spread evenly over ``data``.
    """
    indices = np.unique(
        np.linspace(0, len(data) - 1, min(n_rows, len(data)), dtype=int)
    )
    module.head.eval()
    with torch.no_grad(), for_sparse_rows(module.head, data.X, len(indices)):
        outputs = torch.cat(list(_batch_outputs(module.head, data, indices))).double()
        spread = (outputs - outputs.mean(dim=0)).square().sum(dim=1).mean().sqrt()
    module.head_scale.fill_(1.0 / spread.item() if spread > 0 else 0.0)


def _batch_outputs(module, data, indices):
    """``module`` on the rows ``indices`` of ``data``, one output per batch
    of ``inference_batch_size`` rows (call it without gradients)."""
    size = inference_batch_size(module, data.device)
    for start in range(0, len(indices), size):
        yield module(data.rows(indices[start : start + size]))


def snapshot(module):
    """A detached copy of the module's weights, on the CPU. Parameters that
    training leaves alone (``requires_grad`` off: an anchor) are not copied
    where they are on the CPU already: an anchor of wide inputs is as large
    as 1,024 times their width, and a run keeps up to four snapshots."""
    frozen = {
        name for name, value in module.named_parameters() if not value.requires_grad
    }
    return {
        name: value.detach().to("cpu", copy=name not in frozen)
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
        if isinstance(module, AnchoredEmbedding):  # the scale of these weights
            calibrate_head(module, data)
        module.eval()
        with torch.no_grad():
            finite = all(
                bool(torch.isfinite(outputs).all())
                for outputs in _batch_outputs(module, data, np.arange(len(data)))
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
    """The state dict of an ``optimizer`` that steps no more, with every
    tensor on the CPU: those there already are its own, not copied (twice
    the trained weights, which on hashed text features of 2^20 columns are
    1 GiB a layer of 256 units)."""
    return map_optimizer_tensors(
        optimizer.state_dict(), lambda value: value.detach().to("cpu")
    )
