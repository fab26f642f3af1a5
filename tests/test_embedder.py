import copy
import datetime
import io
import pickle
import re
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits, make_blobs
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.metrics import normalized_mutual_info_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_dsc import DeepSpectralClusteringEmbedder, spectral_clustering_loss
from sklearn_dsc._anchors import CLOSED_FORM_SHRINKAGE
from sklearn_dsc._networks import AnchoredEmbedding
from sklearn_dsc.metrics import kmeans_nmi

from helpers import (
    informative_and_noise,
    largest_scatter_eigenvalue,
    within_class_covariance,
)

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")


def rings(n_per_ring, seed):
    """Three concentric noisy rings in 2-D: separable only non-linearly."""
    rng = np.random.RandomState(seed)
    angles = rng.uniform(0, 2 * np.pi, 3 * n_per_ring)
    y = np.repeat([0, 1, 2], n_per_ring)
    radius = 1.0 + y + rng.normal(scale=0.1, size=y.shape)
    X = np.column_stack([radius * np.cos(angles), radius * np.sin(angles)])
    return X, y


def fast(**params):
    """A small network trained from a random start, without a validation split."""
    params = {
        "hidden_layer_sizes": (32,),
        "max_iter": 20,
        "random_state": 0,
        "device": "cpu",
        "init": "random",
        "early_stopping": False,
        **params,
    }
    return DeepSpectralClusteringEmbedder(**params)


def test_mlp_separates_rings_that_a_linear_map_cannot():
    X, y = rings(200, seed=0)
    X_test, y_test = rings(100, seed=1)
    mlp = fast(
        hidden_layer_sizes=(64, 64),
        max_iter=60,
        init="random",
        early_stopping=False,
    ).fit(X, y)
    linear = DeepSpectralClusteringEmbedder(hidden_layer_sizes=(), solver="closed_form")
    linear.fit(X, y)
    assert mlp.score(X_test, y_test) >= 0.95
    assert linear.score(X_test, y_test) < 0.3
    assert np.mean(mlp.predict(X_test) == y_test) > 0.95


def test_fitted_attributes(blobs):
    X, y = blobs
    estimator = fast(max_iter=3).fit(X, y)
    assert first_weight(estimator).device.type == "cpu"
    assert list(estimator.classes_) == [0, 1, 2, 3]
    assert estimator.class_centroids_.shape == (4, 4)  # n_components = n_classes
    assert len(estimator.loss_curve_) == estimator.n_iter_ == 3
    assert estimator.validation_scores_ is None
    assert estimator.best_validation_score_ is None
    assert estimator.n_features_in_ == 6
    assert estimator.t_ > 0
    assert estimator.transform(X).shape == (200, 4)
    assert fast(n_components=7, max_iter=1).fit(X, y).transform(X).shape == (200, 7)


def test_training_lowers_the_loss(blobs):
    X, y = blobs
    estimator = fast(max_iter=30).fit(X, y)
    assert estimator.loss_curve_[-1] < 0.5 * estimator.loss_curve_[0]


def test_closed_form_loss_is_no_worse_than_adam():
    X, y = load_digits(return_X_y=True)
    X = X / 16.0

    def full_loss(estimator):
        embeddings = torch.from_numpy(estimator.transform(X)).double()
        return spectral_clustering_loss(embeddings, torch.from_numpy(y)).item()

    closed = DeepSpectralClusteringEmbedder(hidden_layer_sizes=(), solver="closed_form")
    closed.fit(X, y)
    adam = DeepSpectralClusteringEmbedder(
        hidden_layer_sizes=(),
        n_components=closed.class_centroids_.shape[1],
        max_iter=100,
        batch_size=512,
        random_state=0,
        device="cpu",
    ).fit(X, y)
    assert full_loss(closed) <= full_loss(adam) + 1e-6
    assert closed.loss_curve_ == [pytest.approx(full_loss(closed))]


def test_predict_returns_training_labels_of_any_type(blobs):
    X, y = blobs
    names = np.array(["ant", "bee", "cat", "dog"])[y]
    estimator = fast(max_iter=20).fit(X, names)
    predicted = estimator.predict(X)
    assert predicted.dtype == names.dtype
    assert set(predicted) <= set(names)
    assert np.mean(predicted == names) > 0.9
    assert estimator.score(X, names) > 0.9


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transform_keeps_float_dtype(blobs, dtype):
    X, y = blobs
    estimator = fast(max_iter=2).fit(X.astype(dtype), y)
    assert estimator.transform(X.astype(dtype)).dtype == dtype


def test_transform_in_batches_matches_one_shot(blobs, monkeypatch):
    from sklearn_dsc import _data

    X, y = blobs
    estimator = fast(max_iter=2).fit(X, y)
    expected = estimator.transform(X)
    monkeypatch.setattr(_data, "INFERENCE_BATCH_SIZE", 7)
    monkeypatch.setattr(_data.embed, "__defaults__", (7, torch.float32))
    np.testing.assert_allclose(estimator.transform(X), expected, rtol=1e-6, atol=1e-6)


def test_same_random_state_same_embedding(blobs):
    X, y = blobs
    first = fast(max_iter=5, early_stopping=True).fit(X, y).transform(X)
    second = fast(max_iter=5, early_stopping=True).fit(X, y).transform(X)
    third = fast(max_iter=5, random_state=1).fit(X, y).transform(X)
    np.testing.assert_array_equal(first, second)
    assert not np.allclose(first, third)


def test_dropout_is_seeded_by_random_state_and_off_at_inference(blobs):
    X, y = blobs
    params = {"max_iter": 3, "dropout": 0.5, "init": "random"}
    first = fast(**params).fit(X, y)
    second = fast(**params).fit(X, y)
    np.testing.assert_array_equal(first.transform(X), second.transform(X))
    np.testing.assert_array_equal(first.transform(X), first.transform(X))
    assert any(isinstance(m, torch.nn.Dropout) for m in first.module_.modules())
    # the masks change training: same seed without dropout, another model
    plain = fast(**{**params, "dropout": 0.0}).fit(X, y)
    assert not np.allclose(first.transform(X), plain.transform(X))
    assert not any(isinstance(m, torch.nn.Dropout) for m in plain.module_.modules())


@pytest.mark.parametrize("init", ["random", "pca"])
def test_normalized_embeddings_are_unit_rows_trained_as_such(blobs, init):
    """The trained network's rows (the head's, beside an anchor) are unit
    vectors in training and in ``transform``."""
    X, y = blobs
    params = {"max_iter": 3, "init": init, "n_components": 4}
    model = fast(**params, normalize_embeddings=True).fit(X, y)
    plain = fast(**params).fit(X, y)
    head = model.module_.head if init == "pca" else model.module_
    if init == "pca":
        model.module_.head_scale.fill_(1.0)  # read the head, kept or not
    with torch.no_grad():
        rows = head(torch.tensor(X, dtype=torch.float32))
    torch.testing.assert_close(rows.norm(dim=1), torch.ones(len(X)))
    # trained on directions, the weights differ from the plain network's
    assert model.loss_curve_ != plain.loss_curve_
    if init == "random":
        norms = np.linalg.norm(model.transform(X), axis=1)
        np.testing.assert_allclose(norms, 1.0, rtol=1e-5)


def test_auto_normalizes_the_head_where_many_classes_are_held_out(blobs):
    """``normalize_embeddings="auto"``: a 16-wide head on unit rows where ten
    classes or more are held out, the plain head elsewhere."""
    X, y = informative_and_noise(n_classes=34, n_per_class=10)
    params = {"hidden_layer_sizes": (8,), "max_iter": 2, "random_state": 0}
    many = DeepSpectralClusteringEmbedder(**params).fit(X, y)
    assert many.n_validation_classes_ >= 10
    head = many.module_.head
    with torch.no_grad():
        rows = head(torch.tensor(X[:5], dtype=torch.float32))
    assert rows.shape[1] == 16
    torch.testing.assert_close(rows.norm(dim=1), torch.ones(5))
    # set otherwise, the parameters hold
    plain = DeepSpectralClusteringEmbedder(
        **params, normalize_embeddings=False, n_components=6
    ).fit(X, y)
    assert not plain.module_.head.normalize
    assert plain.module_.head.layer_sizes[-1] == 6
    X, y = blobs
    few = DeepSpectralClusteringEmbedder(**params).fit(X, y)
    assert few.n_validation_classes_ < 10
    assert not few.module_.head.normalize


def test_auto_normalization_allows_the_closed_form():
    X, y = make_blobs(n_samples=60, centers=3, n_features=4, random_state=0)
    model = DeepSpectralClusteringEmbedder(hidden_layer_sizes=(), solver="closed_form")
    assert model.normalize_embeddings == "auto"
    assert model.fit(X, y).transform(X).shape[0] == 60


def test_normalized_embeddings_need_adam():
    X, y = make_blobs(n_samples=60, centers=3, n_features=4, random_state=0)
    model = DeepSpectralClusteringEmbedder(
        hidden_layer_sizes=(), solver="closed_form", normalize_embeddings=True
    )
    with pytest.raises(
        ValueError, match="normalize_embeddings=True needs solver='adam'"
    ):
        model.fit(X, y)


