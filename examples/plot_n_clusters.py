"""
How many unseen classes? Estimating the number of clusters
==========================================================

New data of classes never seen in training seldom comes with the number of
its classes. :func:`~sklearn_dsc.estimate_n_clusters` estimates it from the
embedding. Without labelled rows it looks for the largest gap between
consecutive eigenvalues of the normalised affinity of a nearest-neighbour
graph, the spectral view of the data that the loss trains for. Given the
training rows as a ``reference``, it first reads where the reference's own
classes end in its spectrum, and takes the gap of the new rows' eigenvalues
that covers the most of that level (``"calibrated"``, the default when a
reference is given). Here the embedding is learned on the
digits 0-4, and the number of the unseen digits 5-9 is estimated in it and in
the raw pixels, with each method the function offers.
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
    estimates[name]["calibrated"] = estimate_n_clusters(
        points, reference=reference, reference_labels=y[seen], random_state=0
    )
    found = estimates[name].items()
    print(f"{name}: " + ", ".join(f"{m} {e.n_clusters}" for m, e in found))

# %%
# Left, the eigengap against the number of clusters: the estimate is where
# the gap after the first K eigenvalues is largest. Right, the eigenvalues
# themselves and, shaded, the band where the training digits' own classes
# end in their spectrum: the calibrated estimate is the gap that covers the
# most of it. The digits' few classes leave a clear gap after the
# fifth eigenvalue, and both find it. Where many classes overlap, as in the
# benchmark's dictionary and glyph sets, the largest gap is the first, and
# only the band tells where to look. The reference is drawn to as many rows
# as the new data: here it holds as many classes (five), so they are as
# large; one of fewer classes would have larger ones, and a lower estimate.
figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
for name, (points, reference) in spaces.items():
    gaps = estimate_n_clusters(points, max_clusters=20, random_state=0)
    left.plot(gaps.candidates, gaps.criterion, marker=".", label=name)
    count = estimate_n_clusters(
        points,
        reference=reference,
        reference_labels=y[seen],
        max_clusters=20,
        random_state=0,
    )
    line = right.plot(count.candidates, count.criterion, marker=".", label=name)
    right.axhspan(*count.reference_band, color=line[0].get_color(), alpha=0.3)
for axis, estimate in ((left, gaps), (right, count)):
    axis.axvline(5, color="black", linestyle=":", label="unseen digits")
    axis.set_xlabel("number of clusters K")
    axis.set_ylabel(estimate.criterion_name)
left.legend()
figure.tight_layout()

# %%
# k-means with the estimated numbers, against k-means told the true one.
points = spaces["learned embedding"][0]
found = {
    estimates["learned embedding"][m].n_clusters for m in ("eigengap", "calibrated")
}
for k in sorted(found | {5}):
    labels = KMeans(k, n_init=10, random_state=0).fit_predict(points)
    print(f"K={k}: NMI {normalized_mutual_info_score(y[unseen], labels):.3f}")

# %%
# The calibration assumes that the new rows hold about as many classes as
# the reference. New rows of fewer unseen digits, the five training digits
# still the reference: the calibrated estimate leans toward five, where the
# eigengap follows the new rows' own gap. On overlapping classes, which have
# no gap of their own, it follows the reference's number (see the user
# guide); give a reference of about as many classes as the new data holds.
reference = spaces["learned embedding"][1]
for digits in ((6, 8), (7, 9), (5, 6, 7), (5, 6, 7, 8, 9)):
    rows = model.transform(X[np.isin(y, digits)])
    calibrated = estimate_n_clusters(
        rows, reference=reference, reference_labels=y[seen], random_state=0
    )
    eigengap = estimate_n_clusters(rows, random_state=0)
    print(
        f"{len(digits)} digits: calibrated {calibrated.n_clusters}, "
        f"eigengap {eigengap.n_clusters}"
    )
plt.show()
