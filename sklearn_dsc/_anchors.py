"""Fixed linear maps ("anchors") that the embedding starts from.

Each returns a weight and bias ``(W, b)``, the map ``x -> W x + b``, rescaled
so that the training data's embedding has unit root-mean-square distance to
its mean.

- The PCA anchor keeps the geometry of the inputs (at most ``max_width``
  principal directions): ``whitened_anchors`` with shrinkage ``None``.
  Where those directions hold less than 95 % of the variance (counted
  over the degrees of freedom they leave the rows), it and the whitened
  and PLDA anchors below carry the rest of the inputs, or a random
  projection of it, beside them (``_residual``).
- The whitened anchor divides out, within that PCA subspace, the directions
  along which the training classes vary internally: it is the Mahalanobis
  metric of the shrunk within-class covariance ``S_w + shrinkage * s_1 I``,
  where ``s_1`` is the largest variance of the inputs. A large shrinkage
  gives the PCA geometry back; a small one is the full-rank metric of linear
  discriminant analysis. Variation that the training classes share (pose,
  stroke, lighting, topic-independent wording) tends to be shared by new
  classes too, so dividing it out can help to cluster classes never seen in
  training, while every direction of the inputs is kept. With the
  shrinkage ``LEDOIT_WOLF``, ``S_w`` is instead the estimate of
  scikit-learn's LDA with ``shrinkage="auto"`` (``ledoit_wolf_within``, in
  the features' own coordinates, then projected): each feature keeps its
  own within-class variance.
- The PLDA anchor weights the whitened space's directions by how much the
  training classes' means vary along them, as probabilistic LDA (Ioffe,
  ECCV 2006; Prince and Elder, ICCV 2007) weighs two rows' difference: under
  its two-covariance model, rows of one class differ by ``N(0, 2 S_w)`` and
  rows of two classes by ``N(0, 2 (S_w + S_b))``, so the log-likelihood
  ratio of "two classes" to "one class" is, up to a constant, a quarter of
  the squared distance after whitening by ``S_w`` and scaling each
  eigendirection of the whitened ``S_b`` by ``sqrt(lambda / (1 + lambda))``,
  ``lambda`` its eigenvalue. ``S_b`` is the covariance of the training
  classes' means, shrunk towards a multiple of the identity by OAS (Chen et
  al., IEEE TSP 2010: each class is one sample of it). Where the classes
  differ along a few directions and many classes show it, the others, noise
  for new classes too, are damped; with a few classes in many dimensions
  OAS shrinks only part of the way, and directions in which new classes
  differ are damped as well. Where the classes could span every direction
  (one more class than directions) yet their means do not vary along some
  (``NULL_MEANS_RTOL``), ``S_b`` is that of the means' span, shrunk within
  it, and the directions outside it are dropped, as LDA drops them.
- The closed-form anchor is the ridge regression onto the class indicators
  (:func:`closed_form_linear_map` with every class direction), its ridge a
  share of the largest eigenvalue of the centred ``X^T X``
  (``CLOSED_FORM_SHRINKAGE``), in the inputs' own units as the whitened
  anchor's shrinkage is.
"""

import contextlib
import dataclasses
import functools
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from scipy import linalg
from sklearn.covariance import ledoit_wolf, oas
from threadpoolctl import threadpool_info, threadpool_limits

from ._blocks import by_column_blocks, row_blocks
from ._closed_form import (
    class_sums,
    closed_form_from_moments,
    closed_form_linear_map,
    dense,
)
from ._pca import (
    MAX_COVARIANCE_FEATURES,
    principal_directions,
    row_space_eigh,
    signed_eigh,
    top_eigh,
    varying_directions,
)
from ._residual import (
    residual_embedding,
    residual_width,
    rows_residual_embedding,
    rows_residual_map,
    with_residual,
    with_residual_embedding,
)
from ._wording import LEDOIT_WOLF, choice, counted, setting

