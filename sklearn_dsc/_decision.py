"""What held-out classes decide after a trial run: a pure function.

The held-out-class strategy (``_fitting``) trains a trial network on the
classes not held out, gathers what the held-out classes say of it
(``Evidence``), and ``decide(evidence)`` returns the ``Choice``: keep the
trial network as it is, refit a network on every class for the trial's
number of epochs, or keep the starting point (the anchor alone, or the
random start) fitted on every class; and which warnings are due.
``Choice.describe()`` says it in one line for ``verbose``. Nothing here
trains or scores: it can be tested on evidence made by hand.
"""

import dataclasses

import numpy as np

from ._selection import KMEANS_NMI, SELECTION_MARGIN, HeadEvidence
from ._training import Outcome
from ._wording import counted

# What a choice keeps.
TRIAL = "trial"  # the trial network, trained on the classes not held out
REFIT = "refit"  # a network refit on every class for the trial's epochs
START = "start"  # the starting point (anchor alone, random start), untrained


@dataclasses.dataclass(frozen=True)
class Evidence:
    """What a trial run left for the decision.

    ``scores`` are the held-out scores: per epoch (``per_epoch``, after the
    start's unless ``random``), else the start's then the trained network's
    (the start's alone when nothing was ``trained``). ``head`` is the
    ``HeadEvidence`` of a trained head beside its anchor (``None`` when not
    measured), ``outcome`` how the trial's training ended and ``n_epochs``
    the epochs it ran. ``random``: ``init="random"``, which asks for a
    trained network. ``metric``: what the scores are (``KMEANS_NMI`` or
    ``NEAREST_MEAN_NMI``).
    """

    scores: list
    per_epoch: bool
    random: bool
    trained: bool = True
    head: HeadEvidence | None = None
    outcome: Outcome = Outcome.CONVERGED
    n_epochs: int = 0
    metric: str = KMEANS_NMI


def start_of(random):
    """What a fit starts from, as its reports name it."""
    return "the random start" if random else "the anchor alone"


@dataclasses.dataclass(frozen=True)
class Choice:
    """What to keep (``TRIAL``, ``REFIT`` or ``START``), for how many epochs a
    refit trains, the trial's best epoch (per-epoch scores), and whether to
    warn that training ran out of epochs or that a trained random network
    did not beat its start."""

    keep: str
    evidence: Evidence
    refit_epochs: int = 0
    best_epoch: int = 0
    warn_max_iter: bool = False
    warn_untrained_random: bool = False

    def describe(self, refit_trained=None):
        """What the held-out classes said and what was kept, in one line;
        ``refit_trained`` is how many epochs the refit ran, where an
        interrupt or the callback stopped it short of ``refit_epochs``."""
        evidence = self.evidence
        refit = f"refit on every class for {counted(self.refit_epochs, 'epoch')}"
        if refit_trained is not None and refit_trained < self.refit_epochs:
            refit = (
                "refit on every class, stopped after "
                f"{refit_trained} of its {self.refit_epochs} epochs"
            )
        scores = evidence.scores
        start = start_of(evidence.random)
        measured = "" if evidence.head is None else f" ({evidence.head.describe()})"
        if evidence.per_epoch:
            trained = scores if evidence.random else scores[1:]
            start_nmi = "" if evidence.random else f"start {scores[0]:.4f}, "
            kept = {
                TRIAL: f"the network of epoch {self.best_epoch} kept",
                REFIT: f"a network {refit}",
                START: f"{start} kept, fitted on every class",
            }[self.keep]
            return (
                f"{evidence.metric}: {start_nmi}best epoch {self.best_epoch} of "
                f"{len(trained)} {max(trained, default=np.nan):.4f}{measured}; {kept}"
            )
        said = f"{evidence.metric}: start {scores[0]:.4f}" + (
            f", trained {scores[1]:.4f}" if evidence.trained else ""
        )
        if self.keep == REFIT:
            kept = f"the trained network kept, {refit}"
        elif self.keep == TRIAL:
            kept = "the trained network kept as it is, not refit on every class"
        else:
            # untrained only beside an anchor (init="auto"), never from a random start
            left = (
                "the trained network left out"
                if evidence.trained
                else "no head trained"
            )
            kept = f"{start} kept, {left}"
        return f"{said}{measured}; {kept}"


def decide(evidence):
    """The ``Choice`` that ``evidence`` supports.

    With per-epoch scores, a network is refit on every class for the trial's
    best epoch when it is a random start's network, or when its head's
    evidence ``helps``; otherwise the start, fitted on every class. With one
    comparison, a trained network is refit on every class for the trial's
    epochs when it is a random start's (with a warning if it did not beat
    its start by ``SELECTION_MARGIN``) or when its head's evidence helps;
    otherwise the start is kept. After an interrupt, where a network would
    be refit, the trial network is kept as it is. Running out of epochs is
    warned about only when a trained network is kept.
    """
    scores = evidence.scores
    ran_out = evidence.outcome is Outcome.MAX_ITER
    if evidence.per_epoch:
        trained = scores if evidence.random else scores[1:]
        best_epoch = int(np.argmax(trained)) + 1 if trained else 0
        helps = evidence.head is not None and evidence.head.helps
        if not (evidence.random or helps):
            return Choice(START, evidence, best_epoch=best_epoch)
        interrupted = evidence.outcome is Outcome.INTERRUPTED
        return Choice(
            TRIAL if interrupted else REFIT,
            evidence,
            refit_epochs=0 if interrupted else best_epoch,
            best_epoch=best_epoch,
            warn_max_iter=ran_out,
        )
    if not evidence.trained:
        return Choice(START, evidence)
    untrained = evidence.random and not scores[1] > scores[0] + SELECTION_MARGIN
    wanted = evidence.random or (evidence.head is not None and evidence.head.helps)
    if not wanted:
        return Choice(START, evidence, warn_untrained_random=untrained)
    # after an interrupt, nothing more is trained: the trial network as it is
    interrupted = evidence.outcome is Outcome.INTERRUPTED
    return Choice(
        TRIAL if interrupted else REFIT,
        evidence,
        refit_epochs=0 if interrupted else evidence.n_epochs,
        warn_max_iter=ran_out,
        warn_untrained_random=untrained,
    )
