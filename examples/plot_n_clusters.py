"""
How many unseen classes? Estimating the number of clusters
==========================================================

New data of classes never seen in training seldom comes with the number of
its classes. :func:`~sklearn_dsc.estimate_n_clusters` estimates it from the
embedding: by default from the largest gap between consecutive eigenvalues
of the normalised affinity of a nearest-neighbour graph, the spectral view of
the data that the loss trains for. Here the embedding is learned on the
digits 0-4, and the number of the unseen digits 5-9 is estimated in it and
in the raw pixels, with each method the function offers.
"""

import matplotlib.pyplot as plt
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits
from sklearn.metrics import normalized_mutual_info_score

from sklearn_dsc import DeepSpectralClusteringEmbedder, estimate_n_clusters

X, y = load_digits(return_X_y=True)
X = X / 16.0  # pixels in [0, 1]
seen, unseen = y < 5, y >= 5
model = DeepSpectralClusteringEmbedder(random_state=0).fit(X[seen], y[seen])
spaces = {"learned embedding": model.transform(X[unseen]), "raw pixels": X[unseen]}

# %%
# The estimate of each method in each space; 5 digits were never seen.
estimates = {}
for name, points in spaces.items():
    estimates[name] = {
        method: estimate_n_clusters(points, method=method, random_state=0)
        for method in ("eigengap", "loss", "silhouette", "bic", "hdbscan")
    }
    found = estimates[name].items()
    print(f"{name}: " + ", ".join(f"{m} {e.n_clusters}" for m, e in found))

# %%
# The eigengap against the number of clusters: the estimate is where the gap
# after the first K eigenvalues is largest.
figure, axis = plt.subplots(figsize=(7, 4))
for name, points in spaces.items():
    estimate = estimate_n_clusters(points, max_clusters=20, random_state=0)
    axis.plot(estimate.candidates, estimate.criterion, marker=".", label=name)
    print(f"{name}: K = {estimate.n_clusters}")
axis.axvline(5, color="black", linestyle=":", label="unseen digits")
axis.set_xlabel("number of clusters K")
axis.set_ylabel(estimate.criterion_name)
axis.legend()
figure.tight_layout()

# %%
# k-means with the estimated number, against k-means told the true one.
points = spaces["learned embedding"]
estimated = estimates["learned embedding"]["eigengap"].n_clusters
for k in sorted({estimated, 5}):
    labels = KMeans(k, n_init=10, random_state=0).fit_predict(points)
    print(f"K={k}: NMI {normalized_mutual_info_score(y[unseen], labels):.3f}")
plt.show()
