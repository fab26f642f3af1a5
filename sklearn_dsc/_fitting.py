"""Fitting: from validated data and the estimator's settings to a ``FitResult``.

The estimator validates its inputs, encodes the classes, calls one of
``fit_closed_form``, ``fit_adam`` or ``fit_chunk`` and stores the result; it
is the one place that writes fitted attributes. These functions build the
starting network (``start``), ask ``_selection`` what held-out data says and
run ``_training``'s loop.
"""

import dataclasses
import functools
import time
from collections.abc import Callable

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from ._anchors import (
    ANCHORS,
    ClassMoments,
    anchor_maps,
    fitted_on_rows,
    residual_text,
    uses_shrinkage,
)
from ._blocks import by_column_blocks
from ._clock import StageClock
from ._closed_form import class_sums, closed_form_linear_map
from ._data import embed
from ._decision import REFIT, TRIAL, Evidence, decide, start_of
from ._loss import spectral_clustering_loss
from ._networks import (
    build_anchored,
    build_mlp,
    build_trained,
    check_network,
    input_scale,
    scale_inputs,
)
from ._selection import (
    EPOCH_PATIENCE,
    EPOCH_TOLERANCE,
    FEWEST_KEPT_CLASSES,
    KMEANS_NMI,
    MANY_CLASSES_HEAD_WIDTH,
    MANY_CLASSES_ROWS_PER_CLASS,
    NEAREST_MEAN_NMI,
    AnchorChoice,
    HeldOut,
    best_start,
    candidate_groups,
    choose_anchor,
    fixed_anchor,
    fixed_shrinkage,
    holds_nothing_out,
    n_held_out_classes,
    resolved_split,
    start_candidates,
    validation_split,
)
from ._training import (
    TOLERANCE,
    History,
    Outcome,
    Schedule,
    TrainingRun,
    TrainingSettings,
    batch_shape,
    train,
    train_chunk,
    warn_outcome,
)
from ._warnings import warn
from ._wording import counted, setting, setting_list


@dataclasses.dataclass(frozen=True)
class Settings:
    """The estimator's parameters that fitting reads."""

    n_components: int | None
    network: object  # "mlp", "conv", a torch.nn.Module or a callable
    input_shape: tuple | None
    hidden_layer_sizes: tuple
    activation: str
    normalize_embeddings: bool | str  # "auto": see many_classes_head
    init: str
    shrinkage: float | str
    alpha: float
    early_stopping: bool
    validation_split: str
    validation_fraction: float
    training: TrainingSettings

    @property
    def fixed_shrinkage(self):
        """The shrinkage used when held-out classes do not choose it."""
        return fixed_shrinkage(self.shrinkage)

    def many_classes_head(self):
        """These settings with the head that many held-out classes train
        (``EPOCH_SELECTION_CLASSES`` or more): ``normalize_embeddings="auto"``
        normalises its rows, ``n_components=None`` makes it
        ``MANY_CLASSES_HEAD_WIDTH`` wide (``"auto"`` leaves a head one wide
        as it is) and ``samples_per_class=None`` draws
        ``MANY_CLASSES_ROWS_PER_CLASS`` rows of each class of a batch; values
        set otherwise are kept."""
        training = self.training
        width = self.n_components or MANY_CLASSES_HEAD_WIDTH
        normalize = self.normalize_embeddings
        if isinstance(normalize, str):  # "auto"
            # a unit row of one dimension is +1 or -1: left as it is
            normalize = width > 1
        return dataclasses.replace(
            self,
            n_components=width,
            normalize_embeddings=bool(normalize),
            training=dataclasses.replace(
                training,
                samples_per_class=training.samples_per_class
                or MANY_CLASSES_ROWS_PER_CLASS,
            ),
        )


