"""The fixed linear maps the embedding starts from."""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy import linalg
from sklearn.covariance import oas
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.metrics import pairwise_distances
from threadpoolctl import threadpool_info, threadpool_limits

from sklearn_dsc import DeepSpectralClusteringEmbedder, _anchors, _residual, _selection
from sklearn_dsc._anchors import (
    ANCHORS,
    MAX_ANCHOR_WIDTH,
    Anchor,
    ClassMoments,
    anchor_embeddings,
    anchor_maps,
    closed_form_anchor,
    ledoit_wolf_within,
    whitened_anchors,
)
from sklearn_dsc._closed_form import closed_form_linear_map, dense
from sklearn_dsc._pca import signed_eigh
from sklearn_dsc._selection import choose_anchor, start_candidates
from sklearn_dsc._wording import LEDOIT_WOLF

from helpers import (
    assert_moments_embed_as_rows,
    embedded,
    informative_and_noise,
    largest_scatter_eigenvalue,
    within_class_covariance,
)


@pytest.mark.parametrize("sparse", [False, True])
def test_anchors_have_unit_spread_on_the_training_data(sparse):
    X, y = informative_and_noise()
    X = 1e3 * X + 5.0  # the spread is about the mean, in any units
    shrinkages = [None, 1.0, 0.1, 1e-3]
    anchors = list(
        whitened_anchors(sp.csr_matrix(X) if sparse else X, y, shrinkages, 16, 0)
    )
    for shrinkage, (weight, bias) in zip(shrinkages, anchors, strict=True):
        embedding = X @ weight.T + bias
        np.testing.assert_allclose(embedding.mean(axis=0), 0, atol=1e-9)
        spread = np.sqrt(np.sum(np.var(embedding, axis=0)))
        assert spread == pytest.approx(1.0, rel=1e-9), shrinkage
    # at unit spread, whitening leaves less of it within the classes
    within = [np.trace(within_class_covariance(X @ w.T, y)) for w, _ in anchors]
    assert within[-1] < 0.75 * within[0]


def uneven_units(units=(1e-3, 1.0, 50.0, 1.0, 1e4)):
    """6 classes (one of a single row) in 5 features of different
    ``units``, two of them correlated."""
    rng = np.random.RandomState(0)
    codes = np.repeat(np.arange(6), [30, 20, 25, 40, 30, 1])
    X = rng.normal(size=(len(codes), 5)) + rng.normal(scale=2, size=(6, 5))[codes]
    X[:, 1] = 0.3 * X[:, 0] + 0.1 * X[:, 1]
    return X * units, codes


# scikit-learn's LDA warns of the class of a single row; ours leaves it out.
@pytest.mark.filterwarnings("ignore:Only one sample available:UserWarning")
@pytest.mark.parametrize("sparse", [False, True])
def test_ledoit_wolf_within_is_that_of_scikit_learns_lda(sparse):
    X, codes = uneven_units()
    lda = LinearDiscriminantAnalysis(solver="eigen", shrinkage="auto").fit(X, codes)
    within = ledoit_wolf_within(sp.csr_matrix(X) if sparse else X, codes)
    np.testing.assert_allclose(within, lda.covariance_, rtol=1e-10)


def test_ledoit_wolf_within_does_not_depend_on_the_units():
    """In any units, a feature constant within a class included (it adds
    nothing to that class's covariance, where scikit-learn gives it a
    variance in the inputs' own units)."""
    X, codes = uneven_units()
    X[codes == 2, 4] = 7e4
    within = ledoit_wolf_within(X, codes)
    np.testing.assert_allclose(
        ledoit_wolf_within(1e-30 * X, codes), 1e-60 * within, rtol=1e-8
    )
    only_2 = ledoit_wolf_within(X[codes == 2], codes[codes == 2])
    assert np.all(only_2[4] == 0)
    assert np.all(only_2[:, 4] == 0)


