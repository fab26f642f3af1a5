"""Per-column reductions of a dense array, a block of columns at a time.

A float32 array reduced in float64 over its rows (``np.var(X, axis=0,
dtype=np.float64)``, ``X.astype(np.float64).mean(axis=0)``, the class sums
of its float64 copy) takes a float64 temporary of the whole array: twice the
input's memory, on top of it. A block of columns at a time bounds that
temporary by ``BLOCK_BYTES`` and gives the same bits. numpy reduces each
column of a block in the order in which it reduces it in the whole array
(row after row for C-ordered arrays, pairwise down each column for
Fortran-ordered ones), provided the block is at least two columns wide (a
single column is reduced pairwise whatever the order); and a sparse matrix
times a dense one sums the products of each column in the order of the
sparse entries, whatever the other columns.

A Gram matrix pairs every column with every other, so it is formed a block
of rows at a time instead (``row_blocks``): the same bits where one block
holds every row, the rounding of a sum of blocks' products otherwise.
"""

import numpy as np

# The most bytes of float64 temporaries that one block of columns takes.
BLOCK_BYTES = 2**26


def column_blocks(n_rows, n_columns):
    """Slices that cover ``range(n_columns)`` in order, each as wide as
    ``BLOCK_BYTES`` of float64 rows allow but never one column alone (unless
    there is only one)."""
    width = max(2, BLOCK_BYTES // (8 * max(n_rows, 1)))
    blocks = []
    start = 0
    while start < n_columns:
        stop = start + width
        if n_columns - stop == 1:  # no block of one column at the end
            stop = n_columns
        blocks.append(slice(start, min(stop, n_columns)))
        start = stop
    return blocks


def row_blocks(n_rows, n_columns):
    """Slices that cover ``range(n_rows)`` in order (at least one), each as
    tall as ``BLOCK_BYTES`` of float64 rows of ``n_columns`` allow, and
    never empty but where there are no rows."""
    height = max(1, BLOCK_BYTES // (8 * max(n_columns, 1)))
    starts = range(0, max(n_rows, 1), height)
    return [slice(start, min(start + height, n_rows)) for start in starts]


def by_column_blocks(reduce, X):
    """``reduce(X)`` for a reduction of each column of the dense ``X`` over
    its rows (its result's last axis runs over the columns: one entry per
    column, or a column of entries such as class sums), computed on blocks
    of columns (``column_blocks``)."""
    blocks = [reduce(X[:, block]) for block in column_blocks(*X.shape)]
    return np.concatenate(blocks, axis=-1)
