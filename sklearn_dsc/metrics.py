"""Clustering and retrieval metrics of an embedding, for classes seen or unseen.

These are the metrics of the zero-shot protocol of Law et al. (2017): embed
samples of classes never seen in training, then measure how well k-means
recovers the classes (NMI, AMI) and how often a sample's nearest neighbours
share its class (Recall@K).
"""

import warnings
from numbers import Integral

import numpy as np
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import (
    adjusted_mutual_info_score,
    normalized_mutual_info_score,
    pairwise_distances_chunked,
)
from sklearn.utils import check_array

from ._compat import Interval, StrOptions, validate_params
from ._validation import check_labels, host_values
from ._warnings import warn
from ._wording import unequal_lengths

__all__ = [
    "kmeans_ami",
    "kmeans_nmi",
    "make_kmeans_nmi_scorer",
    "make_recall_at_k_scorer",
    "recall_at_k",
]


def _check_embeddings_and_labels(embeddings, labels, accept_sparse=False):
    embeddings = check_array(
        host_values(embeddings),
        accept_sparse="csr" if accept_sparse else False,
        dtype=[np.float64, np.float32],
        input_name="embeddings",
    )
    labels = np.asarray(host_values(labels))
    check_labels(labels, "labels")
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-D, got an array of shape {labels.shape}.")
    if len(labels) != embeddings.shape[0]:
        raise ValueError(
            unequal_lengths("embeddings", embeddings.shape[0], "labels", len(labels))
        )
    return embeddings, labels


def _kmeans_clusters(embeddings, labels, random_state, n_init, copy_x=True, warns=True):
    embeddings, labels = _check_embeddings_and_labels(
        embeddings, labels, accept_sparse=True
    )
    n_clusters = len(np.unique(labels))
    if warns:
        _warn_if_meaningless(n_clusters, len(labels))
    kmeans = KMeans(
        n_clusters=n_clusters, n_init=n_init, random_state=random_state, copy_x=copy_x
    )
    return labels, kmeans.fit_predict(embeddings)


def _warn_if_meaningless(n_clusters, n_samples):
    """Warn where k-means with a cluster a class matches the labels whatever
    the embedding: one class, or one row a class."""
    if n_clusters == 1:
        warn(
            "The labels hold a single class: k-means with one cluster matches it "
            "whatever the embedding, so the score is 1 and means nothing. Score "
            "on samples of two classes or more.",
            UserWarning,
        )
    elif n_clusters == n_samples:
        warn(
            "Every class holds a single row: k-means with a cluster a row matches "
            "them whatever the embedding, so the score is 1 and means nothing. "
            "Score on classes of two rows or more.",
            UserWarning,
        )


def _kmeans_nmi(embeddings, labels, random_state, n_init, **options):
    """The NMI of ``_kmeans_clusters`` (which takes ``options``) and ``labels``."""
    labels, clusters = _kmeans_clusters(
        embeddings, labels, random_state, n_init, **options
    )
    return float(normalized_mutual_info_score(labels, clusters))


def kmeans_nmi_in_place(embeddings, labels, random_state, n_init=10):
    """``kmeans_nmi`` without k-means' centred copy of ``embeddings``.

    k-means centres the array in place and puts it back (up to rounding):
    only for writeable arrays that no one else holds, such as a fresh
    embedding. Used by the estimator's ``score``; not exported.
    """
    return _kmeans_nmi(embeddings, labels, random_state, n_init, copy_x=False)