def test_normalized_embeddings_need_two_dimensions():
    X, y = make_blobs(n_samples=60, centers=3, n_features=4, random_state=0)
    model = DeepSpectralClusteringEmbedder(
        init="random", n_components=1, normalize_embeddings=True
    )
    with pytest.raises(
        ValueError,
        match=r"n_components=1 maps every row to \+1 or -1, .* set n_components to "
        r"2 or more, or normalize_embeddings=False\.",
    ):
        model.fit(X, y)
    model.set_params(n_components=2, max_iter=2).fit(X, y)


def test_weight_decay_that_flips_the_weights_is_refused():
    """AdamW multiplies the weights by 1 - learning_rate_init * alpha a step:
    from a product of 1 on they are zeroed or flip sign (at alpha=1e6 the
    network's outputs reached 1e42 before the loss overflowed). The ridge
    of the closed form takes any alpha."""
    X, y = make_blobs(n_samples=60, centers=3, n_features=4, random_state=0)
    model = DeepSpectralClusteringEmbedder(init="random", alpha=1e6, max_iter=2)
    with pytest.raises(
        ValueError,
        match=r"alpha=1000000\.0 with learning_rate_init=0\.001: .* by 1 - 0\.001 "
        r"\* 1e\+06 = -999 at every step, .* keep the product below 1",
    ):
        model.fit(X, y)
    with pytest.raises(ValueError, match=r"= 0 at every step"):
        model.set_params(alpha=10, learning_rate_init=0.1).fit(X, y)
    model.set_params(alpha=9, learning_rate_init=0.1).fit(X, y)
    closed_form = DeepSpectralClusteringEmbedder(
        hidden_layer_sizes=(), solver="closed_form", alpha=1e6
    )
    assert np.isfinite(closed_form.fit(X, y).transform(X)).all()


@pytest.mark.parametrize("dropout", [0.0, 0.5])
def test_does_not_touch_global_random_state(blobs, dropout):
    X, y = blobs
    torch.manual_seed(123)
    expected_torch = torch.get_rng_state()
    expected_numpy = np.random.get_state()[1].copy()  # noqa: NPY002
    fast(max_iter=2, early_stopping=True, dropout=dropout).fit(X, y)
    assert torch.equal(torch.get_rng_state(), expected_torch)
    np.testing.assert_array_equal(np.random.get_state()[1], expected_numpy)  # noqa: NPY002


