"""How many clusters does an embedding hold? ``estimate_n_clusters``.

Every method reads the rows of one embedding (at most ``max_samples`` of them,
drawn at random) and returns an ``NClustersEstimate``: the number chosen, and
the criterion it was chosen by over the candidate numbers. ``"calibrated"``
and ``"calibrated_loss"`` also read labelled rows of known classes in the
same embedding.
"""

import dataclasses
import textwrap
from numbers import Integral

import numpy as np
import scipy.sparse as sp
from scipy.linalg import eigh
from scipy.sparse.linalg import eigsh
from sklearn.cluster import HDBSCAN, KMeans
from sklearn.metrics import silhouette_score
from sklearn.neighbors import NearestNeighbors
from sklearn.utils import check_array, check_random_state
from sklearn.utils.validation import column_or_1d

from ._closed_form import class_sums
from ._compat import Interval, StrOptions, validate_params
from ._errors import ArgumentError
from ._estimate_methods import METHODS, REFERENCE_METHODS
from ._validation import check_labels, host_values
from ._warnings import warn
from ._wording import choice, counted, parameter, setting, unequal_lengths

CRITERION_NAMES = {
    "calibrated": "K-th eigenvalue of the affinity",  # the band beside it
    "calibrated_loss": "tr(P_F P_Y) less the reference's price of K clusters",
    "eigengap": "eigengap after K eigenvalues",
    "loss": "minus the spectral clustering loss",
    "silhouette": "silhouette of k-means",
    "bic": "BIC of k-means",
    "hdbscan": "share of rows clustered",
}
# k-means based criteria are evaluated on at most this many candidate numbers,
# spread geometrically between the smallest and the largest
MAX_KMEANS_CANDIDATES = 40
# "calibrated_loss" smooths tr(P_F P_Y) over this many candidates on either
# side of each
LOCAL_FIT_HALF_WIDTH = 3
# the local scale of a row in the affinity: the distance to this neighbour
LOCAL_SCALE_NEIGHBOR = 7
# up to this many rows, the eigenvalues come from the dense matrix
DENSE_EIGENVALUES_ROWS = 3000
# the methods that count repeated rows once (copies of a row would make
# clusters of their own): on a graph of the distinct rows, or HDBSCAN's
DISTINCT_ROW_METHODS = ("calibrated", "eigengap", "hdbscan")
# HDBSCAN's smallest cluster, in distinct rows
HDBSCAN_MIN_CLUSTER_SIZE = 5


@dataclasses.dataclass(frozen=True)
class NClustersEstimate:
    """What ``estimate_n_clusters`` found.

    Attributes
    ----------
    n_clusters : int
        The estimated number of clusters.
    method : str
        The criterion that chose it.
    candidates : ndarray of int
        The numbers of clusters compared (for ``"hdbscan"``, the one found).
    criterion : ndarray of float
        The criterion at each candidate; ``n_clusters`` is where it is
        largest (the eigengap, minus the loss, the silhouette, the BIC; the
        share of rows clustered for ``"hdbscan"``). For ``"calibrated"``, the
        K-th largest eigenvalue ``lambda_K`` of the affinity, and
        ``n_clusters`` is the K whose gap ``(lambda_{K+1}, lambda_K)``
        covers the most of ``reference_band``. For ``"calibrated_loss"``,
        ``tr(P_F P_Y) - cluster_price * K``.
    reference_band : tuple of float or None
        For ``"calibrated"``, ``(mu_{c+1}, mu_c)``: where the reference's
        ``c`` classes end in its own eigenvalues; ``None`` for the other
        methods.
    cluster_price : float or None
        For ``"calibrated_loss"``, what a cluster must add to ``tr(P_F P_Y)``
        to be counted, read off the reference; ``None`` for the other
        methods.
    """

    n_clusters: int
    method: str
    candidates: np.ndarray
    criterion: np.ndarray
    reference_band: tuple[float, float] | None = None
    cluster_price: float | None = None

    @property
    def criterion_name(self):
        """What ``criterion`` holds, in words (a plot's axis label)."""
        return CRITERION_NAMES[self.method]

    def plot(self, ax=None):
        """Draw the criterion against the number of clusters: the estimate as a
        dashed line, the reference band of ``"calibrated"`` shaded, with a
        legend.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; ``None`` draws on a new figure.

        Returns
        -------
        matplotlib Axes
        """
        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots(figsize=(6, 3.5))
        ax.plot(self.candidates, self.criterion, marker=".", label=self.method)
        ax.axvline(
            self.n_clusters,
            color="tab:red",
            linestyle="--",
            label=f"estimate, K = {self.n_clusters}",
        )
        if self.reference_band is not None:
            ax.axhspan(
                *self.reference_band,
                color="tab:orange",
                alpha=0.3,
                label="where the reference's classes end",
            )
        ax.legend(fontsize="small")
        ax.set_xlabel("number of clusters K")
        # a long name on lines of its own, not cut at the figure's edges
        ax.set_ylabel("\n".join(textwrap.wrap(self.criterion_name, 30)))
        ax.set_title(f"Estimated K = {self.n_clusters} ({self.method})")
        return ax