@dataclasses.dataclass
class FitResult:
    """A fitted network, the anchor it starts from, its training history,
    and the number of rows that anchor was fitted on (``None`` where
    unknown)."""

    module: torch.nn.Module
    init: str | None
    shrinkage: float | None
    history: History
    anchor_rows: int | None = None


@dataclasses.dataclass(frozen=True)
class Run:
    """What every step of one call to ``fit`` or ``partial_fit`` shares."""

    settings: Settings
    device: torch.device
    random_state: np.random.RandomState
    on_epoch: Callable | None = None
    on_stage: Callable | None = None  # told what fitting does between epochs
    clock: StageClock = dataclasses.field(default_factory=StageClock)

    @property
    def training(self):
        """The context of the training loop (``_training.train``)."""
        return TrainingRun(
            self.settings.training, self.device, self.random_state, self.on_epoch
        )

    def report(self, text):
        """Say what fitting is doing (choosing the anchor, which run trains)."""
        if self.on_stage is not None:
            self.on_stage(text)


def head_width(settings, n_classes):
    """The trained part's width on ``n_classes`` classes: ``n_components``,
    or by default as many as the classes, the dimension of the span of the
    class indicators that the loss fits, at most the classes of a batch
    (``batch_shape``). A batch draws two rows or more of each of its
    classes, so the outputs are narrower than its rows unless classes of a
    single row fill it."""
    _, classes_per_batch = batch_shape(n_classes, settings.training)
    return settings.n_components or min(n_classes, classes_per_batch)


def start(
    X,
    codes,
    run,
    init=None,
    shrinkage=None,
    *,
    score=None,
    n_classes=None,
    anchors=None,
):
    """A starting network for ``init`` and a fresh history: ``FitResult``.

    ``init`` and ``shrinkage`` default to the settings'. ``"random"`` is the
    trained network alone (``settings.network``); an anchor (``"pca"``,
    ``"whitened"``, ``"closed_form"``) is built on ``X`` beside a fresh one,
    the head. With ``init="auto"`` and ``score``, the anchor that scores best
    is kept; without ``score``, PCA. The head is ``settings.n_components``
    wide, or as wide as ``n_classes`` (the classes of ``codes`` when
    ``None``). ``anchors(candidates)``, if given, fits the anchors instead
    of ``anchor_maps`` on ``X`` (``ClassMoments.anchor_maps``).
    """
    settings = run.settings
    init = init or settings.init
    shrinkage = shrinkage or settings.fixed_shrinkage
    seed = int(run.random_state.randint(np.iinfo(np.int32).max))
    scale = input_scale(X)
    n_head = head_width(settings, n_classes or len(np.unique(codes)))

    def trained_part():
        module = build_trained(
            settings.network,
            X.shape[1],
            n_head,
            seed,
            settings.hidden_layer_sizes,
            settings.activation,
            settings.training.dropout,
            settings.input_shape,
            settings.normalize_embeddings is True,  # "auto" is False here
        )
        scale_inputs(module, scale)
        return module

    if init == "random":
        return FitResult(trained_part(), "random", None, History())
    candidates = start_candidates(init, shrinkage, scored=score is not None)
    with run.clock("fitting anchors"):
        if anchors is None:
            maps = list(anchor_maps(candidates, X, codes, seed))
        else:
            maps = list(anchors(candidates))
    modules = [build_anchored(weight, bias, trained_part()) for weight, bias in maps]
    best = best_start(modules, score)
    return FitResult(modules[best], *candidates[best], History(), X.shape[0])


def fit_closed_form(X, codes, n_classes, settings):
    """The exact minimiser of the loss over linear maps (ridge ``alpha``)."""
    weight, bias, _ = closed_form_linear_map(
        X, codes, n_classes, settings.alpha, settings.n_components
    )
    module = build_mlp(X.shape[1], (), weight.shape[0], settings.activation, 0)
    with torch.no_grad():
        module[0].weight.copy_(torch.from_numpy(weight))
        module[0].bias.copy_(torch.from_numpy(bias))
    embeddings = embed(module, X, torch.device("cpu"))
    loss = spectral_clustering_loss(
        torch.from_numpy(embeddings).double(), torch.from_numpy(codes)
    )
    history = History(loss_curve=[float(loss)], n_iter=1, t=X.shape[0])
    return FitResult(module, None, None, history)