def test_ledoit_wolf_whitened_anchor_is_lda_with_shrinkage_where_classes_span():
    """Where the classes' means span the inputs, LDA with shrinkage keeps
    every direction of its whitened space: the whitened anchor at
    LEDOIT_WOLF is the same map up to a rotation and a scale."""
    X, codes = uneven_units(units=(1.0, 1.0, 5.0, 1.0, 20.0))
    X, codes = X[codes < 5][:, [0, 1, 2, 4]], codes[codes < 5]  # 5 classes, 4 features
    ((weight, _),) = anchor_maps([("whitened", LEDOIT_WOLF)], X, codes, 0)
    lda = LinearDiscriminantAnalysis(solver="eigen", shrinkage="auto").fit(X, codes)
    ours = pairwise_distances(X @ weight.T)
    theirs = pairwise_distances(lda.transform(X))
    np.testing.assert_allclose(ours / ours.max(), theirs / theirs.max(), atol=1e-8)


def test_ledoit_wolf_is_fitted_on_rows_not_moments():
    X, codes = informative_and_noise()
    moments = ClassMoments(X, codes)
    held = np.isin(codes, [0, 1])
    with pytest.raises(ValueError, match="rows, not moments"):
        list(moments.anchor_maps(held, [("plda", LEDOIT_WOLF)]))
    with pytest.raises(ValueError, match="at most 4096"):
        ledoit_wolf_within(sp.random(20, 5000, format="csr"), np.arange(20) % 2)


def test_pca_anchor_is_the_pca_projection_at_unit_spread():
    X, y = informative_and_noise()
    ((weight, bias),) = whitened_anchors(X, y, [None], 5, 0)
    expected = PCA(5).fit_transform(X)
    expected /= np.sqrt(np.sum(expected.var(axis=0)))
    np.testing.assert_allclose(
        np.abs(embedded(X, weight, bias)), np.abs(expected), atol=1e-8
    )