def test_fits_in_threads_keep_their_random_state():
    """torch's generators are shared by the process's threads: fits with
    dropout run side by side in threads (joblib's threading backend) each
    give what they give alone, their seeded blocks taking turns."""
    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)

    def fit(seed):
        model = DeepSpectralClusteringEmbedder(
            init="random",
            hidden_layer_sizes=(64,),
            dropout=0.3,
            batch_size=64,
            max_iter=2,
            random_state=seed,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return model.fit(X, y).transform(X)

    seeds = range(4)
    alone = [fit(seed) for seed in seeds]
    with joblib.parallel_backend("threading", n_jobs=4):
        together = joblib.Parallel()(joblib.delayed(fit)(seed) for seed in seeds)
    for one, other in zip(alone, together, strict=True):
        np.testing.assert_array_equal(other, one)


def test_pipeline_with_kmeans_and_grid_search(blobs):
    X, y = blobs
    pipeline = make_pipeline(
        StandardScaler(),
        fast(max_iter=10),
        KMeans(n_clusters=4, n_init=3, random_state=0),
    )
    clusters = pipeline.fit(X, y).predict(X)
    assert normalized_mutual_info_score(y, clusters) > 0.9

    search = GridSearchCV(
        make_pipeline(StandardScaler(), fast(max_iter=5)),
        {
            "deepspectralclusteringembedder__hidden_layer_sizes": [(), (16,)],
            "deepspectralclusteringembedder__alpha": [1e-4, 1e-2],
        },
        cv=2,
    )
    search.fit(X, y)
    assert search.cv_results_["mean_test_score"].shape == (4,)
    assert 0 <= search.best_score_ <= 1


def test_clone_pickle_and_joblib_round_trips(blobs):
    X, y = blobs
    estimator = fast(max_iter=3).fit(X, y)
    cloned = clone(estimator)
    assert not hasattr(cloned, "module_")
    assert cloned.get_params() == estimator.get_params()
    expected = estimator.transform(X)
    restored = pickle.loads(pickle.dumps(estimator))
    np.testing.assert_array_equal(restored.transform(X), expected)
    buffer = io.BytesIO()
    joblib.dump(estimator, buffer)
    buffer.seek(0)
    np.testing.assert_array_equal(joblib.load(buffer).transform(X), expected)


def test_warm_start_continues_training(blobs):
    X, y = blobs
    estimator = fast(max_iter=3, warm_start=True, tol=0).fit(X, y)
    weights = first_weight(estimator)
    estimator.fit(X, y)
    assert estimator.n_iter_ == 6
    assert len(estimator.loss_curve_) == 6
    assert not torch.equal(weights, first_weight(estimator))
    with pytest.raises(ValueError, match="same classes"):
        estimator.fit(X, (y + 1) % 5)
    cold = fast(max_iter=3, tol=0).fit(X, y)
    cold.fit(X, y)
    assert cold.n_iter_ == 3


def first_weight(estimator):
    return next(estimator.module_.parameters()).detach().clone()


def test_early_stopping_restores_the_best_weights():
    X, y = informative_and_noise()
    weights = []

    def record(estimator):
        weights.append(first_weight(estimator))

    estimator = fast(
        max_iter=8,
        early_stopping=True,
        n_iter_no_change=8,
        callback=record,
        validation_split="samples",
        validation_fraction=0.3,
    )
    estimator.fit(X, y)
    scores = estimator.validation_scores_
    # one score for the untrained model, then one per epoch
    assert len(scores) == estimator.n_iter_ + 1 == 9
    assert len(set(scores)) > 1
    assert estimator.best_validation_score_ == max(scores)
    best = int(np.argmax(scores))
    assert best > 0  # training helped on these data
    assert torch.equal(first_weight(estimator), weights[best - 1])


def test_class_validation_refits_on_every_class():
    X, y = informative_and_noise()
    estimator = fast(
        max_iter=30,
        early_stopping=True,
        validation_split="classes",
        validation_fraction=0.3,
    )
    estimator.fit(X, y)
    start_score, trained_score = estimator.validation_scores_
    assert trained_score > start_score  # training helps these held-out classes
    assert estimator.best_validation_score_ == trained_score
    # refit on all 12 classes for as many epochs as the selection run took
    assert 0 < estimator.n_iter_ == len(estimator.loss_curve_) <= 30
    assert estimator.class_centroids_.shape == (12, 12)


def test_start_is_kept_when_training_never_helps_unseen_classes(monkeypatch):
    from sklearn_dsc import _selection, _training

    X, y = load_digits(return_X_y=True)
    X, y = X[:600] / 16, y[:600]
    generator = torch.Generator().manual_seed(0)

    def useless_epoch(module, optimizer, data, codes, batches, *args, **kwargs):
        # every "trained" head embeds noise
        with torch.no_grad():
            for parameter in module.parameters():
                parameter.copy_(torch.randn(parameter.shape, generator=generator))
        return 1.0, len(data)

    monkeypatch.setattr(_training, "run_epoch", useless_epoch)
    monkeypatch.setattr(_selection, "ANCHOR_WEIGHTS", (0.0,))  # the head alone
    estimator = DeepSpectralClusteringEmbedder(
        init="pca", max_iter=3, random_state=0, device="cpu"
    )
    estimator.fit(X, y)
    start_score, trained_score = estimator.validation_scores_
    assert trained_score < start_score
    # refit for 0 epochs: the anchor alone, without the head's columns
    assert estimator.n_iter_ == 0
    assert estimator.module_.head_scale.item() == 0
    assert estimator.transform(X).shape == (600, estimator.module_.anchor.out_features)
    pca = PCA(64).fit(X)
    np.testing.assert_allclose(
        np.abs(centred(estimator.transform(X))[:, :10]),
        np.abs(pca.transform(X)[:, :10])
        / np.sqrt(pca.explained_variance_.sum() * (599 / 600)),
        rtol=1e-3,
        atol=1e-4,
    )


def test_early_stopping_stops_when_the_score_stalls():
    X, y = make_blobs(n_samples=300, centers=3, random_state=1)
    estimator = fast(max_iter=200, early_stopping=True, n_iter_no_change=3, tol=0.01)
    estimator.fit(X, y)
    scores = estimator.validation_scores_
    assert estimator.n_iter_ + 1 == len(scores) < 201
    # stopped after 3 epochs that did not beat the best by more than tol
    best_before = max(scores[:-3])
    assert all(score <= best_before + 0.01 for score in scores[-3:])
    assert estimator.best_validation_score_ == max(scores)


def test_stops_when_the_loss_stalls():
    X, y = make_blobs(n_samples=300, centers=3, random_state=1)
    estimator = fast(max_iter=500, tol=1e-2, n_iter_no_change=2).fit(X, y)
    assert estimator.n_iter_ < 500


def test_maximum_iterations_warns(blobs):
    X, y = blobs
    with pytest.warns(ConvergenceWarning, match="maximum iterations"):
        fast(max_iter=1).fit(X, y)


def test_callback_can_stop_training(blobs):
    X, y = blobs
    estimator = fast(max_iter=50, callback=lambda est: est.n_iter_ >= 2).fit(X, y)
    assert estimator.n_iter_ == 2


class Snapshots:
    """A callback that pickles and copies the estimator after every epoch,
    beside what its transform gives then (itself pickled as empty)."""

    def __init__(self, X):
        self.X, self.taken = X, []

    def __call__(self, estimator):
        copies = (pickle.dumps(estimator), copy.deepcopy(estimator))
        self.taken.append((copies, estimator.transform(self.X)))
        return False

    def __getstate__(self):
        return {}


@pytest.mark.parametrize("init", ["random", "whitened"])
def test_a_callback_may_pickle_the_estimator_being_fitted(blobs, init):
    """A pickle or copy taken in a callback holds the network trained so far,
    which transform reads; predict, which needs the centroids that fit
    computes at its end, and continuing that fit are refused."""
    X, y = blobs
    snapshots = Snapshots(X)
    estimator = fast(init=init, max_iter=3, callback=snapshots).fit(X, y)
    assert len(snapshots.taken) >= 3
    for (pickled, copied), embedded in snapshots.taken:
        for snapshot in (pickle.loads(pickled), copied):
            np.testing.assert_array_equal(snapshot.transform(X), embedded)
            with pytest.raises(NotFittedError, match="being fitted"):
                snapshot.predict(X)
            with pytest.raises(ValueError, match="copied while being fitted"):
                snapshot.partial_fit(X, y)
    refitted = snapshot.set_params(callback=None).fit(X, y)  # fitted anew
    assert refitted.predict(X).shape == y.shape
    again = pickle.loads(pickle.dumps(estimator))  # whole once fit returned
    np.testing.assert_array_equal(again.predict(X), estimator.predict(X))


def test_save_and_predict_wait_for_the_fit_to_end(blobs, tmp_path):
    """Also where a continued fit still holds the earlier fit's centroids."""
    from sklearn_dsc import save

    X, y = blobs
    calls = []

    def callback(estimator):
        with pytest.raises(ValueError, match="being fitted"):
            save(estimator, tmp_path / "model.dsc")
        with pytest.raises(NotFittedError, match="being fitted"):
            estimator.predict(X)
        calls.append(estimator.n_iter_)
        return True

    estimator = fast(max_iter=2).fit(X, y)
    estimator.set_params(warm_start=True, callback=callback).fit(X, y)
    assert calls == [3]
    assert not (tmp_path / "model.dsc").exists()


class StageWithoutText:
    def __call__(self, estimator):
        return False

    def stage(self):
        pass


@pytest.mark.parametrize(
    ("callback", "message"),
    [
        (
            lambda est, epoch, logs: None,
            r"takes \(est, epoch, logs\).*callback\(estimator\)",
        ),
        (StageWithoutText(), r"callback.stage takes \(\).*callback.stage\(text\)"),
    ],
)
def test_a_callback_that_cannot_be_called_is_refused_before_any_work(callback, message):
    """Two classes train no epoch: the callback would never be called, and a
    fit that trains would fail only after its first epoch."""
    X, y = make_blobs(n_samples=60, centers=2, random_state=0)
    estimator = DeepSpectralClusteringEmbedder(callback=callback)
    with pytest.raises(TypeError, match=message):
        estimator.fit(X, y)
    assert not hasattr(estimator, "module_")


def test_keyboard_interrupt_keeps_a_usable_model(blobs):
    X, y = blobs

    def interrupt(estimator):
        if estimator.n_iter_ == 2:
            raise KeyboardInterrupt

    with pytest.warns(UserWarning, match="interrupted"):
        estimator = fast(max_iter=50, callback=interrupt).fit(X, y)
    assert estimator.n_iter_ == 2
    assert np.isfinite(estimator.transform(X)).all()


def test_a_continued_fit_names_the_held_out_classes_that_scored_it(capsys):
    """warm_start after a fit on held-out classes trains on the classes kept
    and scores those held out after every epoch: the attributes and lines
    name them as classes, and no spread of an anchor choice is left over."""
    X, y = informative_and_noise(n_classes=8, n_per_class=20)
    estimator = DeepSpectralClusteringEmbedder(max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        estimator.fit(X, y)
    assert estimator.n_validation_classes_ == 2
    assert estimator.validation_spread_ is not None
    estimator.set_params(warm_start=True, verbose=1).fit(X, y)
    out = capsys.readouterr().out
    assert re.search(r"to be scored on \d+ rows of 2 held-out classes after every", out)
    assert re.search(r"; held-out classes: k-means NMI: start [\d.]+, best epoch", out)
    assert estimator.n_validation_classes_ == 2
    assert estimator.validation_spread_ is None
    # continuing a fit on held-out samples: samples again
    samples = fast(max_iter=2, early_stopping=True, validation_split="samples")
    samples.fit(X, y).set_params(warm_start=True).fit(X, y)
    assert samples.n_validation_classes_ is None


def test_an_interrupted_trial_keeps_the_network_it_trained(capsys):
    """Ctrl-C in the trial run that fewer than ten held-out classes score
    once: the network trained so far is kept, not its random start."""
    X, y = informative_and_noise(n_classes=8, n_per_class=20)

    def interrupt(estimator):
        if estimator.n_iter_ == 2:
            raise KeyboardInterrupt

    model = fast(max_iter=50, early_stopping=True, verbose=1, callback=interrupt)
    with pytest.warns(UserWarning, match="interrupted by the user after 2 epochs"):
        model.fit(X, y)
    assert model.n_validation_classes_ == 2
    assert model.n_iter_ == 2
    assert len(model.loss_curve_) == 2
    assert "; the trained network kept as it is, not refit on every class\n" in (
        capsys.readouterr().out
    )
    assert np.isfinite(model.transform(X)).all()


def test_an_interrupted_refit_is_said_to_be_so(capsys):
    """The refit on every class stopped by Ctrl-C: the weights of its epochs
    so far are kept, and the verbose summary says the refit was cut short
    (here the trial's best epoch is its fifth)."""
    X, y = informative_and_noise(n_classes=34, n_per_class=15)
    epochs = []

    def interrupt_the_refit(estimator):
        if epochs and estimator.n_iter_ <= epochs[-1]:  # a new run: the refit
            raise KeyboardInterrupt
        epochs.append(estimator.n_iter_)

    model = fast(hidden_layer_sizes=(8,), max_iter=6, early_stopping=True, verbose=1)
    model.set_params(callback=interrupt_the_refit)
    with pytest.warns(UserWarning, match="interrupted"):
        model.fit(X, y)
    assert model.n_iter_ == 1
    out = capsys.readouterr().out
    refit = re.search(r"refit on every class for (\d+) epochs\n", out)
    assert refit
    assert int(refit.group(1)) > 1
    assert re.search(
        r"a network refit on every class, stopped after 1 of its "
        f"{refit.group(1)} epochs\n",
        out,
    )


def test_verbose_epoch_lines_name_the_held_out_score(capsys):
    """With ten held-out classes or more every epoch is scored by the
    nearest-mean NMI, and its lines say so, as ``validation_metric_`` does."""
    X, y = informative_and_noise(n_classes=34, n_per_class=10)
    model = fast(hidden_layer_sizes=(8,), max_iter=2, early_stopping=True, verbose=1)
    model.fit(X, y)
    assert model.validation_metric_ == "nearest-mean NMI"
    epochs = re.findall(
        r"epoch +\d+ +loss [\d.]+ +(.*?) [\d.]+ +[\d.]+s", capsys.readouterr().out
    )
    assert epochs  # the trial's epochs, scored
    assert set(epochs) == {"nearest-mean NMI"}


def test_divergence_restores_finite_weights_and_warns(blobs):
    X, y = blobs
    X = X * 1e6
    with pytest.warns(ConvergenceWarning, match="diverged"):
        estimator = fast(learning_rate_init=1e30, alpha=0, max_iter=50).fit(X, y)
    for parameter in estimator.module_.parameters():
        assert torch.isfinite(parameter).all()
    assert np.isfinite(estimator.transform(X)).all()


def test_a_random_start_that_training_does_not_beat_is_trained_and_said():
    """With ``init="random"`` there is no anchor to fall back on: where the
    held-out classes cluster no better after training than from the random
    start, the network is trained on every class all the same, and the
    warning gives both scores."""
    X, y = load_digits(return_X_y=True)
    rows = np.concatenate([np.flatnonzero(y == digit)[:50] for digit in range(6)])
    X, y = X[rows] / 16.0, y[rows]
    model = fast(
        hidden_layer_sizes=(16,),
        max_iter=4,
        n_iter_no_change=2,
        batch_size=64,
        learning_rate_init=1e-4,
        early_stopping=True,
    )
    with pytest.warns(UserWarning, match="no better than its random start") as record:
        model.fit(X, y)
    (said,) = [str(w.message) for w in record if "random start" in str(w.message)]
    trained, start = map(float, re.search(r"NMI (\S+) against (\S+)\)", said).groups())
    assert trained <= start
    assert model.n_iter_ > 0
    assert "init='auto'" in said


def test_verbose_prints_one_line_per_epoch(blobs, capsys):
    X, y = blobs
    fast(max_iter=3, verbose=1, early_stopping=True, validation_split="samples").fit(
        X, y
    )
    lines = capsys.readouterr().out.strip().splitlines()
    # what is trained, three epochs, what was kept, what each stage cost
    assert len(lines) == 6
    assert re.fullmatch(
        r"\[DeepSpectralClusteringEmbedder\] training the network on \d+ rows, to "
        r"be scored on \d+ held-out samples after every epoch",
        lines[0],
    )
    assert re.match(
        r"\[DeepSpectralClusteringEmbedder\] epoch +1 +loss [\d.]+ +k-means NMI "
        r"[\d.]+ +[\d.]+s +\(at most \d+s left\)",
        lines[1],
    )
    assert "left" not in lines[3]  # the last epoch the run may have
    assert re.fullmatch(
        r"\[DeepSpectralClusteringEmbedder\] init='random'; held-out samples: k-means "
        r"NMI: start [\d.]+, best epoch \d of 3 [\d.]+; (the network of epoch [123]|"
        r"the random start) kept",
        lines[4],
    )
    assert re.match(
        r"\[DeepSpectralClusteringEmbedder\] time: training [\d.]+ s, scoring "
        r"held-out data [\d.]+ s; [\d.]+ s in these stages",
        lines[5],
    )
    # continued, the epochs are counted on from the first fit's
    estimator = fast(max_iter=3, early_stopping=True, validation_split="samples")
    estimator.fit(X, y)
    estimator.set_params(warm_start=True, max_iter=2, verbose=1).fit(X, y)
    out = capsys.readouterr().out
    assert re.search(
        r"training the network on \d+ rows, continued after epoch 3, to be scored",
        out,
    )
    assert re.search(
        r"held-out samples: k-means NMI: start [\d.]+, best epoch [345] of 5 [\d.]+; "
        r"(the network of epoch [45]|the network as it was) kept",
        out,
    )
    # continued from a fit that kept its start (an anchor alone: 3 classes)
    three = y < 3
    estimator = DeepSpectralClusteringEmbedder(max_iter=2, random_state=0)
    estimator.fit(X[three], y[three])
    assert estimator.n_iter_ == 0
    estimator.set_params(warm_start=True, verbose=1).fit(X[three], y[three])
    assert re.search(
        r"training a head beside the plda anchor on \d+ rows, continued from the "
        r"earlier fit's start, to be scored",
        capsys.readouterr().out,
    )
    fast(max_iter=1, verbose=2).fit(X, y)
    assert "batch 1/1" in capsys.readouterr().out
    fast(max_iter=2, verbose=1, early_stopping=True, validation_split="classes").fit(
        X, y
    )
    out = capsys.readouterr().out
    assert "training the network on 2 classes, to be scored on 2 held-out ones" in out
    assert re.search(
        r"init='random'; held-out classes: k-means NMI: start [\d.]+, trained "
        r"[\d.]+; the trained network kept, refit on every class for \d+ epochs",
        out,
    )


def test_sparse_input_matches_dense(blobs):
    X, y = blobs
    X = np.where(np.abs(X) > 3, X, 0.0)  # mostly zeros
    dense = fast(max_iter=3).fit(X, y)
    for sparse_format in (sp.csr_matrix, sp.csc_matrix, sp.csr_array):
        sparse = fast(max_iter=3).fit(sparse_format(X), y)
        np.testing.assert_allclose(
            sparse.transform(sparse_format(X)), dense.transform(X), rtol=1e-4, atol=1e-5
        )


def test_pandas_input_keeps_feature_names(blobs):
    X, y = blobs
    frame = pd.DataFrame(X, columns=[f"feature_{i}" for i in range(6)])
    estimator = fast(max_iter=2).fit(frame, pd.Series(y))
    assert list(estimator.feature_names_in_) == list(frame.columns)
    names = estimator.get_feature_names_out()
    assert list(names) == [f"deepspectralclusteringembedder{i}" for i in range(4)]
    estimator.set_output(transform="pandas")
    output = estimator.transform(frame)
    assert isinstance(output, pd.DataFrame)
    assert list(output.columns) == list(names)
    with pytest.warns(UserWarning, match="feature names"):
        estimator.transform(X)


def test_partial_fit_says_which_classes_it_does_not_know(blobs):
    """Labels outside classes= on the first call, and labels a fitted model
    has not seen, written as they are (a string label is quoted)."""
    X, y = blobs
    with pytest.raises(ValueError, match=r"classes 3 that classes= does not list"):
        fast().partial_fit(X, y, classes=[0, 1, 2])
    fitted = fast(max_iter=1).fit(X, y.astype(str))
    # numbers against strings: no NumPy 1.x FutureWarning on the way
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        with pytest.raises(ValueError, match=r"0, 1, 2, 3 that .* \(classes_: '0'"):
            fitted.partial_fit(X, y)


def test_partial_fit_trains_on_chunks(blobs):
    X, y = blobs
    estimator = fast()
    estimator.partial_fit(X[:100], y[:100], classes=[0, 1, 2, 3])
    first = estimator.transform(X)
    for _ in range(5):
        estimator.partial_fit(X[100:], y[100:])
        estimator.partial_fit(X[:100], y[:100])
    assert estimator.n_iter_ == 11
    assert not np.allclose(first, estimator.transform(X))
    assert np.isfinite(estimator.class_centroids_).all()
    with pytest.raises(ValueError, match=r"classes 9 that the model was not fitted on"):
        estimator.partial_fit(X[:10], np.repeat([0, 9], 5))
    with pytest.raises(ValueError, match="2 classes in y of every partial_fit chunk"):
        estimator.partial_fit(X[:10], np.zeros(10, dtype=int))
    assert not hasattr(
        DeepSpectralClusteringEmbedder(solver="closed_form"), "partial_fit"
    )


@pytest.mark.parametrize(
    ("params", "X", "y", "message"),
    [
        ({}, np.ones((5, 2)), np.zeros(5), "at least 2 classes"),
        ({}, np.array([[0.0, np.nan], [1.0, 1.0]]), [0, 1], "NaN"),
        ({}, np.array([[0.0, np.inf], [1.0, 1.0]]), [0, 1], "1 infinite value"),
        ({}, np.ones(4), [0, 1, 0, 1], "2D array"),
        ({}, np.ones((4, 2)), [0, 1, 0], "inconsistent numbers of samples"),
        ({"batch_size": 1}, np.ones((4, 2)), [0, 1, 0, 1], "batch_size"),
        ({"device": "tpu9"}, np.eye(4, 2), [0, 1, 0, 1], "not a valid torch device"),
        (
            {"solver": "closed_form"},
            np.eye(4, 2),
            [0, 1, 0, 1],
            "hidden_layer_sizes=()",
        ),
        (
            {"hidden_layer_sizes": (8, 0)},
            np.eye(4, 2),
            [0, 1, 0, 1],
            "positive integers",
        ),
        (
            {"hidden_layer_sizes": (True,)},
            np.eye(4, 2),
            [0, 1, 0, 1],
            "positive integers",
        ),
        (
            {"hidden_layer_sizes": 0},
            np.eye(4, 2),
            [0, 1, 0, 1],
            "an array-like or an int in the range [1, inf)",
        ),
        ({}, np.ones((4, 2)), [0.5, 1.5, 0.25, 1.0], "Unknown label type"),
    ],
)
def test_bad_input_raises_clear_errors(params, X, y, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        fast(**params).fit(X, y)


def test_an_int_is_one_hidden_layer(blobs):
    """``hidden_layer_sizes=32`` reads as ``(32,)``, as scikit-learn's
    ``MLPClassifier`` reads it."""
    X, y = blobs
    one = fast(hidden_layer_sizes=32, max_iter=2).fit(X, y)
    assert one.module_.layer_sizes[:2] == [X.shape[1], 32]
    assert len(one.module_.layer_sizes) == 3
    assert one.get_params()["hidden_layer_sizes"] == 32
    same = fast(hidden_layer_sizes=(32,), max_iter=2).fit(X, y)
    np.testing.assert_array_equal(one.transform(X), same.transform(X))
    with pytest.raises(ValueError, match=r"set hidden_layer_sizes=\(\)"):
        fast(hidden_layer_sizes=8, solver="closed_form").fit(X, y)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_missing_cuda_device_is_a_clear_error(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match="CUDA is not available"):
        fast(device="cuda").fit(X, y)


def test_wrong_number_of_features_at_transform(blobs):
    X, y = blobs
    estimator = fast(max_iter=1).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        estimator.transform(X[:, :3])


@CUDA
@pytest.mark.cuda
def test_fit_on_cuda_keeps_module_on_cpu(blobs):
    X, y = blobs
    gpu = fast(max_iter=5, device="cuda").fit(X, y)
    cpu = fast(max_iter=5, device="cpu").fit(X, y)
    assert first_weight(gpu).device.type == "cpu"
    restored = pickle.loads(pickle.dumps(gpu))
    np.testing.assert_allclose(
        restored.transform(X), gpu.transform(X), rtol=1e-5, atol=1e-5
    )
    assert gpu.score(X, y) == pytest.approx(cpu.score(X, y), abs=0.05)


def test_tensors_with_gradients_are_read_as_their_values(blobs):
    """Features straight from a network, computed with gradients: fit,
    partial_fit, transform, predict and score read them as the arrays."""
    X, y = blobs
    rows, labels = torch.tensor(X, requires_grad=True), torch.tensor(y)
    from_tensors = fast(max_iter=2).fit(rows, labels)
    from_arrays = fast(max_iter=2).fit(X, y)
    np.testing.assert_array_equal(
        from_tensors.transform(rows), from_arrays.transform(X)
    )
    np.testing.assert_array_equal(from_tensors.predict(rows), from_arrays.predict(X))
    assert from_tensors.score(rows, labels) == from_arrays.score(X, y)
    assert fast().partial_fit(rows, labels).n_iter_ == 1
    assert rows.grad is None  # nothing flowed back into the caller's graph


SPARSE_LAYOUTS = {
    "coo": torch.Tensor.to_sparse,
    "csr": torch.Tensor.to_sparse_csr,
    "csc": torch.Tensor.to_sparse_csc,
    "hybrid": lambda rows: rows.to_sparse(1),  # a sparse dimension of dense rows
}


@pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta")
@pytest.mark.parametrize("layout", SPARSE_LAYOUTS)
def test_sparse_tensors_are_read_as_their_values(blobs, layout):
    """torch's sparse layouts as SciPy's CSR matrix of the same rows; a hybrid
    tensor, whose rows are dense, as the dense array."""
    X, y = blobs
    X = np.where(X > 0, X, 0.0)  # half of the values stored
    as_sparse = SPARSE_LAYOUTS[layout]
    rows = as_sparse(torch.tensor(X))
    expected = X if layout == "hybrid" else sp.csr_matrix(X)
    from_tensors = fast(max_iter=2).fit(rows, torch.tensor(y))
    from_arrays = fast(max_iter=2).fit(expected, y)
    np.testing.assert_array_equal(
        from_tensors.transform(rows), from_arrays.transform(expected)
    )
    np.testing.assert_array_equal(
        from_tensors.predict(rows), from_arrays.predict(expected)
    )


@CUDA
@pytest.mark.cuda
def test_tensors_on_cuda_are_read_as_their_values(blobs):
    X, y = blobs
    rows, labels = torch.tensor(X, device="cuda"), torch.tensor(y, device="cuda")
    estimator = fast(max_iter=2, device="cpu").fit(rows, labels)
    np.testing.assert_array_equal(estimator.transform(rows), estimator.transform(X))
    assert estimator.score(rows, labels) == estimator.score(X, y)


def short_default_fits(device, other_device, **params):
    """A few epochs of the defaults on digits 0-4, on two devices: the
    embeddings of the unseen digits 5-9."""
    X, y = load_digits(return_X_y=True)
    X, seen = X / 16.0, y < 5
    fits = [
        DeepSpectralClusteringEmbedder(
            max_iter=3, random_state=0, device=where, **params
        ).fit(X[seen], y[seen])
        for where in (device, other_device)
    ]
    assert fits[0].init_ == fits[1].init_
    assert fits[0].n_iter_ == fits[1].n_iter_
    return [fit.transform(X[~seen]) for fit in fits]


CONV = {"network": "conv", "input_shape": (8, 8)}


@CUDA
@pytest.mark.cuda
@pytest.mark.parametrize(
    "params",
    # the second and third keep a head; the third's convolutions would run
    # in TF32 on recent GPUs unless the estimator asks for float32
    [{}, {"init": "pca", "early_stopping": False}, {**CONV, "init": "pca"}],
    ids=["defaults", "trained-head", "conv"],
)
def test_a_short_default_fit_on_cuda_matches_the_cpu(params):
    on_gpu, on_cpu = short_default_fits("cuda", "cpu", **params)
    assert on_gpu.shape == on_cpu.shape
    # float32: the sums run in another order on the GPU
    np.testing.assert_allclose(on_gpu, on_cpu, rtol=0, atol=1e-3 * np.abs(on_cpu).max())


@CUDA
@pytest.mark.cuda
@pytest.mark.parametrize("params", [{}, CONV], ids=["mlp", "conv"])
def test_a_fit_on_cuda_is_the_same_from_run_to_run(params):
    first, again = short_default_fits(
        "cuda", "cuda", init="pca", early_stopping=False, **params
    )
    np.testing.assert_array_equal(again, first)


def centred(embeddings):
    return embeddings - embeddings.mean(axis=0)


def untrained_anchor(X, y, **params):
    """The anchor's columns of ``transform`` before any training."""
    start = DeepSpectralClusteringEmbedder(
        hidden_layer_sizes=(8,),
        early_stopping=False,
        max_iter=1,
        learning_rate_init=1e-30,
        random_state=0,
        device="cpu",
        **params,
    )
    start = start.fit(X, y)
    return start, centred(start.transform(X))[:, : start.module_.anchor.out_features]


@pytest.mark.parametrize("init", ["pca", "closed_form"])
def test_linear_starts_are_what_they_say(init):
    X, y = informative_and_noise()
    _, embeddings = untrained_anchor(X, y, init=init)
    if init == "pca":
        expected = PCA(24).fit_transform(X)
    else:  # the closed form whose ridge is that share of X's largest variance
        reference = DeepSpectralClusteringEmbedder(
            hidden_layer_sizes=(),
            solver="closed_form",
            n_components=12,
            alpha=CLOSED_FORM_SHRINKAGE * largest_scatter_eigenvalue(X),
        )
        expected = centred(reference.fit(X, y).transform(X))
    # the same directions up to sign, on the scale of unit spread
    scale = np.sqrt(np.sum(expected.var(axis=0)))
    np.testing.assert_allclose(
        np.abs(embeddings), np.abs(expected) / scale, rtol=1e-3, atol=1e-4
    )


def test_whitened_start_divides_out_the_within_class_variation():
    X, y = informative_and_noise()
    start, anchor = untrained_anchor(X, y, init="whitened", shrinkage=1e-9)
    assert (start.init_, start.shrinkage_) == ("whitened", 1e-9)
    # little shrinkage: every direction varies as much within the classes
    within = within_class_covariance(anchor.astype(np.float64), y)
    np.testing.assert_allclose(within / within[0, 0], np.eye(24), atol=1e-3)
    assert np.linalg.matrix_rank(anchor) == 24  # no direction is dropped
    # much shrinkage: the PCA geometry (the same distances, in other axes)
    _, anchor = untrained_anchor(X, y, init="whitened", shrinkage=1e9)
    _, pca_anchor = untrained_anchor(X, y, init="pca")
    np.testing.assert_allclose(
        anchor @ anchor.T, pca_anchor @ pca_anchor.T, rtol=1e-3, atol=1e-5
    )


def test_held_out_classes_choose_the_shrinkage():
    from sklearn_dsc._selection import DEFAULT_SHRINKAGE, SHRINKAGES

    X, y = informative_and_noise()
    held_out = {"early_stopping": True, "max_iter": 2}
    estimator = fast(init="whitened", **held_out).fit(X, y)
    assert estimator.init_ == "whitened"
    assert estimator.shrinkage_ in SHRINKAGES
    # a given shrinkage is used as it is
    estimator = fast(init="whitened", shrinkage=0.5, **held_out).fit(X, y)
    assert estimator.shrinkage_ == 0.5
    # without held-out classes "auto" takes the default
    estimator = fast(init="whitened", validation_split="samples", **held_out)
    assert estimator.fit(X, y).shrinkage_ == DEFAULT_SHRINKAGE
    # the PLDA anchor has one too
    estimator = fast(init="plda", **held_out).fit(X, y)
    assert (estimator.init_, estimator.shrinkage_ in SHRINKAGES) == ("plda", True)
    # no other anchor has a shrinkage
    assert fast(init="pca", **held_out).fit(X, y).shrinkage_ is None


def test_five_classes_keep_the_ledoit_wolf_plda_anchor(tmp_path):
    """Five training classes: sets of 2 held-out classes keep 3, too few to
    choose, and the classes' means leave 20 of 24 directions unspanned, so
    the defaults keep the PLDA anchor on the within-class covariance of
    LDA with shrinkage="auto". The shrinkage survives pickles and model
    files, and given back as a parameter it refits the same embedding."""
    from sklearn_dsc import load, save
    from sklearn_dsc._selection import FEW_KEPT_SHRINKAGE

    X, y = informative_and_noise(n_classes=5, n_noise=20)
    defaults = DeepSpectralClusteringEmbedder(random_state=0).fit(X, y)
    assert (defaults.init_, defaults.shrinkage_) == ("plda", FEW_KEPT_SHRINKAGE)
    assert FEW_KEPT_SHRINKAGE == "ledoit-wolf"
    embedding = defaults.transform(X)
    np.testing.assert_array_equal(
        pickle.loads(pickle.dumps(defaults)).transform(X), embedding
    )
    save(defaults, tmp_path / "model.dsc")
    loaded = load(tmp_path / "model.dsc")
    assert loaded.shrinkage_ == FEW_KEPT_SHRINKAGE
    np.testing.assert_array_equal(loaded.transform(X), embedding)
    given = DeepSpectralClusteringEmbedder(
        init=defaults.init_, shrinkage=defaults.shrinkage_, random_state=0
    )
    np.testing.assert_allclose(given.fit(X, y).transform(X), embedding)


def test_ledoit_wolf_shrinkage_is_compared_on_held_out_classes_as_given():
    """A shrinkage of "ledoit-wolf" given with init="auto" is that of every
    anchor compared on held-out classes (fitted on their rows, not from
    class moments)."""
    X, y = informative_and_noise(n_classes=12)
    held_out = {"early_stopping": True, "max_iter": 2}
    estimator = fast(init="auto", shrinkage="ledoit-wolf", **held_out)
    estimator.fit(X, y)
    assert estimator.init_ in ("pca", "whitened", "plda", "closed_form")
    expected = None if estimator.init_ in ("pca", "closed_form") else "ledoit-wolf"
    assert estimator.shrinkage_ == expected
    with pytest.raises(ValueError, match="shrinkage"):
        fast(shrinkage="ledoit_wolf").fit(X, y)


def test_ledoit_wolf_shrinkage_of_too_wide_inputs_is_refused_before_any_work():
    """Ledoit-Wolf's estimate is of the inputs' own features: more than 4096
    are refused as fit begins, where an anchor would take it, and left
    alone where none does (init="pca")."""
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(12, 4097)), np.repeat([0, 1, 2], 4)
    for init in ("auto", "whitened", "plda"):
        estimator = DeepSpectralClusteringEmbedder(init=init, shrinkage="ledoit-wolf")
        with pytest.raises(ValueError, match="takes at most 4096"):
            estimator.fit(X, y)
        assert not hasattr(estimator, "module_")
    pca = fast(init="pca", shrinkage="ledoit-wolf", max_iter=1)
    with pytest.warns(UserWarning, match="shrinkage='ledoit-wolf' is not used"):
        pca.fit(X, y)
    assert pca.shrinkage_ is None


@pytest.mark.parametrize(
    ("params", "said"),
    [
        ({"init": "pca", "shrinkage": 0.5}, "shrinkage=0.5 is not used: init='pca'"),
        ({"init": "closed_form", "shrinkage": 0.5}, "init='closed_form' fits no"),
        ({"init": "random", "shrinkage": 0.5}, "init='random' fits no anchor"),
        (
            {"solver": "closed_form", "hidden_layer_sizes": (), "shrinkage": 0.5},
            "shrinkage=0.5 is not used: solver='closed_form' fits no anchor",
        ),
    ],
)
def test_a_shrinkage_that_no_anchor_uses_is_named(blobs, params, said):
    X, y = blobs
    with pytest.warns(UserWarning, match=re.escape(said)):
        DeepSpectralClusteringEmbedder(max_iter=1, random_state=0, **params).fit(X, y)
    # where an anchor shrinks, or the shrinkage is left to choose, nothing
    for params in ({"init": "whitened", "shrinkage": 0.5}, {"init": "pca"}):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            DeepSpectralClusteringEmbedder(max_iter=1, random_state=0, **params).fit(
                X, y
            )
        assert not any("shrinkage" in str(w.message) for w in caught)


def test_with_three_classes_and_few_directions_the_plda_anchor_is_kept():
    """Three training classes of 24 features leave 22 directions unspanned,
    few enough: as with 4 or 5 classes, the defaults keep the PLDA anchor on
    Ledoit-Wolf's covariance, whose geometry the features' units do not
    change (the whitened anchor at a fixed shrinkage changes with them)."""
    X, y = informative_and_noise(n_classes=3)
    scaled = X * np.logspace(-2, 2, X.shape[1])

    def anchor_gram(data, **params):
        estimator = DeepSpectralClusteringEmbedder(
            hidden_layer_sizes=(8,), max_iter=1, random_state=0, **params
        )
        estimator = estimator.fit(data, y)
        columns = estimator.module_.anchor.out_features
        anchor = centred(estimator.transform(data))[:, :columns]
        return (estimator.init_, estimator.shrinkage_), anchor @ anchor.T

    kept, gram = anchor_gram(X)
    kept_scaled, gram_scaled = anchor_gram(scaled)
    assert kept == kept_scaled == ("plda", "ledoit-wolf")
    np.testing.assert_allclose(gram, gram_scaled, rtol=0, atol=1e-2)
    _, whitened = anchor_gram(X, init="whitened", shrinkage=0.1)
    _, whitened_scaled = anchor_gram(scaled, init="whitened", shrinkage=0.1)
    assert not np.allclose(whitened, whitened_scaled, rtol=0.1, atol=0.1)


def test_with_three_classes_samples_of_them_do_not_choose_the_anchor(capsys):
    """Three training digits: no class can be held out, and held-out samples
    of those digits prefer the closed form, which separates exactly them.
    The defaults keep the whitened anchor alone, fitted on every row (nothing
    held out, no head trained: no held-out class could show that one
    transfers), say so, and cluster the seven other digits far better."""
    from sklearn_dsc._anchors import anchor_maps

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    seen = np.isin(y, [0, 1, 2])

    def unseen_nmi(estimator):
        estimator.fit(X[seen], y[seen])
        return kmeans_nmi(estimator.transform(X[~seen]), y[~seen], random_state=0)

    defaults = DeepSpectralClusteringEmbedder(random_state=0, verbose=1)
    samples = DeepSpectralClusteringEmbedder(validation_split="samples", random_state=0)
    nmi, chosen_by_samples = unseen_nmi(defaults), unseen_nmi(samples)
    assert (defaults.init_, defaults.shrinkage_) == ("whitened", 0.1)
    assert defaults.n_iter_ == 0
    assert defaults.loss_curve_ == []
    assert defaults.validation_scores_ is None
    assert set(defaults.fit_stage_seconds_) == {"fitting anchors"}
    assert "kept alone, no head trained: 3 training classes" in capsys.readouterr().out
    ((weight, bias),) = anchor_maps([("whitened", 0.1)], X[seen], y[seen], 0)
    np.testing.assert_allclose(
        defaults.transform(X[~seen]), X[~seen] @ weight.T + bias, atol=1e-4
    )
    assert samples.init_ == "closed_form"
    assert nmi > chosen_by_samples + 0.3


def test_classes_that_span_the_inputs_cluster_new_ones_as_lda_does():
    """Forty entities over twelve years in three features, one of which
    tells them apart by variations a thousandth of the largest variance: the
    twenty training classes span the features, the defaults keep the PLDA
    anchor at a shrinkage of SPANNED_SHRINKAGES and cluster the twenty
    unseen classes about as LDA does, which the whitened anchor at the
    smallest shrinkage of the other grid does not (the variation is below
    its floor)."""
    from sklearn_dsc._anchors import anchor_maps
    from sklearn_dsc._selection import SHRINKAGES, SPANNED_SHRINKAGES

    rng = np.random.RandomState(0)
    y = np.repeat(np.arange(40), 12)
    X = np.column_stack(
        [
            rng.normal(scale=10, size=40)[y] + rng.normal(scale=10, size=len(y)),
            rng.normal(size=40)[y] + rng.normal(scale=0.02, size=len(y)),
            rng.normal(scale=3, size=len(y)),
        ]
    )
    seen = y < 20

    def unseen_nmi(transformer):
        fitted = transformer.fit(X[seen], y[seen])
        return kmeans_nmi(fitted.transform(X[~seen]), y[~seen], random_state=0)

    defaults = DeepSpectralClusteringEmbedder(random_state=0)
    nmi = unseen_nmi(defaults)
    assert (defaults.init_, defaults.shrinkage_ in SPANNED_SHRINKAGES) == (
        "plda",
        True,
    )
    assert nmi > unseen_nmi(LinearDiscriminantAnalysis()) - 0.05
    ((weight, bias),) = anchor_maps(
        [("whitened", min(SHRINKAGES))], X[seen], y[seen], 0
    )
    whitened = X[~seen] @ weight.T + bias
    assert nmi > kmeans_nmi(whitened, y[~seen], random_state=0) + 0.3


@pytest.mark.parametrize(
    ("data", "shrinkage", "expected_init", "expected_width"),
    [
        # raw pixels transfer better than LDA, and a little whitening better still
        ("digits", "auto", "whitened", 64),
        # whitening equalises noise and signal within the classes, and the
        # PLDA anchor damps the noise that the classes' means do not vary in
        ("noise", "auto", "plda", 24),
        # where whitening gives the input geometry back, the closed form
        # (which discards the noise) wins
        ("noise", 1e9, "closed_form", 12),
    ],
)
def test_auto_init_picks_the_start_that_transfers_to_held_out_classes(
    data, shrinkage, expected_init, expected_width
):
    if data == "digits":
        X, y = load_digits(return_X_y=True)
        X, y = X[y < 5] / 16, y[y < 5]
    else:
        X, y = informative_and_noise()
    estimator = DeepSpectralClusteringEmbedder(
        hidden_layer_sizes=(8,),
        shrinkage=shrinkage,
        max_iter=3,
        random_state=0,
        device="cpu",
    )
    estimator.fit(X, y)
    assert estimator.init_ == expected_init
    assert estimator.module_.anchor.out_features == expected_width
    if expected_init == "closed_form":
        assert len(estimator.validation_scores_) == 2  # the head was tried
    else:
        # the training classes' own directions transfer worse: no head
        assert len(estimator.validation_scores_) == 1
        assert estimator.n_iter_ == 0
        assert estimator.module_.head_scale.item() == 0
    # the embedding is the anchor, plus the head's columns only when kept
    head_kept = estimator.module_.head_scale.item() > 0
    width = expected_width + (estimator.module_.head[-1].out_features * head_kept)
    assert estimator.transform(X).shape == (len(X), width)
    assert estimator.class_centroids_.shape[1] == width
    assert len(estimator.get_feature_names_out()) == width


def test_partial_fit_after_a_fit_without_head_adds_the_head():
    X, y = load_digits(return_X_y=True)
    X, y = X[y < 5] / 16, y[y < 5]
    estimator = DeepSpectralClusteringEmbedder(
        hidden_layer_sizes=(8,), max_iter=3, random_state=0, device="cpu"
    ).fit(X, y)
    assert estimator.module_.head_scale.item() == 0
    anchor_width = estimator.module_.anchor.out_features
    assert estimator.transform(X).shape[1] == anchor_width
    chunk = y < 3
    estimator.partial_fit(X[chunk], y[chunk])
    assert estimator.module_.head_scale.item() > 0
    embedding = estimator.transform(X)
    assert embedding.shape[1] == anchor_width + 5  # one per training class
    assert np.abs(embedding[:, anchor_width:]).max() > 0
    # centroids in the new embedding: known for the chunk's classes only
    known = ~np.isnan(estimator.class_centroids_).any(axis=1)
    np.testing.assert_array_equal(known, [True, True, True, False, False])
    assert set(estimator.predict(X)) <= {0, 1, 2}
    estimator.partial_fit(X, y)  # every class again
    assert not np.isnan(estimator.class_centroids_).any()
    assert estimator.transform(X).shape[1] == anchor_width + 5


def test_defaults_cluster_unseen_digits_better_than_lda():
    X, y = load_digits(return_X_y=True)
    X = X / 16
    seen, unseen = y < 5, y >= 5
    estimator = DeepSpectralClusteringEmbedder(random_state=0).fit(X[seen], y[seen])
    lda = LinearDiscriminantAnalysis().fit(X[seen], y[seen])
    ours = estimator.score(X[unseen], y[unseen])
    assert ours > kmeans_nmi(lda.transform(X[unseen]), y[unseen], random_state=0) + 0.2
    assert ours > 0.7


def test_score_and_predict_under_pandas_output(blobs):
    from sklearn import config_context
    from sklearn.model_selection import cross_val_score

    X, y = blobs
    plain = fast(max_iter=2).fit(X, y)
    framed = fast(max_iter=2).set_output(transform="pandas").fit(X, y)
    assert isinstance(framed.transform(X), pd.DataFrame)
    assert framed.score(X, y) == plain.score(X, y)
    np.testing.assert_array_equal(framed.predict(X), plain.predict(X))
    with config_context(transform_output="pandas"):
        scores = cross_val_score(fast(max_iter=2), X, y, cv=2, error_score="raise")
    assert np.isfinite(scores).all()


def test_score_on_a_single_class_warns_that_it_means_nothing(blobs):
    X, y = blobs
    estimator = fast(max_iter=1).fit(X, y)
    with pytest.warns(UserWarning, match="single class") as record:
        assert estimator.score(X[y == 0], y[y == 0]) == 1.0
    assert record[0].filename == __file__


def test_a_frame_with_a_text_column_is_refused_naming_the_column(blobs):
    X, y = blobs
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)])
    frame["colour"] = np.where(y == 0, "red", "blue")
    with pytest.raises(
        ValueError, match=r"non-numeric column 'colour' \(e\.g\. '(red|blue)'\)"
    ):
        fast().fit(frame, y)
    estimator = fast(max_iter=1).fit(frame.drop(columns="colour"), y)
    with pytest.raises(ValueError, match="'colour'"):
        estimator.transform(frame)
    # a document is quoted cut short
    frame["colour"] = "a long description of the colour " * 100
    with pytest.raises(
        ValueError, match=r"\(e\.g\. 'a long description of the colour a lo\.\.\.'\)"
    ):
        fast().fit(frame, y)


