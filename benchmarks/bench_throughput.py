"""Training throughput on Fashion-MNIST: ours against a triplet loss, per device.

The same MLP (784 -> 256 -> 10), batch size, optimizer (Adam, lr 1e-3) and
batches (shuffled, 60000 x 784 images held on the device) train with

- **ours**: ``spectral_clustering_loss``;
- **triplet (PML)**: pytorch-metric-learning's ``TripletMarginLoss`` (every
  valid triplet of the batch, its default);
- **estimator**: ``DeepSpectralClusteringEmbedder.fit`` with a random start
  and no validation (its class-balanced batches, data moved by the
  estimator), counting ``t_`` samples;

for ``--epochs`` epochs after one warm-up epoch, on each ``--devices`` entry
in one run. Prints samples per second and the ratios.

    bash benchmarks/install_data.sh   # Fashion-MNIST from Debian; pip extras
    python benchmarks/bench_throughput.py --devices cpu cuda
"""

import argparse
import time
import warnings

import numpy as np
import torch
from bench_loss import synchronize
from sklearn.exceptions import ConvergenceWarning

from sklearn_dsc import DeepSpectralClusteringEmbedder, spectral_clustering_loss

HIDDEN = 256
N_COMPONENTS = 10


def fashion_training_set():
    from datasets import FASHION, _idx

    X = _idx(FASHION / "train-images-idx3-ubyte.gz").reshape(-1, 784) / 255.0
    y = _idx(FASHION / "train-labels-idx1-ubyte.gz").astype(np.int64)
    return X.astype(np.float32), y


def random_training_set(n_samples=60000, n_features=784, n_classes=10):
    rng = np.random.default_rng(0)
    return rng.random((n_samples, n_features), dtype=np.float32), rng.integers(
        0, n_classes, n_samples
    )


def loop_throughput(criterion, X, y, device, batch_size, epochs):
    """Samples per second of a plain training loop with ``criterion``."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(X.shape[1], HIDDEN),
        torch.nn.ReLU(),
        torch.nn.Linear(HIDDEN, N_COMPONENTS),
    ).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    inputs = torch.as_tensor(X, device=device)
    labels = torch.as_tensor(y, device=device)
    generator = torch.Generator(device=device).manual_seed(0)

    def epoch():
        order = torch.randperm(len(inputs), device=device, generator=generator)
        for start in range(0, len(order) - batch_size + 1, batch_size):
            batch = order[start : start + batch_size]
            optimizer.zero_grad(set_to_none=True)
            criterion(model(inputs[batch]), labels[batch]).backward()
            optimizer.step()
        return (len(order) // batch_size) * batch_size

    epoch()  # warm up
    synchronize(device)
    start, seen = time.perf_counter(), 0
    for _ in range(epochs):
        seen += epoch()
    synchronize(device)
    return seen / (time.perf_counter() - start)


def estimator_throughput(X, y, device, batch_size, epochs):
    estimator = DeepSpectralClusteringEmbedder(
        N_COMPONENTS,
        hidden_layer_sizes=(HIDDEN,),
        init="random",
        early_stopping=False,
        batch_size=batch_size,
        max_iter=epochs,
        tol=0.0,
        n_iter_no_change=epochs + 1,
        random_state=0,
        device=device,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator.set_params(max_iter=1).fit(X[:1000], y[:1000])  # warm up
        start = time.perf_counter()
        estimator.set_params(max_iter=epochs).fit(X, y)
    return estimator.t_ / (time.perf_counter() - start)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", nargs="+", default=["cpu"])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument(
        "--samples", type=int, default=None, help="train on the first N samples"
    )
    parser.add_argument(
        "--data",
        choices=["fashion-mnist", "random"],
        default="fashion-mnist",
        help="random: 60000 x 784 uniform noise of 10 classes (no install)",
    )
    args = parser.parse_args(argv)
    from pytorch_metric_learning.losses import TripletMarginLoss

    if args.data == "fashion-mnist":
        X, y = fashion_training_set()
    else:
        X, y = random_training_set()
    X, y = X[: args.samples], y[: args.samples]
    print(
        f"{args.data}: {X.shape[0]} x {X.shape[1]}, MLP {X.shape[1]}-{HIDDEN}-"
        f"{N_COMPONENTS}, batch {args.batch_size}, {args.epochs} epoch(s) after a "
        "warm-up; samples/s\n"
    )
    print("| device | ours | triplet (PML) | estimator | ours/triplet |")
    print("|---|---|---|---|---|")
    results = {}
    for name in args.devices:
        device = torch.device(name)
        ours = loop_throughput(
            spectral_clustering_loss, X, y, device, args.batch_size, args.epochs
        )
        triplet = loop_throughput(
            TripletMarginLoss(), X, y, device, args.batch_size, args.epochs
        )
        fitted = estimator_throughput(X, y, name, args.batch_size, args.epochs)
        results[name] = ours
        print(
            f"| {name} | {ours:,.0f} | {triplet:,.0f} | {fitted:,.0f} | "
            f"{ours / triplet:.2f}x |",
            flush=True,
        )
    if len(results) > 1:
        baseline = args.devices[0]
        for name in args.devices[1:]:
            print(
                f"\nours on {name} / on {baseline}: "
                f"{results[name] / results[baseline]:.1f}x"
            )


if __name__ == "__main__":
    main()
