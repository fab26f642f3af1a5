"""Training on frozen features: unseen-class NMI after every epoch.

On precomputed features of many classes (the sentence embeddings of
``dictionary`` by default), a network is trained with the spectral clustering
loss from three starts, at several learning rates and with several batch
compositions, and the unseen classes are clustered after every epoch (k-means
NMI). The question is whether any of them rises above the best linear map,
the whitened anchor that the defaults keep there, at any epoch. The starts:

- *plain MLP*: the paper's network from a random start (256 hidden units, 64
  outputs);
- *residual head at zero*: the anchor plus an MLP whose last layer starts at
  zero, so that training starts from the anchor's embedding and the loss is
  taken on the sum;
- *fine-tuned anchor*: the anchor's linear map itself, trained.

Setup: ``bash benchmarks/install_data.sh``, then
``python benchmarks/frozen_features.py``; ``--help`` lists the options.
"""

import argparse
import copy
import itertools
import json
import time
import warnings

import numpy as np
import torch
from datasets import DATASETS, class_share
from outputs import add_output
from sklearn.exceptions import ConvergenceWarning
from zero_shot import mlp

from sklearn_dsc import DeepSpectralClusteringEmbedder, SpectralClusteringLoss
from sklearn_dsc.metrics import kmeans_nmi

OUTPUTS = 64  # as the deep peers of zero_shot.py, whose MLP this is
# name: (samples per class, classes per batch); None: batches drawn at random
COMPOSITIONS = {
    "random batches of 256": None,
    "4 per class, every class": (4, None),
    "16 per class, 16 classes": (16, 16),
}


class ResidualHead(torch.nn.Module):
    """``anchor(x) + head(x)``, the head's last layer at zero."""

    def __init__(self, anchor, n_features):
        super().__init__()
        self.anchor = anchor.requires_grad_(False)
        self.head = mlp(n_features, anchor.out_features)
        torch.nn.init.zeros_(self.head[2].weight)
        torch.nn.init.zeros_(self.head[2].bias)

    def forward(self, inputs):
        return self.anchor(inputs) + self.head(inputs)


def starts(anchor, n_features):
    """name: a function that builds the network to train."""
    return {
        "plain MLP": lambda: mlp(n_features, OUTPUTS),
        "residual head at zero": lambda: ResidualHead(
            copy.deepcopy(anchor), n_features
        ),
        "fine-tuned anchor": lambda: copy.deepcopy(anchor).requires_grad_(True),
    }


