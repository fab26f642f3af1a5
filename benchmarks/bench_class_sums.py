"""Time the loss's per-class sums on a device, by the number of classes.

The loss needs the sum of the rows of each class (k x d). On a GPU those
sums must be the same from one run to the next, which atomic additions
(``index_add_``) are not, so ``_loss_algebra.sum_rows_by_class`` adds a
class's rows in the order of a stable sort of the labels (``index_put_``
with ``accumulate``), or, for class tables of at most
``INDICATOR_SUM_ROWS`` rows, multiplies the embeddings by the k x n
indicator matrix (``indicator_sums``). This script times both, and the
product of the embeddings by that indicator matrix held sparse (CSR, its
rows' entries in the order of a stable sort of the labels: ``csr_sums``),
with ``index_add_`` beside them for reference, for a range of class counts,
and says whether each gave the same bits on every run and its error against
float64 sums. The indicator product is skipped where its k x n matrix would
exceed ``--memory-budget``.

    python benchmarks/bench_class_sums.py --device cuda
"""

import argparse
import warnings

import torch
from bench_loss import _fmt_ratio, _fmt_time, time_call

from sklearn_dsc._loss_algebra import INDICATOR_SUM_ROWS, indicator_sums


def csr_sums(embeddings, codes, k):
    """The per-class sums as the product of the k x n indicator matrix, held
    as CSR (built from a stable sort of ``codes`` on each call), by
    ``embeddings``."""
    order = torch.argsort(codes, stable=True)
    rows = torch.zeros(k + 1, dtype=torch.int64, device=codes.device)
    rows[1:] = torch.bincount(codes, minlength=k).cumsum(0)
    ones = embeddings.new_ones(len(codes))
    with warnings.catch_warnings():  # "Sparse CSR tensor support is in beta"
        warnings.simplefilter("ignore", UserWarning)
        indicator = torch.sparse_csr_tensor(rows, order, ones, (k, len(codes)))
    return indicator @ embeddings


METHODS = {
    "sorted": lambda f, codes, k: f.new_zeros((k, f.shape[1])).index_put_(
        (codes,), f, accumulate=True
    ),
    "indicator": indicator_sums,
    "csr": csr_sums,
    "atomic": lambda f, codes, k: f.new_zeros((k, f.shape[1])).index_add_(0, codes, f),
}
# The methods whose bits and error the table gives (atomic is the reference).
CHECKED = ("sorted", "indicator", "csr")


def measure(method, embeddings, codes, k, device, repeat):
    """Median seconds, whether 3 more runs gave the same bits, and the
    relative error against float64 sums."""
    run = METHODS[method]
    sums = run(embeddings, codes, k)
    same = all(torch.equal(run(embeddings, codes, k), sums) for _ in range(3))
    exact = METHODS["atomic"](embeddings.double(), codes, k)
    error = float((sums.double() - exact).norm() / exact.norm())
    seconds = time_call(lambda: run(embeddings, codes, k), device, repeat)
    return seconds, same, error


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--n", type=int, nargs="+", default=[65536, 262144])
    parser.add_argument("--d", type=int, default=128)
    parser.add_argument(
        "--classes",
        type=int,
        nargs="+",
        default=[4, 16, 64, 256, 1024, 8192, 32768],
        help="class counts k (those above n are skipped)",
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--memory-budget",
        type=float,
        default=2.0,
        help="skip the indicator product where its matrix exceeds this many GiB",
    )
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    generator = torch.Generator().manual_seed(0)
    print(
        f"device={device} torch={torch.__version__} float32, d={args.d}; "
        f"the loss uses the indicator product up to {INDICATOR_SUM_ROWS} rows "
        "(on a GPU)"
    )
    checked = ", ".join(CHECKED)
    print(
        "| n | k | rows a class | sorted | indicator | csr | atomic | "
        f"indicator/sorted | csr/sorted | same bits ({checked}) | "
        f"error ({checked}) |"
    )
    print("|" + "---|" * 11)
    for n in args.n:
        embeddings = torch.randn(n, args.d, generator=generator).to(device)
        for k in (k for k in args.classes if k <= n):
            codes = (torch.arange(n) % k)[torch.randperm(n, generator=generator)]
            codes = codes.to(device)
            results = {}
            for method in METHODS:
                if method == "indicator" and k * n * 4 > args.memory_budget * 2**30:
                    continue
                results[method] = measure(
                    method, embeddings, codes, k, device, args.repeat
                )
            times = {m: r[0] for m, r in results.items()}
            same = ", ".join(
                str(results[m][1]) if m in results else "-" for m in CHECKED
            )
            errors = ", ".join(
                f"{results[m][2]:.1e}" if m in results else "-" for m in CHECKED
            )
            row = [n, k, n // k, *(_fmt_time(times.get(m)) for m in METHODS)]
            row += [
                _fmt_ratio(times.get("indicator"), times["sorted"]),
                _fmt_ratio(times["csr"], times["sorted"]),
                same,
                errors,
            ]
            print("| " + " | ".join(map(str, row)) + " |", flush=True)


if __name__ == "__main__":
    main()