def check_own_network(X, n_classes, settings):
    """Refuse a network of the user's that does not fit ``X``
    (``check_network``) before any work (the first ``fit`` or
    ``partial_fit``): the anchors and their choice come first, and with
    ``init="auto"`` the network may never run. A callable is
    tried on what it builds at the width ``start`` gives without held-out
    classes. The networks of this package fit by construction."""
    network = settings.network
    if isinstance(network, str):
        return
    if not isinstance(network, torch.nn.Module):
        network = build_trained(network, X.shape[1], head_width(settings, n_classes), 0)
    check_network(network, X)


def fit_chunk(X, codes, n_classes, run, previous):
    """``partial_fit``: one epoch on a chunk, from ``previous`` or a fresh start."""
    result = previous or start(X, codes, run, n_classes=n_classes)
    with run.clock("training"):
        train_chunk(result.module, X, codes, result.history, run.training)
    return result


def fit_adam(X, codes, n_classes, run, previous):
    """``fit`` with Adam: continue ``previous`` (``warm_start``) or start afresh.

    Without ``early_stopping``, train until the loss stops improving. With
    held-out samples (or when continuing), see ``_fit_on_held_out_samples``;
    with held-out classes, ``_fit_on_held_out_classes``; with too few
    classes to hold any out, ``_fixed_anchor_alone``.
    """
    settings = run.settings
    # Drawn before the branches: the two that hold nothing out do not use
    # it, and drawing it there too keeps the weights that a random_state
    # gives them stable (test_pinned).
    kmeans_seed = int(run.random_state.randint(np.iinfo(np.int32).max))
    max_iter = settings.training.max_iter
    if not settings.early_stopping:
        result = previous or start(X, codes, run)
        _train(result, X, codes, run, Schedule(max_iter))
        return result
    split = resolved_split(settings.validation_split, n_classes)
    if previous is None and holds_nothing_out(
        settings.init, settings.validation_split, n_classes
    ):
        return _fixed_anchor_alone(X, codes, n_classes, run)
    X_train, codes_train, X_val, codes_val = validation_split(
        X, codes, n_classes, split, settings.validation_fraction, run.random_state
    )
    held_out = HeldOut(
        X_val,
        codes_val,
        run.device,
        kmeans_seed,
        whole_classes=split == "classes",
        clock=run.clock,
    )
    if split == "classes" and previous is None:
        return _fit_on_held_out_classes(
            X, codes, n_classes, (X_train, codes_train), held_out, run
        )
    return _fit_on_held_out_samples((X_train, codes_train), held_out, run, previous)


