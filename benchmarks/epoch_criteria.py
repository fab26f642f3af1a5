"""Which held-out-class criterion chooses the epoch and the anchor weight?

With ten held-out classes or more, a default fit scores its trial network
after every epoch on the held-out classes, at each anchor weight beside the
trained head, and keeps the best epoch and weight. This script runs default
fits and, at every scoring, records for each anchor weight:

- *k-means NMI* on the held-out rows (3 initialisations);
- *nearest-mean NMI*: each held-out row assigned to the nearest held-out
  class mean, NMI against the classes (``nearest_mean_nmi``; what the
  defaults score the epochs by);
- the k-means NMI (3 initialisations) of the classes never seen in
  training (the test split), embedded by the network as it is at that epoch
  and weight.

Per dataset and seed: the Spearman correlation, across the (epoch, weight)
pairs, of each criterion with the unseen NMI; the unseen NMI of the pair
each criterion chooses (scoring every epoch, or every second or third
epoch and the last), beside the best pair's; and each criterion's seconds.
Shorter patience is replayed on the same records: where training would
have stopped, and the pair the nearest mean would then have kept.

Setup: ``bash benchmarks/install_data.sh``, then
``python benchmarks/epoch_criteria.py``; ``--help`` lists the options.
"""

import argparse
import json
import time
import warnings

import numpy as np
from datasets import DATASETS
from outputs import add_output, add_results, earlier_results
from scipy.stats import spearmanr
from sklearn.exceptions import ConvergenceWarning

from sklearn_dsc import DeepSpectralClusteringEmbedder
from sklearn_dsc._data import embed
from sklearn_dsc._networks import AnchoredEmbedding
from sklearn_dsc._selection import (
    EPOCH_TOLERANCE,
    KMEANS_NMI,
    NEAREST_MEAN_NMI,
    HeldOut,
    _beside,
    held_out_nmi,
)
from sklearn_dsc._training import TOLERANCE, Patience
from sklearn_dsc.metrics import kmeans_nmi

# Datasets whose default fit holds out ten classes or more (the others
# score no epochs).
EPOCH_DATASETS = ("glyphs", "fonts", "dictionary")
# Initialisations of the k-means of the unseen classes at every epoch and
# weight (the fitted model's own score keeps k-means' default, 10).
UNSEEN_N_INIT = 3
# Scoring every EVERY-th epoch (and the last), from the per-epoch records.
EVERY = (1, 2, 3)


def criteria(points, codes, seed):
    """``{criterion: (score, seconds)}`` on the held-out rows."""
    out = {}
    for name in (KMEANS_NMI, NEAREST_MEAN_NMI):
        start = time.perf_counter()
        out[name] = (
            held_out_nmi(name, points, codes, seed),
            time.perf_counter() - start,
        )
    return out


def recording_score(records, X_test, y_test):
    """A stand-in for ``HeldOut._score`` that records every weight's
    criteria and unseen NMI, then does what the original does (the metric
    asked for chooses the weight)."""

    def score(self, module, metric):
        module = module.to(self.device)
        # the test rows' own scorer: one copied from ``self`` would keep the
        # anchor columns that ``self`` embedded once for its own rows
        test = HeldOut(X_test, y_test, self.device, self.kmeans_seed)
        if not isinstance(module, AnchoredEmbedding) or module.head_scale == 0:
            weights = {None: embed(module, self.X, self.device)}
            unseen = {None: embed(module, X_test, self.device)}
        else:
            anchor, head = self._anchor_and_head(module)
            test_anchor, test_head = test._anchor_and_head(module)
            weights = {w: _beside(anchor, head, w) for w in self.anchor_weights}
            unseen = {
                w: _beside(test_anchor, test_head, w) for w in self.anchor_weights
            }
        epoch = []
        for weight, points in weights.items():
            measured = criteria(points, self.codes, self.kmeans_seed)
            epoch.append(
                {
                    "weight": weight,
                    **{name: value for name, (value, _) in measured.items()},
                    "seconds": {name: s for name, (_, s) in measured.items()},
                    "unseen": kmeans_nmi(
                        unseen[weight],
                        y_test,
                        random_state=self.kmeans_seed,
                        n_init=UNSEEN_N_INIT,
                    ),
                }
            )
        records.append(epoch)
        best = max(epoch, key=lambda entry: entry[metric])
        if best["weight"] is not None:
            module.anchor_weight.fill_(best["weight"])
        return best[metric]

    return score


