"""The ``sklearn-dsc`` command line: demo, fit, transform, cluster, evaluate, info.

Data files are CSV or Parquet with a header (the label column named by
``--target``, every other column a feature), or ``.npz`` with arrays ``X`` and
``y``. Models are the files of ``sklearn_dsc.save``. Errors print one line
and exit with status 1 (``--debug`` shows the traceback); outputs are written
atomically.
"""

import argparse
import json
import sys
import warnings

from ._cli_fit import ESTIMATOR_OPTIONS, anchor, fit
from ._estimate_methods import METHODS, REFERENCE_METHODS
from ._files import DataError, atomic_write, check_output, read_table, write_matrix
from ._version import __version__

# torch and scikit-learn are imported by the commands that need them, so that
# --help and errors in the data answer at once.

PROGRAM = "sklearn-dsc"
MATRIX_SUFFIXES = (".csv", ".npy")
# the options of cluster that only estimating K reads
ESTIMATING = ("max_clusters", "reference", "reference_target", "plot")
ESTIMATE_METHODS = ("auto", *METHODS)
# What the cluster command calls estimate_n_clusters's arguments: its
# errors (ArgumentError) are worded with these names
CLUSTER_TERMS = {
    "embedding": "the embedding of DATA",
    "max_clusters": "--max-clusters",
    "min_clusters": "the fewest clusters considered",
    "method": "--method",
    "reference": "--reference",
    "reference_labels": "--reference's labels",
}


