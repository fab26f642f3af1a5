"""
How many unseen classes? Estimating the number of clusters
==========================================================

New data of classes never seen in training seldom comes with the number of
its classes. :func:`~sklearn_dsc.estimate_n_clusters` estimates it from the
embedding. Without labelled rows it looks for the largest gap between
consecutive eigenvalues of the normalised affinity of a nearest-neighbour
graph, the spectral view of the data that the loss trains for. Given the
training rows as a ``reference``, it reads where the reference's own classes
end in its spectrum, and takes the gap of the new rows' eigenvalues that
covers the most of that level (``"calibrated"``, the default when a
reference is given); or it reads off them what a class is worth in the
spectral clustering loss, and takes the number of k-means clusters of the
new rows past which a further cluster is worth less (``"calibrated_loss"``).
Here the embedding is learned on the digits 0-4, and the number of the
unseen digits 5-9 is estimated in it and in the raw pixels, with each method
the function offers.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits
from sklearn.metrics import normalized_mutual_info_score

from sklearn_dsc import DeepSpectralClusteringEmbedder, estimate_n_clusters

X, y = load_digits(return_X_y=True)
X = X / 16.0  # pixels in [0, 1]
seen, unseen = y < 5, y >= 5
model = DeepSpectralClusteringEmbedder(random_state=0).fit(X[seen], y[seen])
# each space: the unseen rows, and the training rows with their labels
spaces = {
    "learned embedding": (model.transform(X[unseen]), model.transform(X[seen])),
    "raw pixels": (X[unseen], X[seen]),
}

# %%
# The estimate of each method in each space; 5 digits were never seen.
estimates = {}
for name, (points, reference) in spaces.items():
    estimates[name] = {
        method: estimate_n_clusters(points, method=method, random_state=0)
        for method in ("eigengap", "loss", "silhouette", "bic", "hdbscan")
    }
    for method in ("calibrated_loss", "calibrated"):
        estimates[name][method] = estimate_n_clusters(
            points,
            reference=reference,
            reference_labels=y[seen],
            method=method,
            random_state=0,
        )
    found = estimates[name].items()
    print(f"{name}: " + ", ".join(f"{m} {e.n_clusters}" for m, e in found))

# %%
# Left, the eigengap against the number of clusters: the estimate is where
# the gap after the first K eigenvalues is largest. Middle, the part of the
# k-means partitions that lies in the column space of the embedding,
# ``tr(P_F P_Y)``, less the price of K clusters read off the training digits:
# ``"calibrated_loss"`` is where it peaks, the number past which a further
# cluster adds less than a class of the reference did. Right, the
# eigenvalues themselves and, shaded, the band where the training digits'
# own classes end in their spectrum: the default estimate, ``"calibrated"``,
# is the gap that covers the most of it. The digits' few classes leave a
# clear gap after the fifth eigenvalue, and all three find it. Where many
# classes overlap, as in the benchmark's dictionary and font sets, the
# largest gap comes early, and only the reference tells where to look. It
# is drawn to as many rows as the new data: here it holds as many classes
# (five), so they are as large; one of fewer classes would have larger
# ones, and a lower estimate.
figure, axes = plt.subplots(1, 3, figsize=(14, 4))
for name, (points, reference) in spaces.items():
    gaps = estimate_n_clusters(points, max_clusters=20, random_state=0)
    axes[0].plot(gaps.candidates, gaps.criterion, marker=".", label=name)
    priced, count = (
        estimate_n_clusters(
            points,
            reference=reference,
            reference_labels=y[seen],
            method=method,
            max_clusters=20,
            random_state=0,
        )
        for method in ("calibrated_loss", "calibrated")
    )
    axes[1].plot(priced.candidates, priced.criterion, marker=".", label=name)
    line = axes[2].plot(count.candidates, count.criterion, marker=".", label=name)
    axes[2].axhspan(*count.reference_band, color=line[0].get_color(), alpha=0.3)
for axis, estimate in zip(axes, (gaps, priced, count), strict=True):
    axis.axvline(5, color="black", linestyle=":", label="unseen digits")
    axis.set_xlabel("number of clusters K")
    axis.set_ylabel(estimate.criterion_name)
    axis.set_title(estimate.method)
axes[0].legend()
figure.tight_layout()

# %%
# k-means with the estimated numbers, against k-means told the true one.
points = spaces["learned embedding"][0]
found = {
    estimates["learned embedding"][m].n_clusters
    for m in ("eigengap", "calibrated_loss", "calibrated")
}
for k in sorted(found | {5}):
    labels = KMeans(k, n_init=10, random_state=0).fit_predict(points)
    print(f"K={k}: NMI {normalized_mutual_info_score(y[unseen], labels):.3f}")

# %%
# Both calibrations assume that the new rows hold about as many classes as
# the reference. New rows of fewer unseen digits, the five training digits
# still the reference: the calibrated estimates lean toward five, where the
# eigengap follows the new rows' own gap. On overlapping classes, which have
# no gap of their own, they follow the reference's number (see the user
# guide); give a reference of about as many classes as the new data holds.
reference = spaces["learned embedding"][1]
for digits in ((6, 8), (7, 9), (5, 6, 7), (5, 6, 7, 8, 9)):
    rows = model.transform(X[np.isin(y, digits)])
    found = {
        method: estimate_n_clusters(
            rows,
            reference=reference if method != "eigengap" else None,
            reference_labels=y[seen] if method != "eigengap" else None,
            method=method,
            random_state=0,
        ).n_clusters
        for method in ("calibrated_loss", "calibrated", "eigengap")
    }
    print(f"{len(digits)} digits: " + ", ".join(f"{m} {k}" for m, k in found.items()))
plt.show()