def test_large_shrinkage_gives_the_pca_geometry_back():
    X, y = informative_and_noise()
    (pca, _), (shrunk, _) = whitened_anchors(X, y, [None, 1e9], 24, 0)
    np.testing.assert_allclose(pca.T @ pca, shrunk.T @ shrunk, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("units", [1e-20, 1e-3, 1e20])
def test_closed_form_anchor_does_not_depend_on_the_units(units):
    # its ridge is a share of the inputs' largest variance: with the absolute
    # ridge alpha, inputs a thousandth the size gave another map
    X, y = informative_and_noise()
    expected = embedded(X, *closed_form_anchor(X, y))
    found = embedded(X * units, *closed_form_anchor(X * units, y))
    # the same columns, signs included (``_pca.signed_eigh``)
    np.testing.assert_allclose(found, expected, rtol=1e-6, atol=1e-9)


def test_closed_form_shrinkage_is_a_share_of_the_largest_eigenvalue():
    X, y = informative_and_noise()
    largest = largest_scatter_eigenvalue(X)
    weight, bias, values = closed_form_linear_map(X, y, 12, 5.0, 12, shrinkage=0.3)
    expected = closed_form_linear_map(X, y, 12, 0.3 * largest, 12)
    np.testing.assert_allclose(weight, expected[0], atol=1e-10)
    np.testing.assert_allclose(bias, expected[1], atol=1e-10)
    np.testing.assert_allclose(values, expected[2], atol=1e-12)


def test_width_is_capped():
    X = np.random.RandomState(0).normal(size=(40, 30))
    y = np.repeat([0, 1], 20)
    ((weight, _),) = whitened_anchors(X, y, [0.1], 8, 0)
    assert weight.shape == (8, 30)
    assert MAX_ANCHOR_WIDTH == 256


def test_closed_form_anchor_spans_the_closed_form_directions():
    X, y = informative_and_noise()
    weight, bias = closed_form_anchor(X, y)
    ridge = _anchors.CLOSED_FORM_SHRINKAGE * largest_scatter_eigenvalue(X)
    reference, _, _ = closed_form_linear_map(X, y, 12, ridge, 12)
    assert weight.shape == reference.shape
    # the same row space, at unit spread
    projection = np.linalg.lstsq(reference.T, weight.T, rcond=None)[0]
    np.testing.assert_allclose(reference.T @ projection, weight.T, atol=1e-8)
    assert np.sqrt(np.sum(embedded(X, weight, bias).var(axis=0))) == pytest.approx(1)


def test_anchor_maps_follow_the_candidates_and_share_one_pca():
    X, y = informative_and_noise()
    candidates = [("whitened", 0.1), ("closed_form", None), ("pca", None)]
    candidates.append(("plda", 0.1))
    maps = list(anchor_maps(candidates, X, y, seed=0))
    whitened, pca = whitened_anchors(X, y, [0.1, None], MAX_ANCHOR_WIDTH, 0)
    ((plda, _),) = whitened_anchors(X, y, [0.1], MAX_ANCHOR_WIDTH, 0, plda=[True])
    np.testing.assert_array_equal(maps[0][0], whitened[0])
    np.testing.assert_array_equal(maps[2][0], pca[0])
    np.testing.assert_array_equal(maps[1][0], closed_form_anchor(X, y)[0])
    np.testing.assert_array_equal(maps[3][0], plda)


@pytest.mark.parametrize("shrinkage", [0.01, 1.0])
def test_plda_anchor_distances_are_the_two_covariance_likelihood_ratio(shrinkage):
    """The PLDA anchor's squared distances are, up to one scale, the
    log-likelihood ratio of two rows' difference under the two-covariance
    model: in the inputs whitened by the shrunk within-class covariance, each
    eigendirection of the class means' OAS covariance weighted by
    ``lambda / (1 + lambda)``. Computed here with a full eigendecomposition,
    in the input coordinates (PCA keeps all 24 directions)."""
    X, y = informative_and_noise()
    ((weight, bias),) = anchor_maps([("plda", shrinkage)], X, y, 0)
    means, whitening = whitened_class_means(X, y, shrinkage)
    between, _ = oas(means)
    assert_likelihood_ratio_distances(X, weight, bias, whitening, between)


def whitened_class_means(X, y, shrinkage):
    """The class means whitened by the within-class covariance shrunk by
    ``shrinkage`` of PCA's first variance, and that whitening (every
    direction of ``X`` kept)."""
    means = np.array([X[y == label].mean(axis=0) for label in np.unique(y)])
    largest = np.linalg.eigvalsh(np.cov(X.T)).max()  # PCA's first variance
    shrunk = within_class_covariance(X, y) + shrinkage * largest * np.eye(X.shape[1])
    whitening = linalg.fractional_matrix_power(shrunk, -0.5).real
    return means @ whitening, whitening


def assert_likelihood_ratio_distances(X, weight, bias, whitening, between):
    """The squared distances of the anchor ``(weight, bias)`` between rows
    0-39 and 300-339 of ``X`` are, up to one scale, those of the metric
    that whitens by ``whitening`` and weighs each eigendirection of the
    whitened ``between`` by ``lambda / (1 + lambda)``."""
    values, vectors = np.linalg.eigh(between)
    values = np.clip(values, 0, None)  # rounding of a rank-deficient ``between``
    metric = (
        whitening @ vectors @ np.diag(values / (1 + values)) @ vectors.T @ whitening
    )
    differences = X[:40, None, :] - X[None, 300:340, :]
    expected = np.einsum("ijk,kl,ijl->ij", differences, metric, differences)
    E = embedded(X, weight, bias)
    found = ((E[:40, None, :] - E[None, 300:340, :]) ** 2).sum(axis=-1)
    ratio = found / expected
    np.testing.assert_allclose(ratio, ratio.mean(), rtol=1e-8)


def shared_covariate(n_classes=9, n_rows=40, offset=0.0, seed=0):
    """Classes that differ in 2 features; a third is a covariate that every
    class shares row for row (a price index in a balanced panel of units
    over time), trending the first feature within each class, so its class
    means are all equal unless ``offset`` (times the class) moves them."""
    rng = np.random.RandomState(seed)
    shared = np.cumsum(rng.normal(size=n_rows))
    centers = rng.normal(scale=3.0, size=(n_classes, 2))
    y = np.repeat(np.arange(n_classes), n_rows)
    informative = centers[y] + rng.normal(size=(len(y), 2))
    covariate = np.tile(shared, n_classes) + offset * y
    informative[:, 0] += 0.5 * covariate
    return np.column_stack([informative, covariate]), y


def test_plda_anchor_drops_what_spanning_class_means_do_not_vary_along():
    """Nine class means in three features could vary along all three; where
    they do not vary along one, the PLDA anchor drops it, as LDA does: the
    map has rank 2, its squared distances are the two-covariance likelihood
    ratio with the means' OAS covariance fitted within their span, and
    moving the means along that direction by a little keeps it."""
    X, y = shared_covariate()
    ((weight, bias),) = anchor_maps([("plda", 0.01)], X, y, 0)
    singular = np.linalg.svd(weight, compute_uv=False)
    assert singular[-1] < 1e-12 * singular[0]
    means, whitening = whitened_class_means(X, y, 0.01)
    span = np.linalg.svd(means - means.mean(axis=0))[2][:2]
    within_span, _ = oas(means @ span.T)
    between = span.T @ within_span @ span
    assert_likelihood_ratio_distances(X, weight, bias, whitening, between)

    X, y = shared_covariate(offset=1e-3)
    ((weight, _),) = anchor_maps([("plda", 0.01)], X, y, 0)
    singular = np.linalg.svd(weight, compute_uv=False)
    assert singular[-1] > 1e-3 * singular[0]


def test_plda_anchor_damps_what_the_class_means_do_not_vary_along():
    """The classes differ in the first 4 of 24 features: whitening keeps the
    20 others at their share of the spread (the map's squared columns, each
    times its feature's variance), the PLDA anchor damps them."""
    X, y = informative_and_noise()
    candidates = [("whitened", 0.01), ("plda", 0.01)]
    shares = []
    for weight, _ in anchor_maps(candidates, X, y, 0):
        column_norms = (weight**2).sum(axis=0) * X.var(axis=0)
        shares.append(column_norms[4:].sum() / column_norms.sum())
    whitened, plda = shares  # about 0.34 and 0.18
    assert plda < 0.6 * whitened


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("max_width", [MAX_ANCHOR_WIDTH, 6])
def test_class_moments_embed_held_out_rows_as_anchors_fitted_on_the_rest(
    sparse, max_width
):
    X, y = informative_and_noise()
    X = 1e3 * X + 5.0  # the moments are about the mean, in any units
    if sparse:
        X[np.abs(X - 5.0) < 2e3] = 0.0
        X = sp.csr_matrix(X)
    candidates = [("pca", None), ("whitened", 1.0), ("whitened", 0.01)]
    candidates += [("plda", 0.01), ("closed_form", None)]
    assert_moments_embed_as_rows(X, y, candidates, max_width, ([0, 1], [3, 7, 11]))


def test_fewer_rows_than_features_keep_the_directions_the_rows_vary_along():
    """n rows centred on their mean vary along n - 1 directions at most: a
    principal direction beyond them is one of a space along which no row
    varies, of LAPACK's choosing, and the moments and the rows chose
    differently. Those n - 1 directions are kept, and beside them the rest
    of the inputs (``_residual``), along which the training rows do not
    vary at all."""
    X, y = informative_and_noise(n_classes=12, n_per_class=3, n_noise=60)
    candidates = [("pca", None), ("whitened", 0.1), ("plda", 0.01)]
    weights = assert_moments_embed_as_rows(
        X, y, candidates, MAX_ANCHOR_WIDTH, ([0, 1], [3, 7, 11])
    )
    assert {len(weight) for weight in weights} == {X.shape[1]}
    directions = len(X) - 1
    for weight, bias in anchor_maps(candidates, X, y, 0):
        assert len(weight) == X.shape[1]
        spread = embedded(X, weight, bias).std(axis=0)
        assert spread[:directions].min() > 1e-6 * spread.max()
        assert spread[directions:].max() < 1e-9 * spread.max()


def test_fewer_rows_than_features_are_factorised_through_their_own_gram(
    monkeypatch,
):
    """The kept rows' scatter is factorised as their n x n Gram matrix, never
    as the features x features one: O(n^2 d), not O(d^3)."""
    X, y = informative_and_noise(n_classes=12, n_per_class=3, n_noise=60)
    sizes = []

    def recorded(matrix, **options):
        sizes.append(len(matrix))
        return signed_eigh(matrix, **options)

    monkeypatch.setattr(_anchors, "signed_eigh", recorded)
    list(ClassMoments(X, y).anchor_maps(None, [("pca", None), ("whitened", 0.1)]))
    assert sizes  # the whitening's, within the principal directions
    assert max(sizes) < X.shape[1]


def test_class_moments_drop_what_the_kept_means_do_not_vary_along():
    """Fitted from the moments of the rows kept, the PLDA anchor drops the
    direction the kept classes' means do not vary along, as fitted on those
    rows themselves."""
    X, y = shared_covariate(n_classes=12)
    X = 1e3 * X + 5.0
    candidates = [("plda", 0.01), ("plda", 1e-6)]
    moments = ClassMoments(X, y)
    for held_out in ([0, 1], [3, 7, 11]):
        held = np.isin(y, held_out)
        maps = anchor_maps(candidates, X[~held], y[~held], 0)
        found = moments.held_out_embeddings(held, candidates, MAX_ANCHOR_WIDTH)
        for (weight, bias), embedding in zip(maps, found, strict=True):
            singular = np.linalg.svd(weight, compute_uv=False)
            assert singular[-1] < 1e-12 * singular[0]
            expected = embedded(X[held], weight, bias)
            np.testing.assert_allclose(
                pairwise_distances(embedding),
                pairwise_distances(expected),
                rtol=1e-7,
                atol=1e-9,
            )


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("held_out", [None, [0, 1], [3, 7, 11]])
@pytest.mark.parametrize("units", [1e-20, 1e3, 1e20])
@pytest.mark.parametrize("top_only", [False, True])
def test_class_moments_fit_the_anchors_of_the_rows_kept(
    sparse, held_out, units, top_only, monkeypatch
):
    """``ClassMoments.anchor_maps`` are ``anchor_maps`` fitted on the rows
    kept, up to an orthogonal map of their rows: the same distances between
    any inputs, the held-out rows and the kept ones alike, in any units
    (read with unit steps, features of spread 1e16 gave weights of
    rounding); also where the moments find only the largest eigenpairs of
    the kept rows' scatter, as they do for inputs of many features."""
    if top_only:  # 24 features, at least 4 times the 6 directions kept
        monkeypatch.setattr(_anchors, "TOP_EIGENPAIRS_RATIO", 4)
    X, y = informative_and_noise()
    small = np.abs(X) < 2.0
    X = units * (X + 5.0)
    if sparse:
        X[small] = 0.0
        X = sp.csr_matrix(X)
    candidates = [("pca", None), ("whitened", 1.0), ("whitened", 0.01)]
    candidates += [("plda", 0.01), ("closed_form", None)]
    held = None if held_out is None else np.isin(y, held_out)
    kept = slice(None) if held is None else ~held
    expected = anchor_maps(candidates, X[kept], y[kept], 0, 6)
    moments = ClassMoments(X, y)
    found = list(moments.anchor_maps(held, candidates, 6))
    ((_, values, vectors),) = moments._factorisations.values()
    assert vectors.shape == (24, 6 if top_only else 24)
    assert values.shape == (vectors.shape[1],)
    for (weight, bias), (found_weight, found_bias) in zip(expected, found, strict=True):
        assert found_weight.shape == weight.shape
        np.testing.assert_allclose(
            pairwise_distances(embedded(X, found_weight, found_bias)),
            pairwise_distances(embedded(X, weight, bias)),
            rtol=1e-7,
            atol=1e-9,
        )


def test_class_moments_factorise_each_set_of_held_out_classes_once(monkeypatch):
    X, y = informative_and_noise()
    calls = []
    original = linalg.eigh

    def counting(matrix, *args, **kwargs):
        calls.append(matrix.shape)
        return original(matrix, *args, **kwargs)

    monkeypatch.setattr(linalg, "eigh", counting)
    moments = ClassMoments(X, y)
    held = np.isin(y, [0, 1])
    candidates = [("pca", None)]  # whose maths factorise nothing more
    first = next(moments.held_out_embeddings(held, candidates, 8))
    again = next(moments.held_out_embeddings(held, candidates, 8))
    np.testing.assert_array_equal(again, first)
    assert len(calls) == 1
    next(moments.held_out_embeddings(np.isin(y, [2, 3]), candidates, 8))
    assert len(calls) == 2
    # beyond the budget, nothing is kept
    monkeypatch.setattr(_anchors, "FACTORISATION_BYTES", 0)
    moments = ClassMoments(X, y)
    for _ in range(2):
        next(moments.held_out_embeddings(held, candidates, 8))
    assert len(calls) == 4


def test_moments_factorise_wide_sets_on_the_blas_threads_they_were_built_with(
    monkeypatch,
):
    """Within a fit's limit of one BLAS thread, a set that keeps at least as
    many rows as features, these at least ``THREADED_FACTORISATION_FEATURES``,
    is factorised on the threads that ``ClassMoments`` was built with;
    narrower inputs, and sets of fewer rows than features, keep the limit."""
    threads = []
    original = linalg.eigh

    def recording(matrix, *args, **kwargs):
        blas = [lib for lib in threadpool_info() if lib["user_api"] == "blas"]
        threads.append(max(lib["num_threads"] for lib in blas))
        return original(matrix, *args, **kwargs)

    monkeypatch.setattr(linalg, "eigh", recording)
    monkeypatch.setattr(_anchors, "THREADED_FACTORISATION_FEATURES", 10)
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(120, 10)), np.repeat(np.arange(6), 20)
    few_rows, few_codes = rng.normal(size=(12, 10)), np.repeat(np.arange(6), 2)
    with threadpool_limits(limits=3, user_api="blas"):
        built = [
            (ClassMoments(X, y), y),
            (ClassMoments(X[:, :9], y), y),
            (ClassMoments(few_rows, few_codes), few_codes),
        ]
    with threadpool_limits(limits=1, user_api="blas"):
        for moments, codes in built:
            held = np.isin(codes, [0, 1])
            next(moments.held_out_embeddings(held, [("pca", None)], 8))
    assert threads == [3, 1, 1]