# The PCA and whitened anchors keep at most this many directions of the inputs.
MAX_ANCHOR_WIDTH = 256
# The closed-form anchor's ridge, a share of the largest eigenvalue of the
# centred X^T X, as the whitened anchor's shrinkage is a share of the largest
# variance: the anchor then does not depend on the inputs' units (with the
# ridge of alpha, 1e-4, the standardised digits' anchor on 6 classes gave
# unseen-class NMI 0.26, and 0.38 divided by 1,000; from about 1e-15 times
# their size the ridge drowned the inputs in rounding). A share of 0.01, the
# floor of SPANNED_SHRINKAGES (_selection), put the anchor alone above the
# ridge of 1e-4 on five of the zero-shot benchmark's six datasets and 0.001
# below it on the sixth (seed 0: glyphs 0.273 -> 0.636, fonts 0.417 ->
# 0.483, Fashion-MNIST 0.071 -> 0.241, digits 0.227 -> 0.303, the dictionary
# 0.521 -> 0.552, LetterRecognition 0.526 -> 0.525); 0.1 lost 0.041 on
# LetterRecognition. The user guide has the defaults' figures.
CLOSED_FORM_SHRINKAGE = 0.01
# ClassMoments keeps the Gram matrix of the rows kept and the factorisation
# of their scatter, for each set of held-out classes, while they fit in this
# many bytes: the anchors are compared on the same sets twice (ranked, then
# by k-means), unless they would not all fit (``ClassMoments.keeps``).
FACTORISATION_BYTES = 2**28
# Where the inputs have at least this many times as many features as the
# anchors keep principal directions, and the rows kept outnumber them,
# ClassMoments finds only the largest eigenpairs of the kept rows' scatter
# (``top_eigh``), and the closed form solves its ridge by a Cholesky
# factorisation. On one BLAS thread, keeping 256 directions, the two take
# 0.85x the time of the full eigendecomposition at 1,536 features, 0.72x at
# 2,048 and 0.64x at 3,072; 1.10x at 1,024.
TOP_EIGENPAIRS_RATIO = 6
# Where the rows a set keeps are at least the features and these at least
# this many, ClassMoments factorises the set (its Gram matrix and the
# eigendecomposition of its scatter) on the BLAS threads that it was built
# with, though a fit chooses the anchor on one thread
# (``_fitting._fit_on_held_out_classes``). Those factorisations are the
# largest products of the choice: at 2,048 features the top eigenpairs take
# 0.86 s on one thread, 0.54 s on two, and half of the choosing. On 2 cores
# a default fit of 3,000 rows in 2,048 features took 0.83x to 0.87x the
# time (benchmarks/bench_fit_time.py --datasets more-rows-wide, 3 seeds),
# 0.93x in 1,600 features; with fewer rows kept than features, the sets'
# factorisations are small and OpenBLAS's threads, spinning after each
# call, took more than they gave (1.2x on few-rows-wide), hence one thread.
THREADED_FACTORISATION_FEATURES = 1536
# A direction along which the training classes' means do not vary, where
# they outnumber the directions by one or more, so could have varied along
# every one: the PLDA anchor drops it (``_plda_weighted``). Not varying
# means a singular value of the centred means (whitened) at most this share
# of the largest. Rounding leaves 1e-18 to 1e-16: balanced panels whose
# rows share a feature from unit to unit, such as a price index (US states'
# cigarettes, Australian states' accommodation), and planes of makers whose
# every plane has two engines. The smallest share of a direction the means
# do vary along was 1e-3 (planes by maker), and 2e-8 for a sum that a panel
# records beside its parts (US states' economy). Without the drop OAS gives
# such a direction the weight of its isotropic part. On those four datasets
# (benchmarks/tabular_spanned.py, 10 seeds), against the best of raw
# features, PCA, LDA, LDA with shrinkage and our closed form, the PLDA
# anchors at 0.01 down to 1e-6 were 0.007 to 0.122 below it without the
# drop, and from 0.055 below to 0.008 above it with the drop; none moved
# down (planes at 1e-6: from 0.122 to 0.032 below).
NULL_MEANS_RTOL = 1e-10
# The shrinkage that estimates the within-class covariance as scikit-learn's
# LDA with shrinkage="auto" does (``ledoit_wolf_within``), rather than adding
# a share of the largest variance: the whitened and PLDA anchors take it as
# they take a number. It keeps each feature's own within-class variance
# and shrinks the correlations, so a feature that varies little within
# classes (a panel's slow series) keeps its weight at any scale of the
# others. Its whitening adds LEDOIT_WOLF_FLOOR of the largest variance,
# above rounding, so that a feature constant within every class (its
# variance zero) stays finite.
# (LEDOIT_WOLF, the word, is in ``_wording``, so that the command line names
# it without importing this module.)
LEDOIT_WOLF_FLOOR = 1e-12


def _unit_spread(X, weight, bias):
    """``(weight, bias)`` scaled so that ``X @ weight.T`` has unit spread."""
    spread = np.sqrt(np.sum(np.var(np.asarray(X @ weight.T), axis=0)))
    return _divided(weight, bias, spread)


def _divided(weight, bias, spread):
    """``(weight, bias) / spread``, in place (both are fresh arrays)."""
    if spread > 0:
        weight /= spread
        bias /= spread
    return weight, bias


def _any_numeric(shrinkages):
    """Whether any of ``shrinkages`` is a number (not ``None`` or
    ``LEDOIT_WOLF``): those share one within-class covariance."""
    return any(s is not None and s != LEDOIT_WOLF for s in shrinkages)


def _whitening(
    within,
    largest,
    shrinkages,
    width,
    class_means=None,
    plda=None,
    ledoit_wolf_within=None,
):
    """The ``width x width`` transform of each shrinkage that whitens
    ``within + shrinkage * largest * I`` (the identity for ``None``, or where
    ``largest`` is 0; for ``LEDOIT_WOLF``, ``ledoit_wolf_within +
    LEDOIT_WOLF_FLOOR * largest * I``), weighted as the PLDA anchor is by the
    training classes' means ``class_means`` (in the same coordinates) where
    the flag of ``plda`` (one per shrinkage; none when not given) says so.

    One factorisation serves every numeric shrinkage (a shrinkage only
    shifts the eigenvalues), and one more ``LEDOIT_WOLF``.
    """
    if largest > 0 and _any_numeric(shrinkages):
        values, vectors = signed_eigh(within)
    if largest > 0 and LEDOIT_WOLF in shrinkages:
        lw_values, lw_vectors = signed_eigh(ledoit_wolf_within)
        lw_values = np.maximum(lw_values, 0) + LEDOIT_WOLF_FLOOR * largest
    for shrinkage, weighted in zip(
        shrinkages, plda or [False] * len(shrinkages), strict=True
    ):
        if shrinkage is None or largest <= 0:
            yield np.eye(width)
            continue
        if shrinkage == LEDOIT_WOLF:
            whitening = (lw_vectors / np.sqrt(lw_values)).T
        else:
            whitening = (vectors / np.sqrt(values + shrinkage * largest)).T
        yield _plda_weighted(whitening, class_means) if weighted else whitening


