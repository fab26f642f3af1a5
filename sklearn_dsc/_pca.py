"""Principal directions of dense or sparse inputs, in memory that follows the
number of directions kept rather than the square of the number of features;
and eigenvectors whose signs do not depend on LAPACK (``signed_eigh``).
"""

import warnings

import numpy as np
import scipy.sparse as sp
from scipy import linalg
from sklearn.decomposition import PCA
from sklearn.utils import check_random_state
from sklearn.utils.extmath import svd_flip

# Sparse inputs with at most this many features use scikit-learn's PCA on
# their n_features x n_features covariance; wider ones a randomized SVD.
MAX_COVARIANCE_FEATURES = 4096


def signed_eigh(matrix, **options):
    """``linalg.eigh(matrix, **options)``, each eigenvector's largest entry
    made positive (as scikit-learn's ``svd_flip`` signs the principal
    directions of its PCA), so that maps built from them do not depend on the
    signs that a LAPACK build, or the rounding of the inputs, happens to
    give."""
    values, vectors = linalg.eigh(matrix, **options)
    return values, _signed(vectors)


def _signed(vectors):
    """``vectors`` (columns), each made to have its largest entry positive."""
    columns = range(vectors.shape[1])
    largest_entries = vectors[np.argmax(np.abs(vectors), axis=0), columns]
    return vectors * np.sign(largest_entries)


def top_eigh(matrix, n_top):
    """The ``n_top`` largest eigenpairs of the symmetric ``matrix``,
    ascending and signed as ``signed_eigh``'s: LAPACK's MRRR driver finds
    only them once the matrix is tridiagonal, and forms only their
    eigenvectors."""
    n = len(matrix)
    return signed_eigh(matrix, subset_by_index=[n - n_top, n - 1], driver="evr")


def row_space_eigh(rows):
    """The eigenvalues and eigenvectors of ``rows.T @ rows`` along the
    directions that ``rows`` span, from the ``n_rows x n_rows`` matrix
    ``rows @ rows.T``, ascending and signed as ``signed_eigh``'s.

    Where the rows are fewer than their features this costs
    ``O(n_rows^2 n_features)`` instead of ``O(n_features^3)``, and gives
    ``signed_eigh``'s eigenpairs up to rounding but for those along which
    no row varies: a direction that none of them spans (eigenvalue 0,
    here or up to rounding) is left out, where ``signed_eigh`` gives
    LAPACK's choice of the space of such directions.
    """
    values, u = linalg.eigh(rows @ rows.T)
    varied = values > max(values[-1], 0.0) * len(values) * np.finfo(np.float64).eps
    values, u = values[varied], u[:, varied]
    return values, _signed(rows.T @ (u / np.sqrt(values)))


def varying_directions(n_rows, n_features):
    """How many directions ``n_rows`` rows of ``n_features`` features,
    centred on their mean, can vary along: ``n_rows - 1`` at most (at least
    one, as PCA keeps)."""
    return min(max(n_rows - 1, 1), n_features)


def principal_directions(X, n_components, seed):
    """``(components, mean, variances)`` of the top principal directions of ``X``.

    ``components`` has ``min(n_components, n_samples - 1, n_features)`` rows
    (at least one): rows centred on their mean vary along at most
    ``n_samples - 1`` directions, and one more would be a direction along
    which none varies, of LAPACK's choosing. Dense inputs and
    sparse ones of at most ``MAX_COVARIANCE_FEATURES`` features use
    scikit-learn's ``PCA``. Wider sparse inputs use a randomized SVD (Halko,
    Martinsson and Tropp, 2011) of the implicitly centred matrix, never
    densified: memory ``O((n_samples + n_features) * n_components)`` and
    time ``O(nnz * n_components)`` per pass.
    """
    n_components = min(n_components, varying_directions(*X.shape))
    if not sp.issparse(X) or X.shape[1] <= MAX_COVARIANCE_FEATURES:
        pca = PCA(
            n_components,
            svd_solver="covariance_eigh" if sp.issparse(X) else "auto",
            random_state=seed,
        ).fit(X)
        return pca.components_, pca.mean_, pca.explained_variance_
    return randomized_pca(X, n_components, seed)