@pytest.mark.parametrize("cell", [np.asarray, list, tuple])
def test_a_frame_with_a_column_of_arrays_is_told_how_to_spread_it(blobs, cell):
    """Embeddings stored an array a cell, as Parquet files often hold them:
    not a category to encode, and NumPy's message names neither column nor
    remedy."""
    X, y = blobs
    frame = pd.DataFrame({"size": X[:, 0], "embedding": [cell(row) for row in X]})
    expected = r"column 'embedding' whose cells are lists or arrays.*np\.stack"
    with pytest.raises(ValueError, match=expected) as raised:
        fast().fit(frame, y)
    assert "OneHotEncoder" not in str(raised.value)
    estimator = fast(max_iter=1).fit(X, y)
    with pytest.raises(ValueError, match=expected):
        estimator.transform(frame[["embedding"]])
    spread = np.column_stack([frame["size"], np.stack(frame["embedding"])])
    assert fast(max_iter=1).fit(spread, y).n_features_in_ == 7


@pytest.mark.parametrize(
    "column",
    [
        pd.date_range("2020-01-01", periods=40, tz="UTC"),
        pd.to_timedelta(np.arange(40), unit="s"),
        [datetime.date(2020, 1, 1) + datetime.timedelta(days=i) for i in range(40)],
    ],
    ids=["datetime64", "timedelta64", "date objects"],
)
def test_a_frame_with_a_date_column_is_told_to_make_numbers_of_it(blobs, column):
    """Dates are not categories: the message does not suggest one-hot codes."""
    X, y = blobs
    frame = pd.DataFrame(X[:40], columns=[f"f{i}" for i in range(6)])
    frame["when"] = column
    with pytest.raises(ValueError, match="date or time column 'when'") as raised:
        fast().fit(frame, y[:40])
    assert "OneHotEncoder" not in str(raised.value)


