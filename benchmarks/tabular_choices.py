"""Could another choice of anchor bring the defaults to the best on tabular data?

On the suite of ``tabular_suite.py`` (eleven tabular datasets, class-disjoint
halves) the defaults keep an anchor alone on nearly every dataset, chosen by
held-out training classes among PCA, the whitened and PLDA anchors at
five shrinkages and the closed form (``choose_anchor``; where each set of
held-out classes would keep fewer than 4 training classes, one anchor: the
PLDA one at 0.01 where the classes' means leave at most 40 directions of
the inputs unspanned, the whitened one at 0.1 where they leave more,
``few_kept_span.py``; the PLDA anchor alone, down to LDA's metric, where the
training classes outnumber the features: ``tabular_spanned.py``). This
script separates what the candidates can reach
from what the choice among them reaches. On the suite's own splits (10
seeds), with the best of raw features, PCA, LDA, LDA with shrinkage and our
closed form (``tabular_suite.score``) measured in the same run, it records
the unseen classes' k-means NMI of:

- *the defaults*: the estimator fitted with its defaults, as in
  ``tabular_suite.py``;
- *each candidate, always*: fitted on the whole training half (LDA's own map
  too, as in ``selection_criteria.py``), as if every seed chose it;
- *the best candidate of each seed*: what a choice that never errs keeps;
- the anchor that each of these rules chooses from the training half alone:

  - *the defaults' choice*: ``choose_anchor`` with the estimator's
    settings (its sets of held-out classes are drawn from the seed alone,
    not after the estimator's other draws, so on a seed it may choose
    otherwise than the defaults of ``tabular_suite.py``);
  - *on 30 sets*: the same on 30 sets of held-out classes instead of 10, less
    of the noise of which classes were held out;
  - *2 classes a set, 60 sets*: each set keeps nearly every training class,
    as the anchor fitted at the end does;
  - *shrinkage times the share kept*: the chosen shrinkage multiplied by the
    share of the classes that each set keeps: the sets estimate the
    within-class covariance from fewer rows than the final anchor does;
  - *every whitened anchor side by side*: the five whitened anchors' columns
    together (each at unit spread), a hedge instead of a choice.

Per dataset, each mean NMI less the best other method's; per column, on how
many datasets that is within ``WITHIN`` and the worst of it. Then what a run
of ``DRAWN`` seeds, as the suite's table has, can tell: over every draw of
``DRAWN`` of the seeds, how often a column meets the bar of being within
``WITHIN`` on ``SHARE`` of the datasets and never more than ``FLOOR`` below.

Setup: ``bash benchmarks/install_data.sh``, then
``python benchmarks/tabular_choices.py``; ``--help`` lists the options.
"""

import argparse
import itertools
import math
import warnings

import numpy as np
import selection_criteria
import tabular_suite
from outputs import add_output, name_of, write_results
from selection_criteria import VALIDATION_FRACTION
from sklearn.exceptions import ConvergenceWarning

from sklearn_dsc._anchors import anchor_maps
from sklearn_dsc._selection import (
    FEW_KEPT_SHRINKAGE,
    SHRINKAGES,
    choose_anchor,
    n_held_out_classes,
)
from sklearn_dsc.metrics import kmeans_nmi

# The bar: within WITHIN of the best other method on SHARE of the datasets,
# and never more than FLOOR below it.
WITHIN = 0.005
SHARE = 0.8
FLOOR = 0.03
# The seeds of a run of tabular_suite.py, whose draws the last table replays.
DRAWN = 3
# selection_criteria.py's candidates (PCA, the whitened anchors, the closed
# form, LDA's own map), the PLDA anchor at every shrinkage, and the one
# that the defaults keep where held-out classes are too few to choose.
CANDIDATES = [
    *selection_criteria.CANDIDATES,
    *[("plda", s) for s in SHRINKAGES],
    ("plda", FEW_KEPT_SHRINKAGE),
]
BEST_OF_EACH_SEED = "best candidate of each seed"
WHITENED = [c for c in CANDIDATES if c[0] == "whitened"]
DEFAULTS = "the defaults"


def defaults_choice(X, codes, seed, n_held_out=None, n_splits=None, moments=None):
    """The ``(init, shrinkage)`` that ``choose_anchor`` picks, with the
    defaults' held-out classes a set and number of sets unless given
    (``moments``: the ``ClassMoments`` of ``X`` and ``codes``, if at hand)."""
    n_classes = len(np.unique(codes))
    if n_held_out is None:
        n_held_out = n_held_out_classes(VALIDATION_FRACTION, n_classes)
    choice = choose_anchor(
        X,
        codes,
        n_classes,
        "auto",
        "auto",
        n_held_out,
        np.random.RandomState(seed),
        seed,
        n_splits=n_splits,
        moments=moments,
    )
    return choice.init, choice.shrinkage


def _fitted(candidate, fitted, X, codes, seed):
    """The transform of ``candidate``: from ``fitted`` when it is there."""
    if candidate in fitted:
        return fitted[candidate]
    ((weight, bias),) = anchor_maps([candidate], X, codes, seed)
    return lambda Z: Z @ weight.T + bias