def batches(codes, composition, batch_size, rng):
    """One epoch of row indices, batch by batch."""
    if composition is None:
        order = rng.permutation(len(codes))
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    per_class, n_classes = composition
    by_class = [rng.permutation(np.flatnonzero(codes == c)) for c in np.unique(codes)]
    n_classes = min(n_classes or len(by_class), len(by_class))
    out = []
    for _ in range(max(1, len(codes) // (per_class * n_classes))):
        chosen = rng.choice(len(by_class), n_classes, replace=False)
        out.append(
            np.concatenate(
                [
                    rng.choice(by_class[c], per_class, len(by_class[c]) < per_class)
                    for c in chosen
                ]
            )
        )
    return out


def embed(network, X):
    with torch.no_grad():
        return network(torch.as_tensor(X, dtype=torch.float32)).double().numpy()


def curve(network, X, codes, targets, learning_rate, composition, args):
    """For each ``(rows, labels)`` of ``targets``, the NMI at the start and
    after every epoch."""
    rng = np.random.RandomState(args.seed)
    X_t, codes_t = torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(codes)
    parameters = [p for p in network.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(parameters, lr=learning_rate)
    loss_fn = SpectralClusteringLoss()
    scores = [[] for _ in targets]
    for epoch in range(args.epochs + 1):
        for rows in batches(codes, composition, args.batch_size, rng) if epoch else []:
            optimizer.zero_grad()
            loss_fn(network(X_t[rows]), codes_t[rows]).backward()
            optimizer.step()
        for (rows, labels), target_scores in zip(targets, scores, strict=True):
            nmi = kmeans_nmi(embed(network, rows), labels, random_state=args.seed)
            target_scores.append(nmi)
    return scores


def run(args):
    X, y, X_test, y_test = DATASETS[args.dataset]()
    targets = [(X_test, y_test)]
    if args.held_out:  # classes held out of training, scored like the defaults do
        held = class_share(y, args.held_out, args.seed)
        targets.append((X[held], y[held]))
        X, y = X[~held], y[~held]
    _, codes = np.unique(y, return_inverse=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        defaults = DeepSpectralClusteringEmbedder(random_state=args.seed).fit(X, y)
    if not hasattr(defaults.module_, "anchor"):
        raise SystemExit(f"the defaults keep no anchor on {args.dataset}")
    anchor = defaults.module_.anchor
    results = {
        "raw features": kmeans_nmi(
            np.asarray(X_test, dtype=np.float64), y_test, random_state=args.seed
        ),
        "defaults": kmeans_nmi(
            defaults.transform(X_test).astype(np.float64),
            y_test,
            random_state=args.seed,
        ),
        "anchor": kmeans_nmi(embed(anchor, X_test), y_test, random_state=args.seed),
        "curves": {},
        **({"held-out curves": {}} if args.held_out else {}),
    }
    print(
        f"{args.dataset}: raw {results['raw features']:.3f}, defaults "
        f"{results['defaults']:.3f}, anchor alone {results['anchor']:.3f}",
        flush=True,
    )
    grid = itertools.product(
        starts(anchor, X.shape[1]).items(), args.learning_rates, COMPOSITIONS.items()
    )
    for (start, build), learning_rate, (composition, batch) in grid:
        begin = time.perf_counter()
        torch.manual_seed(args.seed)
        scores, *held_out = curve(
            build(), X, codes, targets, learning_rate, batch, args
        )
        name = f"{start} | {learning_rate:g} | {composition}"
        results["curves"][name] = scores
        if held_out:
            results["held-out curves"][name] = held_out[0]
        best = int(np.argmax(scores))
        print(
            f"  {name:<60} start {scores[0]:.3f}  best {scores[best]:.3f} (epoch "
            f"{best})  last {scores[-1]:.3f}  {time.perf_counter() - begin:.0f} s",
            flush=True,
        )
        args.partial.write_text(json.dumps(results, indent=1))
    return results


def markdown(results, args):
    lines = [
        "# Training on frozen features: unseen-class NMI after every epoch",
        "",
        f"Generated by `python benchmarks/frozen_features.py` ({args.dataset}, "
        f"seed {args.seed}, {args.epochs} epochs, Adam, torch {torch.__version__}).",
        "k-means NMI of the classes never seen in training, at the start, at the",
        "best epoch and after the last; bold where it is above the anchor alone.",
        f"Raw features {results['raw features']:.3f}, the defaults "
        f"{results['defaults']:.3f}, their anchor alone {results['anchor']:.3f}.",
    ]
    held_out = results.get("held-out curves")
    if held_out:
        lines += [
            f"Trained on {1 - args.held_out:.0%} of the training classes; the last",
            "column is the unseen NMI at the epoch the other classes score best.",
        ]
    lines += [
        "",
        "| network | learning rate | batches | NMI at start | best (epoch) | last |"
        + (" held-out choice (epoch) |" if held_out else ""),
        "|---|---|---|---|---|---|" + ("---|" if held_out else ""),
    ]
    for name, scores in results["curves"].items():
        best = int(np.argmax(scores))
        cell = f"{scores[best]:.3f} ({best})"
        if scores[best] > results["anchor"]:
            cell = f"**{cell}**"
        row = f"| {name} | {scores[0]:.3f} | {cell} | {scores[-1]:.3f} |"
        if held_out:
            chosen = int(np.argmax(held_out[name]))
            row += f" {scores[chosen]:.3f} ({chosen}) |"
        lines.append(row)
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="dictionary", choices=list(DATASETS))
    parser.add_argument(
        "--learning-rates", nargs="+", type=float, default=[1e-4, 1e-3, 1e-2]
    )
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--held-out",
        type=float,
        default=0.0,
        metavar="FRACTION",
        help="train on the other training classes and report the unseen NMI at "
        "the epoch these score best (0: train on every class)",
    )
    add_output(parser, "frozen_features")
    args = parser.parse_args(argv)
    args.output.mkdir(parents=True, exist_ok=True)
    args.partial = args.output / "frozen_features.partial.json"
    results = run(args)
    table = markdown(results, args)
    print("\n" + table)
    (args.output / "frozen_features.md").write_text(table)
    (args.output / "frozen_features.json").write_text(json.dumps(results, indent=1))
    args.partial.unlink()


if __name__ == "__main__":
    main()
