"""The projection of what the anchors' principal directions leave out."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.metrics import pairwise_distances

from sklearn_dsc import DeepSpectralClusteringEmbedder, _residual
from sklearn_dsc._anchors import (
    MAX_ANCHOR_WIDTH,
    anchor_maps,
    residual_columns,
    whitened_anchors,
)
from sklearn_dsc._residual import (
    MAX_RESIDUAL_ENTRIES,
    RESIDUAL_SHARE,
    RESIDUAL_WIDTH,
    left_share,
    residual_projection,
    residual_width,
    total_variance,
)
from sklearn_dsc.metrics import kmeans_nmi

from helpers import assert_moments_embed_as_rows, embedded, informative_and_noise

CANDIDATES = [("pca", None), ("whitened", 0.01), ("plda", 0.01)]


def words(n_classes=12, rows=20, own=10, shared=40, own_rate=0.5, seed=0):
    """Counts of words (log1p): each class uses ``own`` words of its own
    (Poisson counts of mean ``own_rate``), every class ``shared`` words alike
    (of mean 0.2). Classes never seen in training differ only in words that
    the training rows never use."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(n_classes), rows)
    X = np.zeros((len(y), n_classes * own + shared))
    X[:, n_classes * own :] = rng.poisson(0.2, size=(len(y), shared))
    for c in range(n_classes):
        X[y == c, c * own : (c + 1) * own] = rng.poisson(own_rate, size=(rows, own))
    return np.log1p(X), y


@pytest.mark.parametrize("n_features", [10, RESIDUAL_WIDTH + 100])
def test_the_projection_keeps_squared_norms(n_features):
    """Orthonormal rows times the root of the features over the width: an
    isometry where the width is the inputs', and the same at every call."""
    projection = residual_projection(n_features)
    width = min(n_features, RESIDUAL_WIDTH)
    assert projection.shape == (width, n_features)
    np.testing.assert_allclose(
        projection @ projection.T, np.eye(width) * n_features / width, atol=1e-10
    )
    np.testing.assert_array_equal(residual_projection(n_features), projection)
    # every entry of one size: no feature weighs more than another
    norms = np.linalg.norm(projection, axis=0)
    assert norms.max() < 1.5 * norms.mean()


@pytest.mark.parametrize("sparse", [False, True])
def test_total_variance(sparse):
    X, _ = words()
    X = 1e3 * X + 5.0 * (not sparse)
    mean = X.mean(axis=0)
    found = total_variance(sp.csr_matrix(X) if sparse else X, mean)
    assert found == pytest.approx(X.var(axis=0).sum(), rel=1e-10)


# How the anchors below carry the rest of the 160 features of ``words()``
# beside their 8 directions: itself (152 columns, no more than the
# projection's width), or a projection where that is narrower (140 columns).
RESTS = {"itself": None, "projected": 140}


def rest_columns(rest, n_features, n_directions=8):
    """The columns that carry the rest, as ``RESTS`` names it; where it is
    ``"projected"``, the projection is that narrow (``RESIDUAL_WIDTH``)."""
    return n_features - n_directions if rest == "itself" else RESTS[rest]


@pytest.fixture(params=list(RESTS))
def rest(request, monkeypatch):
    if RESTS[request.param] is not None:
        monkeypatch.setattr(_residual, "RESIDUAL_WIDTH", RESTS[request.param])
    return request.param


@pytest.mark.parametrize("sparse", [False, True])
def test_unseen_classes_of_words_of_their_own_are_kept(sparse, rest):
    """Eight principal directions of the training rows hold a fraction of
    their variance and none of the words that only unseen classes use;
    with the rest of the inputs, or its projection, every anchor clusters
    the unseen classes as the inputs do."""
    X, y = words()
    seen = y < 6
    X_seen = sp.csr_matrix(X[seen]) if sparse else X[seen]
    nmi_of_inputs = kmeans_nmi(X[~seen], y[~seen], random_state=0)
    assert nmi_of_inputs > 0.85
    maps = anchor_maps(CANDIDATES, X_seen, y[seen], 0, 8)
    for (name, _), (weight, bias) in zip(CANDIDATES, maps, strict=True):
        width = 8 + rest_columns(rest, X.shape[1])
        assert weight.shape == (width, X.shape[1]), name
        embedding = embedded(X[~seen], weight, bias)
        nmi = kmeans_nmi(embedding, y[~seen], random_state=0)
        if rest == "itself":
            assert nmi > nmi_of_inputs - 0.05, name
        else:  # roughly, narrower than the rest: the directions alone give < 0.2
            assert nmi > 0.6, name


def test_without_the_projection_the_unseen_words_are_lost(monkeypatch):
    """The premise of the test above: the anchors' directions alone do not
    tell the unseen classes apart."""
    monkeypatch.setattr(_residual, "RESIDUAL_SHARE", 0.0)
    X, y = words()
    seen = y < 6
    for weight, bias in anchor_maps(CANDIDATES, X[seen], y[seen], 0, 8):
        assert weight.shape == (8, X.shape[1])
        embedding = embedded(X[~seen], weight, bias)
        assert kmeans_nmi(embedding, y[~seen], random_state=0) < 0.2