DEFAULTS_CHOICE = "the defaults' choice"
SIDE_BY_SIDE = "every whitened anchor side by side"
SCALED = "shrinkage times the share kept"
# rule: (what it keeps, in the table's legend; defaults_choice's settings)
RULES = {
    DEFAULTS_CHOICE: ("`choose_anchor` with the estimator's settings", {}),
    "on 30 sets": (
        "the same on 30 sets of held-out classes instead of 10",
        {"n_splits": 30},
    ),
    "2 classes a set, 60 sets": (
        "2 held-out classes a set, on 60 sets",
        {"n_held_out": 2, "n_splits": 60},
    ),
    SCALED: (
        "the defaults' choice, its shrinkage times the share of the classes "
        "that each set keeps",
        {},
    ),
    SIDE_BY_SIDE: (
        "the five whitened anchors' columns together, each at unit spread",
        None,
    ),
}


def chosen(rule, X, codes, seed, fitted):
    """``(transform, what was chosen)`` of ``rule`` on the training half
    (``fitted``: every candidate's transform fitted on it)."""
    if rule == SIDE_BY_SIDE:
        transforms = [fitted[c] for c in WHITENED]
        return lambda Z: np.hstack([t(Z) for t in transforms]), "all whitened"
    init, shrinkage = defaults_choice(X, codes, seed, **RULES[rule][1])
    if rule == SCALED and isinstance(shrinkage, float):
        n_classes = len(np.unique(codes))
        n_held_out = n_held_out_classes(VALIDATION_FRACTION, n_classes)
        shrinkage *= (n_classes - n_held_out) / n_classes
    candidate = (init, shrinkage)
    return _fitted(candidate, fitted, X, codes, seed), name_of(candidate)


def measure(X_train, y_train, X_test, y_test, seed):
    """One seed: ``{"others", "fitted", "candidates", "rules", "choices"}``,
    NMIs of the unseen half (and the anchor each rule, and the defaults'
    fit, chose)."""
    scores = {
        method: tabular_suite.score(method, X_train, y_train, X_test, y_test, seed)
        for method in [*tabular_suite.OTHERS, tabular_suite.DEFAULTS]
    }
    defaults = scores.pop(tabular_suite.DEFAULTS)
    others = {method: score["nmi"] for method, score in scores.items()}
    codes = np.unique(y_train, return_inverse=True)[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)
        fitted = selection_criteria.maps(X_train, codes, seed, CANDIDATES)
        rules, choices = {}, {}
        for rule in RULES:
            transform, choices[rule] = chosen(rule, X_train, codes, seed, fitted)
            rules[rule] = kmeans_nmi(transform(X_test), y_test, random_state=seed)
    candidates = {
        name_of(c): kmeans_nmi(fitted[c](X_test), y_test, random_state=seed)
        for c in CANDIDATES
    }
    return {
        "others": others,
        "fitted": {DEFAULTS: defaults["nmi"]},
        "candidates": candidates,
        "rules": rules,
        "choices": {**choices, DEFAULTS: defaults["init"]},
    }


def run(args):
    """``{dataset: [one seed's measure]}``."""
    results = {}
    for name in args.datasets:
        results[name] = []
        for seed, *halves in tabular_suite.seeded_splits(name, args.seeds):
            result = measure(*halves, seed)
            results[name].append(result)
            print(
                f"{name}, seed {seed}: best other "
                f"{max(result['others'].values()):.3f}, the defaults' choice "
                f"{result['choices'][DEFAULTS_CHOICE]} "
                f"{result['rules'][DEFAULTS_CHOICE]:.3f}, best candidate "
                f"{max(result['candidates'].values()):.3f}",
                flush=True,
            )
    return results


def value(run, part, name):
    """One seed's NMI of the column ``(part, name)``."""
    if (part, name) == ("candidates", BEST_OF_EACH_SEED):
        return max(run["candidates"].values())
    return run[part][name]


def columns(runs, names=None):
    """``({column: mean NMI over runs}, best other method)`` of one dataset:
    the columns ``names`` (``(part, name)`` pairs; every column when
    ``None``) and each other method's, under ``("others", method)``."""
    if names is None:
        names = [
            (part, key)
            for part in ("fitted", "candidates", "rules")
            for key in runs[0][part]
        ]
        names.append(("candidates", BEST_OF_EACH_SEED))
    names = [*names, *(("others", method) for method in tabular_suite.OTHERS)]
    mean = {column: np.mean([value(run, *column) for run in runs]) for column in names}
    best = max(tabular_suite.OTHERS, key=lambda method: mean[("others", method)])
    return mean, best


def gaps(results, names, seeds=None):
    """``{column: [gap per dataset]}``: each column's mean over ``seeds``
    (indices; every seed when ``None``) less the best other method's mean
    over the same seeds."""
    found = {column: [] for column in names}
    for runs in results.values():
        kept = runs if seeds is None else [runs[i] for i in seeds]
        mean, best = columns(kept, names)
        for column in names:
            found[column].append(mean[column] - mean[("others", best)])
    return found


