"""``sklearn-dsc cluster``: embed data, estimate or take the number of
clusters, and write one cluster number per row."""

import argparse

from ._cli_data import (
    OUTPUT_HELP,
    check_matrix_output,
    csv_format,
    embed_data,
    kmeans,
    model_and_data,
    read_by,
    read_for,
    report_stream,
)
from ._estimate_methods import METHODS, REFERENCE_METHODS
from ._files import DataError
from ._outputs import (
    check_figure_output,
    check_not_read,
    output_name,
    write_figure,
    write_matrix,
)
from ._wording import CommandLineNames, named_by

# the options of cluster that only estimating K reads
ESTIMATING = ("max_clusters", "reference", "reference_target", "reference_id", "plot")
# the options that say how to read --reference
READING_THE_REFERENCE = ("reference_target", "reference_id")
ESTIMATE_METHODS = ("auto", *METHODS)


class ClusterNames(CommandLineNames):
    """What the cluster command calls ``estimate_n_clusters``'s arguments
    (for ``_wording.named_by``): its errors name them so."""

    names = {
        "embedding": "the embedding of DATA",
        "max_clusters": "--max-clusters",
        "min_clusters": "the fewest clusters considered",
        "method": "--method",
        "reference": "--reference",
        "reference_labels": "--reference's labels",
    }


def add(commands, debug):
    sub = commands.add_parser(
        "cluster",
        parents=[debug],
        help="embed data and cluster it with k-means",
        description="Embed the rows of DATA, cluster them with k-means and write "
        "one cluster number per row to OUT: a CSV or Parquet file with the "
        "row's --id (or its row number in DATA) and its cluster, or an .npy "
        "vector in row order.",
    )
    model_and_data(sub)
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
        "--max-clusters",
        type=int,
        metavar="K",
        help="the largest K (rows/10, at most 300)",
    )
    auto.add_argument(
        "--method",
        default="auto",
        choices=ESTIMATE_METHODS,
        metavar="METHOD",
        help="the criterion: auto (the default: calibrated with --reference, "
        "eigengap without), calibrated, calibrated_loss, eigengap, loss, "
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
    auto.add_argument(
        "--reference-id",
        metavar="COLUMN",
        help="--reference's column of row identifiers, left out of the features",
    )
    auto.add_argument(
        "--plot",
        metavar="FIGURE",
        help="draw the criterion against K (.png, .svg, .pdf, ...: its suffix says)",
    )
    sub.add_argument("-o", "--output", required=True, metavar="OUT", help=OUTPUT_HELP)
    sub.add_argument(
        "--random-state", type=int, default=0, metavar="SEED", help="k-means seed (0)"
    )
    sub.set_defaults(run=run)


def _n_clusters(text):
    """``--n-clusters``: a positive integer or ``auto``."""
    # isdecimal: exactly the strings of digits that int() reads
    if text == "auto" or text.isdecimal():
        return text if text == "auto" else int(text)
    message = f"expected a number of clusters or 'auto', got {text!r}"
    raise argparse.ArgumentTypeError(message)


def run(args):
    check_matrix_output(args)
    auto = args.n_clusters == "auto"
    if not auto and any(getattr(args, name) is not None for name in ESTIMATING):
        raise DataError(
            "--max-clusters, --reference and --plot go with --n-clusters auto"
        )
    if args.reference is None and any(
        getattr(args, name) is not None for name in READING_THE_REFERENCE
    ):
        raise DataError("--reference-target and --reference-id go with --reference")
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
        check_figure_output(args.plot, "--plot")
        check_not_read(args.plot, read_by(args))
    model, table, embedding = embed_data(args)
    n_clusters = _estimate(model, embedding, args) if auto else args.n_clusters
    clusters = kmeans(embedding, n_clusters, args.random_state)
    # the identifiers, or the row numbers of DATA, to join the clusters back on
    index = ("row", range(len(clusters))) if args.id is None else (args.id, table.ids)
    write_matrix(args.output, clusters[:, None], ["cluster"], index)
    print(
        f"Wrote {len(clusters)} cluster numbers (K={n_clusters}) to "
        f"{output_name(args.output)}",
        file=report_stream(args),
    )
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
        known = read_for(
            model,
            args.reference,
            args.reference_target,
            require_target=True,
            id_column=args.reference_id,
            target_option="--reference-target",
            id_option="--reference-id",
            **csv_format(args),
        )
        reference, labels = model.transform(known.features), known.target
    try:
        with named_by(ClusterNames()):
            estimate = estimate_n_clusters(
                embedding,
                reference=reference,
                reference_labels=labels,
                max_clusters=args.max_clusters,
                method=args.method,
                random_state=args.random_state,
            )
    except ArgumentError as error:
        raise DataError(f"cannot estimate the number of clusters: {error}") from None
    report = report_stream(args)
    print(
        f"Estimated K={estimate.n_clusters} clusters ({estimate.method}, "
        f"{estimate.candidates.min()} to {estimate.candidates.max()} considered)",
        file=report,
    )
    if estimate.method in REFERENCE_METHODS:
        known_classes = len(np.unique(labels))
        print(
            f"Calibrated on {known_classes} reference classes: where classes "
            f"overlap the estimate follows that number, so it holds for new data "
            f"of about {known_classes} classes.",
            file=report,
        )
    if args.plot:
        _plot_estimate(estimate, args.plot)
        print(f"Drew the criterion against K to {args.plot}", file=report)
    return estimate.n_clusters


def _plot_estimate(estimate, path):
    from matplotlib.figure import Figure  # there: check_figure_output

    figure = Figure(figsize=(6, 3.5))
    estimate.plot(figure.subplots())
    figure.tight_layout()
    write_figure(figure, path)