# The constraints of estimate_n_clusters's arguments (the command line checks
# its options against them too)
ESTIMATE_CONSTRAINTS = {
    "embedding": ["array-like"],
    "reference": ["array-like", None],
    "reference_labels": ["array-like", None],
    "max_clusters": [Interval(Integral, 2, None, closed="left"), None],
    "min_clusters": [Interval(Integral, 2, None, closed="left")],
    "method": [StrOptions({"auto", *METHODS})],
    "n_neighbors": [Interval(Integral, 1, None, closed="left")],
    "max_samples": [Interval(Integral, 4, None, closed="left")],
    "random_state": ["random_state"],
}


@validate_params(ESTIMATE_CONSTRAINTS, prefer_skip_nested_validation=True)
def estimate_n_clusters(
    embedding,
    *,
    reference=None,
    reference_labels=None,
    max_clusters=None,
    min_clusters=2,
    method="auto",
    n_neighbors=60,
    max_samples=3000,
    random_state=None,
):
    """Estimate how many clusters the rows of an embedding form.

    Parameters
    ----------
    embedding : array-like or torch.Tensor of shape (n_samples, n_components)
        Rows to cluster, typically ``DeepSpectralClusteringEmbedder.transform``
        of new data (a tensor is read detached, from any device).
    reference : array-like or torch.Tensor of shape (n_reference, n_components), \
            default=None
        Rows of known classes in the same embedding (typically ``transform``
        of the training data), read by the calibrated methods: what a
        cluster adds to the loss about their number of classes tells
        ``"calibrated_loss"`` what a new cluster must add to be counted,
        and where their classes end in their own spectrum tells
        ``"calibrated"`` where to look in the new rows'. It
        is drawn to as many rows as the new ones; its classes should be
        about as many, and so about as large, as those expected there:
        where classes overlap, the estimate follows their number.
    reference_labels : array-like or torch.Tensor of shape (n_reference,), \
            default=None
        The classes of ``reference`` (at least two).
    max_clusters : int, default=None
        The largest number considered; ``None`` takes a tenth of the rows
        used (at most ``max_samples // 10``, at least ``min_clusters``).
        Where the rows repeat, it is lowered, with a warning, to what their
        distinct rows allow: as many as there are for the k-means methods,
        half as many for ``"eigengap"`` and ``"calibrated"``, a fifth for
        ``"hdbscan"``, which count repeated rows once (two distinct rows a
        cluster, five for HDBSCAN; an error where that is fewer than
        ``min_clusters``).
    min_clusters : int, default=2
        The smallest number considered, at least 2.
    method : {"auto", "calibrated_loss", "calibrated", "eigengap", "loss", \
            "silhouette", "bic", "hdbscan"}, default="auto"
        ``"auto"``: ``"calibrated"`` when ``reference`` is given, else
        ``"eigengap"``. ``"calibrated_loss"``: the number whose k-means
        partition is closest to the embedding in the spectral clustering
        loss, each cluster priced at what one adds to the reference's.
        ``"calibrated"``: the largest eigengap of the new rows among those
        at the level where the reference's own classes end in its affinity.
        ``"eigengap"``: the largest gap between consecutive eigenvalues of the
        normalised affinity ``D^-1/2 W D^-1/2`` of a k-nearest-neighbour graph
        (the spectral view that the loss trains for). ``"loss"``: the number
        whose k-means partition is closest to the embedding in the spectral
        clustering loss. ``"silhouette"``: the best silhouette of k-means.
        ``"bic"``: the Bayesian information criterion of k-means as a mixture
        of spherical Gaussians (X-means). ``"hdbscan"``: the number of
        clusters HDBSCAN finds.
    n_neighbors : int, default=60
        Neighbours of each row in the affinity of ``"calibrated"`` and
        ``"eigengap"``. Fewer make the affinity follow small groups within
        classes: the reference's classes end less clearly in its spectrum.
    max_samples : int, default=3000
        Rows used, drawn at random when there are more: the cost of every
        method grows with them (the eigengap's with their cube, up to 3,000
        rows; Lanczos iterations above), the estimate hardly does while each
        cluster keeps some 30 rows or more.
    random_state : int, RandomState instance or None, default=None
        Seeds the rows drawn (of ``reference`` too) and k-means.

    Returns
    -------
    NClustersEstimate
        ``n_clusters``, and the ``criterion`` at each of the ``candidates``.

    Notes
    -----
    *Eigengap.* With ``W_ij = exp(-d_ij^2 / (s_i s_j))`` on the symmetrised
    k-nearest-neighbour graph (``s_i`` the distance from row ``i`` to its
    7th neighbour) and ``D`` its degrees, ``D^-1/2 W D^-1/2`` has eigenvalue
    1 once per connected component; ``c`` well separated clusters give ``c``
    eigenvalues near 1 and a gap after them. The estimate is the ``k`` that
    maximises ``lambda_k - lambda_{k+1}``. Repeated rows are counted once.
    Cost: the neighbour search and the ``max_clusters + 1`` smallest
    eigenvalues of the normalised Laplacian ``I - D^-1/2 W D^-1/2``, dense
    up to 3,000 rows, by shift-invert Lanczos above. Where clusters overlap,
    as unseen classes do in most embeddings, the eigenvalues fall smoothly
    and the largest gap is often the first.

    *Calibrated.* The same affinity, built on as many reference rows as new
    ones (drawn at random): a reference sample of ``c`` classes has
    eigenvalues ``mu_1 >= mu_2 >= ...``, and its classes end between
    ``mu_c`` and ``mu_{c+1}``. The estimate is the ``k`` whose gap
    ``(lambda_{k+1}, lambda_k)`` in the new rows' eigenvalues covers the
    most of that band; on the reference itself, that is the gap after its
    ``c`` classes. (Where no gap of the candidates overlaps it: the number
    of eigenvalues above its middle, within ``min_clusters`` and
    ``max_clusters``.) Where classes overlap, the band is narrow and the
    estimate is the number of eigenvalues above it: the level at which the
    embedding's classes separate, read off the reference, not a gap that
    may not show. Where they are far apart, the band is wide and the new
    rows' own gap after the last of them covers the most of it. It assumes
    that new classes are about as separate, and have about as many rows, as
    the reference's: new classes harder to tell apart (as those a trained
    head has not seen may be) are counted low, new classes that hold groups
    of their own high, and larger classes make the same separation look
    clearer, so a reference of fewer classes than the new rows hold (drawn
    to as many rows, hence larger classes) gives a lower estimate, about in
    proportion, and new rows of fewer classes than the reference a higher
    one, about the reference's number where classes overlap.
    Cost: twice the eigengap's, with ``c + 1`` eigenvalues of the reference.

    *HDBSCAN.* scikit-learn's, with clusters of 5 rows or more, on the
    distinct rows; rows it calls noise belong to no cluster. The number it
    finds is clipped to ``min_clusters`` and ``max_clusters``.

    *Loss.* The spectral clustering loss ``1/4 ||P_F - P_Y||_F^2`` of the
    embedding ``F`` and the k-means partition ``Y`` equals
    ``(r + k) / 4 - tr(P_F P_Y) / 2`` (``r`` the rank of ``F``): a new
    cluster lowers it only when its indicator lies more than half inside the
    column space of the embedding. The estimate minimises it.

    *Calibrated loss.* Minimising the loss maximises ``tr(P_F P_Y) - K / 2``:
    a cluster is worth its price, ``1/2``, when it adds that much to
    ``tr(P_F P_Y)``. Unseen classes overlap and lie only partly in the
    column space, and the share of a k-means cluster that does depends on
    the rank of ``F`` against the number of rows; ``"calibrated_loss"``
    reads the price off the reference, drawn to as many rows: the mean of
    the slopes of ``tr(P_F P_Y)`` of its k-means partitions from ``c / 2``
    to ``c`` clusters and from ``c`` to ``2c`` (``c`` its classes), so
    that its own ``c`` is where a further cluster stops paying. The
    estimate maximises ``tr(P_F P_Y) - price * K`` over the new rows'
    k-means partitions, with ``tr(P_F P_Y)`` smoothed by a local quadratic
    in ``log K`` over seven candidates (one k-means partition each: where
    classes overlap, neighbouring candidates differ more by chance than by
    ``K``). It assumes, as ``"calibrated"`` does, that the new
    classes are about as many, as large and as separate as the
    reference's. Cost: the loss's, and three k-means of the reference.

    *Silhouette, BIC.* k-means for each candidate (geometrically spaced, at
    most 40 of them), scored by the silhouette (on at most 2,000 rows) or by
    Pelleg and Moore's BIC with one shared variance.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_dsc import estimate_n_clusters
    >>> rng = np.random.RandomState(0)
    >>> centers = 10 * rng.normal(size=(4, 3))
    >>> X = np.vstack([c + rng.normal(size=(50, 3)) for c in centers])
    >>> estimate_n_clusters(X, max_clusters=10, random_state=0).n_clusters
    4
    """
    X, max_clusters, rng = _validate(
        embedding, max_clusters, min_clusters, max_samples, random_state
    )
    reference = _validate_reference(X, reference, reference_labels, method, rng)
    if method == "auto":
        method = "eigengap" if reference is None else "calibrated"
    max_clusters = _within_distinct_rows(X, method, min_clusters, max_clusters)
    if method == "calibrated":
        return _calibrated(X, *reference, min_clusters, max_clusters, n_neighbors)
    if method == "calibrated_loss":
        return _calibrated_loss(X, *reference, min_clusters, max_clusters, rng)
    if method == "eigengap":
        return _eigengap(X, min_clusters, max_clusters, n_neighbors)
    if method == "hdbscan":
        return _hdbscan(X, min_clusters, max_clusters)
    candidates = _kmeans_candidates(min_clusters, max_clusters)
    partitions = [_kmeans(X, k, rng) for k in candidates]
    if method == "loss":
        basis = column_basis(X)  # one SVD for every partition
        criterion = [-spectral_loss(basis, labels) for labels, _ in partitions]
    else:
        score = {"silhouette": _silhouette, "bic": _bic}[method]
        criterion = [score(X, *partition, rng) for partition in partitions]
    criterion = np.array(criterion)
    return NClustersEstimate(
        int(candidates[np.argmax(criterion)]), method, candidates, criterion
    )


