"""One training step on 1 process against the same global batch split over 2.

The MLP (784 -> 256 -> 10) takes one step of the spectral clustering loss on
a global batch: in one process with every core, and in ``--processes``
processes (gloo, CPU) that each hold an equal share of the batch and a
share of the cores, with ``DistributedDataParallel`` and
``distributed_spectral_clustering_loss``, which all-reduces ``d^2 + k d + k``
numbers per step. The script checks that both compute the same gradient and
prints the median step time of each and their ratio.

On a machine with few cores the processes only share the same cores, so
the ratio measures the cost of distribution (communication, duplicated
work) rather than a speed-up; on several GPUs or nodes (launched with
``torchrun``) each rank adds its own device.

    python benchmarks/bench_distributed.py --batch-sizes 4096 65536
"""

import argparse
import os
import statistics
import tempfile
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel

from sklearn_dsc import distributed_spectral_clustering_loss, spectral_clustering_loss

N_FEATURES = 784
HIDDEN = 256
N_COMPONENTS = 10
N_CLASSES = 1000


def worker(rank, n_processes, rendezvous, batch_size, repeat, results):
    if n_processes > 1:
        dist.init_process_group(
            "gloo", init_method=rendezvous, rank=rank, world_size=n_processes
        )
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // n_processes))
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(N_FEATURES, HIDDEN),
        torch.nn.ReLU(),
        torch.nn.Linear(HIDDEN, N_COMPONENTS),
    )
    inputs = torch.rand(batch_size, N_FEATURES)
    labels = torch.randint(0, min(N_CLASSES, batch_size // 4), (batch_size,))
    share = slice(
        rank * batch_size // n_processes, (rank + 1) * batch_size // n_processes
    )
    inputs, labels = inputs[share].clone(), labels[share].clone()
    if n_processes > 1:
        network, loss_function = (
            DistributedDataParallel(model),
            distributed_spectral_clustering_loss,
        )
    else:
        network, loss_function = model, spectral_clustering_loss

    def step():
        model.zero_grad(set_to_none=True)
        loss = loss_function(network(inputs), labels)
        loss.backward()
        return loss.item()

    step()  # warm up
    times = []
    for _ in range(repeat):
        if n_processes > 1:
            dist.barrier()
        start = time.perf_counter()
        loss = step()
        times.append(time.perf_counter() - start)
    if rank == 0:
        checksum = sum(float(p.grad.double().abs().sum()) for p in model.parameters())
        results[n_processes] = (statistics.median(times), loss, checksum)
    if n_processes > 1:
        dist.destroy_process_group()
        # DDP keeps the group alive past destroy_process_group, and gloo's
        # worker threads release the last collectives just after the caller
        # moves on: a release during interpreter shutdown aborts the
        # process (pytorch/pytorch#190489). A pause lets them finish.
        time.sleep(0.5)


def measure(n_processes, batch_size, repeat, results):
    with tempfile.TemporaryDirectory() as folder:
        mp.spawn(
            worker,
            args=(
                n_processes,
                f"file://{folder}/rendezvous",
                batch_size,
                repeat,
                results,
            ),
            nprocs=n_processes,
            join=True,
        )
    return results[n_processes]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[4096, 65536])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    print(
        f"MLP {N_FEATURES}-{HIDDEN}-{N_COMPONENTS}, float32, gloo on CPU, "
        f"{os.cpu_count()} cores; median of {args.repeat} steps\n"
    )
    print(
        f"| global batch | 1 process: s/step | {args.processes} processes: s/step "
        f"| time {args.processes}/1 | numbers the loss all-reduces per step |"
    )
    print("|---|---|---|---|---|")
    with mp.Manager() as manager:
        for batch_size in args.batch_sizes:
            results = manager.dict()
            single, _, single_checksum = measure(1, batch_size, args.repeat, results)
            spread, _, spread_checksum = measure(
                args.processes, batch_size, args.repeat, results
            )
            if abs(spread_checksum - single_checksum) > 1e-3 * single_checksum:
                raise SystemExit(
                    f"the gradients differ at batch {batch_size}: "
                    f"{spread_checksum} vs {single_checksum}"
                )
            n_classes = min(N_CLASSES, batch_size // 4)
            numbers = N_COMPONENTS**2 + n_classes * N_COMPONENTS + n_classes
            print(
                f"| {batch_size} | {single:.3f} | {spread:.3f} | "
                f"{spread / single:.2f}x | {numbers} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
