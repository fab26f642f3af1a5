"""Time the gradient's gather of class rows, by the way torch is asked for it.

Each row of the loss's gradient starts from its class's row of a k x d table
(``_loss_algebra.gradient_rows``: ``index_select`` along the first axis, n
rows out). On an H200 that gather ran at under a fifth of the card's copy
bandwidth at n = 262,144, d = 128, k = n / 8, the largest part of the work a
replayed loss call leaves to the GPU beside the two matrix products. This
script times the ways of asking torch for the same rows (``index_select``,
indexing, ``embedding``, ``take_along_dim`` of an expanded index) and the
gather with the product that follows it (``addmm_`` in place, as the loss
forms a gradient), checks that every gather gives the same bits, and prints
each time beside the memory traffic's floor at the bandwidth of a plain copy
of the output measured in the same run.

    python benchmarks/bench_gather.py --device cuda
"""

import argparse

import torch
from bench_loss import _fmt_ratio, _fmt_time, time_call

GATHERS = {
    "index_select": lambda table, codes: table.index_select(0, codes),
    "indexing": lambda table, codes: table[codes],
    "embedding": lambda table, codes: torch.nn.functional.embedding(codes, table),
    "take_along_dim": lambda table, codes: torch.take_along_dim(
        table, codes[:, None].expand(-1, table.shape[1]), dim=0
    ),
}


def measure(n, d, k, device, repeat):
    """The table's cells for one size: n, k, the copy's time, each gather's,
    the gather with its product, the best gather over the copy, and whether
    every gather gave the same bits (the data drawn from a seed of n)."""
    generator = torch.Generator().manual_seed(n)
    table = torch.randn(k, d, generator=generator).to(device)
    codes = torch.randint(0, k, (n,), generator=generator).to(device)
    rows = torch.randn(n, d, generator=generator).to(device)
    square = torch.randn(d, d, generator=generator).to(device)
    reference = GATHERS["index_select"](table, codes)
    same = all(
        torch.equal(gather(table, codes), reference) for gather in GATHERS.values()
    )
    out = torch.empty_like(reference)
    copy = time_call(lambda: out.copy_(reference), device, repeat)
    times = [
        time_call(lambda gather=gather: gather(table, codes), device, repeat)
        for gather in GATHERS.values()
    ]
    product = time_call(
        lambda: table.index_select(0, codes).addmm_(rows, square, beta=-1),
        device,
        repeat,
    )
    cells = [n, k, _fmt_time(copy), *map(_fmt_time, times), _fmt_time(product)]
    return [*cells, _fmt_ratio(min(times), copy), same]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--n", type=int, nargs="+", default=[65536, 262144])
    parser.add_argument("--d", type=int, default=128)
    parser.add_argument("--rows-per-class", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    print(
        f"device={device} torch={torch.__version__} float32, d={args.d}, "
        f"k = n / {args.rows_per_class}; copy: the output's bytes copied once"
    )
    print(
        "| n | k | copy | "
        + " | ".join(GATHERS)
        + " | gather + product (index_select, addmm_) | best / copy | same bits |"
    )
    print("|" + "---|" * (len(GATHERS) + 6))
    for n in args.n:
        k = max(1, n // args.rows_per_class)
        cells = measure(n, args.d, k, device, args.repeat)
        print("| " + " | ".join(map(str, cells)) + " |", flush=True)


if __name__ == "__main__":
    main()