def randomized_pca(X, n_components, seed, n_oversamples=10, n_iter=4):
    """The top principal directions of sparse ``X`` by a randomized SVD of
    ``X - mean`` that only multiplies ``X`` and its transpose.

    Returns ``(components, mean, variances)`` like ``principal_directions``;
    the signs follow scikit-learn's ``svd_flip`` (on the components).

    Both products are torch's, on CSR tensors of ``X`` and of a CSR copy of
    its transpose (``_csr_times``: SciPy's use one thread, and its ``X.T``
    is a CSC matrix that scatters its products), and a power iteration
    centres only the ``n_samples x width`` product, never an ``n_features x
    width`` one. On 2 CPU cores the 256 directions of 10,000 x 100,000
    (``bench_sparse.py --no-fit``) came in 0.55x to 0.63x the time of
    SciPy's products with each ``X.T @ Q`` centred.
    """
    X = sp.csr_matrix(X, dtype=np.float64)
    n_samples, n_features = X.shape
    mean = np.asarray(X.mean(axis=0)).ravel()
    rows, columns = _csr_tensor(X), _csr_tensor(X.T.tocsr())
    row_products = X @ mean  # each row's product with the mean
    mean_square = mean @ mean

    def centred(V):  # (X - mean) @ V
        return _csr_times(rows, V) - mean @ V

    def there_and_back(Q):  # (X - mean) @ (X - mean).T @ Q
        back = _csr_times(columns, Q)  # X.T @ Q
        sums = Q.sum(axis=0)
        return (
            _csr_times(rows, back)
            - np.outer(row_products, sums)
            - (mean @ back - mean_square * sums)
        )

    width = min(n_components + n_oversamples, n_samples, n_features)
    random_state = check_random_state(seed)
    if n_samples < n_features:
        # (X - mean) (X - mean).T G spans what (X - mean) times a Gaussian
        # n_features x width matrix spans, one power iteration further, for
        # n_samples x width normals: at 2**20 columns the others take
        # seconds to draw
        Q = there_and_back(random_state.normal(size=(n_samples, width)))
    else:
        Q = centred(random_state.normal(size=(n_features, width)))
    for _ in range(n_iter):  # power iterations, re-orthonormalised
        Q, _ = linalg.qr(Q, mode="economic")
        Q = there_and_back(Q)
    Q, _ = linalg.qr(Q, mode="economic")
    B = _csr_times(columns, Q)  # (X - mean).T @ Q, centred in place
    B -= np.outer(mean, Q.sum(axis=0))
    B = B.T  # Q^T (X - mean): width x n_features
    # the SVD of the short, wide B from the eigenvectors of the small B B^T
    squares, U = linalg.eigh(B @ B.T)
    order = np.argsort(squares)[::-1][:n_components]
    squares, U = np.clip(squares[order], 0, None), U[:, order]
    Vt = (U.T @ B) / np.sqrt(np.where(squares > 0, squares, 1.0))[:, None]
    _, Vt = svd_flip(U, Vt, u_based_decision=False)
    return Vt, mean, squares / max(n_samples - 1, 1)


def _csr_tensor(X):
    """A torch CSR tensor of the SciPy CSR matrix ``X``, sharing its arrays
    where they are writable (else copying them: joblib hands workers
    memory-mapped, read-only inputs, on which torch warns). SciPy's indices
    are valid by construction, so torch's checks of them are skipped, and
    its note that CSR tensors are in beta is not passed on."""
    import torch  # here: estimate_n_clusters, which uses this module, needs none

    indptr, indices = X.indptr, X.indices
    if indptr.dtype != indices.dtype:  # torch takes one index dtype
        indptr = indptr.astype(np.int64, copy=False)
        indices = indices.astype(np.int64, copy=False)
    arrays = [
        torch.from_numpy(array) if array.flags.writeable else torch.tensor(array)
        for array in (indptr, indices, X.data)
    ]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Sparse CSR tensor support is in beta")
        return torch.sparse_csr_tensor(*arrays, X.shape, check_invariants=False)


def _csr_times(matrix, dense):
    """``matrix @ dense`` as an ndarray: ``matrix`` a torch CSR tensor,
    ``dense`` an ndarray of the same dtype. The product uses torch's
    threads, and does not depend on how many there are
    (``tests/test_pca.py``)."""
    import torch

    return (matrix @ torch.from_numpy(np.ascontiguousarray(dense))).numpy()