def test_the_pca_anchor_then_keeps_the_inputs_distances():
    """With the rest itself (``rest_basis``), the PCA anchor is the centred
    inputs, rotated, divided by the root of their total variance: at unit
    spread, every distance kept, in as many columns as the inputs."""
    X, y = words()
    ((weight, bias),) = anchor_maps([("pca", None)], X, y, 0, 8)
    assert weight.shape == (X.shape[1], X.shape[1])
    embedding = embedded(X, weight, bias)
    scale = np.sqrt(X.var(axis=0).sum())
    np.testing.assert_allclose(
        pairwise_distances(embedding), pairwise_distances(X) / scale, atol=1e-10
    )
    centred = embedding - embedding.mean(axis=0)
    assert np.sqrt(np.mean(np.sum(centred**2, axis=1))) == pytest.approx(1.0)


def test_directions_holding_the_variance_are_kept_alone():
    """Where the kept directions hold ``RESIDUAL_SHARE`` of the variance or
    more, the anchors are those of the directions alone, to the bit."""
    X, y = informative_and_noise()
    X[:, 4:] *= 0.05  # the noise holds a few percent of the variance
    directions = np.linalg.svd(X - X.mean(axis=0), compute_uv=False) ** 2
    assert directions[:6].sum() >= RESIDUAL_SHARE * directions.sum()
    shrinkages = [None, 0.01]
    expected = whitened_anchors(X, y, shrinkages, 6, 0)
    found = anchor_maps([("pca", None), ("whitened", 0.01)], X, y, 0, 6)
    for (weight, bias), (found_weight, found_bias) in zip(expected, found, strict=True):
        np.testing.assert_array_equal(found_weight, weight)
        np.testing.assert_array_equal(found_bias, bias)


def test_the_share_left_is_counted_over_the_degrees_of_freedom_left():
    """k directions of n rows leave a share of those rows' variance over
    n - 1 - k of their n - 1 degrees of freedom: the share of new rows'
    they leave is counted as a regression's residual variance, and is all
    of it where no degree is left."""
    assert left_share(0.02, 1001, 0) == pytest.approx(0.02)
    assert left_share(0.02, 1001, 500) == pytest.approx(0.04)
    assert left_share(0.02, 301, 256) == pytest.approx(0.02 * 300 / 44)
    assert left_share(0.3, 301, 256) == 1.0  # at most all of it
    assert left_share(0.0, 257, 256) == 1.0  # as many as the rows vary along
    assert left_share(0.0, 100, 256) == 1.0


def test_the_share_of_few_rows_is_counted_over_the_degrees_of_freedom_left():
    """300 rows of 800 word counts: their 256 principal directions hold
    97.2 % of the rows' own variance, and 80.8 % counted over the 43
    degrees of freedom they leave; the rest is carried, an anchor as wide
    as the inputs that keeps every distance. 24 rows of 24 features that
    vary along 4 (the other 20 at a twentieth of the scale): 12 directions
    hold 99.8 % of the rows' own, 99.6 % so counted, and are kept alone."""
    X, y = words(n_classes=20, rows=15, shared=600, own_rate=2.0)
    ((weight, bias),) = anchor_maps([("pca", None)], X, y, 0)
    assert weight.shape == (X.shape[1], X.shape[1])
    scale = np.sqrt(X.var(axis=0).sum())
    np.testing.assert_allclose(
        pairwise_distances(embedded(X, weight, bias)),
        pairwise_distances(X) / scale,
        atol=1e-10,
    )
    X, y = informative_and_noise(n_per_class=2)
    X[:, 4:] *= 0.05
    ((weight, _),) = anchor_maps([("pca", None)], X, y, 0, 12)
    assert weight.shape == (12, X.shape[1])


@pytest.mark.parametrize("sparse", [False, True])
def test_class_moments_project_the_rest_as_the_rows_do(sparse, rest):
    """Fitted from class moments, the anchors with the rest, or its
    projection, embed the held-out rows as those fitted on the rows kept."""
    X, y = words()
    X = sp.csr_matrix(X) if sparse else X
    weights = assert_moments_embed_as_rows(X, y, CANDIDATES, 8, ([0, 1], [3, 7, 11]))
    width = 8 + rest_columns(rest, X.shape[1])
    assert all(weight.shape[0] == width for weight in weights)


