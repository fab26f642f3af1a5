"""The default fit on a GPU against a few CPU cores, side by side in one run.

Each fit runs in a fresh process with ``--threads`` torch and BLAS threads,
pinned to cores of its own where the machine has enough of them: the fits on
the first of ``--devices`` (seeds 0 to ``--seeds`` - 1) one after the other,
while those on the second (``--other-seeds`` of them) run at the same time
on other cores, so that both see the same machine. Each process starts its
device before the clock starts. For each fit: the fit time, the anchor kept
and the k-means NMI of the classes never seen in training (as
``zero_shot.py`` scores it); then the mean fit times and their ratio.

    bash benchmarks/install_data.sh   # the glyph images
    python benchmarks/bench_devices.py --dataset glyphs --network conv
"""

import argparse
import json
import os
import statistics
import sys
import threading
import time

from children import child_result
from datasets import DATASETS, INPUT_SHAPES


def child(device, dataset, network, seed, threads, cores):
    """One default fit; prints its fit time, anchor and unseen-class NMI.
    ``cores``: the cores to run on, comma-separated, or ``-`` for any."""
    if cores != "-":
        os.sched_setaffinity(0, [int(core) for core in cores.split(",")])
    import numpy as np
    import torch
    from outputs import name_of

    from sklearn_dsc import DeepSpectralClusteringEmbedder
    from sklearn_dsc.metrics import kmeans_nmi

    torch.set_num_threads(int(threads))
    seed = int(seed)
    X_train, y_train, X_test, y_test = DATASETS[dataset]()
    params = {}
    if network == "conv":
        params = {"network": "conv", "input_shape": INPUT_SHAPES[dataset]}
    torch.zeros(1, device=device)  # start the device before the clock
    estimator = DeepSpectralClusteringEmbedder(
        random_state=seed, device=device, **params
    )
    start = time.perf_counter()
    estimator.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    embeddings = np.asarray(estimator.transform(X_test), dtype=np.float64)
    shrinkage = estimator.shrinkage_
    anchor = name_of((estimator.init_, shrinkage))
    result = {
        "fit s": seconds,
        "anchor": anchor,
        "NMI": kmeans_nmi(embeddings, y_test, random_state=seed),
    }
    print(json.dumps(result))


def run_fits(device, seeds, cores, args):
    """Fit ``seeds`` one after the other on ``device``, each in a process
    pinned to ``cores`` (None: not pinned); returns their results."""
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    env["MKL_NUM_THREADS"] = env["OMP_NUM_THREADS"]
    pinned = "-" if cores is None else ",".join(map(str, cores))
    results = []
    for seed in seeds:
        arguments = [device, args.dataset, args.network, seed, args.threads, pinned]
        results.append(child_result(__file__, *arguments, env=env))
        print(f"  {device}, seed {seed}: {results[-1]}", flush=True)
    return results


def split_cores(threads):
    """Two disjoint sets of ``threads`` cores, or ``(None, None)`` where the
    machine has fewer than twice as many cores as that, or cannot pin."""
    if not hasattr(os, "sched_setaffinity"):
        return None, None
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2 * threads:
        return None, None
    return cores[threads : 2 * threads], cores[:threads]


def table(devices, results, args):
    """The per-fit rows and the ratio of the mean fit times, in markdown;
    ``results`` holds the runs on each of ``devices``, in their order."""
    lines = [
        f"{args.dataset}, network={args.network!r}, {args.threads} CPU threads "
        "for each process; the fits of both devices ran at the same time",
        "",
        "| device | seed | fit s | anchor | NMI |",
        "|---|---|---|---|---|",
    ]
    for where, runs in zip(devices, results, strict=True):
        for seed, run in enumerate(runs):
            lines.append(
                f"| {where} | {seed} | {run['fit s']:.1f} | {run['anchor']} | "
                f"{run['NMI']:.3f} |"
            )
    means = [statistics.mean(run["fit s"] for run in runs) for runs in results]
    lines += [
        "",
        f"mean fit time: {devices[0]} {means[0]:.1f} s, {devices[1]} "
        f"{means[1]:.1f} s; {devices[1]}/{devices[0]}: {means[1] / means[0]:.1f}x",
    ]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=list(DATASETS), default="glyphs")
    parser.add_argument("--network", choices=["mlp", "conv"], default="conv")
    parser.add_argument(
        "--devices",
        nargs=2,
        default=["cuda", "cpu"],
        metavar=("DEVICE", "OTHER"),
        help="the device measured and the one it is compared with",
    )
    parser.add_argument("--seeds", type=int, default=3, help="fits on DEVICE")
    parser.add_argument("--other-seeds", type=int, default=1, help="fits on OTHER")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads per fit")
    args = parser.parse_args(argv)
    if args.network == "conv" and args.dataset not in INPUT_SHAPES:
        parser.error(f"--network conv needs an image dataset: {sorted(INPUT_SHAPES)}")
    device, other_device = args.devices
    cores, other_cores = split_cores(args.threads)
    others = []

    def other_fits():
        others.extend(
            run_fits(other_device, range(args.other_seeds), other_cores, args)
        )

    background = threading.Thread(target=other_fits)
    background.start()
    first = run_fits(device, range(args.seeds), cores, args)
    background.join()
    if len(others) < args.other_seeds:
        raise RuntimeError(f"the fits on {other_device} failed (see above)")
    print("\n" + table(args.devices, [first, others], args))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*sys.argv[2:])
    else:
        main()