def test_classes_of_a_single_row_are_named(blobs):
    X, y = blobs
    y = y.copy()
    y[:2] = [7, 8]  # two classes of one row each
    with pytest.warns(UserWarning, match=r"2 classes have a single row: 7, 8"):
        fast(max_iter=1).fit(X, y)


def test_a_fit_on_classes_of_one_row_says_so_once():
    """Held-out classes of one row each score 1 whatever the anchor; the fit
    says that its classes have a single row, and its own scores add nothing."""
    X = np.random.RandomState(0).normal(size=(30, 5))
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        DeepSpectralClusteringEmbedder(random_state=0).fit(X, np.arange(30))
    ours = [str(w.message) for w in record if "single row" in str(w.message)]
    assert len(ours) == 1
    assert ours[0].startswith("30 classes have a single row")


def test_score_without_random_state_is_repeatable():
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(200, 6)), rng.randint(0, 6, 200)  # no structure
    estimator = fast(max_iter=2, random_state=None).fit(X, y)
    assert len({estimator.score(X, y) for _ in range(6)}) == 1


def test_a_missing_device_embeds_on_the_cpu(blobs):
    X, y = blobs
    estimator = fast(max_iter=2).fit(X, y)
    expected = estimator.transform(X)
    estimator.set_params(device="cuda:99")
    with pytest.warns(UserWarning, match="embedding on the CPU instead"):
        np.testing.assert_array_equal(estimator.transform(X), expected)
    with pytest.raises(ValueError, match="cuda:99"):  # training still refuses it
        estimator.fit(X, y)


