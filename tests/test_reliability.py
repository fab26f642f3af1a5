"""Faults during training, numerical extremes and concurrent inference."""

import contextlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits, make_blobs
from sklearn.exceptions import NotFittedError

import sklearn_dsc._selection as _selection
import sklearn_dsc._training as training
from sklearn_dsc import DeepSpectralClusteringEmbedder

from helpers import interrupted_at_call


def model(**params):
    params = {"hidden_layer_sizes": (16,), "max_iter": 5, "random_state": 0, **params}
    return DeepSpectralClusteringEmbedder(**params)


def all_finite(estimator):
    return all(torch.isfinite(t).all() for t in estimator.module_.state_dict().values())


class Boom(Exception):
    pass


def raise_at_epoch(epoch, error=Boom):
    def callback(estimator):
        if estimator.n_iter_ == epoch:
            raise error("from the callback")

    return callback


def test_raising_callback_leaves_an_unfitted_estimator_unfitted(blobs):
    X, y = blobs
    estimator = model(callback=raise_at_epoch(2), init="random", early_stopping=False)
    with pytest.raises(Boom):
        estimator.fit(X, y)
    assert not hasattr(estimator, "module_")
    with pytest.raises(NotFittedError):
        estimator.transform(X)
    estimator.set_params(callback=None)
    assert np.isfinite(estimator.fit(X, y).transform(X)).all()


@pytest.mark.parametrize("warm_start", [False, True])
def test_failed_refit_keeps_the_previous_model(blobs, warm_start):
    X, y = blobs
    estimator = model(init="random", early_stopping=False, warm_start=warm_start).fit(
        X, y
    )
    before = estimator.transform(X)
    attributes = {k: v for k, v in vars(estimator).items() if k.endswith("_")}
    first_new_epoch = estimator.n_iter_ + 1 if warm_start else 1
    estimator.set_params(callback=raise_at_epoch(first_new_epoch))
    with pytest.raises(Boom):
        estimator.fit(X, y)
    np.testing.assert_array_equal(estimator.transform(X), before)
    assert estimator.n_iter_ == attributes["n_iter_"]
    assert estimator.loss_curve_ == attributes["loss_curve_"]


def test_a_failed_partial_fit_leaves_the_optimizer_as_it_was(blobs):
    """A chunk that fails after its step leaves the optimizer's state as it
    was: the next chunk gives what it gives without the failure."""
    X, y = blobs

    def fitted():
        return model(init="random", early_stopping=False).fit(X, y)

    failed, clean = fitted(), fitted()
    failed.set_params(callback=raise_at_epoch(failed.n_iter_ + 1))
    with pytest.raises(Boom):
        failed.partial_fit(X, y)
    failed.set_params(callback=None)
    for estimator in (failed, clean):
        estimator.partial_fit(X, y)
    np.testing.assert_array_equal(failed.transform(X), clean.transform(X))


def test_interrupt_outside_the_epochs_restores_the_estimator(monkeypatch):
    # 8 classes: sets of held-out classes keep enough to compare anchors
    X, y = make_blobs(n_samples=240, centers=8, n_features=6, random_state=0)
    estimator = model().fit(X, y)
    before = estimator.transform(X)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    # an interrupt while the anchor is chosen, before any epoch
    monkeypatch.setattr(_selection, "anchor_scores", interrupted)
    with pytest.raises(KeyboardInterrupt):
        estimator.fit(X, y)
    np.testing.assert_array_equal(estimator.transform(X), before)


def test_interrupt_mid_epoch_keeps_finite_weights(blobs, monkeypatch):
    X, y = blobs
    # the fifth batch is inside the second epoch
    interrupted = interrupted_at_call(training.spectral_clustering_loss, 5)
    monkeypatch.setattr(training, "spectral_clustering_loss", interrupted)
    estimator = model(init="random", early_stopping=False, batch_size=64)
    with pytest.warns(UserWarning, match="interrupted"):
        estimator.fit(X, y)
    assert estimator.n_iter_ == 1
    assert all_finite(estimator)
    assert np.isfinite(estimator.transform(X)).all()


def test_diverging_partial_fit_keeps_the_previous_weights(blobs):
    X, y = blobs
    estimator = model(init="random").partial_fit(X, y)
    before = estimator.transform(X)
    estimator.set_params(learning_rate_init=1e30, alpha=0)
    with pytest.raises(ValueError, match="diverged"):  # noqa: PT012
        for _ in range(20):
            estimator.partial_fit(X * 1e6, y)
    assert all_finite(estimator)
    assert np.isfinite(estimator.transform(X)).all()
    assert estimator.transform(X).shape == before.shape


