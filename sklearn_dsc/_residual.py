"""The rest of the inputs beside the principal directions that the PCA,
whitened and PLDA anchors keep.

Those anchors keep at most ``MAX_ANCHOR_WIDTH`` principal directions of the
training rows. Dense features (pixels, sentence embeddings) hold 97 % of
their variance or more in them; bag-of-words features spread it over
thousands of words, and new classes with words of their own differ along
the directions left out (``benchmarks/text_features.py``). Where the kept
directions hold less than ``RESIDUAL_SHARE`` of new rows' variance, as
far as the training rows tell it (``left_share``), each of these anchors
gains the rest: itself, in an orthonormal basis of what the
directions leave out (``rest_basis``), where it spans at most as many
dimensions as the projection has columns, so that the embedding is no
wider than the inputs; else a random projection of it
(``residual_projection``): at most ``RESIDUAL_WIDTH`` columns, which keep
the distances of the rest approximately (Johnson and Lindenstrauss) at a
bounded width. The two parts keep the shares of the spread that they have
in the inputs: the anchor's own columns ``sqrt(share)`` of its unit
spread, the rest ``sqrt(1 - share)``, so that the PCA anchor keeps the
inputs' distances (exactly with the rest itself). Where the training rows
vary along the directions alone, the rest is 0 on them, and new rows keep
what lies outside the directions at the scale of the inputs.

The projection is fixed (``RESIDUAL_SEED``) rather than drawn from the
estimator's ``random_state``: the held-out classes that choose an anchor
then judge the very projection that the anchor kept will carry, and the
anchors fitted from class moments (``_anchors.ClassMoments``) equal those
fitted on rows. ``random_state`` fixes every other draw, as before.
"""

import numpy as np
import scipy.sparse as sp
from scipy import linalg

from ._blocks import column_blocks, row_blocks

# Kept directions holding at least this share of the training rows' variance
# are all the anchors keep. The benchmark's dense datasets hold 97 % (the
# dictionary's sentence embeddings) to 99.2 % (glyphs) in 256 directions and
# are unchanged; TF-IDF features of the dictionary's definitions hold 34 %,
# and there the projection of the rest lifted the unseen subjects' k-means
# NMI of every anchor: PCA 0.153 -> 0.273, whitened at 0.01 0.195 -> 0.277,
# PLDA at 0.01 0.268 -> 0.329 (the TF-IDF rows themselves 0.273). Keeping
# 32 or 96 directions of dense data, which hold 43 % to 93 % of it (MNIST-5k,
# glyphs, the sentence embeddings), the projection changed these three
# anchors' unseen NMI by -0.004 to +0.081, +0.022 on average (18 cases).
# That share is that of the training rows' own variance, and it overstates
# what the directions hold of new rows' where the rows are few for so many
# directions: n rows vary along n - 1 directions at most, which hold all of
# their variance whatever the inputs. Of normal rows whose variances fall
# as 1/i over 800 features (84.3 % in the top 256 directions), 256
# directions of 300, 512, 1,024 and 4,096 rows held 98.8 %, 94.4 %, 90.0 %
# and 85.9 % of the rows' own; counted over the degrees of freedom the
# directions leave (``left_share``), 91.5 %, 88.8 %, 86.7 % and 84.9 %.
# Falling as 1/i**1.5 (97.9 %): 99.8 % and 98.7 % of 300 rows, 98.6 % and
# 98.1 % of 1,024. The share so counted decides (``_holds_enough``). On
# text_features.py's generated documents with 100 training rows (99
# directions), the defaults' unseen NMI rises from 0.430 to 0.610 (the
# inputs 0.830); on 800 word counts of 20 subjects (tests/test_residual.py's
# ``words``), 10 seen, of 26 to 33 rows each, from about 0.08 to 1.0.
RESIDUAL_SHARE = 0.95
# The projection's width, at most the number of features, and at most
# ``MAX_RESIDUAL_ENTRIES`` over it: the projection is dense, so that on
# hashed features of 2**20 columns it keeps 64 rows (512 MiB) rather than
# 768 (6 GiB).
RESIDUAL_WIDTH = 768
MAX_RESIDUAL_ENTRIES = 2**26
RESIDUAL_SEED = 0


