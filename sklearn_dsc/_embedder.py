"""DeepSpectralClusteringEmbedder: the scikit-learn estimator."""

import collections
import contextlib
import copy
import itertools
import math
import time
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
import torch
from scipy.stats import binom
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import pairwise_distances_argmin
from sklearn.model_selection import StratifiedShuffleSplit
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ._anchors import closed_form_anchor, whitened_anchors
from ._closed_form import closed_form_linear_map
from ._compat import Interval, StrOptions, _fit_context
from ._loss import spectral_clustering_loss
from ._networks import ACTIVATIONS, AnchoredEmbedding, build_anchored, build_mlp
from ._sampling import ClassBalancedSampler
from ._training import (
    Diverged,
    Patience,
    TensorData,
    calibrate_head,
    embed,
    optimizer_state_on_cpu,
    resolve_device,
    restore,
    restore_finite_state,
    run_epoch,
    snapshot,
)
from .metrics import _kmeans_nmi, kmeans_nmi

# Training runs in float32 on inputs rescaled inside the network to unit
# spread, so only their range matters: the largest magnitude must keep the
# rescaling factors (about its inverse) and the inputs themselves far from
# float32's overflow and subnormal ranges.
FLOAT32_RANGE = (
    float(np.finfo(np.float32).tiny) * 2**24,
    float(np.finfo(np.float32).max) / 2**24,
)
# The PCA anchor keeps at most this many directions of the inputs.
MAX_ANCHOR_WIDTH = 256
# Shrinkages of the whitened anchor among which held-out classes choose, and
# the one used without them.
SHRINKAGES = (1.0, 0.3, 0.1, 0.03, 0.01)
DEFAULT_SHRINKAGE = 0.1
# Weights of the anchor beside the unit-spread head, chosen on validation data.
ANCHOR_WEIGHTS = (1.0, 2.0)
# Distinct class splits on which the two anchors are compared (all of them
# when there are no more).
ANCHOR_SPLITS = 10
# The closed-form anchor must win on significantly more of them than chance
# (one-sided sign test at this level).
ANCHOR_SIGN_TEST_LEVEL = 0.05
# With held-out classes, the closed-form anchor and the trained head are kept
# only when they beat the simpler choice (the best anchor that keeps every
# direction; the anchor alone) by this much NMI: k-means on two or three
# held-out classes is noisy.
SELECTION_MARGIN = 0.02


def input_spread(X):
    """Root-mean-square distance of the rows of ``X`` to their mean, in float64."""
    if sp.issparse(X):
        X = X.astype(np.float64)
        mean = np.asarray(X.mean(axis=0)).ravel()
        mean_square = np.asarray(X.multiply(X).mean(axis=0)).ravel()
        return float(np.sqrt(max(np.sum(mean_square - mean**2), 0.0)))
    return float(np.sqrt(np.sum(np.var(X, axis=0, dtype=np.float64))))


def _distinct_subsets(n_items, size, n_subsets, random_state):
    """Up to ``n_subsets`` distinct subsets of ``range(n_items)`` of ``size``.

    All of them, in lexicographic order, when there are at most
    ``n_subsets``; otherwise ``n_subsets`` drawn at random without repeats.
    """
    if math.comb(n_items, size) <= n_subsets:
        return [np.array(c) for c in itertools.combinations(range(n_items), size)]
    subsets = set()
    while len(subsets) < n_subsets:
        subsets.add(tuple(np.sort(random_state.choice(n_items, size, replace=False))))
    return [np.array(subset) for subset in sorted(subsets)]