def spans_the_inputs(n_classes, n_features):
    """Whether ``n_classes`` class means can span ``n_features`` directions."""
    return n_classes - 1 >= n_features


def _plda_weighted(transform, class_means):
    """``transform`` (a whitening, ``width x width``) followed by the PLDA
    anchor's weights (module docstring), from the training classes' means
    in the coordinates it maps; ``transform`` itself where fewer than two
    classes, or their means, tell a between-class covariance.

    The shrunk covariance is ``(1 - rho) S + rho mu I``: its eigenvectors are
    those of the means' scatter ``S`` (an SVD of the ``k`` centred means),
    and every direction outside their span has the eigenvalue ``rho mu``, so
    the weights are applied as ``sum_i (f(l_i) - f(rho mu)) u_i u_i' +
    f(rho mu) I`` without factorising a ``width x width`` matrix whose
    eigenvalues are nearly all equal. Where more than ``width`` means leave
    some directions unvaried (``NULL_MEANS_RTOL``), the covariance is fitted
    within their span, and the map is ``sum_i f(l_i) u_i u_i'`` over it.
    """
    whitened = class_means @ transform.T
    if len(whitened) < 2:
        return transform
    centred = whitened - whitened.mean(axis=0)
    _, singular, directions = linalg.svd(centred, full_matrices=False)
    variances = singular**2 / len(whitened)
    if variances.sum() <= 0:
        return transform
    if spans_the_inputs(*whitened.shape):
        varied = singular > NULL_MEANS_RTOL * singular[0]
        if not varied.all():
            span = directions[varied]
            weights, _ = _shrunk_weights(centred @ span.T, variances[varied])
            return (span.T * weights) @ span @ transform
    weights, outside = _shrunk_weights(whitened, variances)
    scaling = directions.T @ ((weights - outside)[:, None] * directions)
    scaling[np.diag_indices_from(scaling)] += outside
    return scaling @ transform


def _shrunk_weights(means, variances):
    """The PLDA weights ``sqrt(lambda / (1 + lambda))`` of the directions of
    ``variances`` (the class means' variances along them) and of those
    outside them, ``lambda`` the eigenvalues of the OAS covariance of
    ``means`` (a row a class, in coordinates of which those directions are
    the principal ones)."""
    _, shrinkage = oas(means)
    isotropic = shrinkage * variances.sum() / means.shape[1]
    values = (1 - shrinkage) * variances + isotropic

    def weight(value):
        return np.sqrt(value / (1 + value))

    return weight(values), weight(isotropic)


def whitened_anchors(X, codes, shrinkages, max_width, seed, directions=None, plda=None):
    """The whitened anchor for each value of ``shrinkages``, one at a time
    (a generator: each map is ``max_width x n_features``); the PLDA anchor
    where the flag of ``plda`` (a list, one per shrinkage) is set.

    One PCA of ``X`` (at most ``max_width`` directions) and one within-class
    covariance serve them all (``whitened_transforms``). A shrinkage is
    relative to the largest variance of the inputs; ``None`` gives the PCA
    anchor, as do all of them where the inputs do not vary.
    """
    X = X.astype(np.float64, copy=False)  # float32 squares overflow from ~1e19
    directions = directions or principal_directions(X, max_width, seed)
    components, mean, _ = directions
    transforms = whitened_transforms(X, codes, shrinkages, directions, plda)
    for transform, spread in transforms:
        weight = transform @ components
        yield _divided(weight, -weight @ mean, spread)


def whitened_transforms(X, codes, shrinkages, directions, plda=None):
    """``(transform, spread)`` of the whitened (or PLDA) anchor at each of
    ``shrinkages``, one at a time: the anchor is ``transform @ components``
    (a square ``transform``) on the principal ``directions`` ``(components,
    mean, variances)`` of ``X`` (float64), divided by ``spread``, the root
    of its embedding's total variance on ``X``."""
    components, mean, variances = directions
    largest = float(variances[0]) if len(variances) else 0.0
    # Every anchor embeds X as ``projected @ transform.T``: its spread comes
    # from the covariance of the projection, with no pass over X per anchor.
    projected = np.asarray(X @ components.T) - components @ mean
    projected -= projected.mean(axis=0)
    covariance = projected.T @ projected / len(projected)
    within = class_means = lw_within = None
    if largest > 0 and any(shrinkage is not None for shrinkage in shrinkages):
        _, codes = np.unique(codes, return_inverse=True)
        counts = np.bincount(codes).astype(np.float64)
        class_means = class_sums(projected, codes, len(counts)) / counts[:, None]
        if _any_numeric(shrinkages):
            residuals = projected - class_means[codes]
            within = residuals.T @ residuals / len(projected)
        if LEDOIT_WOLF in shrinkages:
            lw_within = components @ ledoit_wolf_within(X, codes) @ components.T
    for transform in _whitening(
        within, largest, shrinkages, len(components), class_means, plda, lw_within
    ):
        spread = np.sqrt(max(np.sum((transform @ covariance) * transform), 0.0))
        yield transform, spread


