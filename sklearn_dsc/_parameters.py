"""The estimator's parameters as fits compare them.

``warm_start`` and ``partial_fit`` continue the fitted network: the
parameters that build it (``ARCHITECTURE_PARAMETERS``) are recorded when it
is built (``record_built_with``) and continuing refuses other values
(``check_built_with``) rather than ignore them. A fit that keeps an anchor
alone says which of the head's parameters (``HEAD_PARAMETERS``) set by the
caller had no effect (``warn_if_head_parameters_unused``); why it kept
its start is read from the fitted estimator in one place
(``why_start_kept``), which the command line's summary reads too. A
``callback`` that cannot be called as the fit calls it is refused before
any work (``check_callback``), as are settings that cannot train as asked
(``check_settings``).
"""

import enum
import inspect

import numpy as np

from ._anchors import check_ledoit_wolf_width, uses_shrinkage
from ._networks import hidden_layers
from ._selection import EPOCH_SELECTION_CLASSES, holds_nothing_out
from ._validation import warn_if_channels_last
from ._warnings import warn
from ._wording import LEDOIT_WOLF, choice, parameter, setting, setting_list, shown

# Parameters of the trained network's own shape
_NETWORK_PARAMETERS = (
    "network",
    "input_shape",
    "hidden_layer_sizes",
    "activation",
    "dropout",
    "normalize_embeddings",
)

# Parameters that build the network
ARCHITECTURE_PARAMETERS = ("n_components", *_NETWORK_PARAMETERS, "init", "shrinkage")

# Parameters that shape the trained head or its training alone: they do
# not change an embedding that kept no trained head (``n_components`` has
# a warning of its own, the estimator's ``_warn_if_other_width``).
HEAD_PARAMETERS = (
    *_NETWORK_PARAMETERS,
    "batch_size",
    "chunk_size",
    "samples_per_class",
    "learning_rate_init",
    "max_iter",
    "tol",
    "n_iter_no_change",
)


def _comparable(name, value):
    """Parameter ``name``'s value as compared between fits (a list as its
    tuple, and one hidden layer's width as its tuple)."""
    if name == "hidden_layer_sizes":
        return hidden_layers(value)
    return tuple(value) if isinstance(value, list | tuple) else value


def _same(value, other):
    """``value == other`` for parameter values, a module or a callable by
    identity (a NumPy comparison reduced to one truth value)."""
    if value is other:
        return True
    try:
        return bool(np.all(value == other))
    except (TypeError, ValueError):
        return False


def _same_value(value, default):
    """Whether a parameter holds its default (a list as its tuple)."""
    if isinstance(value, (list, tuple)) and isinstance(default, tuple):
        return tuple(value) == default
    return isinstance(value, type(default)) and value == default


def record_built_with(estimator):
    """Remember the parameters that built ``estimator.module_``."""
    estimator._built_with = {
        name: _comparable(name, getattr(estimator, name))
        for name in ARCHITECTURE_PARAMETERS
    }


def check_built_with(estimator, incremental):
    """Refuse to continue ``estimator.module_`` (``partial_fit`` if
    ``incremental``, else ``warm_start``) with parameters that build the
    network other than those it was built with: it would not take them."""
    built_with = getattr(estimator, "_built_with", None)
    if built_with is None:
        return
    changed = [
        name
        for name, value in built_with.items()
        if not _same(_comparable(name, getattr(estimator, name)), value)
    ]
    if not changed:
        return
    was = [setting(name, built_with[name]) for name in changed]
    now = [setting(name, getattr(estimator, name)) for name in changed]
    # two modules of one type read alike, yet the network is another object
    now = [
        f"{b} (another object)" if b == a else b for a, b in zip(was, now, strict=True)
    ]
    was, now = ", ".join(was), ", ".join(now)
    if incremental:
        how = "fit a clone of the estimator (sklearn.base.clone) to start anew"
    else:
        how = "set warm_start=False to start anew"
    raise ValueError(
        f"{'partial_fit' if incremental else 'warm_start=True'} continues the "
        f"fitted network, built with {was}; it cannot take {now}. Set them "
        f"back to continue, or {how} with them."
    )