class DeepSpectralClusteringEmbedder(
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    """Embedding learned with the spectral clustering loss (Deep Spectral Clustering).

    Learns a map ``f`` (a multi-layer perceptron, or a linear map) such that
    spectral clustering of ``f(X)`` recovers the classes ``y``: it minimises
    ``1/4 ||P_F - P_Y||_F^2`` over mini-batches, where ``P_F`` projects onto the
    column space of the batch's embedding and ``P_Y`` onto the span of its class
    indicators (Law, Urtasun and Zemel, 2017). The gradient has a closed form
    that costs time linear in the batch size.

    The embedding then serves to cluster new samples, also of classes never
    seen in training: ``transform`` gives the embedding, ``score`` the NMI of
    k-means on it, and ``predict`` the nearest training class.

    By default the embedding is a fixed linear *anchor* (PCA of the inputs,
    the inputs whitened by the training classes' within-class covariance, or
    the closed-form linear solution) beside a *head* (an MLP) trained with the
    loss: training the loss on a few classes makes the head discriminative but
    collapses structure that other classes need, and the anchor keeps it.
    Whole training classes are held out to choose the anchor, and whether and
    with what weight the trained head helps classes it never saw; the model
    is then refit on every class with those choices. It is therefore never
    worse on the held-out classes than its anchor alone. When a map that
    keeps every input direction (PCA or whitened) transfers to held-out
    classes better than the training classes' own directions (the closed
    form), no head is trained: a head trained on those classes did not
    transfer either (see the user guide).

    Parameters
    ----------
    n_components : int, default=None
        Dimension of the embedding that the loss trains (the head, with an
        anchor). ``None`` uses the number of training classes, the dimension
        of the span of the class indicators that the loss fits. The anchor
        adds its own dimensions: up to 256 principal directions for
        ``init="pca"`` and ``"whitened"``, one per training class for
        ``"closed_form"``; when no trained head is kept the embedding is the
        anchor alone. With ``solver="closed_form"``, ``None`` keeps exactly
        the directions that lower the loss.

    hidden_layer_sizes : tuple of int, default=(256,)
        Widths of the hidden layers; ``()`` makes the embedding a linear map
        of the inputs (a linear metric).

    activation : {"relu", "tanh", "logistic", "identity"}, default="relu"
        Activation of the hidden layers.

    dropout : float, default=0.0
        Probability of zeroing each hidden unit in training (dropout after
        every hidden activation of the trained network); ``0`` adds no
        dropout layer. Inference uses every unit.

    solver : {"adam", "closed_form"}, default="adam"
        ``"adam"`` trains by mini-batch gradient descent with Adam.
        ``"closed_form"`` (linear embeddings only, ``hidden_layer_sizes=()``)
        computes the exact minimiser of the loss over linear maps of the
        whole training set, without iterating; ``alpha`` is then its ridge
        penalty.

    init : {"auto", "pca", "whitened", "closed_form", "random"}, default="auto"
        The anchor. ``"pca"``, ``"whitened"`` and ``"closed_form"`` make the
        embedding ``[w * anchor(x), s * head(x)]``, where the anchor is a
        linear map, at unit spread on the training data and never trained,
        and the head is trained with the loss and scaled by ``s`` to unit
        spread. The weight ``w`` is chosen on validation data between 1 and
        2 (1 without validation). The anchors: ``"pca"`` the PCA projection
        of the inputs (at most 256 directions); ``"whitened"`` that
        projection whitened by the training classes' within-class
        covariance, shrunk by ``shrinkage``, which divides out the variation
        the classes share and keeps every direction; ``"closed_form"`` the
        closed-form linear solution (all class directions, a ridge
        regression onto the class indicators). ``"auto"`` builds them all
        and keeps the one that clusters the validation data best (``"pca"``
        without ``early_stopping``); with held-out classes, a head is then
        trained only beside the closed form. ``"random"`` is a plain MLP
        from torch's default initialisation, the paper's setting, which fits
        the training classes fastest.

    shrinkage : float or "auto", default="auto"
        Of the ``"whitened"`` anchor: the within-class covariance ``S_w``
        becomes ``S_w + shrinkage * v I``, ``v`` being the largest variance
        of the inputs. Large values give the PCA geometry back, small ones
        the full-rank metric of linear discriminant analysis. ``"auto"``
        chooses among 1, 0.3, 0.1, 0.03 and 0.01 on held-out classes (0.1
        when classes are not held out).

    batch_size : int, default=256
        Samples per mini-batch, at least 2.

    chunk_size : int, default=None
        Samples embedded at once in training. A mini-batch larger than this
        is processed in chunks with the exact loss and gradient of the whole
        batch (:func:`spectral_clustering_backward`: a pass without gradients
        accumulates the batch's statistics, then each chunk is back-propagated),
        so that peak memory follows ``chunk_size`` rather than ``batch_size``,
        for about twice the forward computation. ``None`` embeds each batch at
        once.

    samples_per_class : int, default=None
        Samples of each class in a mini-batch. Each batch holds
        ``batch_size // samples_per_class`` classes (at least 2). ``None``
        puts every class in every batch when they fit, with
        ``max(2, batch_size // n_classes)`` samples each.

    learning_rate_init : float, default=1e-3
        Adam's learning rate.

    alpha : float, default=1e-4
        L2 regularisation: decoupled weight decay (AdamW) for ``"adam"``, the
        ridge penalty on the centred ``X^T X`` for ``"closed_form"``.

    max_iter : int, default=100
        Maximum number of epochs. An epoch is ``n_samples / batch_size``
        mini-batches (at least one).

    tol : float, default=1e-4
        Minimum improvement of the training loss (or, with
        ``early_stopping``, of the validation score) that resets the
        patience counter.

    n_iter_no_change : int, default=10
        Epochs without an improvement of ``tol`` after which training stops.

    early_stopping : bool, default=True
        Hold out validation data and use its k-means NMI to choose; see
        ``validation_split``. Without it, training stops when the training
        loss no longer improves by ``tol`` for ``n_iter_no_change`` epochs.

    validation_fraction : float, default=0.3
        Share of the training samples (``"samples"``) or classes
        (``"classes"``, at least 2) held out when ``early_stopping``.

    validation_split : {"auto", "classes", "samples"}, default="auto"
        ``"samples"`` holds out a stratified share of the samples, scores them
        before training and after every epoch, stops when the score no longer
        improves by ``tol`` for ``n_iter_no_change`` epochs and keeps the best
        weights (the starting weights included). ``"classes"`` holds out whole
        classes, so the score measures clustering of classes never seen in
        training (the zero-shot protocol in miniature): it chooses the anchor,
        then trains on the other classes (stopping on the training loss) and
        compares the anchor alone with the anchor and trained head; the model
        is then refit on every class with those choices and that number of
        epochs. With ``init="auto"`` the head is trained only if the
        closed-form anchor was chosen. ``"auto"`` is ``"classes"`` with 4
        classes or more, else ``"samples"``.

    warm_start : bool, default=False
        Continue training the fitted network on the next ``fit`` instead of
        starting afresh.

    random_state : int, RandomState instance or None, default=None
        Seeds everything random: initial weights, batches, the validation
        split and k-means. An int gives the same embedding, bit for bit, on
        the CPU.

    device : {"auto", "cpu", "cuda"}, str or torch.device, default="auto"
        Where training and inference run; ``"auto"`` takes a GPU when one is
        available. The fitted ``module_`` is always moved back to the CPU.

    verbose : int, default=0
        ``1`` prints one line per epoch (loss, validation score, seconds);
        ``2`` also prints progress within epochs.

    callback : callable, default=None
        Called as ``callback(estimator)`` after every epoch, with
        ``loss_curve_`` and ``n_iter_`` up to date; training stops if it
        returns ``True``.

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained network, on the CPU: an anchor and a head
        (``module_.anchor``, ``module_.head``, ``module_.anchor_weight``,
        ``module_.head_scale``) for ``init`` other than ``"random"``, else a
        ``torch.nn.Sequential`` MLP.

    classes_ : ndarray of shape (n_classes,)
        The training classes.

    init_ : str or None
        The anchor used, ``"pca"``, ``"whitened"`` or ``"closed_form"`` (what
        ``init="auto"`` chose), ``"random"`` for a plain MLP, ``None`` with
        ``solver="closed_form"``.

    shrinkage_ : float or None
        The shrinkage of the whitened anchor, ``None`` with another.

    class_centroids_ : ndarray of shape (n_classes, n_features_out)
        Mean embedding of each training class, used by ``predict``. Its width
        is that of ``transform``'s output: with an anchor, the anchor's
        dimensions, plus ``n_components`` when a trained head is kept.

    loss_curve_ : list of float
        Mean training loss of each epoch of the final model.

    validation_scores_ : list of float or None
        Validation NMI when ``early_stopping``, else ``None``: with held-out
        samples, of the starting weights then of each epoch; with held-out
        classes, of the anchor alone then, when a head was trained, of the
        anchor with the trained head.

    best_validation_score_ : float or None
        Best of ``validation_scores_``, or ``None``.

    n_iter_ : int
        Number of epochs the final model was trained for.

    t_ : int
        Number of training samples seen by the optimizer.

    n_features_in_ : int
        Number of features seen during ``fit``.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features seen during ``fit``, when they are all strings.

    See Also
    --------
    sklearn.discriminant_analysis.LinearDiscriminantAnalysis : Linear
        embedding that separates the classes; close to ``solver="closed_form"``.
    sklearn.neighbors.NeighborhoodComponentsAnalysis : Linear metric learned
        for nearest-neighbour classification.

    References
    ----------
    .. [1] Marc T. Law, Raquel Urtasun and Richard S. Zemel. "Deep Spectral
       Clustering Learning". ICML 2017.
    .. [2] Marc T. Law, Yaoliang Yu, Raquel Urtasun, Richard S. Zemel and Eric
       P. Xing. "Closed-form training of Mahalanobis distance for supervised
       clustering". CVPR 2016.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import MinMaxScaler
    >>> from sklearn_dsc import DeepSpectralClusteringEmbedder
    >>> X, y = load_digits(return_X_y=True)
    >>> seen, unseen = y < 5, y >= 5
    >>> model = make_pipeline(
    ...     MinMaxScaler(), DeepSpectralClusteringEmbedder(random_state=0)
    ... )
    >>> model = model.fit(X[seen], y[seen])
    >>> model.transform(X[unseen]).shape
    (896, 64)
    >>> nmi = model.score(X[unseen], y[unseen])  # k-means NMI on unseen classes
    >>> print(f"{nmi:.2f}")
    0.76
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left"), None],
        "hidden_layer_sizes": ["array-like"],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "solver": [StrOptions({"adam", "closed_form"})],
        "init": [StrOptions({"auto", "random", "pca", "whitened", "closed_form"})],
        "shrinkage": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "batch_size": [Interval(Integral, 2, None, closed="left")],
        "chunk_size": [Interval(Integral, 1, None, closed="left"), None],
        "samples_per_class": [Interval(Integral, 1, None, closed="left"), None],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "validation_split": [StrOptions({"auto", "samples", "classes"})],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "device": [str, torch.device],
        "verbose": ["verbose"],
        "callback": [callable, None],
    }

    def __init__(
        self,
        n_components=None,
        *,
        hidden_layer_sizes=(256,),
        activation="relu",
        dropout=0.0,
        solver="adam",
        init="auto",
        shrinkage="auto",
        batch_size=256,
        chunk_size=None,
        samples_per_class=None,
        learning_rate_init=1e-3,
        alpha=1e-4,
        max_iter=100,
        tol=1e-4,
        n_iter_no_change=10,
        early_stopping=True,
        validation_fraction=0.3,
        validation_split="auto",
        warm_start=False,
        random_state=None,
        device="auto",
        verbose=0,
        callback=None,
    ):
        self.n_components = n_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.dropout = dropout
        self.solver = solver
        self.init = init
        self.shrinkage = shrinkage
        self.batch_size = batch_size
        self.chunk_size = chunk_size
        self.samples_per_class = samples_per_class
        self.learning_rate_init = learning_rate_init
        self.alpha = alpha
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.validation_split = validation_split
        self.warm_start = warm_start
        self.random_state = random_state
        self.device = device
        self.verbose = verbose
        self.callback = callback

    # ------------------------------------------------------------------ fit

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Learn the embedding from labelled data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training inputs; sparse CSR/CSC matrices are never densified.
        y : array-like of shape (n_samples,)
            Class labels, of any hashable type; at least 2 classes.

        Returns
        -------
        self : DeepSpectralClusteringEmbedder
            The fitted estimator.
        """
        with self._unchanged_on_error():
            X, y = self._validate_training_data(X, y, reset=not self._continues())
            classes, codes = np.unique(y, return_inverse=True)
            if self._continues():
                self._check_same_classes(classes)
            else:
                self.classes_ = classes
            device = resolve_device(self.device)
            random_state = check_random_state(self.random_state)
            if self.solver == "closed_form":
                self._fit_closed_form(X, codes)
            else:
                self._fit_adam(X, codes, device, random_state)
            self._set_centroids(X, codes, device)
        return self

    @available_if(lambda self: self.solver != "closed_form")
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None):
        """Train for one epoch on a chunk of data, keeping the optimizer's state.

        For data that does not fit in memory: call it once per chunk, as many
        times as needed. Only with ``solver="adam"``. ``class_centroids_`` is
        updated for the classes present in the chunk. After a ``fit`` that
        kept no head, the first call trains the head and adds its
        ``n_components`` columns to the embedding; the centroids of classes
        absent from that chunk are then unknown (NaN) until a chunk holds
        them, and ``predict`` leaves those classes out.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            A chunk of training inputs.
        y : array-like of shape (n_samples,)
            Its labels; at least 2 classes in every chunk.
        classes : array-like of shape (n_classes,), default=None
            Every class of the whole data set. Needed on the first call when
            ``n_components=None``, unless the first chunk holds every class;
            ignored afterwards.

        Returns
        -------
        self : DeepSpectralClusteringEmbedder
            The updated estimator.
        """
        with self._unchanged_on_error():
            first_call = not hasattr(self, "module_")
            X, y = self._validate_training_data(X, y, reset=first_call)
            if first_call:
                all_classes = np.unique(y if classes is None else classes)
                self.classes_ = all_classes
            unknown = np.setdiff1d(np.unique(y), self.classes_)
            if unknown.size:
                raise ValueError(
                    f"y holds classes {unknown.tolist()} that are not in classes_; "
                    "pass every class with `classes=` on the first call to "
                    "partial_fit."
                )
            codes = np.searchsorted(self.classes_, y)
            device = resolve_device(self.device)
            random_state = check_random_state(self.random_state)
            if first_call:
                self._initialise_module(
                    X, codes, random_state, n_classes=len(self.classes_)
                )
            self.module_.to(device)
            optimizer = self._make_optimizer()
            if getattr(self, "_optimizer_state", None) is not None:
                optimizer.load_state_dict(self._optimizer_state)
                for group in optimizer.param_groups:  # set_params takes effect
                    group["lr"] = self.learning_rate_init
                    group["weight_decay"] = self.alpha
            data = TensorData(X, device)
            sampler = self._sampler(codes, random_state)
            try:
                loss, n_seen = run_epoch(
                    self._trained_part(),
                    optimizer,
                    data,
                    codes,
                    sampler.batches(self._n_batches(len(data))),
                    chunk_size=self.chunk_size,
                    seed=self._dropout_seed(random_state),
                )
            except Diverged:
                raise ValueError(
                    "training diverged on this chunk (non-finite loss); lower "
                    "learning_rate_init"
                ) from None
            self.loss_curve_.append(loss)
            self.n_iter_ += 1
            self.t_ += n_seen
            if isinstance(self.module_, AnchoredEmbedding):
                calibrate_head(self.module_, data)
            self._optimizer_state = optimizer_state_on_cpu(optimizer)
            self._set_centroids(X, codes, device, update=True)
        return self

    @contextlib.contextmanager
    def _unchanged_on_error(self):
        """On any exception (an interrupt, a raising callback, running out of
        memory, bad input), put the estimator back as it was before the call:
        never half-fitted, never with weights from a failed step."""
        previous = dict(self.__dict__)
        module = previous.get("module_")
        weights = snapshot(module) if module is not None else None
        try:
            yield
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(previous)
            if module is not None:
                restore(module, weights)
                module.to("cpu")
            raise

    def _continues(self):
        return self.warm_start and hasattr(self, "module_")

    def _validate_training_data(self, X, y, reset):
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            dtype=[np.float64, np.float32],
            ensure_min_samples=2,
            reset=reset,
        )
        check_classification_targets(y)
        values = X.data if sp.issparse(X) else X
        largest = float(np.max(np.abs(values))) if values.size else 0.0
        low, high = FLOAT32_RANGE
        if largest > high or 0 < largest < low:
            raise ValueError(
                f"X holds values up to {largest:.3g} in magnitude, outside the range "
                f"[{low:.3g}, {high:.3g}] that float32 training handles: scale them, "
                "for example with StandardScaler."
            )
        n_classes = len(np.unique(y))
        if n_classes < 2:
            raise ValueError(
                f"The spectral clustering loss needs at least 2 classes in y; got "
                f"{n_classes} class."
            )
        if self.solver == "closed_form" and len(self.hidden_layer_sizes) > 0:
            raise ValueError(
                "solver='closed_form' learns a linear map: set hidden_layer_sizes=()."
            )
        return X, y

    def _check_same_classes(self, classes):
        if not np.array_equal(classes, self.classes_):
            raise ValueError(
                "warm_start=True needs the same classes as the previous fit; got "
                f"{classes.tolist()} instead of {self.classes_.tolist()}."
            )

    def _hidden_sizes(self):
        sizes = tuple(self.hidden_layer_sizes)
        if not all(isinstance(s, Integral) and s >= 1 for s in sizes):
            raise ValueError(
                f"hidden_layer_sizes must hold positive integers, got {sizes!r}."
            )
        return sizes

    def _initialise_module(
        self,
        X,
        codes,
        random_state,
        validation_score=None,
        init=None,
        shrinkage=None,
        n_classes=None,
    ):
        """Build ``module_`` and reset the training history.

        ``init`` and ``shrinkage`` override ``self.init`` and
        ``self.shrinkage``. With ``"auto"`` the PCA, whitened and closed-form
        anchors are all built and ``validation_score`` (held-out samples)
        keeps the best; without it the PCA anchor is used.
        """
        init = init or self.init
        shrinkage = shrinkage or self._fixed_shrinkage()
        seed = int(random_state.randint(np.iinfo(np.int32).max))
        self.loss_curve_ = []
        self.n_iter_ = 0
        self.t_ = 0
        self.validation_scores_ = None
        self.best_validation_score_ = None
        self._optimizer_state = None
        # The trained network sees inputs of unit variance per feature on
        # average, the scale torch's default initialisation is made for,
        # whatever the units of X (standardised inputs are left as they are).
        spread = input_spread(X)
        input_scale = np.sqrt(X.shape[1]) / spread if spread > 0 else 1.0
        self.init_, self.shrinkage_ = init, None
        if init == "random":
            n_components = self.n_components or n_classes or len(np.unique(codes))
            self.module_ = build_mlp(
                X.shape[1],
                self._hidden_sizes(),
                n_components,
                self.activation,
                seed,
                self.dropout,
            )
            self.module_[0].input_scale.fill_(input_scale)
            return
        candidates = ["pca", "whitened", "closed_form"] if init == "auto" else [init]
        if validation_score is None:
            candidates = candidates[:1]
        candidates = [
            (candidate, shrinkage if candidate == "whitened" else None)
            for candidate in candidates
        ]
        n_head = self.n_components or n_classes or len(np.unique(codes))
        best_score = -np.inf
        anchors = self._anchors(candidates, X, codes, seed)
        for candidate, (weight, bias) in zip(candidates, anchors, strict=True):
            self.module_ = build_anchored(
                weight,
                bias,
                self._hidden_sizes(),
                n_head,
                self.activation,
                seed,
                self.dropout,
            )
            self.module_.head[0].input_scale.fill_(input_scale)
            score = validation_score() if len(candidates) > 1 else 0.0
            if score > best_score:
                best_score, best = score, (self.module_, *candidate)
        self.module_, self.init_, self.shrinkage_ = best

    def _fixed_shrinkage(self):
        """The shrinkage used when held-out classes do not choose it."""
        return DEFAULT_SHRINKAGE if self.shrinkage == "auto" else self.shrinkage

    def _anchors(self, candidates, X, codes, seed):
        """Weight and bias, at unit spread, of each ``(init, shrinkage)`` of
        ``candidates``; the PCA and whitened ones share one PCA."""
        geometry = [s for init, s in candidates if init != "closed_form"]
        maps = iter(
            whitened_anchors(X, codes, geometry, MAX_ANCHOR_WIDTH, seed)
            if geometry
            else []
        )
        # every class direction of the closed form: a ridge regression onto
        # the class indicators, which transfers better than the loss's minimiser
        return [
            closed_form_anchor(X, codes, self.alpha)
            if init == "closed_form"
            else next(maps)
            for init, _ in candidates
        ]

    def _trained_part(self):
        """The part of ``module_`` that the loss trains: the head of an anchored one."""
        return getattr(self.module_, "head", self.module_)

    def _make_optimizer(self):
        return torch.optim.AdamW(
            self._trained_part().parameters(),
            lr=self.learning_rate_init,
            weight_decay=self.alpha,
        )

    def _sampler(self, codes, random_state):
        n_classes = len(np.unique(codes))
        samples_per_class = self.samples_per_class or max(
            2, self.batch_size // n_classes
        )
        classes_per_batch = max(2, self.batch_size // samples_per_class)
        return ClassBalancedSampler(
            codes, samples_per_class, classes_per_batch, random_state
        )

    def _dropout_seed(self, random_state):
        """A seed for an epoch's dropout masks, drawn from ``random_state``;
        ``None`` without dropout, which leaves ``random_state`` untouched."""
        if self.dropout == 0:
            return None
        return int(random_state.randint(np.iinfo(np.int32).max))

    def _n_batches(self, n_samples):
        return max(1, round(n_samples / self.batch_size))

    def _fit_closed_form(self, X, codes):
        weight, bias, _ = closed_form_linear_map(
            X, codes, len(self.classes_), self.alpha, self.n_components
        )
        self.module_ = build_mlp(X.shape[1], (), weight.shape[0], self.activation, 0)
        with torch.no_grad():
            self.module_[0].weight.copy_(torch.from_numpy(weight))
            self.module_[0].bias.copy_(torch.from_numpy(bias))
        self.loss_curve_ = [self._full_loss(X, codes)]
        self.init_ = self.shrinkage_ = None
        self.n_iter_ = 1
        self.t_ = X.shape[0]
        self.validation_scores_ = None
        self.best_validation_score_ = None

    def _full_loss(self, X, codes):
        embeddings = embed(self.module_, X, torch.device("cpu"))
        return float(
            spectral_clustering_loss(
                torch.from_numpy(embeddings).double(), torch.from_numpy(codes)
            )
        )

    def _fit_adam(self, X, codes, device, random_state):
        kmeans_seed = int(random_state.randint(np.iinfo(np.int32).max))
        split = self._resolved_split() if self.early_stopping else None
        if split is None:
            if not self._continues():
                self._initialise_module(X, codes, random_state)
            self._train(X, codes, device, random_state, self.max_iter)
            return
        X_train, codes_train, X_val, codes_val = self._validation_split(
            X, codes, random_state, split
        )

        def validation_score():
            return self._validation_score(X_val, codes_val, device, kmeans_seed)

        if split == "samples" or self._continues():
            if not self._continues():
                self._initialise_module(
                    X_train, codes_train, random_state, validation_score
                )
            self._train(
                X_train,
                codes_train,
                device,
                random_state,
                self.max_iter,
                validation_score,
            )
            return
        # Whole classes held out: they choose the start, then whether the
        # trained head (and with what weight) helps classes it never saw. Each
        # choice is one comparison, not one per epoch, so that the noise of
        # k-means on a few classes is not selected for. The model is then
        # refit on every class with those choices.
        chosen_init, shrinkage, train_head = self.init, None, True
        if self.init == "auto" or (
            self.init == "whitened" and self.shrinkage == "auto"
        ):
            chosen_init, shrinkage = self._choose_anchor(
                X, codes, random_state, kmeans_seed
            )
        if self.init == "auto":
            # The training classes' own directions clustering held-out classes
            # worse than the input geometry is evidence that a head trained
            # on those classes does not transfer either: keep the anchor alone.
            train_head = chosen_init == "closed_form"
        self._initialise_module(
            X_train, codes_train, random_state, init=chosen_init, shrinkage=shrinkage
        )
        validation_scores = [validation_score()]  # the anchor alone
        n_epochs, converged = 0, True
        if train_head:
            converged = self._train(
                X_train,
                codes_train,
                device,
                random_state,
                self.max_iter,
                warn_max_iter=False,
            )
            validation_scores.append(validation_score())  # with the head
            if validation_scores[1] > validation_scores[0] + SELECTION_MARGIN:
                n_epochs = self.n_iter_
        anchor_weight = getattr(self.module_, "anchor_weight", None)
        self._initialise_module(
            X, codes, random_state, init=chosen_init, shrinkage=shrinkage
        )
        if n_epochs > 0:
            self._train(X, codes, device, random_state, n_epochs, warn_max_iter=False)
            if not converged:
                self._warn_max_iter()
            if anchor_weight is not None:
                self.module_.anchor_weight.copy_(anchor_weight)
        self.validation_scores_ = validation_scores
        self.best_validation_score_ = max(validation_scores)
        if self.verbose:
            scores = f"start NMI {validation_scores[0]:.4f}, " + (
                f"trained NMI {validation_scores[1]:.4f}"
                if train_head
                else "no head trained"
            )
            anchor = f"init={chosen_init!r}" + (
                f", shrinkage={self.shrinkage_:g}" if chosen_init == "whitened" else ""
            )
            print(
                f"[{type(self).__name__}] {anchor}; held-out classes: "
                f"{scores}; refit on every class for {n_epochs} epochs",
                flush=True,
            )

    def _choose_anchor(self, X, codes, random_state, kmeans_seed):
        """The anchor, and its shrinkage, that cluster held-out classes best.

        A k-means NMI on two or three held-out classes is noisy, so the
        anchors are compared on up to ``ANCHOR_SPLITS`` distinct sets of
        held-out classes (every set, when there are no more), each anchor
        fitted on the classes kept. Among the maps that keep every direction
        of the inputs (PCA, and the whitened anchor for each shrinkage of
        ``SHRINKAGES`` or the fixed one), the best on average is chosen, PCA
        on a tie. With ``init="auto"``, the closed form replaces it only when
        it is better by ``SELECTION_MARGIN`` on average *and* on
        significantly more sets than chance (one-sided sign test): a
        low-dimensional map fitted on a few classes can separate two
        held-out classes by luck and still fail on many new ones.

        Returns ``(init, shrinkage)``, ``shrinkage`` being ``None`` unless
        ``init`` is ``"whitened"``.
        """
        seed = int(random_state.randint(np.iinfo(np.int32).max))
        shrinkages = SHRINKAGES if self.shrinkage == "auto" else (self.shrinkage,)
        geometry = [("whitened", shrinkage) for shrinkage in shrinkages]
        if self.init == "auto":
            geometry.insert(0, ("pca", None))
        candidates = geometry + ([("closed_form", None)] if self.init == "auto" else [])
        n_classes = len(self.classes_)
        held_out_sets = _distinct_subsets(
            n_classes, self._n_held_out_classes(), ANCHOR_SPLITS, random_state
        )
        scores = {candidate: [] for candidate in candidates}
        for held_out in held_out_sets:
            held = np.isin(codes, held_out)
            maps = self._anchors(candidates, X[~held], codes[~held], seed)
            X_held, codes_held = X[held], codes[held]
            for candidate, (weight, bias) in zip(candidates, maps, strict=True):
                scores[candidate].append(
                    kmeans_nmi(
                        np.asarray(X_held @ weight.T) + bias,
                        codes_held,
                        random_state=kmeans_seed,
                        n_init=3,
                    )
                )
        means = {candidate: np.mean(values) for candidate, values in scores.items()}
        best = max(geometry, key=means.get)  # the first of equals: PCA
        if self.init != "auto":
            return best
        differences = np.subtract(scores[("closed_form", None)], scores[best])
        wins = int(np.sum(differences > 0))
        significant = (
            binom.sf(wins - 1, len(differences), 0.5) <= ANCHOR_SIGN_TEST_LEVEL
        )
        if significant and differences.mean() > SELECTION_MARGIN:
            return "closed_form", None
        return best

    def _validation_score(self, X_val, codes_val, device, kmeans_seed):
        """k-means NMI of the validation data in the current embedding.

        For an anchored network with a trained head, every weight of
        ``ANCHOR_WEIGHTS`` is tried; the best is kept in ``anchor_weight``.
        """
        module = self.module_.to(device)

        def nmi(points):
            return kmeans_nmi(points, codes_val, random_state=kmeans_seed, n_init=3)

        if not isinstance(module, AnchoredEmbedding) or module.head_scale == 0:
            return nmi(embed(module, X_val, device))
        module.anchor_weight.fill_(1.0)
        embeddings = embed(module, X_val, device)
        n_anchor = module.anchor.out_features
        anchor = embeddings[:, :n_anchor]
        scores = {
            weight: nmi(np.hstack([weight * anchor, embeddings[:, n_anchor:]]))
            for weight in ANCHOR_WEIGHTS
        }
        best = max(scores, key=scores.get)
        module.anchor_weight.fill_(best)
        return scores[best]

    def _resolved_split(self):
        if self.validation_split != "auto":
            return self.validation_split
        return "classes" if len(self.classes_) >= 4 else "samples"

    def _train(
        self,
        X,
        codes,
        device,
        random_state,
        max_epochs,
        validation_score=None,
        warn_max_iter=True,
    ):
        """Run up to ``max_epochs`` epochs of Adam on ``module_``.

        With ``validation_score``, the weights of the best-scoring epoch (the
        starting weights included) are restored at the end. Returns whether
        training stopped before ``max_epochs``.
        """
        self.module_.to(device)
        self.validation_scores_ = [] if validation_score is not None else None
        self.best_validation_score_ = None
        data = TensorData(X, device)
        sampler = self._sampler(codes, random_state)
        n_batches = self._n_batches(len(data))
        optimizer = self._make_optimizer()
        patience = Patience(self.tol, self.n_iter_no_change, snapshot(self.module_))
        # Epoch-end weights, newest last, to fall back on if training diverges.
        recent_states = collections.deque([patience.best_state], maxlen=3)
        if validation_score is not None:
            # The starting weights are a candidate too: the fitted model is
            # never worse on the validation data than where training began.
            self.validation_scores_.append(validation_score())
            patience.update(-self.validation_scores_[-1], patience.best_state)
        converged = False
        try:
            for _ in range(max_epochs):
                start = time.perf_counter()
                loss, n_seen = run_epoch(
                    self._trained_part(),
                    optimizer,
                    data,
                    codes,
                    sampler.batches(n_batches),
                    self._batch_progress(n_batches),
                    chunk_size=self.chunk_size,
                    seed=self._dropout_seed(random_state),
                )
                self.loss_curve_.append(loss)
                self.n_iter_ += 1
                self.t_ += n_seen
                if isinstance(self.module_, AnchoredEmbedding):
                    calibrate_head(self.module_, data)
                criterion = loss
                if validation_score is not None:
                    self.validation_scores_.append(validation_score())
                    criterion = -self.validation_scores_[-1]
                recent_states.append(snapshot(self.module_))
                out_of_patience = patience.update(criterion, recent_states[-1])
                self._print_epoch(loss, time.perf_counter() - start)
                stop = self.callback is not None and self.callback(self)
                if stop or out_of_patience:
                    converged = True
                    break
        except Diverged:
            restore_finite_state(self.module_, recent_states, data)
            warnings.warn(
                f"Training diverged at epoch {self.n_iter_ + 1} (non-finite loss); "
                "the last weights that gave finite embeddings are kept. Lower "
                "learning_rate_init.",
                ConvergenceWarning,
                stacklevel=4,
            )
            converged = True
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by the user.", stacklevel=4)
            converged = True
        if validation_score is not None:
            restore(self.module_, patience.best_state)
            self.best_validation_score_ = max(self.validation_scores_)
        if not converged and warn_max_iter:
            self._warn_max_iter()
        self._optimizer_state = optimizer_state_on_cpu(optimizer)
        self.module_.to("cpu")
        return converged

    def _warn_max_iter(self):
        warnings.warn(
            f"DeepSpectralClusteringEmbedder: maximum iterations ({self.max_iter}) "
            "reached and the optimization hasn't converged yet.",
            ConvergenceWarning,
            stacklevel=5,
        )

    def _validation_split(self, X, codes, random_state, split):
        n_classes = len(self.classes_)
        if split == "classes":
            n_held_out = self._n_held_out_classes()
            if n_classes - n_held_out < 2:
                raise ValueError(
                    "validation_split='classes' holds out at least 2 whole classes "
                    f"and trains on at least 2; y has only {n_classes} classes."
                )
            held_out = random_state.choice(n_classes, n_held_out, replace=False)
            val = np.isin(codes, held_out)
            return X[~val], codes[~val], X[val], codes[val]
        # at least one validation sample of every class, when there are enough
        n_val = max(n_classes, int(np.ceil(self.validation_fraction * len(codes))))
        splitter = StratifiedShuffleSplit(
            n_splits=1, test_size=n_val, random_state=random_state
        )
        try:
            train, val = next(splitter.split(np.zeros(len(codes)), codes))
        except ValueError as error:
            raise ValueError(
                "early_stopping=True could not hold out a stratified validation set "
                f"(validation_fraction={self.validation_fraction}): {error}"
            ) from None
        return X[train], codes[train], X[val], codes[val]

    def _n_held_out_classes(self):
        return max(2, round(self.validation_fraction * len(self.classes_)))

    def _print_epoch(self, loss, seconds):
        if not self.verbose:
            return
        line = f"[{type(self).__name__}] epoch {self.n_iter_:4d}  loss {loss:.6f}"
        if self.validation_scores_:
            line += f"  validation NMI {self.validation_scores_[-1]:.4f}"
        print(f"{line}  {seconds:.2f}s", flush=True)

    def _batch_progress(self, n_batches):
        if self.verbose < 2:
            return None
        every = max(1, n_batches // 10)

        def report(batch, loss):
            if batch % every == 0 or batch == n_batches:
                print(
                    f"[{type(self).__name__}]   batch {batch}/{n_batches}  "
                    f"loss {loss:.6f}",
                    flush=True,
                )

        return report

    def _set_centroids(self, X, codes, device, update=False):
        embeddings = embed(self.module_.to(device), X, device)
        self.module_.to("cpu")
        n_classes = len(self.classes_)
        counts = np.bincount(codes, minlength=n_classes)
        membership = sp.csr_matrix(
            (np.ones(len(codes)), (codes, np.arange(len(codes)))),
            shape=(n_classes, len(codes)),
        )
        sums = membership @ embeddings.astype(np.float64)
        present = counts > 0
        previous = getattr(self, "class_centroids_", None) if update else None
        if previous is None or previous.shape != sums.shape:
            # a first call, or the head's columns just joined the embedding:
            # centroids of classes absent from X are unknown in it
            self.class_centroids_ = np.full_like(sums, np.nan)
        self.class_centroids_[present] = sums[present] / counts[present, None]

    # ------------------------------------------------------------ inference

    def transform(self, X):
        """Embed samples, in batches.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples, of classes seen in training or not.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features_out)
            The embedding, in the floating point dtype of ``X``, as wide as
            ``class_centroids_``.
        """
        check_is_fitted(self)
        X = validate_data(
            self,
            X,
            accept_sparse=["csr", "csc"],
            dtype=[np.float64, np.float32],
            reset=False,
        )
        if hasattr(X, "tocsr"):
            X = X.tocsr()
        device = resolve_device(self.device)
        module, dtype = self.module_, torch.float32
        if X.dtype == np.float64:
            # float64 inputs are embedded in float64: the result then does not
            # depend on how rows are batched, to float32 rounding.
            module, dtype = copy.deepcopy(module).double(), torch.float64
        elif device.type != "cpu":
            module = copy.deepcopy(module)  # module_ stays put for other threads
        return embed(module.to(device), X, device, dtype=dtype)

    def predict(self, X):
        """The training class whose centroid is nearest in the embedding.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples to assign.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        embeddings = self.transform(X)
        known = ~np.isnan(self.class_centroids_[:, 0])
        nearest = pairwise_distances_argmin(embeddings, self.class_centroids_[known])
        return self.classes_[known][nearest]

    def score(self, X, y):
        """NMI between k-means on the embedding and ``y`` (k = distinct labels).

        The clustering metric of Law et al. (2017); it is defined for classes
        never seen in training, and it is what ``GridSearchCV`` maximises by
        default.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples to embed and cluster.
        y : array-like of shape (n_samples,)
            Their true classes.

        Returns
        -------
        score : float
            Normalized mutual information, in [0, 1].
        """
        # the embedding is ours alone: k-means may centre it in place
        return _kmeans_nmi(self.transform(X), y, self.random_state, copy_x=False)

    @property
    def _n_features_out(self):
        return self.class_centroids_.shape[1]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
