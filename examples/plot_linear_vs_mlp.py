"""
A linear metric against an MLP on non-linear classes
=====================================================

Eight classes on interleaved spiral arms (half a turn each) cannot be
separated by any linear map of the plane. The closed-form linear solution
(``solver="closed_form"``, exact and instant) therefore clusters them poorly,
while a small MLP trained with the spectral clustering loss unrolls the arms.
Both are scored on fresh points of the same classes.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.cluster import KMeans

from sklearn_dsc import DeepSpectralClusteringEmbedder
from sklearn_dsc.metrics import kmeans_nmi


def spirals(n_per_arm, n_arms, seed):
    rng = np.random.default_rng(seed)
    t = rng.uniform(0.2, 1.0, n_arms * n_per_arm)
    arm = np.repeat(np.arange(n_arms), n_per_arm)
    angle = 2.0 * np.pi * (arm / n_arms + 0.5 * t)
    X = np.column_stack([t * np.cos(angle), t * np.sin(angle)])
    return X + rng.normal(scale=0.02, size=X.shape), arm


X_train, y_train = spirals(150, 8, seed=0)
X_test, y_test = spirals(150, 8, seed=1)

models = {
    "linear, closed form": DeepSpectralClusteringEmbedder(
        hidden_layer_sizes=(), solver="closed_form"
    ),
    "MLP (64, 64)": DeepSpectralClusteringEmbedder(
        hidden_layer_sizes=(64, 64),
        init="random",
        early_stopping=False,
        max_iter=300,
        tol=0.0,  # train until the loss stops falling at all
        learning_rate_init=3e-3,
        random_state=0,
    ),
}

# %%
# k-means in each embedding, shown on the plane.
figure, axes = plt.subplots(1, 3, figsize=(12, 4))
axes[0].scatter(*X_test.T, c=y_test, cmap="tab10", s=5)
axes[0].set_title("test points, true classes")
for axis, (name, model) in zip(axes[1:], models.items(), strict=True):
    embedding = model.fit(X_train, y_train).transform(X_test)
    clusters = KMeans(8, n_init=10, random_state=0).fit_predict(embedding)
    nmi = kmeans_nmi(embedding, y_test, random_state=0)
    print(f"{name}: NMI {nmi:.3f}")
    axis.scatter(*X_test.T, c=clusters, cmap="tab10", s=5)
    axis.set_title(f"{name}: k-means clusters, NMI {nmi:.2f}")
for axis in axes:
    axis.set_aspect("equal")
    axis.set_xticks([])
    axis.set_yticks([])
figure.tight_layout()
plt.show()
