"""Sparse rows through the first layer: the weight's two layouts, side by side.

torch keeps a linear layer's ``out x in`` weight output-major, so a sparse
row times ``weight.T`` reads, for each stored value, a column strided by
``in_features``, and the backward of ``torch.sparse.mm`` forms the
weight's gradient input-major and transposes it. Input-major (``weight.T``
contiguous), the product reads a row. ``SparseInputLinear``, the first
layer of the MLP and of the anchor, keeps torch's layout for training, with
a product of its own from ``SPARSE_PRODUCT_FEATURES`` columns on
(``_SparseRowsProduct``: the weight times the batch's transpose, and the
gradient formed on the columns the batch holds), and reads a contiguous
copy of ``weight.T`` where it embeds sparse rows (``sparse_inference``).
This measures these choices on an MLP of the default hidden layer (256
wide; 64 outputs), built from one seed, alternating the arms in one run:

- a training step as the estimator takes it (forward, the spectral
  clustering loss, backward and a fused AdamW step, on a batch of 256 rows
  of 16 classes): the weight output-major through torch's product and
  through ours, and input-major through torch's;
- the embedding of 64, 1,024 and 4,096 rows (``--rows``) in batches of
  ``inference_batch_size`` rows without gradients, through the strided
  view or the copy (the copy made within the timing): ``embed`` makes the
  copy only where the rows hold enough stored values a column
  (``COPY_STORED_PER_COLUMN``), and these counts show why;

on sparse rows of about 100 stored values of 2,500, 4,096, 30,000,
100,000 and 2^18 columns (``--widths``), and on dense rows of 1,024
columns. It prints the
best of ``--repeats`` for each, the ratios, and the largest difference
between the two embeddings.

    python benchmarks/bench_sparse_layout.py --threads 2
    python benchmarks/bench_sparse_layout.py --device cuda
"""

import argparse
import contextlib
import functools
import math
import time
from unittest import mock

import numpy as np
import scipy.sparse as sp
import torch
from bench_loss import synchronize
from threads import run_with_threads

from sklearn_dsc import _networks, spectral_clustering_loss
from sklearn_dsc._data import inference_batch_size, sparse_rows
from sklearn_dsc._networks import build_mlp, sparse_inference

# Columns of the sparse rows (--widths) and their stored values a row, and
# the columns of the dense rows
WIDTHS = (2_500, 4_096, 30_000, 100_000, 2**18)
STORED = 100
DENSE_WIDTH = 1024
# Rows embedded (--rows): the copy costs more than it saves on few
ROWS = (64, 1024, 4096)
HIDDEN, OUTPUTS = (256,), 64
# The training steps' arms: (weight input-major, torch's product)
STEPS = {
    "torch's product": (False, True),
    "ours": (False, False),
    "input-major": (True, True),
}
BATCH = 256
CLASSES = 16


def rows(n_rows, n_columns, stored, seed):
    """``n_rows`` CSR rows of ``stored`` random values each in ``n_columns``
    columns, or dense rows for ``stored=None`` (float32)."""
    rng = np.random.RandomState(seed)
    if stored is None:
        return rng.rand(n_rows, n_columns).astype(np.float32)
    columns = rng.randint(n_columns, size=n_rows * stored)
    starts = np.arange(0, n_rows * stored + 1, stored)
    values = rng.rand(n_rows * stored).astype(np.float32)
    matrix = sp.csr_matrix((values, columns, starts), (n_rows, n_columns))
    matrix.sum_duplicates()
    return matrix


def network(n_columns, input_major, device):
    """The MLP of ``n_columns`` inputs from seed 0, its first weight laid out
    input-major or as torch lays it out."""
    module = build_mlp(n_columns, HIDDEN, OUTPUTS, "relu", seed=0)
    if input_major:
        weight = module[0].weight.detach()
        module[0].weight = torch.nn.Parameter(weight.T.contiguous().T)
    return module.to(device)


def batch_of(X, indices, device):
    if sp.issparse(X):
        return sparse_rows(X, indices, device)
    return torch.from_numpy(X[indices]).to(device)


def training_step(module, batch, labels, optimizer, torchs_product):
    """One step, through torch's sparse product where ``torchs_product``."""
    product = (
        mock.patch.object(_networks, "SPARSE_PRODUCT_FEATURES", math.inf)
        if torchs_product
        else contextlib.nullcontext()
    )
    with product:
        optimizer.zero_grad()
        spectral_clustering_loss(module(batch), labels).backward()
        optimizer.step()