@pytest.mark.parametrize("projected", [False, True])
def test_a_default_fit_keeps_the_words_of_unseen_classes(
    projected, capsys, monkeypatch
):
    """400 training rows of 800 words, too few for 256 principal directions
    (which hold 92 % of their variance) to tell what new rows hold outside
    them: the default fit's anchor carries the rest (544
    columns, an embedding as wide as the inputs), or with a projection of
    256 columns its projection, and the unseen classes, told apart by words
    of their own, cluster as the inputs do (at 0.03 with the directions
    alone). ``verbose`` says so."""
    if projected:
        monkeypatch.setattr(_residual, "RESIDUAL_WIDTH", 256)
    X, y = words(n_classes=20, rows=40, shared=600, own_rate=2.0)
    seen = y < 10
    model = DeepSpectralClusteringEmbedder(max_iter=5, random_state=0, verbose=1)
    embedding = model.fit(X[seen], y[seen]).transform(X[~seen])
    rest = 256 if projected else X.shape[1] - MAX_ANCHOR_WIDTH
    assert embedding.shape[1] >= MAX_ANCHOR_WIDTH + rest
    assert kmeans_nmi(embedding, y[~seen], random_state=0) > 0.9
    said = capsys.readouterr().out
    what = (
        f"a random projection ({rest} columns) of what its"
        if projected
        else f"the rest of the inputs ({rest} columns) that its"
    )
    assert f"beside {what} {MAX_ANCHOR_WIDTH} principal directions leave out" in said


def test_fewer_rows_than_directions_keep_the_words_of_unseen_classes(capsys):
    """100 training rows of 800 words vary along 99 directions, which hold
    all of their variance whatever the inputs: the unseen classes, told
    apart by words that no training row uses, vary outside them alone. The
    anchor carries the rest of the inputs beside those directions, and the
    unseen classes cluster as the inputs do (at 0.18 without it); verbose
    counts the directions the rows allow."""
    X, y = words(n_classes=20, rows=10, shared=600, own_rate=2.0)
    seen = y < 10
    model = DeepSpectralClusteringEmbedder(max_iter=5, random_state=0, verbose=1)
    embedding = model.fit(X[seen], y[seen]).transform(X[~seen])
    assert embedding.shape[1] == X.shape[1]
    nmi_of_inputs = kmeans_nmi(X[~seen], y[~seen], random_state=0)
    assert kmeans_nmi(embedding, y[~seen], random_state=0) > nmi_of_inputs - 0.02
    said = capsys.readouterr().out
    assert "beside the rest of the inputs (701 columns) that its 99 principal" in said


def test_directions_as_many_as_the_features_leave_no_rest():
    """20 rows vary along 19 directions: of 38 words, the rest of the
    inputs is carried beside them; of 10 words, the 10 directions are all
    of the inputs, and nothing is left to carry."""
    X, y = words(n_classes=4, rows=5, own=2, shared=30)  # 20 rows, 38 words
    ((weight, _),) = anchor_maps([("pca", None)], X, y, 0)
    assert weight.shape == (X.shape[1], X.shape[1])
    ((weight, _),) = anchor_maps([("pca", None)], X[:, :10], y, 0)
    assert weight.shape == (10, 10)


@pytest.mark.parametrize("projected", [False, True])
def test_residual_columns_are_read_from_the_anchors_width(projected, monkeypatch):
    """The columns that carry the rest, from an anchor's width: beyond the
    ``MAX_ANCHOR_WIDTH`` directions, the rest itself where the anchor is as
    wide as the inputs, else the projection's; none without them, and none
    for the closed form, whose columns are the classes'."""
    if projected:
        monkeypatch.setattr(_residual, "RESIDUAL_WIDTH", 100)
    X, y = words(n_classes=20, rows=40, shared=600, own_rate=2.0)  # 800 words
    rest = 100 if projected else X.shape[1] - MAX_ANCHOR_WIDTH
    candidates = [("pca", None), ("plda", 0.01), ("closed_form", None)]
    maps = anchor_maps(candidates, X, y, 0, MAX_ANCHOR_WIDTH)
    widths = [len(weight) for weight, _ in maps]
    assert widths == [MAX_ANCHOR_WIDTH + rest, MAX_ANCHOR_WIDTH + rest, 20]
    found = [
        residual_columns(init, width, X.shape[1])
        for (init, _), width in zip(candidates, widths, strict=True)
    ]
    assert found == [rest, rest, 0]
    assert residual_columns("closed_form", 300, 200) == 0  # 300 classes
    # an anchor of 800 inputs fitted on 100 rows: 99 directions and the rest
    assert residual_columns("pca", 800, 800, n_rows=100) == 701
    assert residual_columns("pca", 99, 800, n_rows=100) == 0
    monkeypatch.setattr(_residual, "RESIDUAL_SHARE", 0.0)
    ((weight, _),) = anchor_maps([("pca", None)], X, y, 0, MAX_ANCHOR_WIDTH)
    assert residual_columns("pca", len(weight), X.shape[1]) == 0


def test_the_projection_narrows_on_very_wide_inputs():
    """At most ``MAX_RESIDUAL_ENTRIES`` entries: 64 rows on hashed features
    of 2**20 columns, 768 on a vocabulary of 30,000 words."""
    assert residual_width(10) == 10
    assert residual_width(30_000) == RESIDUAL_WIDTH
    assert residual_width(2**20) == MAX_RESIDUAL_ENTRIES // 2**20 == 64
    assert residual_width(2**27) == 1