def held_out_kmeans_nmi(points, labels, random_state, n_init):
    """``kmeans_nmi`` of the rows that a fit holds out, which warns no one: a
    fit says itself where classes have a single row, and k-means' warning of
    fewer distinct points than clusters (a network, or inputs, that map rows
    of several classes to one point) would come again at every set and
    epoch that a fit scores; that NMI is as low as the points are few. Not
    exported."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", "Number of distinct clusters", ConvergenceWarning
        )
        return _kmeans_nmi(points, labels, random_state, n_init, warns=False)


# The constraints of kmeans_nmi's and kmeans_ami's parameters
_KMEANS_SCORE_CONSTRAINTS = {
    "embeddings": ["array-like", "sparse matrix"],
    "labels": ["array-like"],
    "random_state": ["random_state"],
    "n_init": [Interval(Integral, 1, None, closed="left")],
}


@validate_params(_KMEANS_SCORE_CONSTRAINTS, prefer_skip_nested_validation=True)
def kmeans_nmi(embeddings, labels, *, random_state=None, n_init=10):
    """Normalized mutual information between k-means clusters and ``labels``.

    k-means runs with as many clusters as there are distinct labels; this is
    the clustering metric of Law et al. (2017).

    Parameters
    ----------
    embeddings : {array-like, sparse matrix} of shape (n_samples, n_features)
        The points to cluster: an embedding, or the inputs themselves to
        compare with. A torch tensor is read detached, from any device.
    labels : array-like or torch.Tensor of shape (n_samples,)
        Ground-truth classes, of any hashable type.
    random_state : int, RandomState instance or None, default=None
        Seeds k-means.
    n_init : int, default=10
        Number of k-means restarts; the one with the lowest inertia is kept.

    Returns
    -------
    nmi : float
        In [0, 1]; 1 when the clusters are exactly the classes.

    See Also
    --------
    kmeans_ami : The same with adjusted mutual information.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_dsc.metrics import kmeans_nmi
    >>> embeddings = np.array([[0.0], [0.1], [5.0], [5.1]])
    >>> kmeans_nmi(embeddings, ["a", "a", "b", "b"], random_state=0)
    1.0
    """
    return _kmeans_nmi(embeddings, labels, random_state, n_init)


@validate_params(_KMEANS_SCORE_CONSTRAINTS, prefer_skip_nested_validation=True)
def kmeans_ami(embeddings, labels, *, random_state=None, n_init=10):
    """Adjusted mutual information between k-means clusters and ``labels``.

    Like :func:`kmeans_nmi` but corrected for chance: about 0 for random
    clusters whatever the number of classes.

    Parameters
    ----------
    embeddings : {array-like, sparse matrix} of shape (n_samples, n_features)
        The points to cluster: an embedding, or the inputs themselves to
        compare with. A torch tensor is read detached, from any device.
    labels : array-like or torch.Tensor of shape (n_samples,)
        Ground-truth classes, of any hashable type.
    random_state : int, RandomState instance or None, default=None
        Seeds k-means.
    n_init : int, default=10
        Number of k-means restarts.

    Returns
    -------
    ami : float
        At most 1; 1 when the clusters are exactly the classes.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_dsc.metrics import kmeans_ami
    >>> embeddings = np.array([[0.0], [0.1], [5.0], [5.1]])
    >>> kmeans_ami(embeddings, [0, 0, 1, 1], random_state=0)
    1.0
    """
    labels, clusters = _kmeans_clusters(embeddings, labels, random_state, n_init)
    return float(adjusted_mutual_info_score(labels, clusters))


@validate_params(
    {
        "embeddings": ["array-like"],
        "labels": ["array-like"],
        "k": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "metric": [StrOptions({"euclidean", "cosine"})],
    },
    prefer_skip_nested_validation=True,
)
def recall_at_k(embeddings, labels, k=(1, 2, 4, 8), *, metric="euclidean"):
    """Recall@K of nearest-neighbour retrieval, each sample querying the others.

    A query scores a hit at K when one of its K nearest neighbours (itself
    excluded) has its class. Distances are computed in blocks of rows, so
    memory grows as ``block x n_samples``, never ``n_samples^2``.

    Parameters
    ----------
    embeddings : array-like or torch.Tensor of shape (n_samples, n_features)
        The points to search (a tensor is read detached, from any device).
    labels : array-like or torch.Tensor of shape (n_samples,)
        Classes, of any hashable type.
    k : int or sequence of int, default=(1, 2, 4, 8)
        The values of K.
    metric : {"euclidean", "cosine"}, default="euclidean"
        Distance between points.

    Returns
    -------
    recall : float or dict
        The recall at ``k`` when ``k`` is an int, else a dict ``{K: recall}``.

    Notes
    -----
    Ties are resolved exactly and without randomness: a query's rank is one
    plus the number of samples of other classes strictly closer than its
    nearest sample of the same class, so a sample of another class at the
    same distance does not push it out.

    A query whose class has no other member can never score a hit; such
    queries are left out of the mean. If no query has another member of its
    class, a ``ValueError`` is raised. A value of K larger than the number of
    samples of other classes that any query has scores every query a hit
    whatever the embedding: a ``UserWarning`` says so.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_dsc.metrics import recall_at_k
    >>> embeddings = np.array([[0.0], [1.0], [3.0], [4.5]])
    >>> recall_at_k(embeddings, [0, 1, 0, 1], k=(1, 2))
    {1: 0.0, 2: 0.5}
    """
    embeddings, labels = _check_embeddings_and_labels(embeddings, labels)
    single = np.isscalar(k)
    ks = [k] if single else list(k)
    # a sequence's values, which validate_params does not look into
    if not ks or not all(_is_positive_integer(value) for value in ks):
        raise ValueError(f"k must be positive integers, got {k!r}.")
    _, codes = np.unique(labels, return_inverse=True)
    closer_others = _closer_others(embeddings, codes, metric)
    closer_others = closer_others[closer_others >= 0]
    if not len(closer_others):
        raise ValueError("no class has two or more samples: Recall@K is undefined.")
    _warn_if_sure_hits(ks, codes)
    recalls = {int(value): float(np.mean(closer_others < value)) for value in ks}
    return recalls[int(ks[0])] if single else recalls


def _warn_if_sure_hits(ks, codes):
    """Warn where a value of K scores every query a hit whatever the
    embedding: K above the number of samples of other classes that any
    query (of a class of two samples or more) can have."""
    counts = np.bincount(codes)
    worst_rank = len(codes) - counts[counts >= 2].min() + 1
    sure = sorted({int(value) for value in ks if value >= worst_rank})
    if not sure:
        return
    names = ", ".join(f"Recall@{value}" for value in sure)
    if worst_rank == 1:  # no sample of another class at all
        why = (
            "the labels hold a single class, so every neighbour of a query is "
            "of its own class"
        )
        advice = "Score on samples of two classes or more."
    else:
        why = (
            f"no query has more than {worst_rank - 1} samples of other classes, "
            f"so its {sure[0]} nearest neighbours always hold one of its own class"
        )
        advice = f"Use K below {worst_rank}, or more samples."
    warn(
        f"{names} {'is' if len(sure) == 1 else 'are'} 1 whatever the embedding: "
        f"{why}, and the score means nothing. {advice}",
        UserWarning,
    )


def _is_positive_integer(value):
    """Whether ``value`` is a whole number of at least 1 (``3.0`` is; ``"3"``
    and ``True`` are not)."""
    if isinstance(value, str | bytes | bool | np.bool_):
        return False
    try:
        return int(value) == value and value >= 1
    except (TypeError, ValueError, OverflowError):  # None, "a", nan, inf
        return False


def _closer_others(embeddings, codes, metric="euclidean"):
    """For each query, the number of samples of other classes strictly closer
    than its nearest sample of the same class (its rank less one); -1 for a
    query whose class has no other member. ``codes`` are integers."""

    def reduce(distances, start):
        rows = np.arange(start, start + distances.shape[0])
        same = codes[rows, None] == codes[None, :]
        same[np.arange(len(rows)), rows] = False  # a query is not its own neighbour
        nearest_same = np.where(same, distances, np.inf).min(axis=1)
        other = codes[rows, None] != codes[None, :]
        closer_others = (other & (distances < nearest_same[:, None])).sum(axis=1)
        return np.where(np.isfinite(nearest_same), closer_others, -1)

    chunks = pairwise_distances_chunked(embeddings, reduce_func=reduce, metric=metric)
    return np.concatenate(list(chunks))


def nearest_neighbour_hits(embeddings, codes):
    """Whether each query's nearest other sample (Euclidean) has its class:
    the hits whose mean is Recall@1, ``False`` for a query alone in its class.
    Not exported: the estimator's held-out classes use it."""
    return _closer_others(embeddings, np.asarray(codes)) == 0


