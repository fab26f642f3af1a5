"""Time the spectral clustering loss (forward + backward) against its peers.

Three implementations of the same loss and gradient, timed in one run:

ours
    ``sklearn_dsc.spectral_clustering_loss``: closed-form gradient from
    ``F^T F`` and per-class sums, O(n d^2 + k d^2 + d^3).
paper
    The formulation of Law et al. (2017) ported to torch: an SVD
    pseudo-inverse with the usual tolerance ``max(n, d) * eps * s_max`` and a
    dense n x k assignment matrix ``J``, O(n d^2 + n d k).
autograd
    Autograd through ``torch.linalg.pinv`` of the reference definition
    ``1/4 ||F F^+ - J J^T||_F^2``, which forms n x n matrices.

With ``--device cuda`` it also times two plain n x d by d x d matrix products,
the floor of any implementation (ours does ``F^T F`` forward and ``F M``
backward), ours without its CUDA graphs ("ours, eager": every call as the
first calls of a shape run, before the forward pass is captured as a graph
and replayed), and counts what one call of ours costs besides: the host
synchronisations (``torch.cuda.set_sync_debug_mode``) and the operations
that run on the GPU (kernels, copies and fills, from ``torch.profiler``);
``--profile`` prints those operations for the first size. A variant is
skipped where its memory estimate exceeds ``--memory-budget``.

Run ``python benchmarks/bench_loss.py --help`` for options.
"""

import argparse
import functools
import statistics
import time
import warnings

import numpy as np
import torch

from sklearn_dsc import _loss_graphs, spectral_clustering_loss


def dense_assignment(labels, dtype):
    """The paper's dense n x k matrix J = Y diag(n_c)^(-1/2)."""
    _, index = torch.unique(labels, return_inverse=True)
    one_hot = torch.nn.functional.one_hot(index).to(dtype)
    return one_hot / one_hot.sum(0).sqrt()


def paper_loss_and_grad(embeddings, labels):
    """Loss and closed-form gradient as in the paper: SVD and a dense J."""
    n, d = embeddings.shape
    u, s, vh = torch.linalg.svd(embeddings, full_matrices=False)
    tol = max(n, d) * torch.finfo(embeddings.dtype).eps * s.max()
    keep = s > tol
    u, s_kept, vh = u[:, keep], s[keep], vh[keep]
    j = dense_assignment(labels, embeddings.dtype)
    pinv_t = (u / s_kept) @ vh  # (F^+)^T, n x d
    ujt = u.T @ j  # rank x k
    loss = (keep.sum() + j.shape[1] - 2 * (ujt * ujt).sum()) / 4
    g = j @ (j.T @ pinv_t)  # P_Y (F^+)^T
    grad = -(g - u @ (u.T @ g))
    return loss, grad


def reference_loss(embeddings, labels):
    j = dense_assignment(labels, embeddings.dtype)
    projection = embeddings @ torch.linalg.pinv(embeddings)
    return 0.25 * ((projection - j @ j.T) ** 2).sum()


def run_ours(embeddings, labels):
    embeddings.grad = None
    spectral_clustering_loss(embeddings, labels).backward()


# Calls of ours before the timed ones: the shape's eager calls, its capture,
# then a first replay, so that the timed calls are replays.
REPLAY_WARMUPS = _loss_graphs.CALLS_BEFORE_CAPTURE + 2


def run_ours_eager(embeddings, labels):
    _loss_graphs.clear()  # no graph: the call runs as a shape's first ones do
    run_ours(embeddings, labels)


def run_paper(embeddings, labels):
    with torch.no_grad():
        paper_loss_and_grad(embeddings, labels)


def run_autograd(embeddings, labels):
    embeddings.grad = None
    reference_loss(embeddings, labels).backward()


def run_floor(embeddings, _labels, matrix):
    gram = embeddings.T @ embeddings
    return gram, embeddings @ matrix


def count_syncs(fn):
    """Host synchronisations during one call of ``fn`` on a CUDA device."""
    torch.cuda.synchronize()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            fn()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    # (the first use of the debug mode also warns that it is a prototype)
    return sum("a synchronizing" in str(warning.message) for warning in caught)


def profile_call(fn):
    """``torch.profiler`` record of one call of ``fn`` (GPU activity only)."""
    torch.cuda.synchronize()
    activities = [torch.profiler.ProfilerActivity.CUDA]
    with torch.profiler.profile(activities=activities) as profile:
        fn()
        torch.cuda.synchronize()
    return profile


def count_device_operations(profile):
    """Operations that ran on the GPU in a profile: kernels, copies and fills."""
    cuda = torch.autograd.DeviceType.CUDA
    return sum(event.device_type == cuda for event in profile.events())