def unseen_sample(y_test, per_class, seed):
    """Rows of at most ``per_class`` test rows of each class (all of them
    with ``None``), drawn with ``seed``, in their order."""
    rows = np.arange(len(y_test))
    if per_class is None:
        return rows
    rng = np.random.RandomState(seed)
    return np.sort(
        np.concatenate(
            [
                rng.permutation(np.flatnonzero(y_test == label))[:per_class]
                for label in np.unique(y_test)
            ]
        )
    )


def measure(
    X_train, y_train, X_test, y_test, seed, network, per_class=None, options=None
):
    """The per-epoch records of one default fit (the unseen NMI of each
    epoch and weight on at most ``per_class`` test rows of each class), and
    the fit's NMI on every test row; ``options``: parameters of the
    estimator set instead of the defaults' (``n_iter_no_change``, ``tol``)."""
    options = options or {}
    records = []
    original = HeldOut._score
    rows = unseen_sample(y_test, per_class, seed)
    HeldOut._score = recording_score(records, X_test[rows], y_test[rows])
    try:
        model = DeepSpectralClusteringEmbedder(random_state=seed, network=network[0])
        if network[1] is not None:
            model.set_params(input_shape=network[1])
        model.set_params(**options)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X_train, y_train)
    finally:
        HeldOut._score = original
    fitted = kmeans_nmi(model.transform(X_test), y_test, random_state=seed)
    return {
        "records": records,
        "unseen_rows": len(rows),
        "fitted": fitted,
        "stages": model.fit_stage_seconds_,
        "options": options,
    }


KMEANS, NEAREST_MEAN = KMEANS_NMI, NEAREST_MEAN_NMI
# How a choice is made from the records: the criterion over every (epoch,
# weight) pair, or the nearest-mean NMI's best epoch (over its weights) and
# k-means' best weight at that epoch alone.
RULES = (KMEANS, NEAREST_MEAN, "nearest-mean epoch, k-means weight")


def scored_epochs(records, every):
    """The records of the epochs scored every ``every``-th (the start and
    the last always)."""
    last = len(records) - 1
    return [e for i, e in enumerate(records) if i % every == 0 or i == last]


def choice(records, rule, every):
    """``(the chosen entry, the criteria's seconds)`` of ``rule``."""
    epochs = scored_epochs(records, every)

    def seconds(criterion, epochs):
        return sum(entry["seconds"][criterion] for epoch in epochs for entry in epoch)

    if rule in (KMEANS, NEAREST_MEAN):
        entries = [entry for epoch in epochs for entry in epoch]
        return max(entries, key=lambda e: e[rule]), seconds(rule, epochs)
    best = max(epochs, key=lambda epoch: max(e[NEAREST_MEAN] for e in epoch))
    chosen = max(best, key=lambda e: e[KMEANS])
    return chosen, seconds(NEAREST_MEAN, epochs) + seconds(KMEANS, [best])


# Patience (epochs without a better nearest-mean NMI before training stops)
# replayed on the records: the defaults' n_iter_no_change and shorter ones,
# each with the estimator's plain tolerance and with tol="auto"'s.
PATIENCES = (10, 7, 5, 3)
TOLERANCES = (TOLERANCE, EPOCH_TOLERANCE)


