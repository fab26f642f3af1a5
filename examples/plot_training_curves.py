"""
Training curves and early stopping
==================================

With ``validation_split="samples"`` the estimator holds out a stratified share
of the training samples, scores their k-means NMI before training and after
every epoch, stops once the score has not improved by ``tol`` for
``n_iter_no_change`` epochs, and keeps the best weights (the untrained start
is a candidate too). ``loss_curve_`` holds the mean training loss of each
epoch and ``validation_scores_`` the validation NMI, starting with the start's.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.preprocessing import MinMaxScaler

from sklearn_dsc import DeepSpectralClusteringEmbedder

X, y = load_digits(return_X_y=True)
X = MinMaxScaler().fit_transform(X)

model = DeepSpectralClusteringEmbedder(
    init="random",
    validation_split="samples",
    n_iter_no_change=8,
    max_iter=200,
    random_state=0,
).fit(X, y)
scores = np.array(model.validation_scores_)
best = int(np.argmax(scores))
print(f"stopped after {model.n_iter_} epochs; best validation NMI {scores[best]:.3f}")
print(f"at epoch {best} (0 is the untrained start)")

# %%
figure, (loss_axis, score_axis) = plt.subplots(1, 2, figsize=(10, 3.5))
epochs = np.arange(1, len(model.loss_curve_) + 1)
loss_axis.plot(epochs, model.loss_curve_)
loss_axis.set_xlabel("epoch")
loss_axis.set_ylabel("mean training loss")
loss_axis.set_yscale("log")
score_axis.plot(np.arange(len(scores)), scores, marker=".")
score_axis.axvline(best, color="grey", linestyle="--", label="weights kept")
score_axis.set_xlabel("epoch")
score_axis.set_ylabel("validation k-means NMI")
score_axis.legend()
figure.tight_layout()
plt.show()