def _validate(embedding, max_clusters, min_clusters, max_samples, random_state):
    """What ``validate_params`` cannot check: the arguments against the data
    and against each other (``ArgumentError``, which the command line words
    in its options' names)."""
    X = check_array(host_values(embedding), dtype=np.float64, input_name="embedding")
    n_samples = X.shape[0]
    if n_samples < 2 * min_clusters:
        raise ArgumentError(
            f"{parameter('embedding')} has {counted(n_samples, 'row')}: "
            f"{min_clusters} clusters need at least {2 * min_clusters} (two rows "
            "each)."
        )
    if max_clusters is not None and max_clusters < min_clusters:
        raise ArgumentError(
            f"{parameter('max_clusters')} ({max_clusters}) is below "
            f"{parameter('min_clusters')} ({min_clusters})."
        )
    if max_clusters is not None and max_clusters >= n_samples:
        raise ArgumentError(
            f"{parameter('max_clusters')} ({max_clusters}) is not below the number "
            f"of rows of {parameter('embedding')} ({n_samples}): each cluster "
            "needs rows of its own."
        )
    if np.ptp(X, axis=0).max() == 0:
        raise ArgumentError(
            f"{parameter('embedding')} is constant: every row is the same point."
        )
    rng = check_random_state(random_state)
    if n_samples > max_samples:
        X = X[np.sort(rng.choice(n_samples, max_samples, replace=False))]
    if max_clusters is None:
        max_clusters = max(min_clusters, len(X) // 10)
    return X, min(int(max_clusters), len(X) - 1), rng


def _within_distinct_rows(X, method, min_clusters, max_clusters):
    """``max_clusters``, or the most clusters that the distinct rows of ``X``
    allow ``method``, with a warning, where that is fewer: k-means cannot
    make more clusters than there are distinct rows, and the methods that
    count repeated rows once (``DISTINCT_ROW_METHODS``) need two distinct
    rows a cluster, as every method needs two rows (HDBSCAN: its smallest
    cluster, ``HDBSCAN_MIN_CLUSTER_SIZE``). ``ArgumentError`` where they
    allow fewer than ``min_clusters``."""
    n_distinct = len(np.unique(X, axis=0))
    counts_once = method in DISTINCT_ROW_METHODS
    if counts_once:
        per_cluster = HDBSCAN_MIN_CLUSTER_SIZE if method == "hdbscan" else 2
        largest = n_distinct // per_cluster
        how = (
            f"{setting('method', method)} counts repeated rows once and needs "
            f"{per_cluster} distinct rows a cluster"
        )
    else:
        largest = n_distinct
        how = "k-means cannot make more clusters than there are distinct rows"
    if largest >= max_clusters:
        return max_clusters
    distinct = (
        f"{parameter('embedding')} has {counted(n_distinct, 'distinct row')} "
        f"among the {len(X)} used"
    )
    if largest < min_clusters:
        instead = f"; {setting('method', 'silhouette')} clusters the rows as they are"
        raise ArgumentError(
            f"{distinct}: {how}, so it cannot consider {min_clusters} clusters"
            f"{instead if counts_once else ''}."
        )
    warn(
        f"{distinct}: {how}, so it considers at most {largest} clusters, not "
        f"{max_clusters}.",
        UserWarning,
    )
    return largest


def _validate_reference(X, reference, reference_labels, method, rng):
    """``(rows, labels)`` of the reference, as many rows as ``X`` at most,
    or ``None`` without one."""
    if (reference is None) != (reference_labels is None):
        raise ArgumentError(
            f"{parameter('reference')} and {parameter('reference_labels')} go "
            "together: pass both."
        )
    if reference is None:
        if method in REFERENCE_METHODS:
            raise ArgumentError(
                f"{setting('method', method)} needs {parameter('reference')} rows "
                f"of known classes and their {parameter('reference_labels')}."
            )
        return None
    if method != "auto" and method not in REFERENCE_METHODS:
        raise ArgumentError(
            f"{parameter('reference')} is read by {setting('method', 'calibrated')} "
            f"and {choice('calibrated_loss')} only; {setting('method', method)} "
            "would ignore it."
        )
    R = check_array(host_values(reference), dtype=np.float64, input_name="reference")
    reference_labels = host_values(reference_labels)
    check_labels(reference_labels, "reference_labels")
    labels = column_or_1d(reference_labels)
    if len(labels) != len(R):
        raise ArgumentError(
            unequal_lengths("reference", len(R), "reference_labels", len(labels))
        )
    if labels.dtype.kind == "f" and not np.all(np.isfinite(labels)):
        raise ArgumentError(f"{parameter('reference_labels')} holds infinity.")
    if R.shape[1] != X.shape[1]:
        raise ArgumentError(
            f"{parameter('reference')} has {R.shape[1]} columns, "
            f"{parameter('embedding')} {X.shape[1]}: both must be rows of the same "
            "embedding."
        )
    if len(R) > len(X):  # as many rows as the embedding: the same graph scale
        keep = np.sort(rng.choice(len(R), len(X), replace=False))
        R, labels = R[keep], labels[keep]
    n_classes = len(np.unique(labels))
    if n_classes < 2:
        drawn = " among the rows drawn" if len(R) < len(reference_labels) else ""
        raise ArgumentError(
            f"{parameter('reference_labels')} must hold at least two "
            f"classes{drawn}; got {n_classes}."
        )
    if n_classes + 2 > len(np.unique(R, axis=0)):
        raise ArgumentError(
            f"{parameter('reference')} has {n_classes} classes among {len(R)} rows "
            "drawn: the calibration needs more distinct rows than classes plus one."
        )
    return R, labels


def _kmeans_candidates(min_clusters, max_clusters):
    grid = np.geomspace(min_clusters, max_clusters, MAX_KMEANS_CANDIDATES)
    return np.unique(np.round(grid).astype(int))


def _kmeans(X, k, rng):
    seed = int(rng.randint(np.iinfo(np.int32).max))
    kmeans = KMeans(k, n_init=1, random_state=seed).fit(X)
    return kmeans.labels_, kmeans.inertia_


def _affinity(X, n_neighbors):
    """The symmetrised k-nearest-neighbour affinity with local scales."""
    n_neighbors = min(n_neighbors, len(X) - 1)
    neighbors = NearestNeighbors(n_neighbors=n_neighbors + 1).fit(X)
    distances, indices = neighbors.kneighbors(X)
    distances, indices = distances[:, 1:], indices[:, 1:]  # not the row itself
    scale = distances[:, min(LOCAL_SCALE_NEIGHBOR, n_neighbors) - 1]
    # rows repeated more than LOCAL_SCALE_NEIGHBOR times have a scale of 0:
    # a floor far below every other distance makes their weights 1
    scale = np.maximum(scale, 1e-6 * max(distances.max(), np.finfo(np.float64).tiny))
    rows = np.repeat(np.arange(len(X)), n_neighbors)
    weights = np.exp(-(distances.ravel() ** 2) / (scale[rows] * scale[indices.ravel()]))
    W = sp.csr_matrix((weights, (rows, indices.ravel())), shape=(len(X), len(X)))
    return W.maximum(W.T)


def _largest_eigenvalues(X, n_eigenvalues, n_neighbors):
    """The largest eigenvalues of the normalised affinity ``D^-1/2 W D^-1/2``
    of the distinct rows of ``X``, in decreasing order."""
    # a row repeated more often than it has neighbours would make a clique
    # of its copies, cut off from the rest of the graph
    X = np.unique(X, axis=0)
    W = _affinity(X, n_neighbors)
    degrees = np.asarray(W.sum(axis=1)).ravel()
    inverse_root = sp.diags(1.0 / np.sqrt(np.maximum(degrees, 1e-300)))
    laplacian = sp.identity(len(X)) - inverse_root @ W @ inverse_root
    n_eigenvalues = min(n_eigenvalues, len(X) - 1)
    # The smallest eigenvalues of the normalised Laplacian I - D^-1/2 W D^-1/2
    # (1 minus the affinity's largest)
    if len(X) <= DENSE_EIGENVALUES_ROWS:
        smallest = eigh(
            laplacian.toarray(),
            eigvals_only=True,
            subset_by_index=[0, n_eigenvalues - 1],
        )
    else:
        # shift-invert Lanczos about a point just below 0, where they
        # converge in a few iterations; a fixed start makes them repeatable
        smallest = eigsh(
            laplacian.tocsc(),
            k=n_eigenvalues,
            sigma=-1e-3,
            which="LM",
            v0=np.ones(len(X)),
            ncv=min(len(X), 2 * n_eigenvalues + 20),
            return_eigenvectors=False,
        )
    return 1.0 - np.sort(smallest)


def _eigengaps(X, min_clusters, max_clusters, n_neighbors):
    """The affinity's eigenvalues, the candidate numbers ``K`` and the gap
    ``lambda_K - lambda_{K+1}`` after each."""
    eigenvalues = _largest_eigenvalues(X, max_clusters + 1, n_neighbors)
    candidates = np.arange(min_clusters, len(eigenvalues))
    gaps = eigenvalues[candidates - 1] - eigenvalues[candidates]
    return eigenvalues, candidates, gaps


def _eigengap(X, min_clusters, max_clusters, n_neighbors):
    _, candidates, gaps = _eigengaps(X, min_clusters, max_clusters, n_neighbors)
    return NClustersEstimate(
        int(candidates[np.argmax(gaps)]), "eigengap", candidates, gaps
    )


def _calibrated(X, reference, labels, min_clusters, max_clusters, n_neighbors):
    n_classes = len(np.unique(labels))
    low, high = _largest_eigenvalues(reference, n_classes + 1, n_neighbors)[-1:-3:-1]
    eigenvalues, candidates, _ = _eigengaps(X, min_clusters, max_clusters, n_neighbors)
    return NClustersEstimate(
        covering_gap(eigenvalues, candidates, (low, high)),
        "calibrated",
        candidates,
        eigenvalues[candidates - 1],
        (float(low), float(high)),
    )


def covering_gap(eigenvalues, candidates, band):
    """The candidate ``K`` whose gap ``(lambda_{K+1}, lambda_K)`` covers the
    most of ``band``; where none reaches it, the number of eigenvalues above
    its middle, clipped to the candidates.

    ``eigenvalues`` decrease; ``band`` is ``(low, high)``.
    """
    low, high = band
    covered = np.minimum(eigenvalues[candidates - 1], high) - np.maximum(
        eigenvalues[candidates], low
    )
    if covered.max() > 0:
        return int(candidates[np.argmax(covered)])
    # the band lies beyond the candidates, or has no width
    count = np.sum(eigenvalues > (low + high) / 2)
    return int(np.clip(count, candidates[0], candidates[-1]))


def column_basis(X):
    """An orthonormal basis ``U`` of the column space of the centred ``X``."""
    F = X - X.mean(axis=0)
    U, s, _ = np.linalg.svd(F, full_matrices=False)
    rank = int(np.sum(s > s[0] * max(F.shape) * np.finfo(np.float64).eps))
    return U[:, :rank]


def captured(basis, labels):
    """``tr(P_F P_Y)``: how much of the partition ``labels`` lies in the
    column space that ``basis`` spans, from 0 to the number of clusters."""
    k = labels.max() + 1
    # tr(P_F P_Y) = sum over clusters of |U^T 1_c|^2 / n_c
    sums = class_sums(basis, labels, k)
    counts = np.bincount(labels, minlength=k)
    return np.sum(np.square(sums).sum(axis=1) / np.maximum(counts, 1))


def spectral_loss(basis, labels):
    """The spectral clustering loss ``1/4 ||P_F - P_Y||^2`` of the embedding
    whose column space ``basis`` spans and the partition ``labels``."""
    return (basis.shape[1] + labels.max() + 1) / 4 - captured(basis, labels) / 2


def captured_by_kmeans(X, candidates, rng):
    """``tr(P_F P_Y)`` of the k-means partition of ``X`` into each number of
    ``candidates`` clusters (one cluster: 0)."""
    basis = column_basis(X)  # one SVD for every partition
    return np.array(
        [
            captured(basis, _kmeans(X, k, rng)[0] if k > 1 else np.zeros(len(X), int))
            for k in candidates
        ]
    )


def _calibrated_loss(X, reference, labels, min_clusters, max_clusters, rng):
    n_classes = len(np.unique(labels))
    # the slopes on either side of the reference's own number of classes
    largest = min(2 * n_classes, len(np.unique(reference, axis=0)) - 1)
    around = np.array([n_classes // 2, n_classes, largest])
    gained = np.diff(captured_by_kmeans(reference, around, rng)) / np.diff(around)
    price = float(gained.mean())
    candidates = _kmeans_candidates(min_clusters, max_clusters)
    # k-means' partitions of one number and the next differ by chance more
    # than tr(P_F P_Y) grows between them where classes overlap
    smoothed = local_quadratic(
        np.log(candidates), captured_by_kmeans(X, candidates, rng)
    )
    criterion = smoothed - price * candidates
    return NClustersEstimate(
        int(candidates[np.argmax(criterion)]),
        "calibrated_loss",
        candidates,
        criterion,
        cluster_price=price,
    )


def local_quadratic(x, y, half_width=LOCAL_FIT_HALF_WIDTH):
    """``y`` smoothed by a quadratic fitted about each point of the increasing
    ``x`` to it and its ``half_width`` neighbours on either side, with
    tricube weights of the distance (the farthest keeps a little weight,
    so that the four points of a window at an end still fit a quadratic)."""
    fitted = np.array(y, dtype=np.float64)
    if len(x) < 2:  # nothing to fit
        return fitted
    for i in range(len(x)):
        window = slice(max(0, i - half_width), i + half_width + 1)
        offsets = x[window] - x[i]
        distance = np.abs(offsets) / np.abs(offsets).max()
        weights = (1 - distance**3) ** 3 + 1e-3
        degree = min(2, len(offsets) - 1)
        # polyfit weighs the residuals: the square roots of the weights
        fitted[i] = np.polyfit(offsets, y[window], degree, w=np.sqrt(weights))[-1]
    return fitted


def _silhouette(X, labels, inertia, rng):
    seed = int(rng.randint(np.iinfo(np.int32).max))
    return silhouette_score(X, labels, sample_size=min(len(X), 2000), random_state=seed)


def _bic(X, labels, inertia, rng):
    """Pelleg and Moore's BIC of k-means: spherical Gaussians, one variance."""
    n, d = X.shape
    k = labels.max() + 1
    counts = np.bincount(labels, minlength=k)
    counts = counts[counts > 0]
    variance = max(inertia / (d * max(n - k, 1)), np.finfo(np.float64).tiny)
    log_likelihood = (
        np.sum(counts * np.log(counts))
        - n * np.log(n)
        - n * d / 2 * np.log(2 * np.pi * variance)
        - d * (n - k) / 2
    )
    n_parameters = (k - 1) + k * d + 1
    return log_likelihood - n_parameters / 2 * np.log(n)


def _hdbscan(X, min_clusters, max_clusters):
    X = np.unique(X, axis=0)  # copies of a row would make clusters of their own
    hdbscan = HDBSCAN(min_cluster_size=HDBSCAN_MIN_CLUSTER_SIZE, copy=True)
    labels = hdbscan.fit_predict(X)
    # as the other methods, within the numbers considered: fewer clusters than
    # min_clusters (none where every row is noise) count as min_clusters
    n_clusters = int(np.clip(labels.max() + 1, min_clusters, max_clusters))
    return NClustersEstimate(
        n_clusters,
        "hdbscan",
        np.array([n_clusters]),
        np.array([np.mean(labels >= 0)]),
    )