class _EmbeddingScorer:
    """Scores ``estimator.transform(X)`` against ``y`` with ``metric``."""

    def __init__(self, score_func, **kwargs):
        self.score_func = score_func
        self.kwargs = kwargs

    def __call__(self, estimator, X, y):
        if not hasattr(estimator, "transform"):
            raise TypeError(
                f"{self!r} scores an embedding, estimator.transform(X), and "
                f"{type(estimator).__name__} has no transform: give it a "
                "transformer, or a pipeline that ends in one."
            )
        return self.score_func(estimator.transform(X), y, **self.kwargs)

    def __repr__(self):
        arguments = ", ".join(f"{key}={value!r}" for key, value in self.kwargs.items())
        return f"<scorer {self.score_func.__name__}({arguments})>"


@validate_params(
    {
        "random_state": ["random_state"],
        "n_init": [Interval(Integral, 1, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def make_kmeans_nmi_scorer(*, random_state=0, n_init=10):
    """A scorer of the k-means NMI of an embedding, for ``scoring=``.

    Usable with ``GridSearchCV``, ``cross_validate`` and friends for any
    estimator with ``transform``: a ``DeepSpectralClusteringEmbedder``, or a
    ``Pipeline`` ending in a transformer.

    Parameters
    ----------
    random_state : int, RandomState instance or None, default=0
        Seeds k-means; fixed by default so that candidates are compared on
        the same k-means initialisations.
    n_init : int, default=10
        Number of k-means restarts.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y)`` returns ``kmeans_nmi(estimator.transform(X), y)``.

    Examples
    --------
    Folds split by class (``GroupKFold`` with ``groups=y``) score each fit
    on classes it has not seen, two digits a fold here:

    >>> from sklearn.datasets import load_digits
    >>> from sklearn.decomposition import PCA
    >>> from sklearn.model_selection import GroupKFold, cross_val_score
    >>> from sklearn_dsc.metrics import make_kmeans_nmi_scorer
    >>> X, y = load_digits(return_X_y=True)
    >>> scores = cross_val_score(
    ...     PCA(8, random_state=0), X, y, groups=y, cv=GroupKFold(5),
    ...     scoring=make_kmeans_nmi_scorer(),
    ... )
    >>> round(float(scores.mean()), 1)
    0.6
    """
    return _EmbeddingScorer(kmeans_nmi, random_state=random_state, n_init=n_init)


@validate_params(
    {
        "k": [Interval(Integral, 1, None, closed="left")],
        "metric": [StrOptions({"euclidean", "cosine"})],
    },
    prefer_skip_nested_validation=True,
)
def make_recall_at_k_scorer(k=1, *, metric="euclidean"):
    """A scorer of the Recall@K of an embedding, for ``scoring=``.

    Parameters
    ----------
    k : int, default=1
        The K of Recall@K.
    metric : {"euclidean", "cosine"}, default="euclidean"
        Distance between points.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y)`` returns
        ``recall_at_k(estimator.transform(X), y, k=k, metric=metric)``.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.decomposition import PCA
    >>> from sklearn_dsc.metrics import make_recall_at_k_scorer
    >>> X, y = load_iris(return_X_y=True)
    >>> scorer = make_recall_at_k_scorer(4)
    >>> round(scorer(PCA(2).fit(X), X, y), 2)
    0.99
    """
    return _EmbeddingScorer(recall_at_k, k=int(k), metric=metric)