def build_parser():
    parser = argparse.ArgumentParser(
        prog=PROGRAM,
        description="Deep Spectral Clustering Learning from the shell: learn an "
        "embedding from labelled data, then embed and cluster new data, also of "
        "classes never seen in training.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument(
        "--debug", action="store_true", help="show the traceback of an error"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add_command in (
        _add_demo,
        _add_fit,
        _add_transform,
        _add_cluster,
        _add_evaluate,
        _add_info,
    ):
        add_command(commands, debug)
    return parser


def _add_demo(commands, debug):
    sub = commands.add_parser(
        "demo",
        parents=[debug],
        help="zero-shot clustering of the bundled digits",
        description="Train on the digits 0-4 of scikit-learn's bundled digits, "
        "embed the digits 5-9 that training never saw, cluster them with k-means, "
        "compare with raw pixels, PCA, LDA and NCA, and draw the unseen digits in "
        "the learned embedding next to raw pixels.",
    )
    sub.add_argument(
        "--random-state", type=int, default=0, help="seed of every method (0)"
    )
    sub.add_argument(
        "--figure",
        default="sklearn_dsc_demo.png",
        metavar="PNG",
        help="where to write the scatter plot ('' to skip; sklearn_dsc_demo.png)",
    )
    sub.add_argument(
        "--no-progress", action="store_true", help="do not draw the progress bar"
    )
    sub.set_defaults(run=_demo)


def _add_fit(commands, debug):
    sub = commands.add_parser(
        "fit",
        parents=[debug],
        help="train a model on labelled data",
        description="Train a DeepSpectralClusteringEmbedder on DATA and save it. "
        "Features are used as they are: scale them first if their units differ.",
    )
    sub.add_argument("data", metavar="DATA", help="CSV, Parquet or .npz file")
    sub.add_argument("--target", metavar="COLUMN", help="the label column")
    sub.add_argument("-o", "--output", required=True, metavar="MODEL")
    _add_sep(sub)
    options = sub.add_argument_group("estimator options (defaults: the estimator's)")
    for flag, name, kind, text in ESTIMATOR_OPTIONS:
        options.add_argument(flag, dest=name, type=kind, help=text)
    options.add_argument(
        "--no-early-stopping",
        dest="early_stopping",
        action="store_false",
        default=None,
        help="train without holding out validation data",
    )
    sub.add_argument(
        "-v", "--verbose", action="count", default=0, help="one line per epoch"
    )
    sub.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    sub.set_defaults(run=fit)


def _add_transform(commands, debug):
    sub = commands.add_parser(
        "transform",
        parents=[debug],
        help="embed data with a model",
        description="Embed the rows of DATA; write them to OUT (.csv or .npy).",
    )
    _model_and_data(sub)
    sub.add_argument("-o", "--output", required=True, metavar="OUT")
    sub.set_defaults(run=_transform)


def _add_cluster(commands, debug):
    sub = commands.add_parser(
        "cluster",
        parents=[debug],
        help="embed data and cluster it with k-means",
        description="Embed the rows of DATA, cluster them with k-means and write "
        "one cluster number per row to OUT: a .csv file with the row's --id (or "
        "its row number in DATA) and its cluster, or an .npy vector in row order.",
    )
    _model_and_data(sub)
    sub.add_argument(
        "--n-clusters",
        type=_n_clusters,
        default="auto",
        metavar="K",
        help="the number of clusters, or 'auto' (the default) to estimate it "
        "from the embedding",
    )
    auto = sub.add_argument_group("estimating K (with --n-clusters auto)")
    auto.add_argument(
        "--max-clusters", type=int, metavar="K", help="the largest K (rows/10, ≤ 300)"
    )
    auto.add_argument(
        "--method",
        default="auto",
        choices=ESTIMATE_METHODS,
        help="the criterion: auto (the default: calibrated_loss with --reference, "
        "eigengap without), calibrated_loss, calibrated, eigengap, loss, "
        "silhouette, bic, hdbscan",
    )
    auto.add_argument(
        "--reference",
        metavar="DATA",
        help="labelled rows of known classes (the training data, say), embedded "
        "with the model to calibrate the estimate; about as many classes as DATA "
        "holds, whose number the estimate follows where classes overlap",
    )
    auto.add_argument(
        "--reference-target", metavar="COLUMN", help="--reference's label column"
    )
    auto.add_argument("--plot", metavar="PNG", help="draw the criterion against K")
    sub.add_argument("-o", "--output", required=True, metavar="OUT")
    sub.add_argument("--random-state", type=int, default=0, help="k-means seed (0)")
    sub.set_defaults(run=_cluster)


def _n_clusters(text):
    """``--n-clusters``: a positive integer or ``auto``."""
    # isdecimal: exactly the strings of digits that int() reads
    if text == "auto" or text.isdecimal():
        return text if text == "auto" else int(text)
    message = f"expected a number of clusters or 'auto', got {text!r}"
    raise argparse.ArgumentTypeError(message)


def _add_evaluate(commands, debug):
    sub = commands.add_parser(
        "evaluate",
        parents=[debug],
        help="clustering quality of a model on labelled data",
        description="Embed DATA, cluster it with k-means (K = number of labels "
        "unless --n-clusters) and print NMI, AMI and Recall@K against its labels.",
    )
    _model_and_data(sub, target_required=True)
    sub.add_argument("--n-clusters", type=int, metavar="K")
    sub.add_argument(
        "--k", type=int, nargs="+", default=[1, 2, 4, 8], help="Recall@K (1 2 4 8)"
    )
    sub.add_argument("--random-state", type=int, default=0, help="k-means seed (0)")
    sub.add_argument("--json", action="store_true", help="print JSON")
    sub.set_defaults(run=_evaluate)


def _add_info(commands, debug):
    sub = commands.add_parser(
        "info",
        parents=[debug],
        help="describe a model file",
        description="Print what a model file holds.",
    )
    sub.add_argument("model", metavar="MODEL")
    sub.set_defaults(run=_info)


def _model_and_data(sub, target_required=False):
    sub.add_argument("model", metavar="MODEL", help="a model file from fit")
    sub.add_argument("data", metavar="DATA", help="CSV, Parquet or .npz file")
    sub.add_argument(
        "--target",
        metavar="COLUMN",
        required=target_required,
        help="the label column"
        + ("" if target_required else " of DATA, if it has one (left out)"),
    )
    sub.add_argument(
        "--device",
        help="where to embed: cpu, cuda or cuda:N (the model's own device by "
        "default, or the CPU where it is missing)",
    )
    sub.add_argument(
        "--id",
        metavar="COLUMN",
        help="a column of row identifiers, left out of the features and written "
        "first in a CSV output",
    )
    _add_sep(sub)


def _add_sep(sub):
    sub.add_argument(
        "--sep",
        metavar="CHAR",
        help="the delimiter of a CSV file (detected among , ; tab and | by default)",
    )


def main(argv=None):
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            # the command line matches columns by name itself
            warnings.filterwarnings(
                "ignore", message="X does not have valid feature names"
            )
            status = args.run(args)
        for warning in caught:
            _say(f"warning: {_one_line(warning.message)}")
        return status
    except KeyboardInterrupt:
        _say("interrupted; no output was written")
        return 130
    except (ValueError, TypeError, OSError, MemoryError) as error:
        if args.debug:
            raise
        _say(f"error: {_one_line(error) or type(error).__name__}")
        return 1


def _say(text):
    print(f"{PROGRAM}: {text}", file=sys.stderr, flush=True)


def _one_line(message):
    return " ".join(str(message).split())


def _demo(args):
    from . import demo

    if args.figure:
        check_output(args.figure)
    demo.run(args.random_state, args.figure, not args.no_progress)
    return 0


def _embed(args):
    """The model, DATA's table (its columns in the model's order) and embedding."""
    from ._persistence import load

    model = load(args.model)
    if args.device is not None:
        model.set_params(device=args.device)
    table = _read_for(model, args.data, args.target, id_column=args.id, sep=args.sep)
    return model, table, model.transform(table.features)


def _read_for(model, path, target, **options):
    """``read_table`` of ``path``, its columns in ``model``'s order."""
    names = getattr(model, "feature_names_in_", None)
    names = None if names is None else list(names)
    table = read_table(path, target, feature_names=names, **options)
    if table.features.shape[1] != model.n_features_in_:
        raise DataError(
            f"{path}: {table.features.shape[1]} feature columns, the model "
            f"takes {model.n_features_in_}"
        )
    return table


def _check_matrix_output(args):
    check_output(args.output, MATRIX_SUFFIXES)
    if args.id is not None and not str(args.output).lower().endswith(".csv"):
        raise DataError("--id needs a .csv output (an .npy file holds numbers only)")


def _transform(args):
    _check_matrix_output(args)
    model, table, embedding = _embed(args)
    index = None if args.id is None else (args.id, table.ids)
    write_matrix(args.output, embedding, model.get_feature_names_out(), index)
    print(
        f"Wrote a {embedding.shape[0]} x {embedding.shape[1]} embedding to "
        f"{args.output}"
    )
    return 0


def _kmeans(embedding, n_clusters, random_state):
    from sklearn.cluster import KMeans

    if not 1 <= n_clusters <= embedding.shape[0]:
        raise DataError(
            f"--n-clusters must be between 1 and the {embedding.shape[0]} rows of "
            f"DATA, got {n_clusters}"
        )
    return KMeans(n_clusters, n_init=10, random_state=random_state).fit_predict(
        embedding
    )


def _cluster(args):
    _check_matrix_output(args)
    auto = args.n_clusters == "auto"
    if not auto and any(getattr(args, name) is not None for name in ESTIMATING):
        raise DataError(
            "--max-clusters, --reference and --plot go with --n-clusters auto"
        )
    if auto and args.method in REFERENCE_METHODS and args.reference is None:
        raise DataError(
            f"--method {args.method} needs --reference: labelled rows of known classes"
        )
    if (
        auto
        and args.reference is not None
        and args.method not in ("auto", *REFERENCE_METHODS)
    ):
        raise DataError(
            "--reference is read by --method calibrated and calibrated_loss "
            f"only; --method {args.method} would ignore it"
        )
    if args.plot:
        check_output(args.plot)
    model, table, embedding = _embed(args)
    n_clusters = _estimate(model, embedding, args) if auto else args.n_clusters
    clusters = _kmeans(embedding, n_clusters, args.random_state)
    # the identifiers, or the row numbers of DATA, to join the clusters back on
    index = ("row", range(len(clusters))) if args.id is None else (args.id, table.ids)
    write_matrix(args.output, clusters[:, None], ["cluster"], index)
    print(f"Wrote {len(clusters)} cluster numbers (K={n_clusters}) to {args.output}")
    return 0


def _estimate(model, embedding, args):
    """``--n-clusters auto``: the estimate, printed (and drawn with ``--plot``)."""
    import numpy as np

    from ._compat import constraint_problem
    from ._errors import ArgumentError
    from ._n_clusters import ESTIMATE_CONSTRAINTS, estimate_n_clusters

    if args.max_clusters is not None:
        problem = constraint_problem(
            ESTIMATE_CONSTRAINTS["max_clusters"], args.max_clusters
        )
        if problem:
            raise DataError(
                f"--max-clusters must be {problem}; got {args.max_clusters}"
            )
    reference = labels = None
    if args.reference is not None:
        known = _read_for(
            model,
            args.reference,
            args.reference_target,
            require_target=True,
            sep=args.sep,
            target_option="--reference-target",
        )
        reference, labels = model.transform(known.features), known.target
    try:
        estimate = estimate_n_clusters(
            embedding,
            reference=reference,
            reference_labels=labels,
            max_clusters=args.max_clusters,
            method=args.method,
            random_state=args.random_state,
        )
    except ArgumentError as error:
        message = error.in_terms(CLUSTER_TERMS)
        raise DataError(f"cannot estimate the number of clusters: {message}") from None
    print(
        f"Estimated K={estimate.n_clusters} clusters ({estimate.method}, "
        f"{estimate.candidates.min()} to {estimate.candidates.max()} considered)"
    )
    if estimate.method in REFERENCE_METHODS:
        known_classes = len(np.unique(labels))
        print(
            f"Calibrated on {known_classes} reference classes: where classes "
            f"overlap the estimate follows that number, so it holds for new data "
            f"of about {known_classes} classes."
        )
    if args.plot:
        _plot_estimate(estimate, args.plot)
        print(f"Drew the criterion against K to {args.plot}")
    return estimate.n_clusters


def _plot_estimate(estimate, path):
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise DataError("--plot needs matplotlib: pip install matplotlib") from None
    figure = Figure(figsize=(6, 3.5))
    estimate.plot(figure.subplots())
    figure.tight_layout()
    with atomic_write(path) as stream:
        figure.savefig(stream, format="png", dpi=100)


def _evaluate(args):
    import numpy as np
    from sklearn.metrics import adjusted_mutual_info_score, normalized_mutual_info_score

    from .metrics import recall_at_k

    _, table, embedding = _embed(args)
    labels = table.target
    n_clusters = args.n_clusters or len(np.unique(labels))
    clusters = _kmeans(embedding, n_clusters, args.random_state)
    if min(args.k) < 1:
        raise DataError(f"--k must be positive, got {args.k}")
    results = {
        "n_samples": len(labels),
        "n_classes": len(np.unique(labels)),
        "n_clusters": int(n_clusters),
        "nmi": float(normalized_mutual_info_score(labels, clusters)),
        "ami": float(adjusted_mutual_info_score(labels, clusters)),
        "recall_at_k": {
            str(k): value for k, value in recall_at_k(embedding, labels, args.k).items()
        },
    }
    if args.json:
        print(json.dumps(results, indent=1))
        return 0
    print(
        f"{results['n_samples']} samples, {results['n_classes']} classes, k-means "
        f"with K={n_clusters}"
    )
    rows = [("NMI", results["nmi"]), ("AMI", results["ami"])] + [
        (f"Recall@{k}", value) for k, value in results["recall_at_k"].items()
    ]
    width = max(len(name) for name, _ in rows) + 2
    for name, value in rows:
        print(f"{name:<{width}}{value:.4f}")
    return 0


def _info(args):
    from ._embedder import DeepSpectralClusteringEmbedder
    from ._persistence import load

    model = load(args.model)
    names = getattr(model, "feature_names_in_", None)
    shown = (
        "unnamed"
        if names is None
        else ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
    )
    print(f"DeepSpectralClusteringEmbedder, {model.n_features_in_} features ({shown})")
    print(f"classes ({len(model.classes_)}): {model.classes_.tolist()[:20]}")
    print(
        f"embedding: {model.class_centroids_.shape[1]} dimensions; "
        f"{model.n_iter_} epochs"
    )
    if model.init_ is not None:
        print(f"anchor: {anchor(model)}")
    defaults = DeepSpectralClusteringEmbedder().get_params()
    changed = {
        name: value
        for name, value in model.get_params().items()
        if value != defaults[name]
    }
    print(f"parameters other than the defaults: {changed or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
