"""Time ``transform`` beside the bare product of the map it applies.

A fitted model whose embedding is its anchor alone (a linear map, as the
defaults keep with few training classes or where no head helps) embeds rows
as ``X @ W.T + b``: ``transform`` validates the rows, then applies its
network in batches of ``INFERENCE_BATCH_SIZE`` rows. This script fits such a
model (``init="pca"``, a head not trained) on Gaussian classes, then times,
in one run and alternating, ``transform`` of ``--rows`` float32 rows and the
same product in one torch call on the same rows (the floor: no validation,
no batches). It prints the best of ``--repeats`` calls for each, their
ratio, and how far apart the two embeddings are.

    python benchmarks/bench_transform.py --rows 200000 --features 384 768
"""

import argparse
import time
import warnings

import numpy as np
import torch
from bench_loss import _fmt_ratio, _fmt_time
from threads import run_with_threads

from sklearn_dsc import DeepSpectralClusteringEmbedder


def fitted(n_features, seed=0):
    """A model whose embedding is its PCA anchor alone, fitted on 10 Gaussian
    classes of 50 rows."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(10), 50)
    X = rng.normal(size=(10, n_features))[y] + rng.normal(size=(len(y), n_features))
    model = DeepSpectralClusteringEmbedder(init="pca", max_iter=1, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X.astype(np.float32), y)
    model.module_.head_scale.fill_(0.0)  # the anchor alone, at its own scale
    model.module_.anchor_weight.fill_(1.0)
    return model


def bare_product(model):
    """The anchor's ``X @ W.T + b`` in one torch call on float32 rows."""
    anchor = model.module_.anchor
    weight, bias = anchor.weight.detach(), anchor.bias.detach()

    def product(X):
        with torch.no_grad():
            return torch.nn.functional.linear(torch.from_numpy(X), weight, bias).numpy()

    return product


def timed(function, X):
    start = time.perf_counter()
    function(X)
    return time.perf_counter() - start


def run(args):
    print(
        "| rows | features | transform | bare product | transform / product "
        "| largest difference |"
    )
    print("|---|---|---|---|---|---|")
    for n_features in args.features:
        model = fitted(n_features)
        rng = np.random.default_rng(1)
        X = rng.normal(size=(args.rows, n_features)).astype(np.float32)
        product = bare_product(model)
        difference = float(np.max(np.abs(model.transform(X) - product(X))))
        times = {"transform": [], "product": []}
        for _ in range(args.repeats):  # alternating, the best of each
            times["transform"].append(timed(model.transform, X))
            times["product"].append(timed(product, X))
        ours, floor = min(times["transform"]), min(times["product"])
        print(
            f"| {args.rows} | {n_features} | {_fmt_time(ours)} | {_fmt_time(floor)} "
            f"| {_fmt_ratio(ours, floor)} | {difference:.1e} |",
            flush=True,
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--features", type=int, nargs="+", default=[384, 768])
    parser.add_argument("--repeats", type=int, default=5)
    run_with_threads(parser, run, argv)


if __name__ == "__main__":
    main()