def test_moments_say_whether_every_set_stays_factorised(monkeypatch):
    """``keeps(n)``: whether ``n`` sets' Gram matrices and
    eigendecompositions, each at most ``n_features x n_features``, fit in
    ``FACTORISATION_BYTES`` together."""
    X = np.random.RandomState(0).normal(size=(60, 10))
    moments = ClassMoments(X, np.repeat(np.arange(4), 15))
    per_set = (2 * 10 + 1) * 10 * 8
    monkeypatch.setattr(_anchors, "FACTORISATION_BYTES", 3 * per_set)
    assert moments.keeps(3)
    assert not moments.keeps(4)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # PCA of constants
def test_anchors_of_constant_inputs_are_finite():
    X = np.ones((20, 3))
    y = np.repeat([0, 1], 10)
    for weight, bias in whitened_anchors(X, y, [None, 0.1], 8, 0):
        assert np.isfinite(weight).all()
        assert np.isfinite(bias).all()


def _mean_centred(X, codes, candidates, seed, max_width, directions):
    """A new anchor's maths, for the registry test: the inputs, centred, at
    unit spread."""
    X = np.asarray(X.toarray() if sp.issparse(X) else X)
    for _ in candidates:
        weight, bias = np.eye(X.shape[1]), -X.mean(axis=0)
        yield weight / np.sqrt(X.var(axis=0).sum()), bias / np.sqrt(X.var(axis=0).sum())


