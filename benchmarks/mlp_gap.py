"""Why does our loss trail MultiSimilarity with the MLP? Per-epoch curves.

``zero_shot.py`` trains the same MLP (input -> 256 -> 64) with each loss in
one loop (Adam 1e-3, PML's sampler: m rows of each class of a batch) and
reads out the last epoch. This script trains variants of that loop with the
spectral clustering loss, and MultiSimilarity beside them, and clusters the
unseen classes after chosen epochs in three read-outs:

- *raw*: the network's output;
- *L2 rows*: each row divided by its norm (MultiSimilarity's cosine geometry);
- *whitened, L2 rows*: centred and whitened by the covariance of the
  training rows' embedding, then rows normalised (the loss does not see an
  invertible linear map of the output, so training leaves that one free).

Variants of our loss (each changes one thing of the peers' loop):

- *peers' loop*: 64 outputs, batches of 256 rows, 4 of each class (with few
  classes, every class in every batch);
- *16 rows x 16 classes*: batches of 16 classes, 16 rows each;
- *128 outputs*: a wider last layer (read out as it is);
- *L2 rows in the loss*: rows normalised before the loss;
- *learning rate 1e-4*;
- *8 rows x 32 classes*, *32 rows x 8 classes*: other shapes of a batch;
- combinations of those that helped: 16 x 16 with rows normalised in the
  loss, and that with 16 outputs (as many as classes in a batch).

The unseen NMI is k-means' (3 initialisations) on at most ``--rows-per-class``
test rows of each class, drawn once per seed. Output: per dataset, variant and
read-out, the mean NMI over seeds at each scored epoch, and the best.

Setup: ``bash benchmarks/install_data.sh``, then ``python
benchmarks/mlp_gap.py``; ``--help`` lists the options.
"""

import argparse
import json
import time

import numpy as np
import torch
from datasets import DATASETS
from epoch_criteria import unseen_sample
from outputs import add_output, add_results, earlier_results, write_results
from readouts import whitened
from zero_shot import HIDDEN, l2_rows, m_per_class_batches

from sklearn_dsc import SpectralClusteringLoss
from sklearn_dsc.metrics import kmeans_nmi

SCORED_EPOCHS = (1, 2, 3, 5, 7, 10, 15, 20)
BATCH = 256


READOUTS = {
    "raw": lambda train, test: test,
    "L2 rows": lambda train, test: l2_rows(test),
    # readouts.py's whitening by the training embedding's covariance
    "whitened, L2 rows": lambda train, test: l2_rows(whitened(train, test, None)),
}


class Normalised(torch.nn.Module):
    """``loss(rows / ||rows||, labels)``."""

    def __init__(self, loss):
        super().__init__()
        self.loss = loss

    def forward(self, embeddings, labels):
        return self.loss(torch.nn.functional.normalize(embeddings, dim=1), labels)


def multisimilarity():
    from pytorch_metric_learning import losses, miners

    loss, miner = losses.MultiSimilarityLoss(), miners.MultiSimilarityMiner()
    return lambda outputs, labels: loss(outputs, labels, miner(outputs, labels))


# variant -> (loss factory, outputs, rows of each class in a batch (None:
# the peers' 4, or every class in every batch when few), learning rate)
VARIANTS = {
    "MultiSimilarity (PML)": (multisimilarity, 64, None, 1e-3),
    "ours, peers' loop": (SpectralClusteringLoss, 64, None, 1e-3),
    "ours, 16 rows x 16 classes": (SpectralClusteringLoss, 64, 16, 1e-3),
    "ours, 128 outputs": (SpectralClusteringLoss, 128, None, 1e-3),
    "ours, L2 rows in the loss": (
        lambda: Normalised(SpectralClusteringLoss()),
        64,
        None,
        1e-3,
    ),
    "ours, learning rate 1e-4": (SpectralClusteringLoss, 64, None, 1e-4),
    "ours, 8 rows x 32 classes": (SpectralClusteringLoss, 64, 8, 1e-3),
    "ours, 32 rows x 8 classes": (SpectralClusteringLoss, 64, 32, 1e-3),
    "ours, 16 x 16, L2 rows in the loss": (
        lambda: Normalised(SpectralClusteringLoss()),
        64,
        16,
        1e-3,
    ),
    "ours, 16 x 16, L2 rows in the loss, 16 outputs": (
        lambda: Normalised(SpectralClusteringLoss()),
        16,
        16,
        1e-3,
    ),
}


