"""The ``fit`` command of ``sklearn-dsc``: its estimator options, the fit and
what it prints of the model it saves."""

import argparse
import time
import warnings

from ._cli_data import add_csv_options, add_data_argument, add_id_option, csv_format
from ._clock import describe_seconds
from ._files import DataError, read_table
from ._outputs import check_model_output, check_not_read
from ._wording import (
    LEDOIT_WOLF,
    CommandLineNames,
    counted,
    named_by,
    shrinkage_text,
)

# The estimator's modules (torch, scikit-learn) are imported where a command
# runs, not here: see cli.py.


def _sizes(text):
    """``"256,128"`` -> ``(256, 128)``; ``""`` or ``"none"`` -> ``()``."""
    if text.strip().lower() in {"", "none"}:
        return ()
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers such as 256,128, got {text!r}"
        ) from None


def _word_or(convert, words, expected):
    """An option's type: one of ``words`` (any case) as it is spelt there,
    else ``convert(text)``; argparse's error says what was ``expected``,
    where it would name this function."""

    def parse(text):
        for word in words:
            if text.lower() == str(word).lower():
                return word
        try:
            return convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {expected}, got {text!r}"
            ) from None

    return parse


_optional_int = _word_or(int, [None], "an integer or none")
_auto_or_int = _word_or(int, ["auto"], "auto or an integer")
_auto_or_float = _word_or(float, ["auto"], "auto or a number")
_shrinkage = _word_or(float, ["auto", LEDOIT_WOLF], f"auto, {LEDOIT_WOLF} or a number")


# Estimator options of ``fit``: (flag, parameter, type, help).
ESTIMATOR_OPTIONS = [
    ("--n-components", "n_components", _optional_int, "width of the trained head"),
    ("--network", "network", str, "mlp, or conv for images (with --input-shape)"),
    ("--input-shape", "input_shape", _sizes, "shape of one image, e.g. 28,28"),
    (
        "--hidden-layer-sizes",
        "hidden_layer_sizes",
        _sizes,
        "hidden widths, e.g. 256,128; '' for a linear map",
    ),
    ("--activation", "activation", str, "relu, tanh, logistic or identity"),
    ("--dropout", "dropout", float, "dropout after each hidden layer, in [0, 1)"),
    ("--solver", "solver", str, "adam or closed_form"),
    ("--init", "init", str, "auto, pca, whitened, plda, closed_form or random"),
    (
        "--shrinkage",
        "shrinkage",
        _shrinkage,
        f"of whitened, plda: auto, {LEDOIT_WOLF} or a number",
    ),
    ("--batch-size", "batch_size", int, "samples per mini-batch"),
    (
        "--samples-per-class",
        "samples_per_class",
        _optional_int,
        "rows of each class in a mini-batch",
    ),
    ("--learning-rate-init", "learning_rate_init", float, "Adam's learning rate"),
    ("--alpha", "alpha", float, "weight decay, or ridge of --solver closed_form"),
    ("--max-iter", "max_iter", int, "maximum number of epochs"),
    (
        "--tol",
        "tol",
        _auto_or_float,
        "improvement resetting patience: auto or a number",
    ),
    (
        "--n-iter-no-change",
        "n_iter_no_change",
        _auto_or_int,
        "patience: auto or epochs",
    ),
    ("--validation-fraction", "validation_fraction", float, "share held out"),
    ("--validation-split", "validation_split", str, "auto, classes or samples"),
    ("--random-state", "random_state", _optional_int, "seed (an integer)"),
    ("--device", "device", str, "auto, cpu, cuda or cuda:N"),
]


# What each option's value is called in --help, where argparse would spell
# out the parameter (LEARNING_RATE_INIT).
METAVARS = {
    "n_components": "N",
    "network": "NAME",
    "input_shape": "SHAPE",
    "hidden_layer_sizes": "WIDTHS",
    "activation": "NAME",
    "dropout": "P",
    "solver": "NAME",
    "init": "NAME",
    "shrinkage": "VALUE",
    "batch_size": "N",
    "samples_per_class": "N",
    "learning_rate_init": "RATE",
    "alpha": "VALUE",
    "max_iter": "N",
    "tol": "VALUE",
    "n_iter_no_change": "N",
    "validation_fraction": "SHARE",
    "validation_split": "NAME",
    "random_state": "SEED",
    "device": "DEVICE",
}


class OptionNames(CommandLineNames):
    """The estimator's parameters as ``fit`` names them (for
    ``_wording.named_by``): ``--init random`` for ``init='random'``,
    ``--input-shape 3,3`` for ``input_shape=(3, 3)``, ``--no-early-stopping``
    for ``early_stopping=False``; a parameter without an option keeps its
    Python name."""

    names = {name: flag for flag, name, _, _ in ESTIMATOR_OPTIONS}
    # boolean parameters: a flag for each value
    switches = {
        ("early_stopping", False): "--no-early-stopping",
        ("normalize_embeddings", True): "--normalize-embeddings",
        ("normalize_embeddings", False): "--no-normalize-embeddings",
    }

    def setting(self, name, value):
        if isinstance(value, bool) and (name, value) in self.switches:
            return self.switches[name, value]
        return super().setting(name, value)


