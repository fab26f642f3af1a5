"""
Clustering precomputed features
===============================

A common use: features computed once by another model (a CNN's penultimate
layer, a sentence encoder) and saved to disk. Here the "features" are the
digits passed through a fixed random ReLU layer, saved as a ``.npy`` file and
memory-mapped back, as one would a file larger than memory: indexing it reads
the rows asked for alone (training then holds them in memory, as float32).
The estimator learns on the classes 0-5 and the model is saved with
:func:`sklearn_dsc.save`, a file that loads without unpickling; the loaded
model clusters the classes 6-9, and the confusion matrix shows which unseen
digits end up together.
"""

import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits
from sklearn.metrics import confusion_matrix

from sklearn_dsc import DeepSpectralClusteringEmbedder, load, save
from sklearn_dsc.metrics import kmeans_nmi

X, y = load_digits(return_X_y=True)
rng = np.random.default_rng(0)
projection = rng.normal(size=(64, 256)) / 8.0
features = np.maximum((X / 16.0) @ projection, 0.0).astype(np.float32)

folder = Path(tempfile.mkdtemp())
np.save(folder / "features.npy", features)
np.save(folder / "labels.npy", y)

# %%
# Memory-map the features and learn on the classes 0-5.
features = np.load(folder / "features.npy", mmap_mode="r")
labels = np.load(folder / "labels.npy")
seen = np.flatnonzero(labels < 6)
unseen = np.flatnonzero(labels >= 6)

model = DeepSpectralClusteringEmbedder(random_state=0)
model.fit(features[seen], labels[seen])
save(model, folder / "model.dsc")

# %%
# Later, elsewhere: load the model and cluster the classes it never saw.
model = load(folder / "model.dsc")
embedding = model.transform(features[unseen])
for name, points in (("features", features[unseen]), ("embedding", embedding)):
    nmi = kmeans_nmi(points, labels[unseen], random_state=0)
    print(f"k-means NMI of the digits 6-9, {name}: {nmi:.3f}")

clusters = KMeans(4, n_init=10, random_state=0).fit_predict(embedding)
# rows: the digits 6-9; columns: the clusters 0-3
counts = confusion_matrix(labels[unseen] - 6, clusters, labels=range(4))
assert counts.sum() == len(unseen)  # every unseen sample is in the matrix
figure, axis = plt.subplots(figsize=(4.5, 4))
axis.imshow(counts, cmap="Blues")
for (i, j), count in np.ndenumerate(counts):
    axis.text(j, i, count, ha="center", va="center")
axis.set_xticks(range(4), [f"cluster {c}" for c in range(4)])
axis.set_yticks(range(4), [f"digit {d}" for d in range(6, 10)])
axis.set_title("Unseen digits against k-means clusters")
figure.tight_layout()
plt.show()