def check_ledoit_wolf_width(n_features):
    """Raise ``ValueError`` where ``LEDOIT_WOLF`` cannot serve inputs of
    ``n_features``: more than ``MAX_COVARIANCE_FEATURES``."""
    if n_features > MAX_COVARIANCE_FEATURES:
        raise ValueError(
            f"{setting('shrinkage', LEDOIT_WOLF)} estimates the within-class "
            f"covariance of the inputs' own {n_features} features, and takes at "
            f"most {MAX_COVARIANCE_FEATURES}; give a number or {choice('auto')} "
            "instead."
        )


def ledoit_wolf_within(X, codes):
    """The within-class covariance of ``X`` (``n_features`` square) as
    scikit-learn's ``LinearDiscriminantAnalysis(solver="eigen",
    shrinkage="auto")`` estimates it (its ``covariance_``): each class's
    covariance shrunk by Ledoit-Wolf towards its diagonal, on the class's
    rows standardised, weighted by the class's share of the rows. Classes
    of one row add nothing (their covariance is zero), nor do features
    constant within a class to that class's covariance.

    Raises ``ValueError`` for inputs of more than
    ``MAX_COVARIANCE_FEATURES`` features.
    """
    n_rows, n_features = X.shape
    check_ledoit_wolf_width(n_features)
    within = np.zeros((n_features, n_features))
    for label in np.unique(codes):
        rows = X[codes == label]
        if rows.shape[0] < 2:
            continue
        rows = rows.toarray() if sp.issparse(rows) else rows
        centred = rows - rows.mean(axis=0)
        scale = np.sqrt(np.mean(centred**2, axis=0))
        # A feature constant within the class (up to rounding, relative to
        # its size) adds no variance: scikit-learn leaves it unscaled, so
        # that the shrinkage target gives it a variance in the inputs' own
        # units; here its row and column are zero, in any units.
        constant = scale <= 10 * np.finfo(np.float64).eps * np.max(np.abs(rows), axis=0)
        shrunk, _ = ledoit_wolf(centred / np.where(constant, 1.0, scale))
        scale[constant] = 0.0
        within += rows.shape[0] / n_rows * (scale[:, None] * shrunk * scale)
    return within


def closed_form_anchor(X, codes, directions=None):
    """Every class direction of the closed-form linear map, its ridge
    ``CLOSED_FORM_SHRINKAGE`` of the largest eigenvalue of the centred
    ``X^T X``, within ``directions`` (orthonormal rows) when given."""
    X = X.astype(np.float64, copy=False)
    _, codes = np.unique(codes, return_inverse=True)
    n_classes = codes.max() + 1
    weight, bias, _ = closed_form_linear_map(
        X,
        codes,
        n_classes,
        n_components=n_classes,
        directions=directions,
        shrinkage=CLOSED_FORM_SHRINKAGE,
    )
    return _unit_spread(X, weight, bias)


def _shrinkages_and_plda(candidates):
    """The shrinkage of each ``(init, shrinkage)`` of ``candidates``, and
    whether it is the PLDA anchor."""
    return [shrinkage for _, shrinkage in candidates], [
        init == "plda" for init, _ in candidates
    ]


def _input_directions(X, codes, candidates, seed, max_width, directions):
    """The maths of the anchors that keep every principal direction of the
    inputs: ``whitened_anchors``, one PCA for all of them, and the
    projection of the rest where those directions hold too little of the
    variance (``_residual``)."""
    shrinkages, plda = _shrinkages_and_plda(candidates)
    directions = directions or principal_directions(X, max_width, seed)
    maps = whitened_anchors(X, codes, shrinkages, max_width, seed, directions, plda)
    residual = rows_residual_map(X, *directions)
    return maps if residual is None else with_residual(maps, residual)


def _input_directions_embedded(X, codes, candidates, seed, max_width, directions, rows):
    """``rows`` (float64) embedded by ``_input_directions``' anchors fitted
    on ``X``, without forming their weights: the rows are projected once on
    the principal directions and the projection of the rest, and each
    anchor is a square transform of the first."""
    shrinkages, plda = _shrinkages_and_plda(candidates)
    directions = directions or principal_directions(X, max_width, seed)
    components, mean, _ = directions
    projected = dense(rows @ components.T) - components @ mean
    transforms = whitened_transforms(X, codes, shrinkages, directions, plda)
    embeddings = (
        _at_unit_spread(projected @ transform.T, spread**2)
        for transform, spread in transforms
    )
    residual = rows_residual_embedding(X, rows, projected, *directions)
    if residual is None:
        return embeddings
    return with_residual_embedding(embeddings, *residual)


def _class_directions(X, codes, candidates, seed, max_width, directions):
    """The maths of the closed-form anchor (once per candidate), within the
    principal ``directions`` of inputs too wide for a covariance."""
    components = None if directions is None else directions[0]
    for _ in candidates:
        yield closed_form_anchor(X, codes, components)


def _embedded_by_weights(
    maths, X, codes, candidates, seed, max_width, directions, rows
):
    """``rows`` embedded by the maps that ``maths`` (an ``Anchor.maths``)
    fits on ``X``, their weights formed: ``Anchor.maths_embedded`` where an
    anchor has none of its own."""
    for weight, bias in maths(X, codes, candidates, seed, max_width, directions):
        yield dense(rows @ weight.T) + bias


def fitted_on_rows(candidates):
    """Whether any ``(init, shrinkage)`` of ``candidates`` is fitted on rows
    alone, not from class moments: ``LEDOIT_WOLF`` needs each row."""
    return any(shrinkage == LEDOIT_WOLF for _, shrinkage in candidates)