class StartKept(enum.Enum):
    """Why a fit kept its start (``why_start_kept``)."""

    # held-out data scored the start above what was trained from it
    NOT_BEATEN = enum.auto()
    # held-out classes scored the trained head above the start, but it
    # gained no more than the margin, or lowered Recall@1 significantly
    # (``_selection.HeadEvidence.helps``)
    TOO_LITTLE_GAIN = enum.auto()
    # init="auto" with fewer than 10 held-out classes: the anchor scored
    # alone, a head trained only beside the closed form
    HEAD_NOT_TRIED = enum.auto()
    # init="auto" with 2 or 3 classes: none held out, the anchor kept alone
    TOO_FEW_CLASSES = enum.auto()
    # none of these (a head whose outputs did not vary, say)
    NOT_TRAINED = enum.auto()


def kept_start(estimator):
    """Whether a fitted estimator's embedding is where its fit started: an
    anchor with no trained head, or, for ``init="random"``, a network
    trained for no epoch, or one whose held-out samples scored its random
    start best (a fit that began there: as many epochs as scores after the
    start's; held-out classes score epochs alone). ``False`` for the
    closed form, which trains no network."""
    if estimator.init_ is None:
        return False
    if estimator.init_ != "random":
        return not estimator.module_.head_scale
    scores = estimator.validation_scores_
    from_start = (
        bool(scores)
        and getattr(estimator, "n_validation_classes_", None) is None
        and estimator.n_iter_ == len(scores) - 1
    )
    return estimator.n_iter_ == 0 or (from_start and np.argmax(scores) == 0)


def why_start_kept(estimator):
    """A ``StartKept`` where ``kept_start``, else ``None``."""
    if not kept_start(estimator):
        return None
    scores = estimator.validation_scores_
    if scores is not None and len(scores) >= 2:
        beaten = max(scores[1:]) > scores[0]
        return StartKept.TOO_LITTLE_GAIN if beaten else StartKept.NOT_BEATEN
    if scores is not None and len(scores) == 1:
        return StartKept.HEAD_NOT_TRIED
    if (
        scores is None
        and estimator.early_stopping
        and holds_nothing_out(
            estimator.init, estimator.validation_split, len(estimator.classes_)
        )
    ):
        return StartKept.TOO_FEW_CLASSES
    return StartKept.NOT_TRAINED


def held_out_data(estimator):
    """What the validation scores were measured on, in a few words."""
    on_classes = getattr(estimator, "n_validation_classes_", None) is not None
    return "held-out classes" if on_classes else "held-out samples"


def warn_if_head_parameters_unused(estimator):
    """Say once per fit when the embedding is an anchor alone, so that the
    head's parameters set by the caller (a grid search over
    ``hidden_layer_sizes``, say) had no effect on it."""
    if estimator.init_ == "random":
        return
    why = why_start_kept(estimator)
    if why is None:
        return
    defaults = {
        name: signature.default
        for name, signature in inspect.signature(type(estimator)).parameters.items()
    }
    unused = [
        (name, value)
        for name in HEAD_PARAMETERS
        if not _same_value(value := getattr(estimator, name), defaults[name])
    ]
    if not unused:
        return
    texts = {
        StartKept.NOT_BEATEN: (
            "the head trained on the training classes did not cluster "
            f"{held_out_data(estimator)} better than the anchor alone"
        ),
        StartKept.TOO_LITTLE_GAIN: (
            "the head trained on the training classes clustered "
            f"{held_out_data(estimator)} better than the anchor alone, but "
            "not by the margin that keeping it needs, or at a cost in Recall@1"
        ),
        StartKept.HEAD_NOT_TRIED: (
            f"with {setting('init', 'auto')} and fewer than "
            f"{EPOCH_SELECTION_CLASSES} held-out classes a head is trained only "
            "beside the closed_form anchor"
        ),
        StartKept.TOO_FEW_CLASSES: (
            f"with {setting('init', 'auto')} and {len(estimator.classes_)} classes "
            "none can be held out to show that a head transfers, so none is "
            "trained"
        ),
        StartKept.NOT_TRAINED: "no head was trained",
    }
    remedy = ""
    if why in (StartKept.HEAD_NOT_TRIED, StartKept.TOO_FEW_CLASSES):
        remedy = f" {untried_head_remedy(estimator)}."
    warn(
        f"No trained head was kept ({texts[why]}): the embedding is the "
        f"{estimator.init_} anchor alone and does not depend on "
        f"{setting_list(unused)}.{remedy}",
        UserWarning,
    )


