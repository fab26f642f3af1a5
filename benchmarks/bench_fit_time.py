"""The default fit of this checkout against an earlier revision, side by side.

Every fit runs in a fresh process, alternating between the two code bases
(this checkout's ``sklearn_dsc``, and the one of ``--baseline``, extracted
with ``git archive`` into a temporary folder) so that both see the same load
on the machine. For each dataset and seed it reports the fit time of each,
their ratio, the anchor each chose and the k-means NMI of the classes never
seen in training; then the ratio of the total times.

    python benchmarks/bench_fit_time.py --baseline d4f1de9 \\
        --datasets fashion-mnist --seeds 3

With ``--without-blas-limit`` instead of ``--baseline`` the baseline is this
checkout with BLAS's threads left as they are where a fit limits them to one
(``_fitting._fit_on_held_out_classes``): what the limit buys on a machine's
cores (no git needed).
"""

import argparse
import contextlib
import functools
import io
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from children import child_result
from datasets import (
    DATASETS,
    few_rows_wide,
    many_classes,
    many_rows_a_class,
    more_rows_wide,
    wider_than_moments,
)

# the datasets timed: the benchmark's; the glyphs in every font of the
# glyph file (about 600 rows a character); two generated with many
# classes: 600 training classes of 8 rows that span their 256 features
# (``datasets.many_classes``), and 120 of 400 rows in 128 features
# (``datasets.many_rows_a_class``); and 300 rows of 12 classes in 2,048
# features, fewer rows than features (``datasets.few_rows_wide``), and
# 3,000 rows of 20 classes, more (``datasets.more_rows_wide``); and 1,200
# rows of 12 classes in 5,000 features, too many for class moments
# (``datasets.wider_than_moments``). The
# held-out sets of the second and the fourth hold more rows than the anchor
# choice scores (``_selection.MAX_SCORED_ROWS``).
TIMED = {
    **DATASETS,
    "glyphs-every-font": functools.partial(DATASETS["glyphs"], n_fonts=None),
    "many-classes": many_classes,
    "many-rows-a-class": many_rows_a_class,
    "few-rows-wide": few_rows_wide,
    "more-rows-wide": more_rows_wide,
    "wider-than-moments": wider_than_moments,
}

ROOT = Path(__file__).resolve().parents[1]


def child(source, blas_limit, dataset, seed):
    """Fit the defaults of the package under ``source`` on ``dataset``;
    with ``blas_limit="0"``, without the fit's limit of BLAS's threads."""
    sys.path.insert(0, source)
    import sklearn_dsc

    if not Path(sklearn_dsc.__file__).is_relative_to(source):
        raise RuntimeError(f"imported {sklearn_dsc.__file__}, not from {source}")
    if blas_limit == "0":
        from sklearn_dsc import _fitting

        if not hasattr(_fitting, "threadpool_limits"):
            raise RuntimeError("_fitting no longer limits BLAS's threads by name")
        _fitting.threadpool_limits = lambda **limits: contextlib.nullcontext()
    X_train, y_train, X_test, y_test = TIMED[dataset]()
    estimator = sklearn_dsc.DeepSpectralClusteringEmbedder(random_state=int(seed))
    start = time.perf_counter()
    estimator.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    return {
        "fit s": seconds,
        "init": str(estimator.init_),
        "shrinkage": estimator.shrinkage_,
        "epochs": int(estimator.n_iter_),
        "NMI": estimator.score(X_test, y_test),
    }


def extract(revision, folder):
    """``sklearn_dsc`` as of ``revision``, under ``folder``."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", revision, "sklearn_dsc"],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")


def describe(run):
    shrinkage = run["shrinkage"]
    if shrinkage is not None:  # a number, or "ledoit-wolf"
        shrinkage = (
            f", {shrinkage}" if isinstance(shrinkage, str) else f", {shrinkage:g}"
        )
    else:
        shrinkage = ""
    trained = f", {run['epochs']} epochs" if run["epochs"] else ""
    return f"{run['init']}{shrinkage}{trained}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    baseline = parser.add_mutually_exclusive_group(required=True)
    baseline.add_argument("--baseline", help="a git revision")
    baseline.add_argument(
        "--without-blas-limit",
        action="store_true",
        help="this checkout without the fit's limit of BLAS's threads",
    )
    parser.add_argument(
        "--datasets", nargs="+", choices=TIMED, default=["fashion-mnist"]
    )
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args(argv)
    script = Path(__file__).resolve()
    name = args.baseline or "without the BLAS limit"
    with tempfile.TemporaryDirectory() as folder:
        if args.baseline:
            extract(args.baseline, folder)
        # (source, whether the fit limits BLAS's threads) of each code base
        sources = {
            name: (folder, 1) if args.baseline else (str(ROOT), 0),
            "this checkout": (str(ROOT), 1),
        }
        print(
            "| dataset | seed | fit s, baseline | fit s, this checkout | ratio "
            "| anchor, baseline | anchor, this checkout | NMI, baseline "
            "| NMI, this checkout |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        totals = dict.fromkeys(sources, 0.0)
        for dataset in args.datasets:
            for seed in range(args.seeds):
                # the order alternates, so neither code base always runs first
                order = list(sources) if seed % 2 == 0 else list(sources)[::-1]
                runs = {
                    arm: child_result(script, *sources[arm], dataset, seed)
                    for arm in order
                }
                old, new = runs[name], runs["this checkout"]
                for arm, run in runs.items():
                    totals[arm] += run["fit s"]
                print(
                    f"| {dataset} | {seed} | {old['fit s']:.2f} | {new['fit s']:.2f} "
                    f"| {new['fit s'] / old['fit s']:.2f} | {describe(old)} "
                    f"| {describe(new)} | {old['NMI']:.3f} | {new['NMI']:.3f} |",
                    flush=True,
                )
    print(
        f"\nTotal fit time: {totals[name]:.1f} s {'at ' * bool(args.baseline)}"
        f"{name}, {totals['this checkout']:.1f} s here; ratio "
        f"{totals['this checkout'] / totals[name]:.2f}."
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        import json

        print(json.dumps(child(*sys.argv[2:])))
    else:
        main()