def _mean_centred_from_moments(kept, candidates):
    variance = np.trace(kept.scatter) / kept.n_rows
    for _ in candidates:
        yield (dense(kept.embedded) - kept.mean) / np.sqrt(variance)


def test_a_new_anchor_is_one_registry_entry_plus_its_maths(monkeypatch):
    """Registered, an anchor is a candidate of init="auto", is fitted by
    anchor_maps and from class moments alike, embeds rows by its maps
    without maths of its own for them, and is compared with the
    other anchors that keep every direction on held-out classes."""
    entry = Anchor(
        keeps_every_direction=True,
        shrinks=False,
        maths=_mean_centred,
        maths_from_moments=_mean_centred_from_moments,
    )
    monkeypatch.setitem(ANCHORS, "centred", entry)
    assert start_candidates("auto", 0.1, scored=True)[-1] == ("centred", None)
    X, y = informative_and_noise(n_classes=8)
    candidates = [("pca", None), ("centred", None), ("closed_form", None)]
    held = np.isin(y, [0, 1])
    maps = anchor_maps(candidates, X[~held], y[~held], 0)
    found = ClassMoments(X, y).held_out_embeddings(held, candidates, MAX_ANCHOR_WIDTH)
    applied = anchor_embeddings(candidates, X[~held], y[~held], 0, X[held])
    for (weight, bias), embedding, by_rows in zip(maps, found, applied, strict=True):
        expected = embedded(X[held], weight, bias)
        np.testing.assert_allclose(
            pairwise_distances(embedding),
            pairwise_distances(expected),
            rtol=1e-7,
            atol=1e-9,
        )
        np.testing.assert_allclose(by_rows, expected, rtol=1e-9, atol=1e-12)
    compared = []
    original = _selection.anchor_scores

    def recording(X, codes, candidates, *args, **kwargs):
        compared.append(list(candidates))
        return original(X, codes, candidates, *args, **kwargs)

    monkeypatch.setattr(_selection, "anchor_scores", recording)
    choose_anchor(X, y, 8, "auto", "auto", 2, np.random.RandomState(0), 0)
    ranked = compared[0]  # every candidate, ranked before k-means
    assert ("centred", None) in ranked
    assert ranked[-1] == ("closed_form", None)  # the paired tests' candidate


