"""Embedding on the CPU by batches of rows: how many rows a call, side by side.

``embed`` (``transform``, ``predict``, ``score``, the held-out scores of a
fit) runs a convolutional network on the CPU 64 rows a call
(``_data.CPU_CONV_INFERENCE_BATCH_SIZE``), whose activations then stay in
the caches, and any other network 4,096 (``INFERENCE_BATCH_SIZE``), which
bounds memory. This times ``embed`` with each number of rows a call on the
same inputs in one run, alternating them: the ``ConvNet`` of
``network="conv"`` on 32x32 and 28x28 images, and the default MLP on rows of
784 features. It prints the best of ``--repeats`` calls for each, its ratio
to 4,096 rows a call, whether the output has the same bits and how far
apart it is: the bits of a product may depend on its number of rows where
the kernels do (the same bits on a Xeon with AVX-512; on the same Xeon with
MKL held to AVX2, up to 1e-7 apart on 4,096 rows, float32 rounding).

    python benchmarks/bench_inference_batch.py --threads 2
"""

import argparse
import time

import numpy as np
import torch
from threads import run_with_threads

from sklearn_dsc._data import (
    CPU_CONV_INFERENCE_BATCH_SIZE,
    INFERENCE_BATCH_SIZE,
    embed,
    inference_batch_size,
)
from sklearn_dsc._networks import ConvNet, build_mlp, private_seed

ROWS_A_CALL = (16, 32, 64, 128, 512, INFERENCE_BATCH_SIZE)
N_COMPONENTS = 16


def networks():
    """``{name: module}``: the networks timed, built from a fixed seed."""
    with private_seed(0):
        conv_32 = ConvNet(32 * 32, (32, 32), N_COMPONENTS)
        conv_28 = ConvNet(28 * 28, (28, 28), N_COMPONENTS)
    mlp = build_mlp(28 * 28, (256,), N_COMPONENTS, "relu", seed=0)
    return {
        "ConvNet, 32x32 images": conv_32,
        "ConvNet, 28x28 images": conv_28,
        "MLP (256), 784 features": mlp,
    }


def best_times(module, X, sizes, repeats):
    """The best seconds of ``embed(module, X)`` at each of ``sizes`` rows a
    call (alternating the sizes, ``repeats`` rounds after one warm-up
    round), and each output."""
    outputs = {size: embed(module, X, "cpu", batch_size=size) for size in sizes}
    best = dict.fromkeys(sizes, float("inf"))
    for _ in range(repeats):
        for size in sizes:
            start = time.perf_counter()
            embed(module, X, "cpu", batch_size=size)
            best[size] = min(best[size], time.perf_counter() - start)
    return best, outputs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4096, help="rows embedded")
    parser.add_argument("--repeats", type=int, default=4)
    run_with_threads(parser, run, argv)


def run(args):
    """Time and print each network's table."""
    print(
        f"{args.rows} rows, best of {args.repeats} calls, {torch.get_num_threads()} "
        f"threads; embed's own choice: {CPU_CONV_INFERENCE_BATCH_SIZE} rows a call "
        f"for a convolutional network on the CPU, {INFERENCE_BATCH_SIZE} otherwise"
    )
    rng = np.random.default_rng(0)
    for name, module in networks().items():
        X = rng.random((args.rows, module.n_features), dtype=np.float32)
        best, outputs = best_times(module, X, ROWS_A_CALL, args.repeats)
        reference = best[INFERENCE_BATCH_SIZE]
        chosen = inference_batch_size(module, "cpu")
        print(f"\n{name}")
        print("| rows a call | time | against 4096 | same bits | largest difference |")
        print("|---|---|---|---|---|")
        for size in ROWS_A_CALL:
            output, whole = outputs[size], outputs[INFERENCE_BATCH_SIZE]
            same = np.array_equal(output, whole)
            difference = float(np.max(np.abs(output - whole)))
            mark = " (embed's)" if size == chosen else ""
            print(
                f"| {size}{mark} | {best[size]:.3f} s | "
                f"{best[size] / reference:.2f}x | {'yes' if same else 'no'} | "
                f"{difference:.1e} |"
            )


if __name__ == "__main__":
    main()