def _fit_on_held_out_samples(train_part, held_out, run, previous):
    """``fit_adam`` on held-out samples: train ``previous``, or the anchor of
    the settings (the one the samples choose with ``init="auto"``), on
    ``train_part``, score the samples after every epoch and keep the best
    weights, the start's among them."""
    settings = run.settings
    X_train, codes_train = train_part
    result = previous or start(X_train, codes_train, run, score=held_out.score)
    if previous is None:
        after = ""
    elif previous.history.n_iter:
        after = f", continued after epoch {previous.history.n_iter}"
    else:  # the earlier fit kept its start: an anchor alone, say
        after = ", continued from the earlier fit's start"
    # continuing a fit whose split is by class scores whole classes
    whole_classes = held_out.whole_classes
    held = "held-out samples"
    if whole_classes:
        classes = counted(held_out.n_classes, "held-out class", "held-out classes")
        held = f"rows of {classes}"
    run.report(
        f"training {_trained_part(result.init)} on {len(codes_train)} rows{after}, "
        f"to be scored on {len(held_out.codes)} {held} after every epoch"
    )
    schedule = Schedule(settings.training.max_iter, held_out.score, metric=KMEANS_NMI)
    expected = (Outcome.CONVERGED, Outcome.MAX_ITER)
    outcome = _train(result, X_train, codes_train, run, schedule, expected)
    # what scored this run; no anchors were compared in it
    result.history.n_validation_classes = held_out.n_classes if whole_classes else None
    result.history.validation_spread = None
    scores = result.history.validation_scores
    best_epoch = int(np.argmax(scores))  # the first score is the start's
    # running out of epochs matters only where an epoch's weights are kept
    if outcome is Outcome.MAX_ITER and best_epoch:
        warn_outcome(outcome, result.history, settings.training)
    if settings.training.verbose:
        # epochs counted as verbose counts them, those of earlier fits included
        n_iter = result.history.n_iter
        best = result.history.epoch_scored(best_epoch)
        if best_epoch:
            kept = f"the network of epoch {best} kept"
        elif previous is not None:
            kept = "the network as it was kept"
        else:
            kept = f"{start_of(result.init == 'random')} kept"
        print(
            f"[{settings.training.name}] {_describe_start(result)}; held-out "
            f"{'classes' if whole_classes else 'samples'}: {KMEANS_NMI}: start "
            f"{scores[0]:.4f}, best epoch {best} of {n_iter} {max(scores):.4f}; {kept}",
            flush=True,
        )
    return result


def _train(
    result, X, codes, run, schedule, expected=(Outcome.CONVERGED,), stage="training"
):
    """Train ``result``'s network on ``X``, warning about the outcome unless it
    is one of ``expected`` (a callback's stop never warns), timed as
    ``stage``; returns it."""
    with run.clock(stage):
        outcome = train(result.module, X, codes, result.history, run.training, schedule)
    if outcome not in expected:
        warn_outcome(outcome, result.history, run.settings.training)
    return outcome


# Outcomes that warn nothing in a trial run, or in a refit for a set number of
# epochs, where running them all out is what was asked
_ENDED = (Outcome.CONVERGED, Outcome.MAX_ITER, Outcome.STOPPED)


def _fixed_anchor_alone(X, codes, n_classes, run):
    """With two or three training classes and ``init="auto"``: the anchor
    that ``fixed_anchor`` keeps, fitted on every row, alone. Nothing is held
    out and nothing trained.

    No class can be held out, and samples of the training classes cannot
    say what transfers to new ones: compared by them, the anchors' best is
    most often the closed form, which separates exactly those classes. So
    the anchor is the one kept where held-out classes are too few to choose
    (the PLDA anchor on Ledoit-Wolf's covariance where the classes' means
    leave at most ``FEW_KEPT_UNSPANNED`` directions unspanned, else the
    whitened anchor at its fixed shrinkage), and, as with fewer than
    ``EPOCH_SELECTION_CLASSES`` held-out classes beside an anchor that keeps
    every direction, no head is trained: no held-out class can show that
    one transfers.

    With two or three training classes of scikit-learn's digits,
    LetterRecognition or the olive oils (benchmarks/few_classes.py, 10
    draws each), the unseen classes' NMI so is 0.035 to 0.237 above that of
    the anchor the samples choose (the closed form on 34 draws of 60). The
    PLDA anchor rather than the whitened one at 0.1, both alone: over 10
    draws of 2 or 3 training classes of the 36 datasets of
    benchmarks/few_kept_span.py whose classes leave at most
    ``FEW_KEPT_UNSPANNED`` directions (benchmarks/few_classes.py
    --kept-span), +0.036 on average, above by more than 0.005 on 23 and
    below on 9 (at worst LetterRecognition, -0.057; up to +0.329, Ontario
    towns); a head trained beside either, +0.026 (21 above, 10 below). The
    anchor alone rather than beside a head whose epochs held-out samples
    choose: there +0.011 (21 above, 5 below; at worst vowels by sound,
    -0.050), on the three datasets above -0.010 to +0.024; fitted on 70 %
    of the training classes' rows, +0.007 on average on the other 30 % of
    the 36 (median 0.000; 15 above, 13 below; but -0.143 on three letters
    of LetterRecognition) and +0.003 in the accuracy of ``predict``
    (--seen), in 0.045x the time.
    """
    init, shrinkage = fixed_anchor(
        "auto", run.settings.shrinkage, n_classes, X.shape[1]
    )
    result = start(X, codes, run, init, shrinkage)
    run.report(
        f"{_describe_start(result)} kept alone, no head trained: "
        f"{n_classes} training classes are too few to hold out whole ones"
    )
    return result