def check_options(params, constraints):
    """Each option's value against its parameter's constraints, so that a bad
    one is named as the option ("--max-iter must be an int in the range [1,
    inf); got 0") rather than as scikit-learn names the parameter. Only what
    an option can give is listed: not a torch module, a callable or a
    device object, and choices in a fixed order ("--init must be one of
    auto, closed_form, ...")."""
    from ._compat import constraint_problem

    for flag, name, _, _ in ESTIMATOR_OPTIONS:
        if name not in params:
            continue
        typed = [c for c in constraints[name] if _typed_on_the_command_line(c)]
        problem = constraint_problem(typed, params[name], _as_options_take_it)
        if problem:
            raise DataError(f"{flag} must be {problem}; got {params[name]!r}")


def _typed_on_the_command_line(constraint):
    """Whether an option can give a value that meets ``constraint``: not a
    callable, nor an instance of a class other than str, int and float."""
    if constraint is callable:
        return False
    return not isinstance(constraint, type) or constraint in (str, int, float)


def _as_options_take_it(constraint):
    """A scikit-learn constraint in an option's words: its choices sorted
    and unquoted, ``none`` for ``None``."""
    from ._compat import StrOptions

    if isinstance(constraint, StrOptions):
        options = sorted(constraint.options)
        return options[0] if len(options) == 1 else "one of " + ", ".join(options)
    text = str(constraint)
    return "none" if text == "None" else text


def fit(args):
    check_not_read(args.output, {"DATA": args.data})
    check_model_output(args.output)
    table = read_table(
        args.data,
        args.target,
        require_target=True,
        id_column=args.id,
        **csv_format(args),
    )
    import numpy as np

    from ._embedder import DeepSpectralClusteringEmbedder
    from ._persistence import save
    from ._progress import EpochProgress
    from ._training import TrainingInterrupted

    params = {
        name: getattr(args, name)
        for _, name, _, _ in ESTIMATOR_OPTIONS
        if getattr(args, name) is not None
    }
    for flag in ("early_stopping", "normalize_embeddings"):
        if getattr(args, flag) is not None:
            params[flag] = getattr(args, flag)
    check_options(params, DeepSpectralClusteringEmbedder._parameter_constraints)
    progress = None if args.quiet or args.verbose else EpochProgress("fitting")
    model = DeepSpectralClusteringEmbedder(
        **params, verbose=args.verbose, callback=progress
    )
    start = time.perf_counter()
    try:
        # on the command line an interrupt aborts: nothing is written
        # what the fit says (warnings, errors, -v) names the options
        with warnings.catch_warnings(), named_by(OptionNames()):
            warnings.simplefilter("error", TrainingInterrupted)
            model.fit(table.features, table.target)
    except TrainingInterrupted:
        raise KeyboardInterrupt from None
    finally:
        if progress is not None:
            progress.close()
    # how this command showed the fit is not part of the model
    model.set_params(callback=None, verbose=0)
    if table.feature_names is not None:
        model.feature_names_in_ = np.asarray(table.feature_names, dtype=object)
    save(model, args.output)
    print(
        f"Fitted on {table.features.shape[0]} rows of {len(model.classes_)} classes "
        f"in {time.perf_counter() - start:.1f}s ({counted(model.n_iter_, 'epoch')}); "
        f"embedding of {counted(model.class_centroids_.shape[1], 'dimension')}."
    )
    if model.init_ is not None:
        print(f"Anchor: {anchor(model)}")
    untrained = why_untrained(model)
    if untrained:
        print(f"No trained network was kept: {untrained}.")
    print(f"Time: {describe_seconds(model.fit_stage_seconds_)}")
    if model.validation_scores_:
        print(
            f"Validation {metric(model)} {held_out_description(model)}: "
            f"{validation_summary(model)}"
        )
    print(f"Saved to {args.output}")
    return 0


def metric(model):
    """What the model's validation scores measure (k-means NMI in files
    written before it was saved)."""
    from ._selection import KMEANS_NMI

    return getattr(model, "validation_metric_", None) or KMEANS_NMI


def anchor(model):
    """The anchor a model starts from, with its shrinkage (none for a
    network trained from a random start)."""
    if model.init_ == "random":
        return "none (init random: the network alone, from a random start)"
    shrinkage = model.shrinkage_
    shrinkage = f" (shrinkage {shrinkage_text(shrinkage)})" if shrinkage else ""
    return f"{model.init_}{shrinkage}"