@pytest.mark.parametrize("value", [0.0, 3.5])
def test_constant_inputs_are_refused(value):
    X = np.full((20, 4), value)
    y = np.repeat([0, 1], 10)
    with pytest.raises(ValueError, match="X is constant"):
        DeepSpectralClusteringEmbedder().fit(X, y)
    with pytest.raises(ValueError, match="X is constant"):
        DeepSpectralClusteringEmbedder().fit(sp.csr_matrix(X), y)


def test_minus_one_beside_other_classes_is_flagged_as_a_class(blobs):
    X, y = blobs
    y = np.where(y == 0, -1, y)  # -1, 1, 2, 3
    with pytest.warns(UserWarning, match="mark of unlabelled rows"):
        estimator = fast(max_iter=1).fit(X, y)
    assert -1 in estimator.classes_
    with warnings.catch_warnings():  # -1 and 1 are a binary problem
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter=1
        fast(max_iter=1).fit(X, np.where(y > 1, 1, -1))


def test_the_default_width_keeps_below_a_batch():
    """150 classes with batches of 256 rows (2 rows of each of 128 classes):
    one column per class would span a batch, and be warned of."""
    rng = np.random.RandomState(0)
    y = np.repeat(np.arange(150), 4)
    X = rng.normal(size=(150, 8))[y] + 0.1 * rng.normal(size=(600, 8))
    with warnings.catch_warnings():
        warnings.filterwarnings("error", "The trained network's outputs are")
        warnings.simplefilter("ignore", ConvergenceWarning)
        plain = fast(max_iter=1, early_stopping=False).fit(X, y)
    assert plain.transform(X).shape[1] == 128
    with pytest.warns(UserWarning, match="outputs are 256 wide, and a batch holds"):
        fast(max_iter=1, early_stopping=False, n_components=256).fit(X, y)