@pytest.mark.parametrize(
    "error",
    [
        torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 80 GiB"),
        RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried 9e12"),
        MemoryError(),
    ],
    ids=["cuda", "cpu-torch", "python"],
)
def test_out_of_memory_suggests_a_smaller_batch(blobs, monkeypatch, error):
    X, y = blobs

    def no_memory(*args, **kwargs):
        raise error

    monkeypatch.setattr(training, "spectral_clustering_loss", no_memory)
    estimator = model(batch_size=128, init="pca")  # a head to train
    with pytest.raises(MemoryError, match=r"mini-batch of \d+ samples.*batch_size"):
        estimator.fit(X, y)
    assert not hasattr(estimator, "module_")


def test_other_runtime_errors_are_not_disguised(blobs, monkeypatch):
    X, y = blobs

    def broken(*args, **kwargs):
        raise RuntimeError("something else")

    monkeypatch.setattr(training, "spectral_clustering_loss", broken)
    with pytest.raises(RuntimeError, match="something else"):
        model(init="pca").fit(X, y)


@pytest.mark.parametrize("scale", [1e-25, 1e-8, 1e8, 1e25])
@pytest.mark.parametrize("init", ["auto", "random"])
def test_training_does_not_depend_on_the_units_of_x(blobs, scale, init):
    X, y = blobs
    reference = model(init=init).fit(X, y).transform(X)
    scaled = model(init=init).fit(X * scale, y).transform(X * scale)
    np.testing.assert_allclose(scaled, reference, rtol=1e-3, atol=1e-3)


@pytest.fixture(scope="module")
def digits_held_out():
    X, y = load_digits(return_X_y=True)
    seen = y < 6  # 6 classes: sets of held-out classes, and a trial
    return X[seen] / 16, y[seen]


@pytest.mark.parametrize("scale", [1e-25, 1e12, 1e25])
@pytest.mark.parametrize("init", ["auto", "closed_form"])
def test_held_out_classes_choose_alike_whatever_the_units_of_x(
    digits_held_out, scale, init
):
    # the anchors of the trial and of the refit are read from class moments;
    # read with unit steps, rows of size 1e16 and more gave maps of rounding.
    # The closed form's ridge was alpha itself, which drowned inputs of 1e-15.
    X, y = digits_held_out
    reference = model(max_iter=3, init=init).fit(X, y)
    scaled = model(max_iter=3, init=init).fit(X * scale, y)
    assert (scaled.init_, scaled.shrinkage_) == (reference.init_, reference.shrinkage_)
    np.testing.assert_allclose(
        scaled.validation_scores_, reference.validation_scores_, atol=1e-6
    )
    np.testing.assert_allclose(
        scaled.transform(X * scale), reference.transform(X), rtol=1e-3, atol=1e-4
    )


@pytest.mark.parametrize("scale", [1e-36, 1e33])
def test_inputs_outside_float32_range_are_refused(blobs, scale):
    X, y = blobs
    with pytest.raises(ValueError, match=r"outside the range .* float32 training"):
        model().fit(X * scale, y)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_concurrent_transform_and_predict_match_serial(blobs, dtype):
    X, y = blobs
    estimator = model().fit(X, y)
    chunks = np.array_split(X.astype(dtype), 16)
    serial = [(estimator.transform(c), estimator.predict(c)) for c in chunks]
    with ThreadPoolExecutor(max_workers=8) as pool:
        threaded = list(
            pool.map(lambda c: (estimator.transform(c), estimator.predict(c)), chunks)
        )
    for (embedding, labels), (t_embedding, t_labels) in zip(
        serial, threaded, strict=True
    ):
        np.testing.assert_array_equal(t_embedding, embedding)
        np.testing.assert_array_equal(t_labels, labels)


@contextlib.contextmanager
def default_dtype(dtype):
    before = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(before)


CALLERS_TORCH = {
    "no_grad": torch.no_grad,
    "inference_mode": torch.inference_mode,
    "autocast": lambda: torch.autocast("cpu", dtype=torch.bfloat16),
    "default float64": lambda: default_dtype(torch.float64),
    "default device meta": lambda: torch.device("meta"),
}


@pytest.mark.parametrize("init", ["random", "closed_form"])
@pytest.mark.parametrize("context", sorted(CALLERS_TORCH))
def test_the_callers_torch_modes_do_not_change_a_fit(digits_held_out, init, context):
    # a fit inside no_grad or inference_mode failed with "element 0 of
    # tensors does not require grad"; under autocast it trained in bfloat16,
    # which NumPy cannot hold; with float64 as torch's default dtype, its
    # float64 layers failed on float32 rows; in a torch.device("meta")
    # block its layers were built there, with no values
    X, y = digits_held_out
    X, y = X[::4], y[::4]
    params = {"init": init, "max_iter": 2, "early_stopping": False}
    expected = model(**params).fit(X, y)
    with CALLERS_TORCH[context]():
        estimator = model(**params).fit(X, y)
        embedding = estimator.transform(X)
        assert torch.get_default_dtype() == (
            torch.float64 if context == "default float64" else torch.float32
        )
    np.testing.assert_array_equal(embedding, expected.transform(X))
    np.testing.assert_array_equal(estimator.predict(X), expected.predict(X))