def meets_the_bar(dataset_gaps):
    """Within ``WITHIN`` of the best other method on ``SHARE`` of the
    datasets, and never more than ``FLOOR`` below it."""
    dataset_gaps = np.asarray(dataset_gaps)
    return bool(
        np.mean(dataset_gaps >= -WITHIN) >= SHARE and dataset_gaps.min() >= -FLOOR
    )


def table(results, names, labels):
    """Markdown rows: each dataset's gaps to its best other method for the
    columns ``names`` (headed ``labels``), then the count within ``WITHIN``
    and the worst gap of each column."""
    lines = [
        "| dataset | best other | " + " | ".join(labels) + " |",
        "|---" * (len(names) + 2) + "|",
    ]
    found = {column: [] for column in names}
    for dataset, runs in results.items():
        mean, best = columns(runs, names)
        for column in names:
            found[column].append(mean[column] - mean[("others", best)])
        cells = " | ".join(f"{found[column][-1]:+.3f}" for column in names)
        lines.append(f"| {dataset} | {best} {mean[('others', best)]:.3f} | {cells} |")
    n = len(results)
    counts = [sum(g >= -WITHIN for g in found[column]) for column in names]
    lines.append(
        f"| within {WITHIN} | | " + " | ".join(f"{c} of {n}" for c in counts) + " |"
    )
    lines.append(
        "| worst | | " + " | ".join(f"{min(found[c]):+.3f}" for c in names) + " |"
    )
    return lines


def draws_table(results, names, labels, n_seeds):
    """Markdown rows: for each column, its count within ``WITHIN`` and worst
    gap over all ``n_seeds`` seeds, and over every draw of ``DRAWN`` of them
    the mean count and the share of draws that meet the bar."""
    draws = list(itertools.combinations(range(n_seeds), DRAWN))
    every = gaps(results, names)
    per_draw = [gaps(results, names, draw) for draw in draws]
    n = len(results)
    lines = [
        f"| kept | all {n_seeds} seeds: within {WITHIN} | worst | draws of "
        f"{DRAWN} seeds: mean within {WITHIN} | draws that meet the bar |",
        "|---|---|---|---|---|",
    ]
    for column, label in zip(names, labels, strict=True):
        counts = [sum(g >= -WITHIN for g in found[column]) for found in per_draw]
        met = np.mean([meets_the_bar(found[column]) for found in per_draw])
        lines.append(
            f"| {label} | {sum(g >= -WITHIN for g in every[column])} of {n} | "
            f"{min(every[column]):+.3f} | {np.mean(counts):.1f} of {n} | "
            f"{met:.0%} |"
        )
    return lines


def markdown(results, args):
    candidates = [("candidates", name_of(c)) for c in CANDIDATES]
    candidates.append(("candidates", BEST_OF_EACH_SEED))
    rules = [("fitted", DEFAULTS), *(("rules", rule) for rule in RULES)]
    choices = "; ".join(
        f"{dataset}: " + ", ".join(run["choices"][DEFAULTS_CHOICE] for run in runs)
        for dataset, runs in results.items()
    )
    lines = [
        "# Choosing the anchor on tabular data",
        "",
        f"Generated by `python benchmarks/tabular_choices.py` ({args.seeds} "
        "seeds, the splits of `tabular_suite.py`). Unseen-class k-means NMI, "
        "mean over seeds, less that of the best of raw features, PCA, LDA, LDA "
        "with shrinkage and our closed form (measured in the same run; *best "
        "other*). Why each rule was tried: the script's docstring.",
        "",
        "Each candidate kept on every seed, and the best candidate of each seed:",
        "",
        *table(results, candidates, [name for _, name in candidates]),
        "",
        "The defaults, and the anchor that each rule chooses from the training half:",
        "",
        *table(results, rules, [name for _, name in rules]),
        "",
        f"- *{DEFAULTS}*: the estimator with its defaults, as in "
        "`tabular_suite.py` (an anchor, or an anchor beside a trained head).",
        *(f"- *{rule}*: {what}." for rule, (what, _) in RULES.items()),
        "",
        f"The defaults' choices, seed by seed: {choices}.",
    ]
    if args.seeds > DRAWN:
        kept = [rules[0], rules[1], *candidates]
        lines += [
            "",
            f"What {DRAWN} seeds can tell. The bar: within {WITHIN} of the best "
            f"other method on {SHARE:.0%} of the datasets and never more than "
            f"{FLOOR} below it, measured on {DRAWN} seeds as `tabular_suite.py` "
            f"is; here over all {args.seeds} seeds, and over each of the "
            f"{math.comb(args.seeds, DRAWN)} draws of {DRAWN} of them:",
            "",
            *draws_table(results, kept, [name for _, name in kept], args.seeds),
        ]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--datasets",
        nargs="+",
        default=list(tabular_suite.SUITE),
        choices=tabular_suite.SUITE,
    )
    parser.add_argument("--seeds", type=int, default=10)
    add_output(parser, "tabular_choices")
    args = parser.parse_args(argv)
    results = run(args)
    text = markdown(results, args)
    write_results(args.output, "tabular_choices", text, results)


if __name__ == "__main__":
    main()
