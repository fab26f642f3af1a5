"""The conv network's weights channels first or channels last, side by side.

``ConvNet`` (``network="conv"``) keeps its convolutions' weights in torch's
channels-last memory format, so that oneDNN's CPU kernels keep the
activations so too. This builds the network from one seed in both formats
(the same weights) and, alternating them in one run, times a training step
(forward, the spectral clustering loss, backward and an AdamW step on a
batch of 256 images of 16 classes) and the embedding of ``--rows`` images
in calls of ``inference_batch_size`` rows, on 1-channel 32x32 and 28x28
images and 3-channel 32x32 ones. It prints the best of ``--repeats`` for
each, the ratio of channels last to channels first, and the largest
difference between the two formats' embeddings (float32 rounding: the
kernels sum in other orders).

    python benchmarks/bench_conv_layout.py --threads 2
    python benchmarks/bench_conv_layout.py --device cuda
"""

import argparse
import math
import time

import torch
from bench_loss import synchronize
from threads import run_with_threads

from sklearn_dsc import spectral_clustering_loss
from sklearn_dsc._data import inference_batch_size
from sklearn_dsc._networks import ConvNet, private_seed

SHAPES = ((32, 32), (28, 28), (3, 32, 32))
FORMATS = {
    "channels first": torch.contiguous_format,
    "channels last": torch.channels_last,
}
BATCH = 256
CLASSES = 16


def network(shape, memory_format, device):
    """``ConvNet`` for images of ``shape``, built from seed 0, its
    convolutions' weights in ``memory_format``."""
    with private_seed(0):
        module = ConvNet(math.prod(shape), shape, CLASSES)
    module.features.to(memory_format=memory_format)
    return module.to(device)


def training_step(module, images, labels, optimizer):
    optimizer.zero_grad()
    spectral_clustering_loss(module(images), labels).backward()
    optimizer.step()


def embedding(module, images, rows):
    module.eval()
    with torch.no_grad():
        starts = range(0, len(images), rows)
        return torch.cat([module(images[start : start + rows]) for start in starts])


def measure(shape, device, n_rows, repeats):
    """``({format: [best step s, best embedding s]}, {format: embedding})``
    for images of ``shape``."""
    device = torch.device(device)
    generator = torch.Generator().manual_seed(0)
    n_features = math.prod(shape)
    batch = torch.rand(BATCH, n_features, generator=generator).to(device)
    labels = (torch.arange(BATCH) % CLASSES).to(device)
    rows = torch.rand(n_rows, n_features, generator=generator).to(device)
    arms = {}
    for name, memory_format in FORMATS.items():
        module = network(shape, memory_format, device)
        optimizer = torch.optim.AdamW(module.parameters())
        training_step(module, batch, labels, optimizer)  # warm-up
        trained = network(shape, memory_format, device)  # the same weights
        arms[name] = (module, optimizer, trained)
    best = {name: [float("inf"), float("inf")] for name in FORMATS}
    outputs = {}
    for _ in range(repeats):
        for name, (module, optimizer, fixed) in arms.items():
            module.train()
            synchronize(device)
            start = time.perf_counter()
            training_step(module, batch, labels, optimizer)
            synchronize(device)
            best[name][0] = min(best[name][0], time.perf_counter() - start)
            start = time.perf_counter()
            outputs[name] = embedding(fixed, rows, inference_batch_size(fixed, device))
            synchronize(device)
            best[name][1] = min(best[name][1], time.perf_counter() - start)
    return best, outputs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rows", type=int, default=2048, help="images embedded")
    parser.add_argument("--repeats", type=int, default=5)
    run_with_threads(parser, run, argv)


def run(args):
    """Print the table of every shape."""
    print(
        f"device {args.device}, {torch.get_num_threads()} CPU threads, best of "
        f"{args.repeats}; a step on {BATCH} images, the embedding of {args.rows}"
    )
    print(
        "| images | step, channels first | step, channels last | ratio "
        "| embedding, channels first | embedding, channels last | ratio "
        "| largest difference |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for shape in SHAPES:
        best, outputs = measure(shape, args.device, args.rows, args.repeats)
        first, last = best["channels first"], best["channels last"]
        difference = (outputs["channels last"] - outputs["channels first"]).abs().max()
        print(
            f"| {'x'.join(map(str, shape))} | {first[0] * 1e3:.1f} ms "
            f"| {last[0] * 1e3:.1f} ms | {last[0] / first[0]:.2f}x "
            f"| {first[1] * 1e3:.1f} ms | {last[1] * 1e3:.1f} ms "
            f"| {last[1] / first[1]:.2f}x | {float(difference):.1e} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