def untried_head_remedy(estimator):
    """The settings that train what ``init="auto"`` did not try: a head
    beside the anchor it kept, and a network of one's own alone."""
    anchor = [("init", estimator.init_)]
    if estimator.shrinkage_ is not None:
        anchor.append(("shrinkage", estimator.shrinkage_))
    said = f"To train a head beside that anchor, set {setting_list(anchor)}"
    if not isinstance(estimator.network, str):
        said += (
            f"; to train {setting('network', estimator.network)} alone, set "
            f"{setting('init', 'random')}"
        )
    return said


def _refuses(function, *arguments):
    """Whether ``function``'s signature refuses ``arguments``; ``False``
    where it has none that Python can read (some builtins)."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return False
    try:
        signature.bind(*arguments)
    except TypeError:
        return True
    return False


def check_callback(callback):
    """Refuse a ``callback`` that cannot be called as ``callback(estimator)``,
    or whose ``stage`` method cannot be called as ``stage(text)``. It would
    fail only when the first epoch ends, after the anchor choice, and never
    where a fit trains no epoch."""
    if callback is None:
        return
    if _refuses(callback, None):
        raise TypeError(
            f"callback={shown(callback)} takes {inspect.signature(callback)}, "
            "but it is called as callback(estimator) after every epoch (True "
            "stops training): give a callable of one argument, the estimator, "
            "which holds n_iter_ and loss_curve_."
        )
    stage = getattr(callback, "stage", None)
    if callable(stage) and _refuses(stage, ""):
        raise TypeError(
            f"callback.stage takes {inspect.signature(stage)}, but it is called "
            "as callback.stage(text) with what fitting does between epochs: "
            "give it one argument, the text."
        )


def is_choice(value, name):
    """``value == name`` for a parameter that may also be a module or a
    callable."""
    return isinstance(value, str) and value == name


def check_settings(estimator, X):
    """The checks of ``estimator``'s parameters that the training data
    ``X`` (or the solver) can rule out, before any work: refusals of
    settings that cannot train as asked, and warnings of those unused."""
    shrinks = estimator.solver == "adam" and uses_shrinkage(estimator.init)
    if is_choice(estimator.shrinkage, LEDOIT_WOLF) and shrinks:
        check_ledoit_wolf_width(X.shape[1])
    if estimator.solver == "closed_form" and (
        len(hidden_layers(estimator.hidden_layer_sizes)) > 0
        or not is_choice(estimator.network, "mlp")
    ):
        raise ValueError(
            f"{setting('solver', 'closed_form')} learns a linear map: set "
            f"{setting('hidden_layer_sizes', ())} and keep "
            f"{setting('network', 'mlp')}."
        )
    if not shrinks and not is_choice(estimator.shrinkage, "auto"):
        which = "solver" if estimator.solver != "adam" else "init"
        warn(
            f"{setting('shrinkage', estimator.shrinkage)} is not used: "
            f"{setting(which, getattr(estimator, which))} fits no anchor that "
            f"shrinks. It applies to {setting('init', 'whitened')}, "
            f"{choice('plda')} and {choice('auto')} with "
            f"{setting('solver', 'adam')}.",
            UserWarning,
        )
    decay = estimator.learning_rate_init * estimator.alpha
    if estimator.solver == "adam" and decay >= 1:
        raise ValueError(
            f"{setting('alpha', estimator.alpha)} with "
            f"{setting('learning_rate_init', estimator.learning_rate_init)}: the "
            f"decoupled weight decay multiplies the weights by 1 - "
            f"{estimator.learning_rate_init:g} * {estimator.alpha:g} = {1 - decay:.3g} "
            f"at every step, which zeroes them or flips "
            f"their sign: keep the product below 1 (the default "
            f"{parameter('alpha')} is 1e-4)."
        )
    if is_choice(estimator.network, "conv") and estimator.input_shape is not None:
        warn_if_channels_last(estimator.input_shape, X.shape[1])
    asked_to_normalize = (
        not is_choice(estimator.normalize_embeddings, "auto")
        and estimator.normalize_embeddings
    )
    if asked_to_normalize and estimator.n_components == 1:
        raise ValueError(
            f"{setting('normalize_embeddings', True)} with "
            f"{setting('n_components', 1)} maps every row to +1 or -1, the "
            f"unit vectors of one dimension: set {parameter('n_components')} "
            f"to 2 or more, or {setting('normalize_embeddings', False)}."
        )
    if estimator.solver == "closed_form" and asked_to_normalize:
        raise ValueError(
            f"{setting('solver', 'closed_form')} minimises the loss of the map's "
            f"own rows; {setting('normalize_embeddings', True)} needs "
            f"{setting('solver', 'adam')}."
        )
