"""Fuzzing: hostile shapes, labels, scales and containers never give garbage.

Every generated case must either give finite output of the right shape and
dtype, or raise a ``ValueError``/``TypeError`` whose message names the
problem; never NaN, a hang, or an exception from inside torch. The number of
cases follows the hypothesis profile (``HYPOTHESIS_PROFILE=fuzz`` runs many).
"""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sklearn_dsc import DeepSpectralClusteringEmbedder, spectral_clustering_loss

# Messages that name a problem with the input, one per kind of refusal.
EXPECTED_MESSAGES = (
    "at least 2 classes",
    "NaN",
    "infinite value",
    "infinity",
    "too large",
    "Found array with",
    "holds out at least 2",
    "stratified validation",
    "scale them",
    "Unknown label type",
    "X is constant",
    "missing label",
    "mixes strings and numbers",
)

FAST = {"hidden_layer_sizes": (8,), "max_iter": 2, "batch_size": 32}


@st.composite
def labels(draw, n):
    pattern = draw(
        st.sampled_from(
            [
                "few",
                "singletons",
                "dominant",
                "strings",
                "missing",
                "mixed",
                "negative",
                "huge",
                "one",
            ]
        )
    )
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if pattern == "singletons":
        y = np.arange(n)
    elif pattern == "dominant":
        y = np.zeros(n, dtype=int)
        y[: max(1, n // 10)] = rng.integers(1, 4, max(1, n // 10))
    elif pattern == "one":
        y = np.full(n, 7)
    else:
        y = rng.integers(0, draw(st.integers(2, 12)), n)
    if pattern in ("strings", "missing", "mixed"):
        y = np.array([f"class {v}" for v in y], dtype=object)
        if pattern != "strings":  # one label missing, or a number
            y[draw(st.integers(0, n - 1))] = None if pattern == "missing" else 3
        return y
    if pattern == "negative":
        return -y - 5
    if pattern == "huge":
        return y.astype(np.int64) * (2**62 // 16) - 2**62
    return y


@st.composite
def datasets(draw):
    n = draw(st.integers(2, 300))
    d = draw(st.one_of(st.integers(1, 100), st.integers(n + 1, n + 200)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    X = rng.normal(size=(n, d))
    feature = draw(st.sampled_from(["none", "constant", "duplicate", "rows"]))
    if feature == "constant":
        X[:, : max(1, d // 2)] = 3.0
    elif feature == "duplicate" and d > 1:
        X[:, 1:] = X[:, :1]
    elif feature == "rows":
        X[n // 2 :] = X[: n - n // 2]
    X = X * 10.0 ** draw(st.sampled_from([-30, -10, -3, 0, 3, 10, 30]))
    dtype = draw(st.sampled_from([np.float64, np.float32, np.int64]))
    with np.errstate(over="ignore", invalid="ignore"):  # 1e30 overflows them
        X = X.astype(dtype)
    container = draw(st.sampled_from(["array", "csr", "csc", "frame", "list"]))
    if container in {"csr", "csc"}:
        X[rng.random(n) < 0.3] = 0  # empty rows
        X = sp.csr_matrix(X) if container == "csr" else sp.csc_matrix(X)
    elif container == "frame":
        pd = pytest.importorskip("pandas")
        X = pd.DataFrame(X, columns=[f"f{j}" for j in range(d)])
        if draw(st.booleans()):
            X["f0"] = X["f0"].astype(np.float32)  # mixed column dtypes
    elif container == "list":
        X = X.tolist()
    return X, draw(labels(n))


def named_problem(error):
    message = str(error)
    assert any(text in message for text in EXPECTED_MESSAGES), message
    assert "torch" not in type(error).__module__


def check_embedding(model, X):
    embedding = model.transform(X)
    n = X.shape[0] if hasattr(X, "shape") else len(X)
    assert embedding.shape == (n, model.class_centroids_.shape[1])
    assert embedding.dtype in (np.float32, np.float64)
    assert np.isfinite(embedding).all()
    predicted = model.predict(X)
    assert set(predicted) <= set(model.classes_)


# Drawn labels often leave a class of a single row, which the estimator
# warns of (test_validation checks that warning), and sometimes more classes
# than half the rows, which scikit-learn's check_classification_targets
# warns of. Batches of FAST's 32 rows of such classes can be narrower than
# the head, which the estimator warns of too (test_training checks that).
@pytest.mark.filterwarnings("ignore:[0-9]+ class.* a single row:UserWarning")
@pytest.mark.filterwarnings("ignore:The trained network's outputs are:UserWarning")
@pytest.mark.filterwarnings("ignore:The number of unique classes is greater than 50")
@settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=datasets(), params=st.sampled_from([{}, {"init": "random"}]))
def test_estimator_never_returns_garbage(data, params):
    X, y = data
    model = DeepSpectralClusteringEmbedder(random_state=0, **FAST, **params)
    try:
        model.fit(X, y)
    except (ValueError, TypeError) as error:
        named_problem(error)
        event(f"refused: {str(error)[:60]}")
        return
    check_embedding(model, X)
    event("fitted")


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(1, 300),
    d=st.integers(1, 64),
    scale=st.sampled_from([0.0, 1e-30, 1e-10, 1.0, 1e10, 1e30]),
    n_classes=st.integers(1, 20),
    dtype=st.sampled_from([torch.float32, torch.float64]),
    seed=st.integers(0, 2**31 - 1),
)
def test_loss_is_finite_or_refuses(n, d, scale, n_classes, dtype, seed):
    generator = torch.Generator().manual_seed(seed)
    embeddings = torch.randn(n, d, generator=generator, dtype=dtype) * scale
    embeddings.requires_grad_(True)
    labels = torch.randint(-3, n_classes - 3, (n,), generator=generator)
    loss = spectral_clustering_loss(embeddings, labels)
    loss.backward()
    assert loss.dtype == dtype
    assert torch.isfinite(loss)
    assert -1e-5 <= loss.item() <= 0.25 * n + 1e-3
    assert torch.isfinite(embeddings.grad).all()