EMBEDDED = [
    ("pca", None),
    ("whitened", 0.01),
    ("plda", 0.01),
    ("closed_form", None),
]


@pytest.mark.parametrize("projected", [False, True])
@pytest.mark.parametrize("max_width", [8, MAX_ANCHOR_WIDTH])
@pytest.mark.parametrize("kind", ["dense", "sparse", "sparse, wide", "dense, wide"])
def test_anchor_embeddings_are_the_maps_applied(
    kind, max_width, projected, monkeypatch
):
    """Rows embedded without the anchors' weights are those that the maps
    give them: with the rest (8 of 60 directions kept, holding little of the
    variance), itself or, where the projection is narrower, its projection,
    and without it; for inputs too wide for a covariance, within the same
    principal directions."""
    if projected:
        monkeypatch.setattr(_residual, "RESIDUAL_WIDTH", 40)
    X, y = informative_and_noise(n_noise=56)
    candidates = EMBEDDED + [("plda", LEDOIT_WOLF)] * (kind == "dense")
    if kind.startswith("sparse"):
        X = sp.csr_matrix(np.where(np.abs(X) > 1.0, X, 0.0))
    if kind.endswith("wide"):
        monkeypatch.setattr(_anchors, "MAX_COVARIANCE_FEATURES", X.shape[1] - 1)
    seen = y < 8
    maps = list(anchor_maps(candidates, X[seen], y[seen], 0, max_width))
    # the rest beside them where 8 directions are kept
    assert len(maps[0][0]) == (8 + (40 if projected else 52) if max_width == 8 else 60)
    found = anchor_embeddings(candidates, X[seen], y[seen], 0, X[~seen], max_width)
    for (weight, bias), embedding in zip(maps, found, strict=True):
        np.testing.assert_allclose(
            embedding, embedded(X[~seen], weight, bias), rtol=1e-9, atol=1e-12
        )


