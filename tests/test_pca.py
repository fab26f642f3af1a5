"""Principal directions of dense and sparse inputs."""

import warnings

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.decomposition import PCA

from sklearn_dsc import DeepSpectralClusteringEmbedder, _pca
from sklearn_dsc._pca import principal_directions, randomized_pca

from helpers import peak_bytes


def low_rank_sparse(n=600, d=3000, rank=5, seed=0):
    """Sparse rows spanned by ``rank`` sparse directions of decaying weight,
    plus sparse noise."""
    rng = np.random.RandomState(seed)
    basis = sp.random(rank, d, density=0.05, random_state=rng)
    weights = rng.normal(size=(n, rank)) * (10.0 / np.arange(1, rank + 1))
    noise = sp.random(n, d, density=0.002, random_state=rng)
    return sp.csr_matrix(sp.csr_matrix(weights) @ basis + 0.1 * noise)


def test_row_space_eigh_gives_the_eigenpairs_the_rows_vary_along():
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(12, 40)) * np.linspace(0.1, 3.0, 40)
    rows -= rows.mean(axis=0)  # centred: 11 directions vary
    values, vectors = _pca.row_space_eigh(rows)
    full_values, full_vectors = _pca.signed_eigh(rows.T @ rows)
    assert len(values) == 11
    np.testing.assert_allclose(values, full_values[-11:], rtol=1e-10)
    np.testing.assert_allclose(vectors, full_vectors[:, -11:], atol=1e-10)
    values, vectors = _pca.row_space_eigh(np.zeros((3, 5)))  # nothing varies
    assert values.shape == (0,)
    assert vectors.shape == (5, 0)


def test_randomized_pca_finds_the_principal_directions():
    X = low_rank_sparse()
    components, mean, variances = randomized_pca(X, 5, seed=0)
    reference = PCA(5, svd_solver="full").fit(X.toarray())
    np.testing.assert_allclose(mean, reference.mean_, atol=1e-12)
    np.testing.assert_allclose(variances, reference.explained_variance_, rtol=1e-3)
    cosines = np.abs(np.sum(components * reference.components_, axis=1))
    np.testing.assert_allclose(cosines, 1.0, atol=1e-4)
    np.testing.assert_allclose(components @ components.T, np.eye(5), atol=1e-8)


def test_wide_sparse_inputs_take_the_randomized_path(monkeypatch):
    X = low_rank_sparse(d=300)
    narrow = principal_directions(X, 4, seed=0)
    monkeypatch.setattr(_pca, "MAX_COVARIANCE_FEATURES", 100)
    wide = principal_directions(X, 4, seed=0)
    np.testing.assert_allclose(wide[2], narrow[2], rtol=1e-3)
    # dense inputs always use scikit-learn's PCA
    dense = principal_directions(X.toarray(), 4, seed=0)
    np.testing.assert_allclose(dense[2], narrow[2], rtol=1e-8)


def test_a_fit_on_wide_sparse_rows_never_forms_a_feature_square():
    """6,000 features: an n_features x n_features float64 matrix is 288 MB."""
    rng = np.random.RandomState(0)
    n, d = 120, 6_000
    y = rng.randint(0, 6, n)
    X = sp.random(n, d, density=0.002, format="csr", random_state=rng)
    X = X + sp.csr_matrix((np.ones(n), (np.arange(n), y * 10)), shape=(n, d))
    assert d > _pca.MAX_COVARIANCE_FEATURES
    estimator = DeepSpectralClusteringEmbedder(random_state=0, max_iter=2)
    peak = peak_bytes(estimator.fit, X, y)
    assert peak < 100e6  # about seven maps of 120 x n_features at a time
    assert np.isfinite(estimator.transform(X)).all()


def test_randomized_pca_does_not_depend_on_the_number_of_threads():
    X = low_rank_sparse()
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = randomized_pca(X, 5, seed=0)
        torch.set_num_threads(3)
        three = randomized_pca(X, 5, seed=0)
    finally:
        torch.set_num_threads(threads)
    for a, b in zip(one, three, strict=True):
        np.testing.assert_array_equal(a, b)


def test_randomized_pca_reads_read_only_inputs_without_a_warning():
    """joblib hands workers memory-mapped, read-only inputs (here with
    indices and index pointers of two dtypes, which torch would refuse)."""
    X = low_rank_sparse()
    expected = randomized_pca(X, 5, seed=0)
    mixed = X.copy()
    mixed.indices = mixed.indices.astype(np.int64)
    assert mixed.indptr.dtype == np.int32
    for array in (mixed.data, mixed.indices, mixed.indptr):
        array.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        found = randomized_pca(mixed, 5, seed=0)
    for a, b in zip(expected, found, strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_torch_products_share_the_arrays_of_writable_inputs():
    """No copy of a large corpus's values and indices is made to multiply it."""
    X = low_rank_sparse()
    tensor = _pca._csr_tensor(X)
    assert tensor.values().data_ptr() == X.data.ctypes.data
    assert tensor.col_indices().data_ptr() == X.indices.ctypes.data
    assert tensor.crow_indices().data_ptr() == X.indptr.ctypes.data
    mixed = X.copy()  # int64 indices beside int32 index pointers
    mixed.indices = mixed.indices.astype(np.int64)
    assert _pca._csr_tensor(mixed).col_indices().data_ptr() == mixed.indices.ctypes.data