def patience_choice(records, patience, tol=TOLERANCE):
    """``(the chosen entry, epochs trained)`` had training stopped as the
    training loop stops (``Patience``: ``patience`` epochs in a row that
    fail to raise the best nearest-mean NMI by more than ``tol``): the
    nearest mean's best pair among the epochs trained. Exact while the stop
    falls within the records (the epochs before it are the same); a run
    that records fewer epochs stops where its records end."""
    scores = [max(e[NEAREST_MEAN] for e in epoch) for epoch in records]
    watch, last = Patience(tol, patience, 0), len(records) - 1
    for index, score in enumerate(scores):  # the start is scored first
        if watch.update(-score, index):
            last = index
            break
    return max(records[watch.best_state], key=lambda e: e[NEAREST_MEAN]), last


def patience_summary(runs):
    """Per patience and tolerance: the mean epochs trained, unseen NMI of
    the choice and its shortfall from the best pair of the whole record."""
    rows = {}
    for patience in PATIENCES:
        for tol in TOLERANCES:
            epochs, chosen, shortfall = [], [], []
            for run in runs:
                entry, last = patience_choice(run["records"], patience, tol)
                best = max(e["unseen"] for ep in run["records"] for e in ep)
                epochs.append(last)
                chosen.append(entry["unseen"])
                shortfall.append(best - entry["unseen"])
            rows[patience, tol] = {
                "epochs": float(np.mean(epochs)),
                "chosen": float(np.mean(chosen)),
                "shortfall": float(np.mean(shortfall)),
                "per seed": [round(value, 3) for value in chosen],
            }
    return rows


def summary(runs):
    """Per rule and interval: the mean correlation (for a single criterion),
    the mean unseen NMI of the choice, its mean shortfall from the best pair,
    and the criteria's mean seconds."""
    rows = {}
    for rule in RULES:
        for every in EVERY:
            rhos, chosen, shortfall, seconds = [], [], [], []
            for run in runs:
                entries = [e for ep in scored_epochs(run["records"], every) for e in ep]
                if rule in (KMEANS, NEAREST_MEAN):
                    rho = spearmanr(
                        [e[rule] for e in entries], [e["unseen"] for e in entries]
                    ).statistic
                    rhos.append(0.0 if np.isnan(rho) else rho)
                entry, took = choice(run["records"], rule, every)
                chosen.append(entry["unseen"])
                best = max(e["unseen"] for ep in run["records"] for e in ep)
                shortfall.append(best - entry["unseen"])
                seconds.append(took)
            rows[(rule, every)] = {
                "rho": float(np.mean(rhos)) if rhos else float("nan"),
                "chosen": float(np.mean(chosen)),
                "shortfall": float(np.mean(shortfall)),
                "seconds": float(np.mean(seconds)),
            }
    return rows


def fits_described(results):
    """A sentence on the settings of the recorded fits."""
    options = {
        json.dumps(run.get("options") or {}, sort_keys=True)
        for runs in results.values()
        for run in runs
    }
    if options == {"{}"}:
        return "The fits are the defaults'."
    described = "; ".join(
        ", ".join(f"`{key}={value!r}`" for key, value in json.loads(o).items())
        or "the defaults"
        for o in sorted(options)
    )
    return (
        f"The fits are the defaults' but for {described}: a longer patience or "
        'a smaller tolerance than the defaults\' (`"auto"`: 5 epochs, 0.005) '
        "records the epochs that the patience replayed below would train."
    )