@pytest.mark.parametrize("sparse", [False, True])
def test_inputs_too_wide_for_a_covariance_solve_the_closed_form_within_the_pca(
    sparse, monkeypatch
):
    """Past ``MAX_COVARIANCE_FEATURES``, dense inputs as sparse ones: the
    closed-form anchor is solved within the principal directions that the
    PCA anchor keeps, and forms no ``n_features x n_features`` matrix."""
    X, y = informative_and_noise(n_noise=56)
    if sparse:
        X = sp.csr_matrix(np.where(np.abs(X) > 1.0, X, 0.0))
    candidates = [("pca", None), ("closed_form", None)]
    (pca, _), (closed_form, _) = anchor_maps(candidates, X, y, 0, 8)
    basis = np.linalg.qr(pca[:8].T)[0]  # the 8 principal directions kept
    outside = closed_form - (closed_form @ basis) @ basis.T
    assert np.linalg.norm(outside) > 0.1 * np.linalg.norm(closed_form)
    monkeypatch.setattr(_anchors, "MAX_COVARIANCE_FEATURES", X.shape[1] - 1)
    (pca, _), (closed_form, _) = anchor_maps(candidates, X, y, 0, 8)
    basis = np.linalg.qr(pca[:8].T)[0]
    outside = closed_form - (closed_form @ basis) @ basis.T
    assert np.linalg.norm(outside) < 1e-10 * np.linalg.norm(closed_form)


