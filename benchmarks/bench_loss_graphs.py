"""Time the loss's CUDA graphs with and without each of their two choices.

From the third call of a batch shape on, the loss's forward pass on a GPU
is a CUDA graph's replay (``sklearn_dsc._loss_graphs``). Such a graph
writes the gradient where autograd will ask for it, so that the backward
pass is one kernel (``GRAPHED_GRADIENT``), and factorises ``F^T F`` on a
second stream, beside the class sums (``SIDE_STREAM``). This script times a
call of the loss, forward and backward, with each of the four combinations,
beside the eager path and the two n x d by d x d matrix products that any
implementation needs. The variants run in interleaved rounds, each once a
round, so that a machine's drift reaches all of them alike: each cell is the
median of the rounds' medians, with the range of the rounds. It also says
whether every variant gave the eager loss and gradient bit for bit.

On a CPU no graph is captured, so every variant runs the eager path (a
check of the script itself).

    python benchmarks/bench_loss_graphs.py --device cuda
"""

import argparse
import functools
import statistics

import torch
from bench_loss import (
    REPLAY_WARMUPS,
    _fmt_time,
    run_floor,
    run_ours,
    run_ours_eager,
    time_call,
)

from sklearn_dsc import _loss_graphs, spectral_clustering_loss

VARIANTS = {  # name: (GRAPHED_GRADIENT, SIDE_STREAM)
    "gradient in graph, two streams": (True, True),
    "gradient in graph, one stream": (True, False),
    "gradient in backward, two streams": (False, True),
    "gradient in backward, one stream": (False, False),
}


def loss_and_grad(embeddings, labels):
    embeddings.grad = None
    loss = spectral_clustering_loss(embeddings, labels)
    loss.backward()
    return loss.detach().clone(), embeddings.grad.clone()


def time_variant(switches, embeddings, labels, device, repeat):
    """Median seconds of a call from the variant's first replay on, and the
    loss and gradient of a replay after them."""
    _loss_graphs.GRAPHED_GRADIENT, _loss_graphs.SIDE_STREAM = switches
    _loss_graphs.clear()
    call = functools.partial(run_ours, embeddings, labels)
    seconds = time_call(call, device, repeat, warmups=REPLAY_WARMUPS)
    return seconds, loss_and_grad(embeddings, labels)


def compare(embeddings, labels, device, rounds, repeat):
    """``{name: [seconds of each round]}`` for the variants, the eager path
    and the floor, and whether each variant gave the eager results."""
    times = {name: [] for name in [*VARIANTS, "eager", "2 matmuls"]}
    same = dict.fromkeys(VARIANTS, True)
    defaults = _loss_graphs.GRAPHED_GRADIENT, _loss_graphs.SIDE_STREAM
    matrix = torch.randn(embeddings.shape[1], embeddings.shape[1], device=device)
    try:
        _loss_graphs.clear()
        expected = loss_and_grad(embeddings, labels)
        for _ in range(rounds):
            for name, switches in VARIANTS.items():
                seconds, results = time_variant(
                    switches, embeddings, labels, device, repeat
                )
                times[name].append(seconds)
                same[name] &= all(map(torch.equal, results, expected))
            eager = functools.partial(run_ours_eager, embeddings, labels)
            times["eager"].append(time_call(eager, device, repeat))
            with torch.no_grad():
                floor = functools.partial(run_floor, embeddings, labels, matrix)
                times["2 matmuls"].append(time_call(floor, device, repeat))
    finally:
        _loss_graphs.GRAPHED_GRADIENT, _loss_graphs.SIDE_STREAM = defaults
        _loss_graphs.clear()
    return times, same


def cell(seconds):
    median = _fmt_time(statistics.median(seconds))
    if len(seconds) == 1:
        return median
    return f"{median} ({_fmt_time(min(seconds))} to {_fmt_time(max(seconds))})"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda, or cpu")
    parser.add_argument("--n", type=int, nargs="+", default=[4096, 65536, 262144])
    parser.add_argument("--d", type=int, default=128)
    parser.add_argument(
        "--samples-per-class", type=int, default=8, help="n / k (default 8)"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error(
            "--device cuda: no CUDA device here (--device cpu checks the script)"
        )
    print(
        f"device={device} torch={torch.__version__} float32, d={args.d}, "
        f"k=n/{args.samples_per_class}; forward + backward, median of "
        f"{args.rounds} interleaved rounds (their range)"
    )
    if device.type != "cuda":
        print("(no graph is captured on this device: every variant runs eagerly)")
    columns = ["n", "k", *VARIANTS, "eager", "2 matmuls", "same bits as eager"]
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    generator = torch.Generator().manual_seed(0)
    for n in args.n:
        k = max(2, n // args.samples_per_class)
        embeddings = torch.randn(n, args.d, generator=generator).to(device)
        embeddings.requires_grad_(True)
        labels = (torch.arange(n) % k).to(device)
        times, same = compare(embeddings, labels, device, args.rounds, args.repeat)
        row = [str(n), str(k), *(cell(seconds) for seconds in times.values())]
        row.append(", ".join(str(same[name]) for name in VARIANTS))
        print("| " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