def markdown(results, args):
    lines = [
        "# Choosing the epoch and the anchor weight on held-out classes",
        "",
        f"Generated by `python benchmarks/epoch_criteria.py` (network"
        f" {args.network}). Each default fit scores its trial network on"
        " its held-out classes after every epoch at every anchor weight; each"
        " row: a criterion, scored every *n*-th epoch (and the last), the"
        " Spearman correlation across (epoch, weight) pairs with the k-means NMI"
        " of the unseen classes, the unseen NMI of the pair it chooses, its"
        " shortfall from the best pair, and the seconds the criterion took in"
        " the fit. *fit*: the unseen NMI of the fitted model (which also"
        " compares the chosen pair with the anchor alone).",
        "",
        fits_described(results),
    ]
    for dataset, runs in results.items():
        best = np.mean(
            [max(e["unseen"] for ep in run["records"] for e in ep) for run in runs]
        )
        fitted = np.mean([run["fitted"] for run in runs])
        epochs = np.mean([len(run["records"]) for run in runs])
        lines += [
            "",
            f"## {dataset}",
            "",
            f"{len(runs)} seed(s). Best pair {best:.3f}; fit {fitted:.3f}; "
            f"{epochs:.0f} scorings"
            + (
                f"; each epoch's unseen NMI on {runs[0]['unseen_rows']} test rows."
                if "unseen_rows" in runs[0]
                else "."
            ),
            "",
            "| rule | every | correlation | chosen NMI | shortfall | seconds |",
            "|---|---|---|---|---|---|",
        ]
        for (rule, every), row in summary(runs).items():
            rho = "n/a" if np.isnan(row["rho"]) else f"{row['rho']:+.2f}"
            lines.append(
                f"| {rule} | {every} | {rho} | {row['chosen']:.3f} | "
                f"{row['shortfall']:.3f} | {row['seconds']:.1f} |"
            )
        lines += [
            "",
            "Patience replayed on the same records (the nearest-mean NMI "
            "scores every epoch), as the training loop stops: after *patience* "
            "epochs that do not raise the best score by more than *tolerance*; "
            "the epochs trained, the unseen NMI of the pair kept (mean, and per "
            "seed) and its shortfall. A replay that would train longer than the "
            "recorded fits stops where their records end.",
            "",
            "| patience | tolerance | epochs trained | chosen NMI | per seed | "
            "shortfall |",
            "|---|---|---|---|---|---|",
        ]
        for (patience, tol), row in patience_summary(runs).items():
            seeds = ", ".join(f"{value:.3f}" for value in row["per seed"])
            lines.append(
                f"| {patience} | {tol:g} | {row['epochs']:.1f} | "
                f"{row['chosen']:.3f} | {seeds} | {row['shortfall']:.3f} |"
            )
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--datasets", nargs="+", default=list(EPOCH_DATASETS), choices=list(DATASETS)
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--network", choices=("mlp", "conv"), default="mlp")
    parser.add_argument(
        "--unseen-rows-per-class",
        type=int,
        help="score each epoch's unseen NMI on at most this many test rows of "
        "each class (all by default)",
    )
    parser.add_argument(
        "--patience",
        type=int,
        help="n_iter_no_change of the fits (default: the defaults', 5 epochs when "
        "held-out classes score the epochs); 10 records what every replay needs",
    )
    parser.add_argument(
        "--tol", type=float, help="tol of the fits (default: the defaults')"
    )
    add_output(parser, "epoch_criteria", "epoch_criteria_conv.md/.json")
    add_results(parser)
    args = parser.parse_args(argv)
    name = "epoch_criteria" + ("_conv" if args.network == "conv" else "")
    args.output.mkdir(parents=True, exist_ok=True)
    results = earlier_results(args)
    if results is not None:
        args.seeds = len(next(iter(results.values())))
    else:
        from datasets import INPUT_SHAPES

        options = {
            name: value
            for name, value in (("n_iter_no_change", args.patience), ("tol", args.tol))
            if value is not None
        }
        results = {}
        for dataset in args.datasets:
            data = DATASETS[dataset]()
            shape = INPUT_SHAPES.get(dataset) if args.network == "conv" else None
            results[dataset] = []
            for seed in range(args.seeds):
                started = time.perf_counter()
                network = (args.network, shape)
                run = measure(*data, seed, network, args.unseen_rows_per_class, options)
                results[dataset].append(run)
                print(
                    f"{dataset}, seed {seed}: {len(run['records'])} scorings, fit "
                    f"NMI {run['fitted']:.3f}, {time.perf_counter() - started:.0f}s",
                    flush=True,
                )
                (args.output / f"{name}.json").write_text(json.dumps(results))
    text = markdown(results, args)
    print(text)
    (args.output / f"{name}.md").write_text(text)


if __name__ == "__main__":
    main()
