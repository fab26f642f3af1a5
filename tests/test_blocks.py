"""Per-column reductions a block of columns at a time: the same bits as over
the whole array, in a bounded temporary; the moments' Gram matrix a block of
rows at a time."""

import numpy as np
import pytest
import scipy.sparse as sp

from sklearn_dsc import _blocks
from sklearn_dsc._anchors import ClassMoments
from sklearn_dsc._blocks import by_column_blocks, column_blocks, row_blocks
from sklearn_dsc._closed_form import class_sums
from sklearn_dsc._fitting import class_centroids
from sklearn_dsc._networks import input_spread

from helpers import peak_bytes


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 2 or 3 columns for 1,000 rows."""
    monkeypatch.setattr(_blocks, "BLOCK_BYTES", 8 * 1000 * 2)


def wide_range(n_rows, n_columns, order, seed=0):
    """float32 columns of very different scales and offsets, whose float64
    sums depend on the order in which they are added."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_rows, n_columns)) * rng.uniform(1e-2, 1e3, n_columns)
    X += rng.uniform(-1e4, 1e4, n_columns)
    return np.asarray(X.astype(np.float32), order=order)


def test_column_blocks_cover_the_columns_never_one_alone(small_blocks):
    assert column_blocks(1000, 7) == [slice(0, 2), slice(2, 4), slice(4, 7)]
    assert column_blocks(1000, 6) == [slice(0, 2), slice(2, 4), slice(4, 6)]
    assert column_blocks(1000, 1) == [slice(0, 1)]
    assert column_blocks(10, 7) == [slice(0, 7)]  # all fit in one block
    assert column_blocks(10**6, 5) == [slice(0, 2), slice(2, 5)]  # 2 at least


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("n_columns", [1, 2, 3, 9])
def test_block_reductions_give_the_whole_arrays_bits(small_blocks, order, n_columns):
    X = wide_range(1000, n_columns, order)
    codes = np.random.default_rng(1).integers(0, 7, len(X))
    reductions = [
        lambda A: np.var(A, axis=0, dtype=np.float64),
        lambda A: A.astype(np.float64).mean(axis=0),
        lambda A: class_sums(A.astype(np.float64), codes, 7),
    ]
    for reduce in reductions:
        np.testing.assert_array_equal(by_column_blocks(reduce, X), reduce(X))


@pytest.mark.parametrize("order", ["C", "F"])
def test_the_fit_reductions_are_unchanged(small_blocks, order):
    X = wide_range(1000, 9, order)
    codes = np.random.default_rng(2).integers(0, 5, len(X))
    X64 = X.astype(np.float64)
    spread = float(np.sqrt(np.sum(np.var(X, axis=0, dtype=np.float64))))
    assert input_spread(X) == spread
    counts = np.bincount(codes)
    centroids = class_sums(X64, codes, 5) / counts[:, None]
    np.testing.assert_array_equal(class_centroids(X, codes, 5), centroids)
    moments = ClassMoments(X, codes)  # its rows in blocks: test below
    center = X64.mean(axis=0)
    np.testing.assert_array_equal(moments.center, center)
    held = np.isin(codes, [1, 3])
    np.testing.assert_array_equal(moments._centred(held), X64[held] - center)
    sparse = sp.csr_matrix(np.where(X > 0, X, 0))
    kept = ClassMoments(sparse, codes)
    assert kept.X is sparse  # no float64 copy kept
    np.testing.assert_array_equal(
        kept._centred(held).toarray(), sparse[held].astype(np.float64).toarray()
    )


def test_row_blocks_cover_the_rows(monkeypatch):
    monkeypatch.setattr(_blocks, "BLOCK_BYTES", 8 * 9 * 300)
    assert row_blocks(1000, 9) == [
        slice(0, 300),
        slice(300, 600),
        slice(600, 900),
        slice(900, 1000),
    ]
    assert row_blocks(300, 9) == [slice(0, 300)]
    assert row_blocks(2, 10**6) == [slice(0, 1), slice(1, 2)]  # 1 row at least
    assert row_blocks(0, 9) == [slice(0, 0)]


@pytest.mark.parametrize("order", ["C", "F"])
def test_the_moments_sum_blocks_of_rows(monkeypatch, order):
    X = wide_range(1000, 9, order)
    codes = np.random.default_rng(2).integers(0, 5, len(X))
    centred = X.astype(np.float64) - X.astype(np.float64).mean(axis=0)
    gram, sums = centred.T @ centred, class_sums(centred, codes, 5)
    whole = ClassMoments(X, codes)  # one block: the whole array's bits
    np.testing.assert_array_equal(whole.gram, gram)
    np.testing.assert_array_equal(whole.sums, sums)
    monkeypatch.setattr(_blocks, "BLOCK_BYTES", 8 * 9 * 300)
    blocked = ClassMoments(X, codes)  # four blocks: the sum of theirs
    slices = row_blocks(*X.shape)
    blocks = [centred[block] for block in slices]
    np.testing.assert_array_equal(blocked.gram, sum(b.T @ b for b in blocks))
    parts = [codes[block] for block in slices]
    found = sum(class_sums(b, c, 5) for b, c in zip(blocks, parts, strict=True))
    np.testing.assert_array_equal(blocked.sums, found)
    np.testing.assert_allclose(blocked.gram, gram, rtol=1e-12, atol=1e-9)


def test_no_float64_copy_of_the_inputs_is_reduced_whole(monkeypatch):
    monkeypatch.setattr(_blocks, "BLOCK_BYTES", 2**20)
    X = wide_range(4000, 200, "C")
    codes = np.random.default_rng(3).integers(0, 10, len(X))
    copy = 8 * X.size  # 6.4 MB
    assert peak_bytes(input_spread, X) < copy / 4
    assert peak_bytes(class_centroids, X, codes, 10) < copy / 4
    assert peak_bytes(ClassMoments, X, codes) < copy / 3  # a block and the Gram
