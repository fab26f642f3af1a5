"""Peak memory and time of one training step against the batch size, whole or in chunks.

One step of the spectral clustering loss on an MLP (784 -> 256 -> 10, the
shape of a Fashion-MNIST model), on random inputs: forward, loss, backward,
for the whole batch at once and with ``spectral_clustering_backward`` in
chunks. Each measurement runs in a fresh process, which builds the batch,
then records the growth of its peak memory (resident memory on the CPU,
``torch.cuda.max_memory_allocated`` on a GPU) over the step, beyond the
batch itself, and the median time of the repeated steps. Both variants
compute the same gradient (the script checks it); chunks bound the memory
at the price of a second forward pass.

    python benchmarks/bench_large_batch.py --batch-sizes 4096 65536 262144
"""

import argparse
import json
import resource
import statistics
import time

from children import child_result

N_FEATURES = 784
HIDDEN = 256
N_COMPONENTS = 10
N_CLASSES = 1000


def child(mode, batch_size, chunk_size, device, repeat):
    import torch

    from sklearn_dsc import spectral_clustering_backward, spectral_clustering_loss

    torch.manual_seed(0)
    device = torch.device(device)
    model = torch.nn.Sequential(
        torch.nn.Linear(N_FEATURES, HIDDEN),
        torch.nn.ReLU(),
        torch.nn.Linear(HIDDEN, N_COMPONENTS),
    ).to(device)
    inputs = torch.rand(batch_size, N_FEATURES, device=device)
    labels = torch.randint(0, min(N_CLASSES, batch_size // 4), (batch_size,))
    labels = labels.to(device)

    def step(inputs=inputs, labels=labels, chunk_size=chunk_size):
        model.zero_grad(set_to_none=True)
        if mode == "whole":
            loss = spectral_clustering_loss(model(inputs), labels)
            loss.backward()
        else:
            loss = spectral_clustering_backward(
                model, inputs, labels, chunk_size=chunk_size
            )
        if device.type == "cuda":
            torch.cuda.synchronize()
        return loss.item()

    def peak():
        if device.type == "cuda":
            return torch.cuda.max_memory_allocated(device)
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB

    # A step on 64 samples first loads the code and kernels both variants
    # use, so that the growth measured next is the memory of the batch.
    step(inputs[:64], labels[:64], chunk_size=32)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    before = peak()
    loss = step()
    growth = peak() - before
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    checksum = sum(float(p.grad.double().abs().sum()) for p in model.parameters())
    print(
        json.dumps(
            {
                "growth": growth,
                "seconds": statistics.median(times),
                "loss": loss,
                "checksum": checksum,
            }
        )
    )


def measure(mode, batch_size, chunk_size, device, repeat):
    return child_result(__file__, mode, batch_size, chunk_size, device, repeat)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--batch-sizes", type=int, nargs="+", default=[4096, 16384, 65536, 262144]
    )
    parser.add_argument("--chunk-size", type=int, default=4096)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        mode, batch_size, chunk_size, device, repeat = args.child
        child(mode, int(batch_size), int(chunk_size), device, int(repeat))
        return
    print(
        f"MLP {N_FEATURES}-{HIDDEN}-{N_COMPONENTS}, float32, device {args.device}, "
        f"chunks of {args.chunk_size}; peak memory growth over one step, beyond "
        f"the batch; median of {args.repeat} steps\n"
    )
    print(
        "| batch | whole: memory | chunked: memory | memory whole/chunked "
        "| whole: s/step | chunked: s/step | time chunked/whole |"
    )
    print("|---|---|---|---|---|---|---|")
    for batch_size in args.batch_sizes:
        whole = measure("whole", batch_size, args.chunk_size, args.device, args.repeat)
        chunked = measure(
            "chunked", batch_size, args.chunk_size, args.device, args.repeat
        )
        same = abs(whole["checksum"] - chunked["checksum"]) <= 1e-3 * whole["checksum"]
        if not same:
            raise SystemExit(
                f"chunked and whole gradients differ at batch {batch_size}: "
                f"{chunked['checksum']} vs {whole['checksum']}"
            )
        whole_mib, chunked_mib = whole["growth"] / 2**20, chunked["growth"] / 2**20
        print(
            f"| {batch_size} | {whole_mib:.0f} MiB | {chunked_mib:.0f} MiB | "
            f"{whole_mib / max(chunked_mib, 1):.1f}x | {whole['seconds']:.3f} | "
            f"{chunked['seconds']:.3f} | "
            f"{chunked['seconds'] / whole['seconds']:.2f}x |",
            flush=True,
        )


if __name__ == "__main__":
    main()
