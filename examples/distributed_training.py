"""
Training on several processes or GPUs
=====================================

The spectral clustering loss of a batch depends on it only through
``F^T F`` and the per-class sums of the embeddings, so a batch spread over
several processes has an exact loss: each rank embeds its share, the ranks
all-reduce ``d^2 + k d + k`` numbers, and each back-propagates the rows of
the gradient of its own samples. With
:class:`~torch.nn.parallel.DistributedDataParallel` every rank then holds
the gradient of the whole batch, as if one process had seen it.

This script trains an MLP on the digits 0-4 with
:func:`sklearn_dsc.distributed_spectral_clustering_loss` and clusters the
unseen digits 5-9 with the result. Run it as it is and it starts 2 processes
on the CPU (gloo); launch it with ``torchrun`` to use several GPUs (nccl) or
nodes::

    torchrun --nproc-per-node 4 examples/distributed_training.py
    torchrun --nnodes 2 --node-rank 0 --nproc-per-node 8 \\
        --master-addr HOST --master-port 29500 examples/distributed_training.py

All ranks shuffle with the same seed and each takes every ``world_size``-th
sample of a global batch, so the ranks stay in step without communicating
indices. The network is the paper's plain MLP trained with the loss alone,
which shows the mechanics; on unseen classes it clusters worse than the raw
pixels, which is why the estimator's defaults keep an anchor beside it (see
the user guide).
"""

import os
import tempfile
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from sklearn.datasets import load_digits
from torch.nn.parallel import DistributedDataParallel

from sklearn_dsc import distributed_spectral_clustering_loss
from sklearn_dsc.metrics import kmeans_nmi

GLOBAL_BATCH = 256
EPOCHS = 10
N_COMPONENTS = 5


def train(rank, world_size):
    device = torch.device("cpu")
    if torch.cuda.is_available() and dist.get_backend() == "nccl":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank)))
        torch.cuda.set_device(device)
    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    seen = y < 5
    X_train = torch.from_numpy(X[seen]).to(device)
    y_train = torch.from_numpy(y[seen]).to(device)

    torch.manual_seed(0)  # the same initial weights on every rank
    model = torch.nn.Sequential(
        torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, N_COMPONENTS)
    ).to(device)
    model = DistributedDataParallel(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    for epoch in range(EPOCHS):
        # The same permutation on every rank; each takes every world_size-th
        # sample of each global batch.
        order = torch.randperm(
            len(X_train), generator=torch.Generator().manual_seed(epoch)
        ).to(device)
        for start in range(0, len(order) - GLOBAL_BATCH + 1, GLOBAL_BATCH):
            mine = order[start : start + GLOBAL_BATCH][rank::world_size]
            optimizer.zero_grad()
            loss = distributed_spectral_clustering_loss(
                model(X_train[mine]), y_train[mine]
            )
            loss.backward()  # DDP: the exact gradient of the global batch
            optimizer.step()
        if rank == 0:
            print(f"epoch {epoch + 1}: loss of the last global batch {loss:.4f}")

    if rank == 0:
        with torch.no_grad():
            unseen = torch.from_numpy(X[~seen]).to(device)
            embedding = model.module(unseen).cpu().numpy()
        nmi = kmeans_nmi(embedding, y[~seen], random_state=0)
        print(f"k-means NMI on the unseen digits 5-9: {nmi:.3f}")


def leave():
    """Leave the process group, then pause before the process exits.

    Under DistributedDataParallel the group outlives
    ``destroy_process_group``, and gloo's worker threads release each
    finished collective just after the caller has moved on; a release that
    falls into the interpreter's shutdown aborts the process (SIGABRT,
    pytorch/pytorch#190489). The pause lets them finish.
    """
    dist.destroy_process_group()
    time.sleep(0.5)


def spawned(rank, world_size, rendezvous):
    dist.init_process_group(
        "gloo", init_method=rendezvous, rank=rank, world_size=world_size
    )
    try:
        torch.set_num_threads(1)
        train(rank, world_size)
    finally:
        leave()


if __name__ == "__main__":
    if "RANK" in os.environ:  # launched by torchrun
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        try:
            train(dist.get_rank(), dist.get_world_size())
        finally:
            leave()
    else:
        with tempfile.TemporaryDirectory() as folder:
            mp.spawn(
                spawned, args=(2, f"file://{folder}/rendezvous"), nprocs=2, join=True
            )