def _input_directions_from_moments(kept, candidates):
    """``_input_directions`` fitted on the kept rows' moments (``_Kept``):
    the held-out rows' embeddings."""
    if fitted_on_rows(candidates):
        raise ValueError(f"shrinkage={LEDOIT_WOLF!r} is fitted on rows, not moments")
    shrinkages, plda = _shrinkages_and_plda(candidates)
    whitening = kept.components @ kept.within @ kept.components.T / kept.n_rows
    class_means = None
    if any(plda):  # the kept classes' means, centred and projected as the rows are
        class_means = (kept.sums / kept.counts[:, None] - kept.mean) @ kept.components.T
    transforms = _whitening(
        whitening, kept.largest, shrinkages, kept.width, class_means, plda
    )
    embeddings = (
        _at_unit_spread(kept.projected @ T.T, np.sum((T @ kept.covariance) * T))
        for T in transforms
    )
    kept_variance = float(np.trace(kept.covariance))
    residual = residual_embedding(
        kept.embedded,
        kept.projected,
        kept.components,
        kept.mean,
        kept.n_rows,
        kept_variance,
        kept.total,
    )
    if residual is None:
        return embeddings
    return with_residual_embedding(embeddings, *residual)


def _class_directions_from_moments(kept, candidates):
    """``_class_directions`` fitted on the kept rows' moments (``_Kept``):
    the held-out rows' embeddings."""
    values, _ = kept.eigen
    # the ridge solved by a Cholesky factorisation where the
    # eigendecomposition is of the largest eigenvalues alone
    factorised = {"largest": values[-1]} if kept.top_only else {"eigh": kept.eigen}
    for _ in candidates:
        weight, bias, _ = closed_form_from_moments(
            kept.scatter,
            kept.sums,
            kept.counts,
            kept.mean,
            n_components=len(kept.counts),
            shrinkage=CLOSED_FORM_SHRINKAGE,
            **factorised,
        )
        spread = np.sum((weight @ kept.scatter) * weight) / kept.n_rows
        yield _at_unit_spread(dense(kept.embedded @ weight.T) + bias, spread)


def _at_unit_spread(embedding, spread):
    return embedding / np.sqrt(spread) if spread > 0 else embedding


@dataclasses.dataclass(frozen=True)
class Anchor:
    """An anchor of the registry: everything that reads anchors reads this.

    ``keeps_every_direction``: a map of every principal direction of the
    inputs (held-out classes compare these by their mean score, the first
    on a tie), or of the training classes' directions (chosen over them only
    when two paired tests prefer it: ``choose_anchor``). ``shrinks``: it
    takes the ``shrinkage`` that held-out classes can choose. ``maths``
    fits the anchors of a list of ``(init, shrinkage)`` candidates on rows, and
    ``maths_from_moments`` embeds held-out rows by them from the class
    moments of the rows kept; anchors with the same maths share one pass.
    ``compared_by_auto``: ``init="auto"`` compares it with the others
    wherever it compares anchors (the PLDA anchor's place:
    ``_selection.compared_anchors``). ``maths_embedded``, if given, embeds
    other rows by the anchors that ``maths`` fits (``rows=``) without
    forming their weights, which on wide inputs are far larger than the
    rows' embeddings; without it, the weights are formed and applied.
    """

    keeps_every_direction: bool
    shrinks: bool
    maths: Callable
    maths_from_moments: Callable
    compared_by_auto: bool = True
    maths_embedded: Callable | None = None


# The anchors by their names, the values of ``init`` besides "auto" and
# "random"; with init="auto" they are candidates in this order, but for the
# PLDA anchor, which ``_selection.compared_anchors`` adds: alone where the
# training classes span the inputs, beside the others where fewer than 10
# classes are held out (benchmarks/plda_compared.py: houses by
# neighbourhood 0.385 -> 0.419, flights by airline 0.320 -> 0.404,
# LetterRecognition 0.538 -> 0.549, fonts on 20 classes 0.356 -> 0.476,
# digits and the dictionary unchanged).
# With more held out it is left out: a head is trained beside any anchor
# there, and beside the others it gains nothing beyond the seeds' spread
# for its ranking time (benchmarks/plda_compared.py --many-classes, 3
# seeds: glyphs 0.759 -> 0.755, fonts 0.570 -> 0.576, the dictionary the
# same).
ANCHORS = {
    "pca": Anchor(
        keeps_every_direction=True,
        shrinks=False,
        maths=_input_directions,
        maths_embedded=_input_directions_embedded,
        maths_from_moments=_input_directions_from_moments,
    ),
    "whitened": Anchor(
        keeps_every_direction=True,
        shrinks=True,
        maths=_input_directions,
        maths_embedded=_input_directions_embedded,
        maths_from_moments=_input_directions_from_moments,
    ),
    "plda": Anchor(
        keeps_every_direction=True,
        shrinks=True,
        maths=_input_directions,
        maths_embedded=_input_directions_embedded,
        maths_from_moments=_input_directions_from_moments,
        compared_by_auto=False,
    ),
    "closed_form": Anchor(
        keeps_every_direction=False,
        shrinks=False,
        maths=_class_directions,
        maths_from_moments=_class_directions_from_moments,
    ),
}