def _fit_on_held_out_classes(X, codes, n_classes, train_part, held_out, run):
    """Whole classes held out choose the start, then whether a network trained
    on the other classes helps classes it never saw.

    One strategy: a trial network, started from the chosen anchor (or at
    random), is trained on the classes not held out while the held-out
    classes gather ``Evidence`` (``_trial``); ``decide`` makes the
    ``Choice``, which is then applied (``_apply``). With
    ``EPOCH_SELECTION_CLASSES`` held-out classes or more the head is the
    settings' ``many_classes_head``, they score the trial after every epoch,
    and if its best epoch beats the start by more than the spread of its
    gain, a network is refit on every class for that many epochs, beside the
    anchor at the weight they chose; with fewer, each choice is one
    comparison (so that the noise of k-means on a few classes is not
    selected for), a head is trained with ``init="auto"`` only beside the
    closed-form anchor, and a network kept is refit on every class for the
    trial's epochs. A head that lowers the held-out Recall@1 significantly
    is never kept (``HeadEvidence``).
    """
    if held_out.many_classes:
        run = dataclasses.replace(run, settings=run.settings.many_classes_head())
    settings = run.settings
    moments = None
    if _class_moments_serve(settings, X, n_classes):
        with run.clock("choosing the anchor"):
            moments = ClassMoments(X, codes)
    # Past the moments' Gram matrix (one large product, which BLAS threads
    # speed up), a fit alternates smaller NumPy and SciPy products and
    # factorisations with scikit-learn's k-means and torch's training, each
    # running a thread per core. OpenBLAS's threads spin for a while after
    # each call, taking the cores the others need. With one BLAS thread the
    # default fits of the zero-shot benchmark's datasets took 0.45x
    # (LetterRecognition) to 0.74x (fonts) the time on 2 cores, 0.64x in all
    # (benchmarks/bench_fit_time.py, 3 seeds), with the same anchors, epochs
    # and unseen-class NMI. The class moments' factorisations of wide inputs
    # get the threads back (``_anchors.THREADED_FACTORISATION_FEATURES``).
    with threadpool_limits(limits=1, user_api="blas"):
        return _choose_try_and_decide(
            X, codes, n_classes, train_part, held_out, run, moments
        )


