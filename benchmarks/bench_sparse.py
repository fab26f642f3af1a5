"""Wide sparse inputs (text features): principal directions and a whole fit.

Rows hold about 100 random non-zeros plus 5 of 30 features characteristic of
their class (40 classes). Two measurements, each in a fresh process so that
its peak memory is its own:

- the 256 principal directions that the PCA anchor keeps: ours (a randomized
  SVD of the implicitly centred matrix) against scikit-learn's
  ``PCA(svd_solver="arpack")``, the solver it offers for sparse input without
  an ``n_features x n_features`` covariance; the ratio of their times;
- the default estimator's ``fit``: time and peak resident memory, beside the
  size of one ``n_features x n_features`` float64 matrix, which the fit never
  forms.

    python benchmarks/bench_sparse.py --shapes 10000x100000
"""

import argparse
import json
import resource
import time

import numpy as np
import scipy.sparse as sp
from children import child_result

N_CLASSES = 40


def peak_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def wide_rows(n_rows, n_features, seed=0):
    """Sparse rows built row by row (``scipy.sparse.random`` would allocate
    ``n_rows * n_features`` indices)."""
    rng = np.random.RandomState(seed)
    y = rng.randint(0, N_CLASSES, n_rows)
    columns = np.concatenate(
        [
            rng.randint(0, n_features, (n_rows, 100)),
            y[:, None] * 30 + rng.randint(0, 30, (n_rows, 5)),
        ],
        axis=1,
    )
    rows = np.repeat(np.arange(n_rows), columns.shape[1])
    X = sp.csr_matrix(
        (np.ones(columns.size), (rows, columns.ravel())), shape=(n_rows, n_features)
    )
    return X, y


def child(what, n_rows, n_features, n_components):
    # imported before the clock and the memory baseline, and the same in
    # every child: each measures its computation, not the loading of torch
    from sklearn.decomposition import PCA

    from sklearn_dsc import DeepSpectralClusteringEmbedder
    from sklearn_dsc._pca import randomized_pca

    X, y = wide_rows(n_rows, n_features)
    before = peak_bytes()
    start = time.perf_counter()
    if what == "ours":
        randomized_pca(X, n_components, seed=0)
    elif what == "arpack":
        PCA(n_components, svd_solver="arpack", random_state=0).fit(X)
    else:
        DeepSpectralClusteringEmbedder(random_state=0).fit(X, y)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "growth": peak_bytes() - before}))


def measure(what, n_rows, n_features, n_components=256):
    return child_result(__file__, what, n_rows, n_features, n_components)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shapes", nargs="+", default=["2000x30000", "10000x100000"], metavar="NxD"
    )
    parser.add_argument(
        "--components",
        type=int,
        default=256,
        help="principal directions computed (the PCA anchor keeps 256)",
    )
    parser.add_argument("--child", nargs=4, help="internal")
    only = parser.add_mutually_exclusive_group()
    only.add_argument(
        "--no-fit", action="store_true", help="time the principal directions only"
    )
    only.add_argument(
        "--fit-only",
        action="store_true",
        help="measure the default fit only (arpack is slow on hashed widths)",
    )
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], *(int(value) for value in args.child[1:]))
        return
    if not args.fit_only:
        print(
            f"| rows x features | ours, {args.components} directions | "
            "scikit-learn arpack | ratio |"
        )
        print("|---|---|---|---|")
    fits = []
    for shape in args.shapes:
        n_rows, n_features = (int(part) for part in shape.split("x"))
        if not args.fit_only:
            ours = measure("ours", n_rows, n_features, args.components)
            arpack = measure("arpack", n_rows, n_features, args.components)
            print(
                f"| {shape} | {ours['seconds']:.1f} s, "
                f"{ours['growth'] / 2**20:.0f} MiB "
                f"| {arpack['seconds']:.1f} s, {arpack['growth'] / 2**20:.0f} MiB "
                f"| {arpack['seconds'] / ours['seconds']:.1f}x |",
                flush=True,
            )
        if not args.no_fit:
            fits.append((shape, n_features, measure("fit", n_rows, n_features)))
    if fits:
        print("\n| rows x features | default fit | peak growth | one D x D matrix |")
        print("|---|---|---|---|")
        for shape, n_features, fit in fits:
            print(
                f"| {shape} | {fit['seconds']:.0f} s | {fit['growth'] / 2**30:.2f} GiB "
                f"| {n_features**2 * 8 / 2**30:.1f} GiB |"
            )


if __name__ == "__main__":
    main()