def residual_width(n_features):
    """The projection's width for ``n_features`` inputs: ``RESIDUAL_WIDTH``,
    at most ``n_features`` and ``MAX_RESIDUAL_ENTRIES / n_features``."""
    return max(1, min(RESIDUAL_WIDTH, n_features, MAX_RESIDUAL_ENTRIES // n_features))


def residual_projection(n_features):
    """The fixed random projection of ``n_features`` inputs onto
    ``residual_width(n_features)`` columns: orthonormal rows, times the
    root of ``n_features`` over the width, so that it keeps squared norms on
    average and, where the width is that of the inputs, exactly.

    The rows are those of a subsampled randomized trigonometric transform
    (Woolfe, Liberty, Rokhlin and Tygert, 2008): the orthonormal DCT-II at
    ``width`` frequencies drawn at random, applied to the inputs with their
    signs flipped at random. Like a Gaussian projection it keeps distances
    approximately (Johnson and Lindenstrauss), and every entry has the same
    size, so no feature weighs more than another; its rows are orthonormal
    by construction, without a factorisation, so it is formed afresh in
    ``O(width x n_features)`` and nothing is kept between fits. (Gaussian
    rows alone distort distances as the width nears the number of features:
    on 160 features, the PCA anchor's 8 directions and a Gaussian projection
    of the rest clustered unseen classes at NMI 0.43, with orthonormal rows
    0.89, as the inputs do.)"""
    width = residual_width(n_features)
    rng = np.random.default_rng(RESIDUAL_SEED)
    signs = np.where(rng.random(n_features) < 0.5, -1.0, 1.0)
    frequencies = np.sort(rng.permutation(n_features)[:width])
    angles = np.outer(frequencies, np.arange(n_features) + 0.5) * (np.pi / n_features)
    projection = np.cos(angles, out=angles)
    # the DCT-II's orthonormal rows, times the root of n_features over width
    projection *= signs * np.sqrt(2.0 / width)
    projection[frequencies == 0] /= np.sqrt(2.0)
    return projection


def total_variance(X, mean):
    """The training rows' variance about ``mean``, summed over the features
    (float64 ``X``; a dense one a block of rows at a time)."""
    n_rows = X.shape[0]
    if sp.issparse(X):
        squares = float(X.multiply(X).sum()) / n_rows
        return max(squares - float(mean @ mean), 0.0)
    return (
        sum(float(np.sum((X[block] - mean) ** 2)) for block in row_blocks(*X.shape))
        / n_rows
    )


def _holds_enough(components, n_rows, kept_variance, total):
    """Whether the principal ``components`` of ``n_rows`` training rows,
    holding ``kept_variance`` of their ``total``, are kept alone: where
    nothing varies, or they hold ``RESIDUAL_SHARE`` or more of new rows'
    variance, as far as the training rows tell it (``left_share``)."""
    if not total > 0:
        return True
    n_components, n_features = components.shape
    if n_components >= n_features:
        return True
    left = left_share(1 - kept_variance / total, n_rows, n_components)
    return left <= 1 - RESIDUAL_SHARE


def left_share(share, n_rows, n_components):
    """The share of new rows' variance that ``n_components`` principal
    directions of ``n_rows`` rows leave out, from ``share``, that which
    they leave of those rows' own: ``share`` times ``(n_rows - 1) /
    (n_rows - 1 - n_components)``, as a regression's residual variance is
    counted over the degrees of freedom its fit leaves. The rows, centred,
    vary along ``n_rows - 1`` directions, and each direction fitted to them
    takes up one of those: the rows' own share understates the rest by
    that much, and where no degree is left (as many directions as the rows
    vary along) they say nothing of it: 1."""
    free = n_rows - 1 - n_components
    return 1.0 if free <= 0 else min(1.0, share * (n_rows - 1) / free)


def rest_basis(components):
    """Orthonormal columns that span what ``components`` (orthonormal rows)
    leave out of the inputs, where that has no more dimensions than the
    projection has columns: the rest itself, every distance kept, in no more
    columns than it needs (the anchor is then as wide as the inputs);
    ``None`` where the projection is narrower. The complement in a
    Householder QR factorisation of ``components``' transpose, of at most
    ``RESIDUAL_WIDTH`` more features than components."""
    n_kept, n_features = components.shape
    if n_features - n_kept > residual_width(n_features):
        return None
    return linalg.qr(components.T, mode="full")[0][:, n_kept:]


def residual_map(components, mean, n_rows, kept_variance, total):
    """The rest (``rest_basis``), or its projection, as an affine map,
    ``(weight, bias)``, and the share of the variance in the ``components``
    kept; ``None`` where they are kept alone (``_holds_enough``).

    ``components`` are orthonormal rows, centred on ``mean``, and hold
    ``kept_variance`` of the variance of ``n_rows`` rows about it. The
    weight takes a row onto what they leave out (in ``rest_basis``, or
    projected) and divides by the root of ``total``: the map's expected
    spread on the training rows is the root of the share they leave."""
    if _holds_enough(components, n_rows, kept_variance, total):
        return None
    basis = rest_basis(components)
    if basis is not None:
        weight = basis.T / np.sqrt(total)
        return weight, -weight @ mean, kept_variance / total
    weight = residual_projection(components.shape[1])
    along = weight @ components.T
    # in place, a block of columns at a time: the weight is as large as the
    # projection, which may be hundreds of MiB
    for block in column_blocks(*weight.shape):
        weight[:, block] -= along @ components[:, block]
    weight /= np.sqrt(total)
    return weight, -weight @ mean, kept_variance / total


def residual_embedding(rows, projected, components, mean, n_rows, kept_variance, total):
    """What ``residual_map``'s map, with the same arguments, gives ``rows``
    (float64), and the share of the variance kept; ``None`` where it gives
    ``None``. ``projected`` are the rows less ``mean`` on the
    ``components``, at hand: the map's weight, as wide as the inputs, is
    never formed (but the rest's basis, of at most ``RESIDUAL_WIDTH`` more
    inputs than components), and the rows are read once."""
    if _holds_enough(components, n_rows, kept_variance, total):
        return None
    basis = rest_basis(components)
    if basis is not None:
        rest = np.asarray(rows @ basis) - mean @ basis
        return rest / np.sqrt(total), kept_variance / total
    projection = residual_projection(components.shape[1])
    along = projection @ components.T
    rest = np.asarray(rows @ projection.T) - projection @ mean
    rest -= projected @ along.T
    rest /= np.sqrt(total)
    return rest, kept_variance / total


def kept_and_total_variance(X, mean, variances):
    """The variance of the rows of ``X`` (float64) that principal directions
    of ``variances`` (of one degree of freedom less, as scikit-learn's PCA
    gives them) hold about ``mean``, and their total variance about it."""
    n_rows = X.shape[0]
    kept = float(np.sum(variances)) * max(n_rows - 1, 1) / n_rows
    return kept, total_variance(X, mean)


def rows_residual_map(X, components, mean, variances):
    """``residual_map`` of the rows of ``X`` (float64) and their principal
    ``components`` about ``mean``, of ``variances`` (as
    ``kept_and_total_variance`` reads them); ``None`` without a pass over
    ``X`` where the components are as many as the features."""
    if len(components) >= X.shape[1]:
        return None
    kept, total = kept_and_total_variance(X, mean, variances)
    return residual_map(components, mean, X.shape[0], kept, total)


def rows_residual_embedding(X, rows, projected, components, mean, variances):
    """``residual_embedding`` of ``rows`` by the map that
    ``rows_residual_map`` fits on ``X`` (both float64), ``projected`` the
    rows on its ``components`` as there."""
    if len(components) >= X.shape[1]:
        return None
    kept, total = kept_and_total_variance(X, mean, variances)
    return residual_embedding(
        rows, projected, components, mean, X.shape[0], kept, total
    )


def with_residual(maps, residual):
    """Each ``(weight, bias)`` of ``maps`` (a map at unit spread) scaled to
    the root of the share it holds, with the ``residual`` map's rows below."""
    weight, bias, share = residual
    scale = np.sqrt(share)
    for anchor_weight, anchor_bias in maps:
        # formed in place: the weights are as wide as the inputs
        stacked = np.empty((len(anchor_weight) + len(weight), weight.shape[1]))
        np.multiply(anchor_weight, scale, out=stacked[: len(anchor_weight)])
        stacked[len(anchor_weight) :] = weight
        yield stacked, np.concatenate([scale * anchor_bias, bias])


def with_residual_embedding(embeddings, residual_embedding, share):
    """Each embedding of ``embeddings`` (at unit spread) scaled to the root
    of ``share``, with ``residual_embedding``'s columns beside it."""
    for embedding in embeddings:
        yield np.hstack([np.sqrt(share) * embedding, residual_embedding])