def residual_columns(init, width, n_features, n_rows=None):
    """How many of the ``width`` columns of an ``init`` anchor over
    ``n_features`` inputs, fitted on ``n_rows`` rows (many, where not
    given), carry the rest (``_residual``); 0 where none do. The PCA,
    whitened and PLDA anchors keep at most ``MAX_ANCHOR_WIDTH`` principal
    directions, and no more than the rows vary along, so more columns mean
    the rest is beside them: itself where the anchor is as wide as the
    inputs (``rest_basis``), else its projection. (Beyond 2**18 features,
    whose projection is narrower than 256 columns, an anchor fitted on too
    few rows to keep 256 directions may carry it unseen here where
    ``n_rows`` is not given.)"""
    if init not in ANCHORS or ANCHORS[init].maths is not _input_directions:
        return 0
    varying = n_features if n_rows is None else varying_directions(n_rows, n_features)
    directions = min(MAX_ANCHOR_WIDTH, varying)
    if width <= directions:
        return 0
    return width - directions if width == n_features else residual_width(n_features)


def residual_text(init, width, n_features, n_rows=None):
    """What ``residual_columns`` finds, as ``verbose`` adds it to the
    anchor's settings: ``""`` where the anchor carries no projection."""
    rest = residual_columns(init, width, n_features, n_rows)
    if not rest:
        return ""
    directions = width - rest
    leave = "leaves" if directions == 1 else "leave"
    what = (
        f"the rest of the inputs ({rest} columns) that its"
        if width == n_features
        else f"a random projection ({rest} columns) of what its"
    )
    return f", beside {what} {counted(directions, 'principal direction')} {leave} out"


def uses_shrinkage(init):
    """Whether ``init`` fits an anchor that shrinks (or, for ``"auto"``,
    may keep one): where a ``shrinkage`` means anything."""
    return init == "auto" or (init in ANCHORS and ANCHORS[init].shrinks)


def compared_by_auto():
    """The names of the anchors that ``init="auto"`` compares, in order,
    where the training classes do not span the inputs (the PLDA anchor
    beside them where fewer than 10 classes are held out:
    ``_selection.compared_anchors``)."""
    return [name for name, anchor in ANCHORS.items() if anchor.compared_by_auto]


def _by_maths(candidates, maths_of):
    """For each distinct maths of ``candidates`` (``(init, shrinkage)``
    pairs), in the order they first appear: the candidates it fits."""
    groups = {}
    for candidate in candidates:
        groups.setdefault(maths_of(ANCHORS[candidate[0]]), []).append(candidate)
    return groups


def anchor_maps(candidates, X, codes, seed, max_width=MAX_ANCHOR_WIDTH):
    """Weight and bias, at unit spread, of each ``(init, shrinkage)`` of
    ``candidates``, one at a time (a generator), by each anchor's maths
    (``ANCHORS``): ``"pca"``, ``"whitened"`` and ``"plda"`` (with their
    shrinkages) share one PCA (``seed``) of at most ``max_width`` directions,
    ``"closed_form"`` is a ridge regression onto the class indicators
    (``closed_form_anchor``); for inputs too wide for a covariance matrix
    (more than ``MAX_COVARIANCE_FEATURES``), every anchor is fitted within
    those principal directions. Where
    the directions hold too little of the variance, the first three carry
    a random projection of the rest below their rows (``_residual``)."""
    return _by_anchor(candidates, X, codes, seed, max_width, lambda a: a.maths)


def anchor_embeddings(candidates, X, codes, seed, rows, max_width=MAX_ANCHOR_WIDTH):
    """``rows`` embedded by each anchor that ``anchor_maps`` fits on ``X``
    (``rows @ weight.T + bias``, up to rounding), one at a time: by the
    anchor's ``maths_embedded`` where it has one (``ANCHORS``)."""
    rows = rows.astype(np.float64, copy=False)

    def embedded(anchor):
        maths = anchor.maths_embedded or functools.partial(
            _embedded_by_weights, anchor.maths
        )
        return functools.partial(maths, rows=rows)

    return _by_anchor(candidates, X, codes, seed, max_width, embedded)


def _by_anchor(candidates, X, codes, seed, max_width, maths_of):
    """What ``maths_of(anchor)`` (a function of ``Anchor.maths``' arguments)
    yields for each candidate, one at a time, fitted on ``X`` (float64)
    once for the candidates whose anchors share their maths; for inputs too
    wide for a covariance matrix, dense or sparse, every anchor within the
    same principal directions."""
    X = X.astype(np.float64, copy=False)
    directions = None
    if X.shape[1] > MAX_COVARIANCE_FEATURES:
        directions = principal_directions(X, max_width, seed)
    fitted = {
        maths: maths_of(ANCHORS[group[0][0]])(
            X, codes, group, seed, max_width, directions
        )
        for maths, group in _by_maths(candidates, lambda a: a.maths).items()
    }
    for init, _ in candidates:
        yield next(fitted[ANCHORS[init].maths])


@dataclasses.dataclass
class _Kept:
    """What every anchor fitted on the rows kept needs of them, from their
    moments: their scatter about their mean and within their classes, its
    eigendecomposition (of its largest eigenvalues alone where
    ``top_only``) and principal directions, their total variance, and the
    held-out rows embedded (centred, and projected on those directions)."""

    counts: np.ndarray
    sums: np.ndarray
    n_rows: float
    mean: np.ndarray
    scatter: np.ndarray
    within: np.ndarray
    eigen: tuple
    top_only: bool
    width: int
    components: np.ndarray
    largest: float
    covariance: np.ndarray
    total: float
    embedded: object
    projected: np.ndarray