def test_an_embedding_wider_than_n_components_is_explained(blobs):
    X, y = blobs

    def width_warning(caught):
        (text,) = [str(w.message) for w in caught if "n_components" in str(w.message)]
        return text

    with pytest.warns(UserWarning, match="n_components=2 .* no trained head was kept"):
        estimator = DeepSpectralClusteringEmbedder(n_components=2).fit(X, y)
    assert estimator.transform(X).shape[1] > 2
    with pytest.warns(UserWarning, match="For exactly 1 dimension, use"):
        DeepSpectralClusteringEmbedder(n_components=1).fit(X, y)
    # the closed form: Adam trains a linear map as wide as asked
    for init in ("auto", "random"):
        with pytest.warns(UserWarning, match="at most one direction per class") as said:
            DeepSpectralClusteringEmbedder(
                n_components=9, hidden_layer_sizes=(), solver="closed_form", init=init
            ).fit(X, y)
        assert "use solver='adam', init='random', or put PCA(9)" in width_warning(said)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator = fast(n_components=2).fit(X, y)  # a plain network
    assert estimator.transform(X).shape[1] == 2
    # a network of one's own returns its own width, with or without an anchor
    with pytest.warns(UserWarning, match="network given as network= returns") as said:
        fast(n_components=2, network=torch.nn.Linear(6, 3)).fit(X, y)
    assert "give a network that returns 2, or put PCA(2)" in width_warning(said)
    with pytest.warns(UserWarning, match="anchor's dimensions come before") as said:
        fast(n_components=2, network=torch.nn.Linear(6, 3), init="pca").fit(X, y)
    assert "use init='random' with a network that returns 2" in width_warning(said)


