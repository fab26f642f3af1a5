"""Peak memory of ``fit``, ``transform`` and ``score`` against the number of
rows.

Each measurement runs in a fresh process, which builds the inputs, fits a
small model on 2000 rows, then records its peak resident memory before and
after the call. The table gives the growth of the peak beyond the inputs,
next to the size of the output the call must return (the embedding; for
``score``, k-means' per-row labels and distances; for ``fit``, the embedding
of the training rows that its class centroids come from): memory beyond that
output should stay flat as n grows for ``transform``, which embeds 4096 rows
at a time. ``fit`` (a default fit, 2 epochs) holds copies of its inputs: the
training and held-out rows apart, a float32 copy for torch, and float64
blocks of at most 64 MiB of the centred rows, whose Gram matrix compares the
anchors.

    python benchmarks/bench_memory.py --rows 100000 1000000 [--calls fit]
"""

import argparse
import json
import resource

import numpy as np
from children import child_result

N_FEATURES = 64
N_CLASSES = 10
CALLS = ("fit", "transform", "score")


def peak_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def child(call, n_rows):
    from sklearn_dsc import DeepSpectralClusteringEmbedder

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(N_CLASSES, N_FEATURES)).astype(np.float32)
    y = rng.integers(0, N_CLASSES, n_rows)
    # filled in blocks, so that no temporary raises the peak before the call
    X = np.empty((n_rows, N_FEATURES), dtype=np.float32)
    for start in range(0, n_rows, 65536):
        block = slice(start, start + 65536)
        X[block] = centres[y[block]]
        X[block] += rng.standard_normal(X[block].shape, dtype=np.float32)
    model = DeepSpectralClusteringEmbedder(max_iter=2, random_state=0, device="cpu")
    model.fit(X[:2000], y[:2000])
    width = model.class_centroids_.shape[1]
    model.transform(X[:4096])  # warm up: allocator pools, lazy imports
    before = peak_bytes()
    if call == "fit":
        fitted = DeepSpectralClusteringEmbedder(
            max_iter=2, random_state=0, device="cpu"
        )
        fitted.fit(X, y)
        # the embedding of the training rows, from which fit takes the
        # class centroids
        output = n_rows * fitted.class_centroids_.shape[1] * 4
    elif call == "transform":
        model.transform(X)
        output = n_rows * width * 4
    else:
        model.score(X, y)
        # the embedding, plus k-means' labels (int32) and distances (float32)
        output = n_rows * (width * 4 + 8)
    growth = peak_bytes() - before
    print(json.dumps({"growth": growth, "output": output, "input": X.nbytes}))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument(
        "--calls",
        nargs="+",
        choices=CALLS,
        default=list(CALLS),
        help="the calls to measure",
    )
    parser.add_argument("--child", nargs=2, metavar=("CALL", "ROWS"), help="internal")
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], int(args.child[1]))
        return
    print(f"{N_FEATURES} float32 features, {N_CLASSES} classes, default estimator\n")
    print("| call | rows | input | output | peak growth | growth beyond output |")
    print("|---|---|---|---|---|---|")
    for call in args.calls:
        for n_rows in args.rows:
            figures = child_result(__file__, call, n_rows)
            mib = {key: value / 2**20 for key, value in figures.items()}
            print(
                f"| {call} | {n_rows} | {mib['input']:.0f} MiB | "
                f"{mib['output']:.0f} MiB | {mib['growth']:.0f} MiB | "
                f"{mib['growth'] - mib['output']:.0f} MiB |",
                flush=True,
            )


if __name__ == "__main__":
    main()