def curves(X, y, X_test, y_test, variant, seed, epochs):
    """``{read-out: [unseen NMI after each of SCORED_EPOCHS]}`` and seconds."""
    make_loss, width, rows_per_class, rate = VARIANTS[variant]
    torch.manual_seed(seed)
    _, codes = np.unique(y, return_inverse=True)
    network = torch.nn.Sequential(
        torch.nn.Linear(X.shape[1], HIDDEN),
        torch.nn.ReLU(),
        torch.nn.Linear(HIDDEN, width),
    )
    loss_fn = make_loss()
    parameters = list(network.parameters())
    if isinstance(loss_fn, torch.nn.Module):
        parameters += list(loss_fn.parameters())
    optimizer = torch.optim.Adam(parameters, lr=rate)
    sampler, batch_size = m_per_class_batches(
        codes, seed, argparse.Namespace(batch_size=BATCH), rows_per_class or 4
    )
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(
            torch.tensor(X, dtype=torch.float32), torch.tensor(codes)
        ),
        batch_size=batch_size,
        sampler=sampler,
        drop_last=True,
    )
    X_t = torch.tensor(X, dtype=torch.float32)
    test_t = torch.tensor(X_test, dtype=torch.float32)
    found = {name: [] for name in READOUTS}
    seconds = 0.0
    for epoch in range(1, epochs + 1):
        started = time.perf_counter()
        network.train()
        for inputs, labels in loader:
            loss = loss_fn(network(inputs), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        seconds += time.perf_counter() - started
        if epoch not in SCORED_EPOCHS:
            continue
        network.eval()
        with torch.no_grad():
            train, test = (
                network(X_t).double().numpy(),
                network(test_t).double().numpy(),
            )
        for name, read_out in READOUTS.items():
            points = read_out(train, test)
            found[name].append(kmeans_nmi(points, y_test, random_state=seed, n_init=3))
    return found, seconds


def run(args):
    results = {}
    for dataset in args.datasets:
        X, y, X_test, y_test = DATASETS[dataset]()
        results[dataset] = {}
        for variant in args.variants:
            runs = []
            for seed in range(args.seeds):
                rows = unseen_sample(y_test, args.rows_per_class, seed)
                found, seconds = curves(
                    X, y, X_test[rows], y_test[rows], variant, seed, args.epochs
                )
                runs.append({"curves": found, "seconds": seconds})
            results[dataset][variant] = runs
            best = {
                name: max(np.mean([r["curves"][name] for r in runs], axis=0))
                for name in READOUTS
            }
            print(
                f"{dataset}, {variant}: best mean NMI "
                + ", ".join(f"{name} {value:.3f}" for name, value in best.items()),
                flush=True,
            )
            (args.output / "mlp_gap.json").write_text(json.dumps(results))
    return results


def markdown(results, args):
    epochs = [e for e in SCORED_EPOCHS if e <= args.epochs]
    lines = [
        "# Our loss and MultiSimilarity with the MLP: per-epoch curves",
        "",
        f"Generated by `python benchmarks/mlp_gap.py` ({args.seeds} seeds, at "
        f"most {args.rows_per_class} test rows of each unseen class). The MLP "
        f"of `zero_shot.py` (input -> {HIDDEN} -> outputs), Adam, batches of "
        f"{BATCH} rows from PML's sampler; each variant changes one thing of "
        "the peers' loop, or combines those that helped. "
        "Cells: the k-means NMI of the unseen classes after that epoch, mean "
        "over seeds; *best*: the best of those means.",
    ]
    for dataset, variants in results.items():
        lines += [
            "",
            f"## {dataset}",
            "",
            "| variant | read-out | "
            + " | ".join(f"epoch {e}" for e in epochs)
            + " | best | train s |",
            "|---" * (len(epochs) + 4) + "|",
        ]
        for variant, runs in variants.items():
            seconds = np.mean([r["seconds"] for r in runs])
            for name in READOUTS:
                means = np.mean([r["curves"][name] for r in runs], axis=0)
                cells = " | ".join(f"{value:.3f}" for value in means)
                lines.append(
                    f"| {variant} | {name} | {cells} | **{means.max():.3f}** | "
                    f"{seconds:.1f} |"
                )
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--datasets", nargs="+", default=["glyphs", "fonts"], choices=list(DATASETS)
    )
    parser.add_argument(
        "--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS)
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--rows-per-class", type=int, default=30)
    add_output(parser, "mlp_gap")
    add_results(parser)
    args = parser.parse_args(argv)
    args.output.mkdir(parents=True, exist_ok=True)
    results = earlier_results(args)
    if results is not None:
        args.seeds = len(next(iter(next(iter(results.values())).values())))
    else:
        results = run(args)
    text = markdown(results, args)
    write_results(args.output, "mlp_gap", text, results, indent=None)


if __name__ == "__main__":
    main()