def _choose_try_and_decide(X, codes, n_classes, train_part, held_out, run, moments):
    """``_fit_on_held_out_classes`` past the class moments (``moments``, or
    ``None`` where they do not apply): choose the anchor, train the trial,
    ``decide`` and apply the ``Choice``."""
    settings = run.settings
    anchor = _choose_anchor(X, codes, n_classes, held_out, run, moments)
    init, shrinkage = anchor.init, anchor.shrinkage
    trial_anchors = refit_anchors = None
    if moments is not None:  # the trial's and the refit's, with no pass over X
        held = np.isin(codes, np.unique(held_out.codes))
        trial_anchors = functools.partial(moments.anchor_maps, held)
        refit_anchors = functools.partial(moments.anchor_maps, None)
    trial = start(*train_part, run, init, shrinkage, anchors=trial_anchors)
    evidence = _trial(trial, train_part, held_out, run, init)
    choice = decide(evidence)
    anchor_weight = getattr(trial.module, "anchor_weight", None)
    # the trial's anchor (up to 1,024 x n_features) is freed before the kept
    # network's is formed: only its anchor weight is carried over
    trial = trial if choice.keep == TRIAL else None
    result = _apply(choice, trial, anchor_weight, X, codes, run, anchor, refit_anchors)
    result.history.validation_scores = evidence.scores
    result.history.best_validation_score = max(evidence.scores)
    result.history.validation_metric = evidence.metric
    _record_validation(result.history, held_out.n_classes, anchor)
    if settings.training.verbose:
        print(
            f"[{settings.training.name}] {_describe_start(result)}; held-out "
            f"classes: {choice.describe(result.history.n_iter)}",
            flush=True,
        )
    return result


def _trial(trial, train_part, held_out, run, init):
    """Train the ``trial`` network on ``train_part`` and gather what the
    held-out classes say of it: ``Evidence``."""
    max_iter = run.settings.training.max_iter
    random = init == "random"
    n_train, n_held_out = len(np.unique(train_part[1])), held_out.n_classes
    if held_out.many_classes:
        _report_training(run, init, n_train, n_held_out, " after every epoch")
        # the nearest-mean NMI chooses the epoch and the anchor weight
        schedule = Schedule(
            max_iter,
            held_out.rank,
            score_start=not random,
            auto_patience=EPOCH_PATIENCE,
            auto_tolerance=EPOCH_TOLERANCE,
            metric=NEAREST_MEAN_NMI,
        )
        outcome = _train(trial, *train_part, run, schedule, _ENDED)
        scores = trial.history.validation_scores
        head = _head_evidence(trial, scores, held_out, random)
        left = max_iter - trial.history.n_iter
        # stopped by tol="auto"'s tolerance, the head short of its margin
        stopped_short = (
            head is not None
            and not head.helps
            and outcome is Outcome.CONVERGED
            and run.settings.training.tol == "auto"
            and left > 0
        )
        if stopped_short:
            scores, outcome = _train_on(trial, train_part, held_out, run, left)
            head = _head_evidence(trial, scores, held_out, random)
        if head is not None and head.helps:  # k-means chooses the refit's weight
            held_out.choose_anchor_weight(trial.module)
        n_epochs = trial.history.n_iter
        return Evidence(
            scores, True, random, True, head, outcome, n_epochs, NEAREST_MEAN_NMI
        )
    scores = [held_out.score(trial.module)]  # the start: the anchor alone
    # with init="auto", a head only beside the training classes' directions
    if run.settings.init == "auto" and ANCHORS[init].keeps_every_direction:
        return Evidence(scores, False, random, trained=False)
    _report_training(run, init, n_train, n_held_out, "")
    # running out of epochs matters only if the network is kept: decided below
    outcome = _train(trial, *train_part, run, Schedule(max_iter), _ENDED)
    scores.append(held_out.score(trial.module))  # the trained network
    head = None if random else held_out.head_evidence(trial.module, scores)
    return Evidence(scores, False, random, True, head, outcome, trial.history.n_iter)


def _head_evidence(trial, scores, held_out, random):
    """The ``HeadEvidence`` of the trial's head at its best epoch (the weights
    that training restored, at the anchor weight the nearest-mean NMI chose),
    or ``None`` where no epoch beat the anchor alone or no anchor is there."""
    trained = scores if random else scores[1:]
    if random or not max(trained, default=-np.inf) > scores[0]:
        return None
    return held_out.head_evidence(trial.module, [scores[0], max(trained)])


