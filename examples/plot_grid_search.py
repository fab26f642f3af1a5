"""
Choosing hyperparameters by clustering quality on unseen classes
================================================================

:class:`~sklearn_dsc.DeepSpectralClusteringEmbedder` is a scikit-learn
transformer, so ``GridSearchCV`` tunes it inside a ``Pipeline``. To select
for classes never seen in training, split by class: ``GroupKFold`` with the
labels as groups puts whole classes in each validation fold, and
:func:`~sklearn_dsc.metrics.make_kmeans_nmi_scorer` scores the k-means NMI of
the embedded validation classes.
"""

import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from sklearn_dsc import DeepSpectralClusteringEmbedder
from sklearn_dsc.metrics import kmeans_nmi, make_kmeans_nmi_scorer

X, y = load_digits(return_X_y=True)
train, test = y < 7, y >= 7  # the digits 7-9 are kept out of the search

pipeline = make_pipeline(
    MinMaxScaler(),
    DeepSpectralClusteringEmbedder(max_iter=30, early_stopping=False, random_state=0),
)
grid = {
    "deepspectralclusteringembedder__init": ["pca", "random"],
    "deepspectralclusteringembedder__hidden_layer_sizes": [(), (64,)],
}
search = GridSearchCV(
    pipeline,
    grid,
    scoring=make_kmeans_nmi_scorer(random_state=0),
    cv=GroupKFold(n_splits=3),  # each fold validates on classes it did not train on
)
# 30 epochs are enough to rank the candidates, not for every fit's loss to
# settle: each such fit would warn that it stopped at max_iter.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    search.fit(X[train], y[train], groups=y[train])

# %%
# The cross-validated NMI of every candidate, on held-out classes.
results = pd.DataFrame(search.cv_results_)
labels = [
    f"init={row['param_deepspectralclusteringembedder__init']}\n"
    f"hidden={row['param_deepspectralclusteringembedder__hidden_layer_sizes']}"
    for _, row in results.iterrows()
]
figure, axis = plt.subplots(figsize=(7, 3.5))
axis.bar(
    np.arange(len(results)),
    results["mean_test_score"],
    yerr=results["std_test_score"],
    capsize=4,
)
axis.set_xticks(np.arange(len(results)), labels)
axis.set_ylabel("k-means NMI on held-out classes")
axis.set_title("GroupKFold over the digits 0-6")
figure.tight_layout()

# %%
# The selected pipeline, refit on the digits 0-6, clusters the digits 7-9.
print("best:", search.best_params_)
nmi = kmeans_nmi(search.best_estimator_.transform(X[test]), y[test], random_state=0)
print(f"k-means NMI on the digits 7-9: {nmi:.3f}")
plt.show()