def memory_estimate(variant, n, d, k, itemsize):
    """Rough peak bytes of each variant (the big tensors only)."""
    if variant == "paper":
        return itemsize * (2 * n * k + 6 * n * d)
    if variant == "autograd":
        return itemsize * (5 * n * n + n * k)
    return itemsize * (8 * n * d + 2 * k * d)


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_call(fn, device, repeat, min_seconds=0.2, warmups=1):
    """Median seconds of ``fn()`` after ``warmups`` calls."""
    for _ in range(warmups):
        fn()
    synchronize(device)
    times = []
    start_all = time.perf_counter()
    while len(times) < repeat or (
        time.perf_counter() - start_all < min_seconds and len(times) < 50
    ):
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument(
        "--n", type=int, nargs="+", default=[1024, 4096, 16384, 65536, 262144]
    )
    parser.add_argument("--d", type=int, nargs="+", default=[64, 128, 512])
    parser.add_argument(
        "--samples-per-class", type=int, default=8, help="n / k (default 8)"
    )
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--memory-budget",
        type=float,
        default=8.0,
        help="skip a variant whose estimated peak exceeds this many GiB",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="with --device cuda, print the GPU operations of one call of ours "
        "at the first size",
    )
    parser.add_argument(
        "--variants",
        nargs="+",
        default=["ours", "paper", "autograd"],
        choices=["ours", "paper", "autograd"],
    )
    args = parser.parse_args(argv)

    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype)
    itemsize = torch.finfo(dtype).bits // 8
    budget = args.memory_budget * 2**30
    generator = torch.Generator().manual_seed(0)
    print(
        f"device={device} dtype={args.dtype} torch={torch.__version__} "
        f"threads={torch.get_num_threads()} k=n/{args.samples_per_class}"
    )
    columns = ["n", "d", "k", *args.variants]
    if device.type == "cuda":
        columns += ["ours, eager", "2 matmuls"]
    columns += [f"{v}/ours" for v in args.variants if v != "ours"]
    if device.type == "cuda":
        columns += ["ours/floor", "syncs", "GPU ops"]
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))

    ours_times = {}
    for d in args.d:
        for n in args.n:
            k = max(2, n // args.samples_per_class)
            embeddings = torch.randn(n, d, generator=generator, dtype=dtype).to(device)
            embeddings.requires_grad_(True)
            labels = (torch.arange(n) % k).to(device)
            timings = {}
            runners = {"ours": run_ours, "paper": run_paper, "autograd": run_autograd}
            for variant in args.variants:
                if memory_estimate(variant, n, d, k, itemsize) > budget:
                    timings[variant] = None
                    continue
                call = functools.partial(runners[variant], embeddings, labels)
                timings[variant] = time_call(
                    call,
                    device,
                    args.repeat,
                    warmups=REPLAY_WARMUPS if variant == "ours" else 1,
                )
            row = [str(n), str(d), str(k)]
            row += [_fmt_time(timings[v]) for v in args.variants]
            if device.type == "cuda":
                eager = functools.partial(run_ours_eager, embeddings, labels)
                eager_time = None
                if timings.get("ours") is not None:
                    eager_time = time_call(eager, device, args.repeat)
                row.append(_fmt_time(eager_time))
                matrix = torch.randn(d, d, dtype=dtype, device=device)
                with torch.no_grad():
                    call = functools.partial(run_floor, embeddings, labels, matrix)
                    floor = time_call(call, device, args.repeat)
                row.append(_fmt_time(floor))
            for v in args.variants:
                if v != "ours":
                    row.append(_fmt_ratio(timings[v], timings.get("ours")))
            if device.type == "cuda":
                row.append(_fmt_ratio(timings.get("ours"), floor))
                row += _call_costs(embeddings, labels, timings, args, not ours_times)
            if timings.get("ours") is not None:  # None: skipped for memory
                ours_times[(n, d)] = timings["ours"]
            print("| " + " | ".join(row) + " |", flush=True)
            del embeddings
    _print_growth(ours_times, args.d)


def _call_costs(embeddings, labels, timings, args, first):
    """``[syncs, GPU operations]`` of one call of ours (forward and backward),
    where ours was timed; with ``--profile``, print the operations at the
    first size."""
    if timings.get("ours") is None:
        return ["-", "-"]
    call = functools.partial(run_ours, embeddings, labels)
    for _ in range(REPLAY_WARMUPS):
        call()  # then a replay, as "ours" was timed
    try:
        profile = profile_call(call)
    except RuntimeError as error:  # no CUPTI, say
        print(f"(torch.profiler failed: {error})")
        operations = "-"
    else:
        operations = str(count_device_operations(profile))
        if args.profile and first:
            print(profile.key_averages().table(sort_by="count", row_limit=40))
    return [str(count_syncs(call)), operations]


def _fmt_time(seconds):
    if seconds is None:
        return "skipped"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def _fmt_ratio(numerator, denominator):
    if numerator is None or denominator is None:
        return "-"
    return f"{numerator / denominator:.1f}x"


def _print_growth(ours_times, ds):
    """Least-squares exponent of time ~ n^p over the sizes n >= 16384."""
    for d in ds:
        points = sorted(
            (n, t) for (n, dd), t in ours_times.items() if dd == d and n >= 16384
        )
        if len(points) < 2:
            continue
        log_n = np.log([n for n, _ in points])
        log_t = np.log([t for _, t in points])
        slope = np.polyfit(log_n, log_t, 1)[0]
        print(
            f"ours, d={d}: time grows as n^{slope:.2f} "
            f"for n in [{points[0][0]}, {points[-1][0]}]"
        )


if __name__ == "__main__":
    main()