def _train_on(trial, train_part, held_out, run, max_epochs):
    """Train the trial on from its best epoch with the plain tolerance
    (``TOLERANCE``), for at most ``max_epochs`` epochs: ``tol="auto"`` stops
    a run whose score gains less than ``EPOCH_TOLERANCE`` an epoch, but a
    head still short of its margin may be climbing slowly to it (on
    countries by year: 0.50 to 0.60 held-out NMI over 28 epochs, a few
    thousandths each). Returns the scores of every epoch up to the best
    of both runs, and how the second ended."""
    scores = trial.history.validation_scores
    best = int(np.argmax(scores))  # the start's score is the first
    kept = scores[: best + 1]  # the epochs up to the best
    epoch = trial.history.epoch_scored(best)  # as the verbose lines count
    after = trial.history.n_iter - epoch
    run.report(
        "the head's held-out gain is short of its margin: training on from "
        f"epoch {epoch}'s weights with the plain tolerance"
        + (f" (the {counted(after, 'epoch')} after it set aside)" if after else "")
    )
    schedule = Schedule(
        max_epochs,
        held_out.rank,
        auto_patience=EPOCH_PATIENCE,
        auto_tolerance=TOLERANCE,
        metric=NEAREST_MEAN_NMI,
    )
    outcome = _train(trial, *train_part, run, schedule, _ENDED)
    # the second run's first score is of the best epoch's weights again
    return kept + trial.history.validation_scores[1:], outcome


def _apply(choice, trial, anchor_weight, X, codes, run, anchor, anchors=None):
    """The network that ``choice`` keeps, with the warnings it calls for:
    the ``trial``, or a fresh start of the ``anchor`` chosen (an
    ``AnchorChoice``) on every class (``anchors`` as in ``start``), which a
    refit trains and gives the trial's ``anchor_weight`` (``None`` where the
    trial has none)."""
    settings = run.settings
    if choice.warn_untrained_random:
        _warn_untrained_random(choice.evidence.scores)
    if choice.keep == TRIAL:
        result = trial
    else:
        result = start(X, codes, run, anchor.init, anchor.shrinkage, anchors=anchors)
        if choice.keep == REFIT:
            run.report(
                f"refit on every class for {counted(choice.refit_epochs, 'epoch')}"
            )
            schedule = Schedule(choice.refit_epochs)
            _train(result, X, codes, run, schedule, _ENDED, "refit on every class")
            if anchor_weight is not None:
                result.module.anchor_weight.copy_(anchor_weight)
    if choice.warn_max_iter:
        warn_outcome(Outcome.MAX_ITER, result.history, settings.training)
    return result


def _trained_part(init):
    return "the network" if init == "random" else f"a head beside the {init} anchor"


def _report_training(run, init, n_train, n_held_out, how):
    run.report(
        f"training {_trained_part(init)} on {n_train} classes, to be scored on "
        f"{n_held_out} held-out ones{how}"
    )


def _warn_untrained_random(scores):
    warn(
        f"{setting('init', 'random')}: on held-out classes the trained network "
        f"clustered no better than its random start (k-means NMI {scores[1]:.3f} "
        f"against {scores[0]:.3f}); it is trained on every class all the same. A "
        "network trained with this loss on few classes often transfers worse "
        f"than the input geometry: the default {setting('init', 'auto')} keeps "
        "that geometry (an anchor) where held-out classes say so.",
        UserWarning,
    )


def _record_validation(history, n_held_out, choice):
    """How many classes held out scored ``history``, and how much the
    anchor's score moved over the sets of held-out classes that chose it."""
    history.n_validation_classes = n_held_out
    if choice.split_scores is not None and len(choice.split_scores) > 1:
        history.validation_spread = float(np.std(choice.split_scores, ddof=1))


def _anchor_is_chosen(settings):
    """Whether held-out classes choose the anchor or its shrinkage."""
    return settings.init == "auto" or (
        uses_shrinkage(settings.init) and settings.shrinkage == "auto"
    )