def validation_summary(model):
    """The validation scores, or their start and best when there is one per
    epoch of a long run (saying so when no epoch beat the start)."""
    scores = model.validation_scores_
    if len(scores) <= 4:
        return ", ".join(f"{score:.3f}" for score in scores)
    best = max(range(1, len(scores)), key=scores.__getitem__)  # the first of equals
    start, epochs = f"start {scores[0]:.3f}", f"epoch {best} of {len(scores) - 1}"
    if scores[best] < scores[0]:
        return f"{start}, which no epoch beat (best {scores[best]:.3f}, {epochs})"
    return f"{start}, best {scores[best]:.3f} after {epochs}"


def held_out_description(model):
    """What the validation scores were measured on, and how much they move
    with the classes held out."""
    from ._parameters import held_out_data

    n_classes = getattr(model, "n_validation_classes_", None)
    if n_classes is None:
        return f"on {held_out_data(model)}"
    spread = getattr(model, "validation_spread_", None)
    if spread is None:
        return f"on {n_classes} held-out classes"
    return (
        f"on {n_classes} held-out classes (the anchor's varies by {spread:.3f}, "
        "one standard deviation, with the classes held out)"
    )


def why_untrained(model):
    """Why a fitted model kept no trained network (``why_start_kept``), or
    ``None`` if it kept one."""
    from ._parameters import StartKept, held_out_data, why_start_kept
    from ._selection import EPOCH_SELECTION_CLASSES

    why = why_start_kept(model)
    if why is None:
        return None
    random = model.init_ == "random"
    start = "its random start" if random else "the anchor alone"
    if why in (StartKept.NOT_BEATEN, StartKept.TOO_LITTLE_GAIN):
        scores = model.validation_scores_
        trained = "network" if random else "head beside the anchor"
        best = "" if len(scores) == 2 else ", at its best epoch"
        if why is StartKept.NOT_BEATEN:
            said, rule = f"did not beat {start} on {held_out_data(model)}", ""
        else:
            said = f"beat {start} on {held_out_data(model)} by too little to be kept"
            rule = (
                "; a head must gain more than a margin without lowering "
                "Recall@1, as fit -v shows"
            )
        return (
            f"the {trained} trained on the training classes {said} "
            f"({metric(model)} {max(scores[1:]):.3f}{best}, against "
            f"{scores[0]:.3f}{rule}), so the embedding is {start}"
        )
    if why is StartKept.HEAD_NOT_TRIED:
        return (
            f"the anchor kept is the {model.init_} one, and with --init auto and "
            f"fewer than {EPOCH_SELECTION_CLASSES} held-out classes a head is "
            "trained only beside the closed_form anchor, so the embedding is the "
            f"anchor ({head_beside(model)})"
        )
    if why is StartKept.TOO_FEW_CLASSES:
        return (
            f"with --init auto, {len(model.classes_)} classes are too few to hold "
            "any out and see whether a head transfers to new classes, so the "
            f"embedding is the {model.init_} anchor ({head_beside(model)})"
        )
    return f"no epoch was kept, so the embedding is {start}"


def head_beside(model):
    """The options that train a head beside the anchor ``model`` kept."""
    options = f"--init {model.init_}"
    if model.shrinkage_ is not None:
        options += f" --shrinkage {shrinkage_text(model.shrinkage_)}"
    return f"{options} trains a head beside it"


def add(commands, debug):
    sub = commands.add_parser(
        "fit",
        parents=[debug],
        help="train a model on labelled data",
        description="Train a DeepSpectralClusteringEmbedder on DATA and save it. "
        "Features are used as they are: scale them first if their units differ.",
    )
    add_data_argument(sub)
    sub.add_argument(
        "--target",
        metavar="COLUMN",
        help="the label column (an .npz file's labels are its y)",
    )
    sub.add_argument(
        "-o", "--output", required=True, metavar="MODEL", help="the model file to write"
    )
    add_id_option(sub, "left out of the features")
    add_csv_options(sub)
    options = sub.add_argument_group("estimator options (defaults: the estimator's)")
    for flag, name, kind, text in ESTIMATOR_OPTIONS:
        options.add_argument(
            flag, dest=name, type=kind, metavar=METAVARS[name], help=text
        )
    options.add_argument(
        "--no-early-stopping",
        dest="early_stopping",
        action="store_false",
        default=None,
        help="train without holding out validation data",
    )
    normalize = options.add_mutually_exclusive_group()
    normalize.add_argument(
        "--normalize-embeddings",
        dest="normalize_embeddings",
        action="store_true",
        default=None,
        help="L2-normalise the trained network's output rows (by default only "
        "where ten classes or more are held out)",
    )
    normalize.add_argument(
        "--no-normalize-embeddings",
        dest="normalize_embeddings",
        action="store_false",
        help="never L2-normalise the trained network's output rows",
    )
    sub.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="one line per stage and epoch instead of the progress bar; -vv "
        "adds about ten lines an epoch on its batches",
    )
    sub.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    sub.set_defaults(run=fit)