@pytest.fixture(scope="module")
def digit_images():
    X, y = load_digits(return_X_y=True)
    rows = np.concatenate([np.flatnonzero(y == d)[:40] for d in range(6)])
    return X[rows] / 16, y[rows]


def conv(**params):
    return fast(**{"network": "conv", "input_shape": (8, 8), "max_iter": 3, **params})


def test_a_conv_network_trains_on_images_given_as_rows(digit_images, tmp_path):
    from sklearn_dsc import load, save

    X, y = digit_images
    estimator = conv().fit(X, y)
    assert type(estimator.module_).__name__ == "ConvNet"
    assert estimator.n_iter_ == 3
    assert estimator.transform(X).shape == (len(X), 6)
    assert estimator.loss_curve_[-1] < estimator.loss_curve_[0]
    save(estimator, tmp_path / "conv.dsc")
    loaded = load(tmp_path / "conv.dsc")
    np.testing.assert_array_equal(loaded.transform(X), estimator.transform(X))
    assert loaded.input_shape == (8, 8)
    restored = pickle.loads(pickle.dumps(estimator))
    np.testing.assert_array_equal(restored.transform(X), estimator.transform(X))
    # beside an anchor, chunked, then continued by partial_fit
    anchored = conv(init="pca", chunk_size=32, early_stopping=True).fit(X, y)
    assert type(anchored.module_.head).__name__ == "ConvNet"
    anchored.partial_fit(X, y)
    assert np.isfinite(anchored.transform(X)).all()


def test_grid_search_over_the_network(digit_images):
    X, y = digit_images
    search = GridSearchCV(
        conv(max_iter=2), {"network": ["mlp", "conv"]}, cv=2, error_score="raise"
    )
    search.fit(X, y)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_networks_of_your_own(digit_images, tmp_path):
    from sklearn_dsc import save

    X, y = digit_images
    mine = torch.nn.Sequential(
        torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 6)
    )
    before = [p.detach().clone() for p in mine.parameters()]
    estimator = fast(network=mine, max_iter=2).fit(X, y)
    assert all(
        torch.equal(a, b) for a, b in zip(before, mine.parameters(), strict=True)
    )
    assert estimator.transform(X).shape == (len(X), 6)
    with pytest.raises(TypeError, match=r"network of your own .*pickle"):
        save(estimator, tmp_path / "mine.dsc")
    assert pickle.loads(pickle.dumps(estimator)).transform(X).shape == (len(X), 6)

    def builder(n_features, n_components):
        return torch.nn.Linear(n_features, n_components)

    first = fast(network=builder, max_iter=2).fit(X, y)
    second = fast(network=builder, max_iter=2).fit(X, y)
    np.testing.assert_array_equal(first.transform(X), second.transform(X))

    # a callable that returns a module it keeps (a pretrained backbone, say):
    # a copy is trained, as of a module passed itself, and never the module
    def kept(n_features, n_components):
        return mine

    held_out = fast(network=kept, max_iter=2, early_stopping=True)
    estimator = held_out.set_params(validation_split="classes").fit(X, y)
    assert all(
        torch.equal(a, b) for a, b in zip(before, mine.parameters(), strict=True)
    )
    assert all(module is not mine for module in estimator.module_.modules())


@pytest.mark.parametrize("init", ["auto", "whitened"])
def test_a_network_of_your_own_beside_an_anchor_pickles(digit_images, init):
    """The anchored network is described in a pickle only where its head is
    one of ours; a head of your own is pickled as it is, anchor and all."""
    X, y = digit_images
    mine = torch.nn.Sequential(torch.nn.Linear(64, 8))
    estimator = fast(network=mine, init=init, max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # auto: no head kept, which it says
        estimator.fit(X, y)
    assert isinstance(estimator.module_, AnchoredEmbedding)
    again = pickle.loads(pickle.dumps(estimator))
    np.testing.assert_array_equal(again.transform(X), estimator.transform(X))


def test_a_callable_network_is_built_to_check_it_and_for_each_network_trained(
    digit_images,
):
    X, y = digit_images
    n_features, n_classes = X.shape[1], len(np.unique(y))
    calls = []

    def builder(*arguments):
        calls.append(arguments)
        return torch.nn.Linear(*arguments)

    fast(network=builder, max_iter=2).fit(X, y)
    assert calls == [(n_features, n_classes)] * 2
    calls.clear()
    held_out = fast(network=builder, max_iter=2, early_stopping=True)
    held_out.set_params(validation_split="classes").fit(X, y)
    # the check, the network trained while classes are held out (as wide as
    # the classes kept, n_components being None), then the one on every class
    assert len(calls) == 3
    assert calls[0] == calls[2] == (n_features, n_classes)
    assert calls[1][0] == n_features
    assert calls[1][1] < n_classes


@pytest.mark.parametrize("init", ["random", "pca", "auto"])
def test_a_network_of_your_own_that_does_not_fit_is_named(digit_images, init):
    # with init="auto" an anchor alone may be kept and the network never
    # trained: it is refused all the same, before anything is fitted
    X, y = digit_images
    estimator = fast(network=torch.nn.Linear(60, 6), init=init, max_iter=1)
    with pytest.raises(ValueError, match=r"network=Linear failed on a float32 batch"):
        estimator.fit(X, y)
    assert not hasattr(estimator, "module_")
    with pytest.raises(ValueError, match=r"network=Linear failed on a float32 batch"):
        estimator.partial_fit(X, y)


def test_conv_needs_a_shape_that_fits(digit_images):
    X, y = digit_images
    with pytest.warns(UserWarning, match=r"input_shape=\(8, 8, 1\) reads each row"):
        fast(network="conv", input_shape=(8, 8, 1), max_iter=1).fit(X, y)
    with pytest.raises(ValueError, match="needs input_shape"):
        fast(network="conv").fit(X, y)
    with pytest.raises(ValueError, match="does not fit rows of 64 features"):
        fast(network="conv", input_shape=(3, 8, 8)).fit(X, y)
    with pytest.raises(ValueError, match="keep network='mlp'"):
        DeepSpectralClusteringEmbedder(
            network="conv", hidden_layer_sizes=(), solver="closed_form"
        ).fit(X, y)


def test_init_random_always_trains(digit_images):
    X, y = digit_images
    estimator = DeepSpectralClusteringEmbedder(
        init="random", hidden_layer_sizes=(16,), max_iter=3, random_state=0
    )
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        estimator.fit(X, y)
    assert estimator.n_iter_ > 0
    start_score, trained_score = estimator.validation_scores_
    warned = any("init='random'" in str(w.message) for w in record)
    assert warned == (trained_score <= start_score + 0.02)