@pytest.mark.parametrize("projected", [False, True])
def test_anchor_embeddings_form_no_weights_of_the_inputs_width(projected, monkeypatch):
    """The PCA, whitened and PLDA anchors and the projection of the rest
    embed rows without a map as wide as the inputs: on inputs of 2**20
    features each would be hundreds of MiB. (The rest itself, of at most
    ``RESIDUAL_WIDTH + MAX_ANCHOR_WIDTH`` inputs, has a basis as wide.)"""
    if projected:
        monkeypatch.setattr(_residual, "RESIDUAL_WIDTH", 40)

    def refused(*args, **kwargs):
        raise AssertionError("a weight as wide as the inputs was formed")

    for name in ("whitened_anchors", "rows_residual_map", "with_residual"):
        monkeypatch.setattr(_anchors, name, refused)
    X, y = informative_and_noise(n_noise=56)
    candidates = EMBEDDED[:3]
    found = list(anchor_embeddings(candidates, X[y < 8], y[y < 8], 0, X[y >= 8], 8))
    width = 8 + (40 if projected else 52)
    assert [embedding.shape for embedding in found] == [(200, width)] * 3


def test_uses_shrinkage_names_the_inits_whose_anchor_shrinks():
    from sklearn_dsc._anchors import uses_shrinkage

    assert uses_shrinkage("auto")
    assert uses_shrinkage("whitened")
    assert uses_shrinkage("plda")
    assert not any(map(uses_shrinkage, ("pca", "closed_form", "random")))


def test_class_moments_serve_a_single_feature():
    # a default fit of ten classes in one feature compares its anchors on
    # class moments; under SciPy 1.10 their eigendecomposition by divide and
    # conquer failed on the 1 x 1 scatter ("dsyevd:lwork=1")
    y = np.repeat(np.arange(10), 20)
    X = (y + np.random.RandomState(0).normal(size=200))[:, None]
    held = np.isin(y, [0, 1])  # the rows of two classes
    (embedding,) = ClassMoments(X, y).held_out_embeddings(held, [("plda", 0.01)], 4)
    assert embedding.shape == (40, 1)
    estimator = DeepSpectralClusteringEmbedder(random_state=0).fit(X, y)
    assert estimator.transform(X).shape == (200, 1)
