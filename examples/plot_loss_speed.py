"""
The closed-form gradient against autograd
=========================================

:func:`~sklearn_dsc.spectral_clustering_loss` computes ``1/4 ||P_F - P_Y||^2``
and its gradient from ``F^T F`` and per-class sums, in time linear in the
batch size ``n``. The direct way, autograd through ``torch.linalg.pinv`` of
the definition, forms ``n x n`` projections and grows as ``n^2`` to ``n^3``.
Both give the same values; this example times forward and backward of each
on the CPU.
"""

import time

import matplotlib.pyplot as plt
import torch
from matplotlib.ticker import NullFormatter

from sklearn_dsc import spectral_clustering_loss


def loss_through_pinv(embeddings, labels):
    """The definition, differentiated by autograd."""
    indicators = torch.nn.functional.one_hot(labels).to(embeddings.dtype)
    p_f = embeddings @ torch.linalg.pinv(embeddings)
    p_y = indicators @ torch.linalg.pinv(indicators)
    return 0.25 * (p_f - p_y).square().sum()


def seconds(loss_function, n, d=32, repeat=3):
    generator = torch.Generator().manual_seed(0)
    embeddings = torch.randn(n, d, generator=generator, requires_grad=True)
    labels = torch.arange(n) % max(2, n // 16)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        loss_function(embeddings, labels).backward()
        best = min(best, time.perf_counter() - start)
    return best


# %%
# Both compute the same loss.
F, labels = torch.randn(300, 8, dtype=torch.float64), torch.arange(300) % 7
print(float(spectral_clustering_loss(F, labels)), float(loss_through_pinv(F, labels)))

# %%
sizes = [128, 256, 512, 1024, 2048]
ours = [seconds(spectral_clustering_loss, n) for n in sizes]
direct = [seconds(loss_through_pinv, n) for n in sizes]
for n, a, b in zip(sizes, ours, direct, strict=True):
    print(
        f"n={n:5d}: closed form {a * 1e3:7.2f} ms, autograd {b * 1e3:8.2f} ms, "
        f"{b / a:6.1f}x"
    )

figure, axis = plt.subplots(figsize=(5.5, 4))
axis.loglog(sizes, ours, marker="o", label="closed-form gradient (ours)")
axis.loglog(sizes, direct, marker="s", label="autograd through pinv")
# one plain label per batch size, no minor-tick labels
axis.set_xticks(sizes, [str(n) for n in sizes])
axis.xaxis.set_minor_formatter(NullFormatter())
axis.set_xlabel("batch size n (d = 32, n / 16 classes)")
axis.set_ylabel("forward + backward, seconds")
axis.legend()
figure.tight_layout()
plt.show()