def _float64_mean(X):
    """The mean of each column of ``X``, as of its float64 copy."""
    return X.astype(np.float64).mean(axis=0)


def _centred_moments(X, center, classes, n_classes):
    """The class sums and the Gram matrix of the rows of ``X`` less
    ``center``, in float64: a block of rows at a time (``row_blocks``) for a
    dense ``X``, so that no float64 copy of all of it is made; a sparse one
    is copied whole (as many entries as it has)."""
    if sp.issparse(X):
        centred = X.astype(np.float64)
        return class_sums(centred, classes, n_classes), dense(centred.T @ centred)
    sums = gram = None
    for block in row_blocks(*X.shape):
        centred = X[block] - center  # float64, as the center
        block_sums = class_sums(centred, classes[block], n_classes)
        block_gram = centred.T @ centred
        if gram is None:
            sums, gram = block_sums, block_gram
        else:
            sums += block_sums
            gram += block_gram
        del centred  # before the next block is formed
    return sums, gram


class ClassMoments:
    """Per-class row counts and sums, and the Gram matrix, of inputs at most
    ``MAX_COVARIANCE_FEATURES`` wide (dense ones centred on their mean).

    Every anchor fitted on the rows of some classes follows from their PCA,
    their within-class scatter and their class sums, and those follow from
    these moments less the Gram matrix of the rows left out. Comparing the
    anchors on many sets of held-out classes then costs one pass over the
    held-out rows per set, and one factorisation shared by PCA and the
    closed form, instead of a pass over the rows kept for each anchor.
    """

    def __init__(self, X, codes):
        # X is kept as given and its rows are read in float64 when needed
        # (``_centred``)
        self.X = X
        _, self.classes = np.unique(codes, return_inverse=True)
        n_classes = self.classes.max() + 1
        self.counts = np.bincount(self.classes, minlength=n_classes).astype(float)
        if sp.issparse(X):
            self.center = np.zeros(X.shape[1])
        else:
            self.center = by_column_blocks(_float64_mean, X)
        self.sums, self.gram = _centred_moments(X, self.center, self.classes, n_classes)
        self._factorisations = {}  # by the classes held out
        # the BLAS libraries' threads as built (``THREADED_FACTORISATION_FEATURES``)
        self._blas_threads = {
            library["prefix"]: library["num_threads"]
            for library in threadpool_info()
            if library["user_api"] == "blas"
        }

    def _centred(self, rows):
        X = self.X[rows]
        return X.astype(np.float64) if sp.issparse(X) else X - self.center

    @classmethod
    def applies(cls, X):
        """Whether ``X`` is narrow enough for its Gram matrix."""
        return X.shape[1] <= MAX_COVARIANCE_FEATURES

    def keeps(self, n_sets):
        """Whether the factorisations of ``n_sets`` sets of held-out classes
        (each a Gram matrix and an eigendecomposition, at most
        ``n_features x n_features`` each) would all stay kept together, so
        that a second pass over the sets factorises none of them again."""
        n_features = len(self.gram)
        per_set = (2 * n_features + 1) * n_features * self.gram.itemsize
        return n_sets * per_set <= FACTORISATION_BYTES

    def held_out_embeddings(self, held, candidates, max_width, rows=None):
        """The rows ``held`` embedded by each of ``candidates`` (as in
        ``anchor_maps``) fitted on the other rows, with whole classes held out;
        only the held rows of index ``rows``, if given.

        Each embedding equals that of ``anchor_maps`` on the rows kept up to
        rounding, and up to an orthogonal map of its columns within any
        eigenspace of several equal eigenvalues (directions along which the
        rows kept do not vary, say), which distances and k-means do not see.
        """
        embedded = self._centred(held if rows is None else rows)
        held_rows = embedded if rows is None else None  # centred on a miss
        return self._embeddings(held, embedded, candidates, max_width, held_rows)

    def anchor_maps(self, held, candidates, max_width=MAX_ANCHOR_WIDTH):
        """Weight and bias of each of ``candidates`` fitted on the rows not
        ``held`` (a mask of whole classes; ``None`` keeps every row), one at a
        time, as ``anchor_maps`` fits them on those rows, with no pass over
        them: from these moments, less the held rows' Gram matrix.

        An affine map is fixed by where it sends a point and that point plus
        a step along each axis: each anchor embeds the point these moments
        are centred on (the inputs' mean, or the origin for sparse inputs)
        and that point plus each of ``probe_steps``, by
        ``held_out_embeddings``' maths. The maps are ``anchor_maps``' up to
        rounding and, as there, an orthogonal map of their rows within
        eigenspaces of equal eigenvalues, but for the principal directions:
        exact here, where scikit-learn's PCA may take a randomized SVD.
        """
        if held is None:
            held = np.zeros(len(self.classes), dtype=bool)
        steps = self.probe_steps
        points = np.vstack([np.zeros(len(steps)), np.diag(steps)])  # centred
        embeddings = self._embeddings(held, points, candidates, max_width)
        for embedding in embeddings:
            at_center = embedding[0]
            weight = (embedding[1:] - at_center).T / steps
            yield weight, at_center - weight @ self.center

    @property
    def probe_steps(self):
        """The step along each axis by which ``anchor_maps`` reads a map:
        the power of two nearest the feature's root-mean-square centred value
        (1 where it is constant). The center's embedding is of about unit
        size, and a step moves it by about the step over the feature's
        spread: a unit step along a feature of spread 1e16 would move it by
        1e-16, float64's resolution, and the weights read would be rounding.
        Powers of two scale the points and the weights read exactly."""
        mean_squares = np.diag(self.gram) / self.counts.sum()
        steps = np.ones_like(mean_squares)
        varies = mean_squares > 0
        steps[varies] = 2.0 ** np.round(0.5 * np.log2(mean_squares[varies]))
        return steps

    def _kept_moments(self, held_classes, held, n_kept, mean, held_rows, n_top):
        """The Gram matrix of the rows kept when ``held_classes`` are held
        out (``held``: a mask of their rows; ``held_rows``: those rows
        centred, if at hand), and the eigendecomposition of the kept rows'
        scatter about their ``mean``: ``(gram, values, vectors)``, kept for
        the next call with the same classes and ``n_top`` while
        ``FACTORISATION_BYTES`` allow (read-only: the calls share them).

        The held rows are read only when the classes are not already
        factorised; so are the kept rows, where they are fewer than the
        features, whose ``n x n`` Gram matrix then gives the
        eigendecomposition (``row_space_eigh``). Otherwise it is of every
        direction, or, where ``n_top`` is not ``None``, of the ``n_top``
        largest eigenvalues alone (``top_eigh``)."""
        key = (held_classes, n_top)
        if key in self._factorisations:
            return self._factorisations[key]
        with self._blas_threads_for(n_kept):
            kept = self._factorised(held, n_kept, mean, held_rows, n_top)
        for array in kept:
            array.flags.writeable = False
        stored = sum(a.nbytes for entry in self._factorisations.values() for a in entry)
        if stored + sum(a.nbytes for a in kept) <= FACTORISATION_BYTES:
            self._factorisations[key] = kept
        return kept

    def _blas_threads_for(self, n_kept):
        """The BLAS threads this was built with, where ``n_kept`` rows kept
        are at least the features and these at least
        ``THREADED_FACTORISATION_FEATURES``; else as they are."""
        n_features = len(self.gram)
        if not n_kept >= n_features >= THREADED_FACTORISATION_FEATURES:
            return contextlib.nullcontext()
        return threadpool_limits(limits=self._blas_threads)

    def _factorised(self, held, n_kept, mean, held_rows, n_top):
        """``_kept_moments``' ``(gram, values, vectors)``, computed."""
        if held_rows is None:
            held_rows = self._centred(held)
        gram = self.gram - dense(held_rows.T @ held_rows)
        eigen = None
        if n_kept < len(gram):  # fewer rows than features: from the rows' Gram
            eigen = row_space_eigh(dense(self._centred(~held)) - mean)
        if eigen is None or not len(eigen[0]):  # (empty where no kept row varies)
            scatter = gram - n_kept * np.outer(mean, mean)
            if n_top is not None:
                eigen = top_eigh(scatter, n_top)
            else:
                # divide and conquer: a quarter faster than the default
                # driver on 1,024 features, the same decomposition up to
                # rounding (SciPy 1.10 sizes its workspace wrongly for one
                # feature: the default)
                driver = "evd" if len(scatter) > 1 else None
                eigen = signed_eigh(scatter, driver=driver)
        return (gram, *eigen)

    def _embeddings(self, held, embedded, candidates, max_width, held_rows=None):
        """``embedded`` (centred rows) by each of ``candidates`` fitted on the
        rows not ``held`` (``held_rows``: the held rows centred, if at hand)."""
        kept = ~np.isin(np.arange(len(self.counts)), self.classes[held])
        counts, sums = self.counts[kept], self.sums[kept]
        n_kept = counts.sum()
        mean = sums.sum(axis=0) / n_kept
        n_features = len(self.gram)
        # the largest eigenpairs alone, where the features are many
        wide = n_features >= TOP_EIGENPAIRS_RATIO * max_width and n_kept > n_features
        n_top = max_width if wide else None
        # the kept rows' Gram matrix, and one factorisation of their scatter
        # about their mean for every anchor; their scatter within classes
        gram, values, vectors = self._kept_moments(
            tuple(np.flatnonzero(~kept)), held, n_kept, mean, held_rows, n_top
        )
        scatter = gram - n_kept * np.outer(mean, mean)
        # fewer where the factorisation left out directions none varies along
        width = min(max_width, varying_directions(int(n_kept), len(values)))
        components = vectors[:, ::-1][:, :width].T
        variances = np.clip(values[::-1][:width], 0, None)
        shared = _Kept(
            counts=counts,
            sums=sums,
            n_rows=n_kept,
            mean=mean,
            scatter=scatter,
            within=gram - (sums.T / counts) @ sums,
            eigen=(values, vectors),
            top_only=n_top is not None,
            width=width,
            components=components,
            largest=variances[0] / max(n_kept - 1, 1),  # as PCA's explained variance
            covariance=np.diag(variances / n_kept),  # of the projected kept rows
            total=float(np.trace(scatter)) / n_kept,
            embedded=embedded,
            projected=dense(embedded @ components.T) - components @ mean,
        )
        groups = _by_maths(candidates, lambda anchor: anchor.maths_from_moments)
        embeddings = {maths: maths(shared, group) for maths, group in groups.items()}
        for init, _ in candidates:
            yield next(embeddings[ANCHORS[init].maths_from_moments])