def _class_moments_serve(settings, X, n_classes):
    """Whether class moments (``ClassMoments``) serve a fit on held-out
    classes: they choose the anchor or its shrinkage, ``X`` is narrow enough
    for its Gram matrix, and no anchor that ``choose_anchor`` may keep is
    fitted on rows alone (``fitted_on_rows``)."""
    if not (_anchor_is_chosen(settings) and ClassMoments.applies(X)):
        return False
    n_held_out = n_held_out_classes(settings.validation_fraction, n_classes)
    by_mean, tested = candidate_groups(
        settings.init, settings.shrinkage, n_classes, n_held_out, X.shape[1]
    )
    return not fitted_on_rows(by_mean + tested)


# Seconds between two reports of a pass over the held-out class splits (the
# first split's is always made): a pass of a second, as on the digits, is
# one line of verbose output, not ten.
SPLIT_REPORT_SECONDS = 1.0


def _choose_anchor(X, codes, n_classes, held_out, run, moments):
    """An ``AnchorChoice``: the settings', or what held-out classes choose
    when they are ``"auto"`` (from ``moments``, the ``ClassMoments`` of ``X``
    and ``codes``, when not ``None``)."""
    settings = run.settings
    if not _anchor_is_chosen(settings):
        return AnchorChoice(settings.init, settings.fixed_shrinkage)

    began, said = {}, {}  # when each pass over the splits began, last said

    def on_split(index, n_splits, stage):
        now = time.perf_counter()
        began.setdefault(stage, now)
        # the first split names the pass; the others only every so often
        if index > 1 and now - said[stage] < SPLIT_REPORT_SECONDS:
            return
        said[stage] = now
        # a pass's splits cost alike: those left at the pace of those done
        done = index - 1
        pace = (now - began[stage]) / done if done else None
        left = "" if pace is None else f", about {pace * (n_splits - done):.0f}s left"
        run.report(f"{stage}: held-out class split {index} of {n_splits}{left}")

    n_held_out = n_held_out_classes(settings.validation_fraction, n_classes)
    with run.clock("choosing the anchor"):
        choice = choose_anchor(
            X,
            codes,
            n_classes,
            settings.init,
            settings.shrinkage,
            n_held_out,
            run.random_state,
            held_out.kmeans_seed,
            on_split,
            moments,
        )
    if choice.split_scores is None:  # nothing was compared
        run.report(
            f"{_describe_start(choice)} kept without comparing anchors: sets of "
            f"{n_held_out} held-out classes would keep {n_classes - n_held_out} "
            f"training classes, fewer than {FEWEST_KEPT_CLASSES}"
        )
    return choice


def _describe_start(result):
    """``init`` and ``shrinkage`` of ``result`` (a ``FitResult`` or an
    ``AnchorChoice``), and the projection of the rest beside its network's
    anchor where it carries one."""
    pairs = [("init", result.init)]
    if result.shrinkage is not None:
        pairs.append(("shrinkage", result.shrinkage))
    anchor = getattr(getattr(result, "module", None), "anchor", None)
    if anchor is None:
        return setting_list(pairs)
    # the anchor's weight is its width x the number of features
    rest = residual_text(result.init, *anchor.weight.shape, result.anchor_rows)
    return setting_list(pairs) + rest


def class_centroids(embeddings, codes, n_classes, previous=None):
    """Mean embedding of each class; rows of classes absent from ``codes`` are
    those of ``previous`` when it has the same shape, else NaN."""
    counts = np.bincount(codes, minlength=n_classes)
    sums = by_column_blocks(
        lambda block: class_sums(block.astype(np.float64), codes, n_classes),
        embeddings,
    )
    present = counts > 0
    if previous is None or previous.shape != sums.shape:
        # a first call, or the head's columns just joined the embedding:
        # centroids of classes absent from X are unknown in it
        centroids = np.full_like(sums, np.nan)
    else:
        centroids = previous.copy()
    centroids[present] = sums[present] / counts[present, None]
    return centroids