def embedding(module, X, device, copy):
    """``module`` on the rows of ``X`` in inference batches, through a copy
    of the first weight's transpose or its strided view."""
    size = inference_batch_size(module, device)
    chunks = np.array_split(np.arange(X.shape[0]), range(size, X.shape[0], size))
    layout = sparse_inference(module) if copy else contextlib.nullcontext()
    with torch.no_grad(), layout:
        return torch.cat([module(batch_of(X, chunk, device)) for chunk in chunks])


def timed(function, device):
    synchronize(device)
    start = time.perf_counter()
    result = function()
    synchronize(device)
    return time.perf_counter() - start, result


def measure(n_columns, stored, device, row_counts, repeats):
    """Best seconds ``{arm: s}`` of a training step, and for each count of
    ``row_counts`` the best seconds of the embedding ``{arm: s}``, the
    largest difference between the two and the stored values per column."""
    device = torch.device(device)
    batch = batch_of(rows(BATCH, n_columns, stored, seed=0), np.arange(BATCH), device)
    labels = (torch.arange(BATCH) % CLASSES).to(device)
    steps = {}
    for arm, (input_major, torchs_product) in STEPS.items():
        module = network(n_columns, input_major, device)
        optimizer = torch.optim.AdamW(module.parameters(), fused=True)
        step = functools.partial(
            training_step, module, batch, labels, optimizer, torchs_product
        )
        step()  # warm-up
        steps[arm] = step
    best_steps = dict.fromkeys(steps, float("inf"))
    for _ in range(repeats):
        for arm, step in steps.items():
            seconds, _ = timed(step, device)
            best_steps[arm] = min(best_steps[arm], seconds)
    fixed = network(n_columns, False, device).eval()
    embeddings = {}
    for n_rows in row_counts:
        X = rows(n_rows, n_columns, stored, seed=1)
        best, outputs = dict.fromkeys(("strided", "copy"), float("inf")), {}
        for _ in range(repeats):
            for arm in best:
                seconds, outputs[arm] = timed(
                    lambda a=arm, X=X: embedding(fixed, X, device, a == "copy"),
                    device,
                )
                best[arm] = min(best[arm], seconds)
        difference = float((outputs["copy"] - outputs["strided"]).abs().max())
        per_column = X.nnz / n_columns if sp.issparse(X) else float(n_rows)
        embeddings[n_rows] = best, difference, per_column
    return best_steps, embeddings


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--widths", type=int, nargs="+", default=WIDTHS, help="sparse rows' columns"
    )
    parser.add_argument(
        "--rows", type=int, nargs="+", default=ROWS, help="rows embedded, each count"
    )
    parser.add_argument("--repeats", type=int, default=5)
    run_with_threads(parser, run, argv)


def run(args):
    """Print the table of every input and count of rows."""
    print(
        f"device {args.device}, {torch.get_num_threads()} CPU threads, best of "
        f"{args.repeats}; a step on {BATCH} rows"
    )
    print(
        "| rows | step, torch's product | step, ours | ratio | step, input-major "
        "| ratio | rows embedded | stored values a column | embedding, strided "
        "| embedding, copy | ratio | largest difference |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    inputs = [(width, STORED) for width in args.widths] + [(DENSE_WIDTH, None)]
    for n_columns, stored in inputs:
        step, embeddings = measure(
            n_columns, stored, args.device, args.rows, args.repeats
        )
        kind = "dense" if stored is None else f"sparse, {stored} values"
        usual, ours, major = (step[arm] for arm in STEPS)
        for n_rows, (best, difference, per_column) in embeddings.items():
            strided, copy = best["strided"], best["copy"]
            print(
                f"| {n_columns} columns, {kind} | {usual * 1e3:.1f} ms "
                f"| {ours * 1e3:.1f} ms | {ours / usual:.2f}x "
                f"| {major * 1e3:.1f} ms | {major / usual:.2f}x | {n_rows} "
                f"| {per_column:.2f} | {strided * 1e3:.1f} ms | {copy * 1e3:.1f} ms "
                f"| {copy / strided:.2f}x | {difference:.1e} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
