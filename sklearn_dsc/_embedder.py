"""DeepSpectralClusteringEmbedder: the scikit-learn estimator.

The class holds the scikit-learn surface: parameters and their constraints,
input validation, ``fit``/``partial_fit`` (through one ``_fit``), inference
and tags. Fitting itself is in ``_fitting`` (which calls ``_selection`` and
``_training``); the estimator stores what it returns.
"""

import contextlib
import copy
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)
from sklearn.metrics import pairwise_distances_argmin
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ._anchors import ANCHORS
from ._compat import Interval, StrOptions, _fit_context
from ._data import embed, exact_float32, resolve_device
from ._fitted_state import (
    BEING_FITTED,
    FittedState,
    check_fit_ended,
    import_state,
    pickled_state,
    refuse_unfinished,
)
from ._fitting import (
    FitResult,
    Run,
    Settings,
    check_own_network,
    class_centroids,
    fit_adam,
    fit_chunk,
    fit_closed_form,
)
from ._networks import ACTIVATIONS, hidden_layers, is_width
from ._parameters import (
    check_built_with,
    check_callback,
    check_settings,
    is_choice,
    record_built_with,
    warn_if_head_parameters_unused,
)
from ._training import History, TrainingSettings, restore, snapshot
from ._validation import (
    check_finite,
    check_known_classes,
    check_labels,
    check_numeric_frame,
    check_rows,
    host_values,
    is_constant,
    warn_if_single_rows,
    warn_if_unlabelled_mark,
)
from ._warnings import warn
from ._wording import (
    LEDOIT_WOLF,
    choice,
    counted,
    in_python,
    parameter,
    setting,
    setting_list,
)
from .metrics import kmeans_nmi_in_place

# Training runs in float32 on inputs rescaled inside the network to unit
# spread, so only their range matters: the largest magnitude must keep the
# rescaling factors (about its inverse) and the inputs themselves far from
# float32's overflow and subnormal ranges.
FLOAT32_RANGE = (
    float(np.finfo(np.float32).tiny) * 2**24,
    float(np.finfo(np.float32).max) / 2**24,
)


class DeepSpectralClusteringEmbedder(
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    """Embedding learned with the spectral clustering loss (Deep Spectral Clustering).

    Learns a map ``f`` (a multi-layer perceptron, a small convolutional
    network for images, a network of your own, or a linear map) such that
    spectral clustering of ``f(X)`` recovers the classes ``y``: it minimises
    ``1/4 ||P_F - P_Y||_F^2`` over mini-batches, where ``P_F`` projects onto the
    column space of the batch's embedding and ``P_Y`` onto the span of its class
    indicators (Law, Urtasun and Zemel, 2017). The gradient has a closed form
    that costs time linear in the batch size.

    The embedding then serves to cluster new samples, also of classes never
    seen in training: ``transform`` gives the embedding, ``score`` the NMI of
    k-means on it, and ``predict`` the nearest training class.

    By default the embedding is a fixed linear *anchor* (PCA of the inputs,
    the inputs whitened by the training classes' within-class covariance,
    those inputs weighted as probabilistic LDA weighs directions, or the
    closed-form linear solution) beside a *head* (an MLP) trained with the
    loss: training the loss on a few classes makes the head discriminative but
    collapses structure that other classes need, and the anchor keeps it.
    Whole training classes are held out to choose the anchor, and whether and
    with what weight the trained head helps classes it never saw; the model
    is then refit on every class with those choices. It is therefore never
    worse on the held-out classes than its anchor alone. When a map that
    keeps every input direction (PCA or whitened) transfers to held-out
    classes better than the training classes' own directions (the closed
    form), no head is trained: a head trained on those classes did not
    transfer either (see the user guide). With 4 or 5 training classes too
    few would be left to choose on, and with 2 or 3 none can be held out: a
    fixed anchor is then kept alone.

    Parameters
    ----------
    n_components : int, default=None
        Dimension of the embedding that the loss trains (the head, with an
        anchor). ``None`` uses the number of training classes, the dimension
        of the span of the class indicators that the loss fits, at most as
        many as a batch holds classes (128 with the default ``batch_size``,
        which draws two rows of each), or 16 where ten classes or more are
        held out (see ``normalize_embeddings``). The anchor adds its own
        dimensions: up to 256 principal directions for ``init="pca"``,
        ``"whitened"`` and ``"plda"``, one per training class for
        ``"closed_form"``; when no trained head is kept the embedding is
        the anchor alone. With ``solver="closed_form"``, ``None`` keeps exactly
        the directions that lower the loss. Keep it well below the rows of a
        batch: outputs that span a batch leave the loss constant there, and
        ``fit`` warns where they are as wide as a batch.

    network : {"mlp", "conv"}, torch.nn.Module or callable, default="mlp"
        The network the loss trains (the head, beside an anchor). ``"mlp"``
        is a multi-layer perceptron of ``hidden_layer_sizes``; ``"conv"`` a
        small convolutional network for images given as flat rows (three 3x3
        convolutions of 32, 64 and 64 channels, each followed by the
        activation and 2x2 max-pooling, then a linear layer), which needs
        ``input_shape``. A ``torch.nn.Module`` (for example a pretrained
        backbone to fine-tune) is copied and trained; it must map a batch of
        float32 rows ``(n, n_features)`` to ``(n, width)``, which ``fit``
        checks on the first two rows of ``X`` before anything else. A
        callable is called as ``network(n_features, n_components)`` under a
        seed drawn from ``random_state`` and must return such a module, of
        which a copy is trained (so it may return one it keeps): once for
        that check, then once for each network ``fit`` trains (where
        classes are held out, one on the classes kept, as many outputs as
        they are classes when ``n_components`` is None, then one on every
        class). Model files
        (:func:`~sklearn_dsc.save`) hold the built-in networks; an estimator
        with a network of your own is saved with pickle or joblib.

    input_shape : tuple of int, default=None
        The shape of one sample, ``(height, width)`` or ``(channels, height,
        width)``, for ``network="conv"``: each row of ``X`` is reshaped to it
        (row-major, as ``numpy.reshape``), channels first; a shape that reads
        as channels last, such as ``(32, 32, 3)``, is warned about. Ignored
        by other networks.

    hidden_layer_sizes : int or tuple of int, default=(256,)
        Widths of the hidden layers of ``network="mlp"`` (an int is one
        layer, as in scikit-learn's ``MLPClassifier``); ``()`` makes the
        embedding a linear map of the inputs (a linear metric).

    activation : {"relu", "tanh", "logistic", "identity"}, default="relu"
        Activation of the hidden layers.

    dropout : float, default=0.0
        Probability of zeroing each hidden unit in training (dropout after
        every hidden activation of the trained network); ``0`` adds no
        dropout layer. Inference uses every unit.

    normalize_embeddings : bool or "auto", default="auto"
        L2-normalise each row of the trained network's output (of the head,
        beside an anchor), in training and in ``transform``: the loss then
        sees only the embeddings' directions, and k-means clusters them as
        on a sphere. ``"auto"`` normalises where ten classes or more are
        held out (``validation_split``), and there, unless they are set,
        ``n_components`` is 16 and ``samples_per_class`` 16: the head is
        trained as metric-learning losses train theirs. Elsewhere it does
        not normalise, nor where ``n_components=1`` (a unit row of one
        dimension is +1 or -1, which ``True`` refuses). Measured with a
        plain MLP on glyph and font images (``benchmarks/mlp_gap.py``):
        with batches of 16 classes of 16 rows and 16 outputs it clustered
        unseen classes within 0.03 and 0.01 NMI of MultiSimilarity, where
        the loss on raw outputs trailed by 0.13 and 0.08; trained from a
        random start on few classes (5 digits of 8x8 pixels, Fashion-MNIST)
        it did worse than on raw outputs. See the user guide.

    solver : {"adam", "closed_form"}, default="adam"
        ``"adam"`` trains by mini-batch gradient descent with Adam.
        ``"closed_form"`` (linear embeddings only, ``hidden_layer_sizes=()``)
        computes the exact minimiser of the loss over linear maps of the
        whole training set, without iterating; ``alpha`` is then its ridge
        penalty.

    init : {"auto", "pca", "whitened", "plda", "closed_form", "random"}, \
default="auto"
        The anchor: a linear map, at unit spread on the training data and
        never trained. With an anchor the embedding is ``[w * anchor(x), s *
        head(x)]``, the head trained with the loss and scaled by ``s`` to
        unit spread. The weight ``w`` is chosen on validation data between 1
        and 2, and also 0.5 and 0 (the head alone, without the anchor's
        columns) when 10 classes or more are held out; 1 without validation.

        - ``"pca"``: the PCA projection of the inputs (at most 256
          directions).
        - ``"whitened"``: that projection whitened by the training classes'
          within-class covariance, shrunk by ``shrinkage``. It divides out
          the variation the classes share and keeps every direction.
        - ``"plda"``: the whitened projection with each direction weighted
          as probabilistic LDA weighs the difference of two rows, by how
          much the training classes' means vary along it (their covariance
          shrunk by OAS). It damps the directions in which classes do not
          differ, and drops them where the classes outnumber the
          directions and their means do not vary along them at all.
        - ``"closed_form"``: the closed-form linear solution (every class
          direction: a ridge regression onto the class indicators, its
          ridge 0.01 of the largest eigenvalue of the centred ``X^T X``,
          so that it does not depend on the inputs' units).
        - ``"random"``: no anchor; a plain MLP from torch's default
          initialisation, the paper's setting, which fits the training
          classes fastest.
        - ``"auto"``: by what the data can tell (see the user guide).

          - Without ``early_stopping``: ``"pca"``.
          - With too few classes to hold any out (see
            ``validation_split``), or where each set of held-out classes
            would keep fewer than 4 training classes, too few to tell the
            anchors apart: ``"plda"`` where those classes' means leave at
            most 40 directions of the inputs unspanned (or none),
            ``"whitened"`` where they leave more.
          - Where the training classes outnumber the features (their means
            span the inputs): ``"plda"``, at the shrinkage that held-out
            classes choose (see ``shrinkage``).
          - Otherwise, the anchor that clusters the held-out classes best
            among ``"pca"``, ``"whitened"``, ``"closed_form"`` and, with
            fewer than 10 held-out classes, ``"plda"``; the closed form
            only where two paired tests prefer it.

          With fewer than 10 held-out classes a head is then trained only
          beside the closed form; with 10 or more, beside any anchor (see
          ``validation_split``).

    shrinkage : float, "ledoit-wolf" or "auto", default="auto"
        Of the ``"whitened"`` and ``"plda"`` anchors (the other anchors and
        ``solver="closed_form"`` do not use it, and say so with a warning
        when it is set): the within-class
        covariance ``S_w`` becomes ``S_w + shrinkage * v I``, ``v`` being the
        largest variance of the inputs. Large values give the PCA geometry
        back (for ``"whitened"``), small ones the full-rank metric of linear
        discriminant analysis. ``"ledoit-wolf"`` estimates ``S_w`` as
        scikit-learn's ``LinearDiscriminantAnalysis(solver="eigen",
        shrinkage="auto")`` does: each class's covariance shrunk by
        Ledoit-Wolf towards its diagonal, which keeps every feature's own
        within-class variance (inputs of at most 4096 features). ``"auto"``:

        - chooses among 1, 0.3, 0.1, 0.03 and 0.01 on held-out classes;
        - for the ``"plda"`` anchor of training classes that outnumber the
          features, chooses among 0.01, 0.001, 1e-4 and 1e-6 on held-out
          classes;
        - is ``"ledoit-wolf"`` for the ``"plda"`` anchor kept where the
          held-out classes are too few to choose, or the classes too few
          to hold any out (see ``init``);
        - is 0.1 elsewhere where they are too few to choose, and where
          classes are not held out.

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
        ``max(2, batch_size // n_classes)`` samples each; where ten classes
        or more are held out, 16 (see ``normalize_embeddings``).

    learning_rate_init : float, default=1e-3
        Adam's learning rate.

    alpha : float, default=1e-4
        L2 regularisation: decoupled weight decay (AdamW) for ``"adam"``, the
        ridge penalty on the centred ``X^T X`` for ``"closed_form"``. (The
        closed-form anchor, ``init="closed_form"``, has a ridge of its own.)
        AdamW multiplies the weights by ``1 - learning_rate_init * alpha`` at
        every step: ``"adam"`` refuses a product of 1 or more.

    max_iter : int, default=100
        Maximum number of epochs. An epoch is ``n_samples / batch_size``
        mini-batches (at least one).

    tol : float or "auto", default="auto"
        Minimum improvement of the training loss (or, with
        ``early_stopping``, of the validation score) that resets the
        patience counter. ``"auto"``: 0.005 of the held-out score when
        held-out classes score every epoch (ten held-out classes or more),
        otherwise 1e-4; where 0.005 stopped a head whose held-out gain is
        still short of its margin, it trains on from its best epoch with
        1e-4.

    n_iter_no_change : int or "auto", default="auto"
        Epochs without an improvement of ``tol`` after which training stops.
        ``"auto"``: 5 when held-out classes score every epoch (ten held-out
        classes or more, see ``validation_split``; their best epoch comes
        early), otherwise 10.

    early_stopping : bool, default=True
        Hold out validation data and use its NMI to choose (see
        ``validation_split`` and ``validation_metric_``). Without it,
        training stops when the training loss no longer improves by ``tol``
        for ``n_iter_no_change`` epochs.

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
        closed-form anchor was chosen. With 10 held-out classes or more,
        which judge a network reliably, the head is trained beside any
        anchor and scored on them after every epoch by the cheaper
        nearest-mean NMI (patience ``n_iter_no_change``); if its best
        epoch's gain over the anchor alone exceeds the spread of that gain
        over halves of the held-out classes, a network is refit on every
        class for that many epochs, and otherwise the anchor alone is kept,
        fitted on every class.
        ``"auto"`` is ``"classes"`` with 4 classes or more, else
        ``"samples"``; there, with ``init="auto"``, nothing is held out:
        the anchor is the one kept where held-out classes are too few to
        choose (see ``init``), not compared (samples of the training
        classes prefer the closed form, which separates exactly those
        classes and transfers poorly to new ones), and it is kept alone,
        fitted on every row, no head trained (no held-out class could show
        that a head transfers; set ``init`` to train one, its epochs chosen
        by held-out samples).

    warm_start : bool, default=False
        Continue training the fitted network on the next ``fit`` instead of
        starting afresh. The parameters that build the network
        (``n_components``, ``network``, ``input_shape``,
        ``hidden_layer_sizes``, ``activation``, ``dropout``,
        ``normalize_embeddings``, ``init`` and ``shrinkage``) must keep the
        values it was built with: others raise a ``ValueError`` (as in
        ``partial_fit``). With ``early_stopping``, the continued fit trains
        on the rows not held out, scores the held-out ones (whole classes
        where the split is by class) after every epoch and keeps the best
        epoch, its start included; nothing is refit on every class.
        ``solver="closed_form"`` refits its map anew.

    random_state : int, RandomState instance or None, default=None
        Seeds everything random: initial weights, batches, the validation
        split and k-means. An int gives the same embedding, bit for bit, on
        the CPU.

    device : {"auto", "cpu", "cuda"}, str or torch.device, default="auto"
        Where training and inference run; ``"auto"`` takes a GPU when one is
        available. The fitted ``module_`` is always moved back to the CPU.

    verbose : int, default=0
        ``1`` prints what fitting does between epochs (as ``callback.stage``
        is told, below), one line per epoch (loss, validation score,
        seconds) and what was kept and what each stage cost; ``2`` also
        prints progress within epochs.

    callback : callable, default=None
        Called as ``callback(estimator)`` after every epoch, with
        ``loss_curve_`` and ``n_iter_`` up to date; training stops if it
        returns ``True``. A callback with a ``stage`` method is also told,
        as ``callback.stage(text)``, what fitting does between epochs
        (which run trains; which held-out split the anchor choice is on,
        with the time left: a pass's first split, then at most one a
        second). A callback that cannot be called so is refused with a
        ``TypeError`` before ``fit`` does any work. The estimator it gets is
        being fitted: ``transform`` and ``score`` read the network trained so
        far, and a pickle or copy of it keeps that network; ``predict`` and
        ``save``, which need what ``fit`` computes at its end, refuse it, as
        continuing such a copy does.

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
        The anchor used, ``"pca"``, ``"whitened"``, ``"plda"`` or
        ``"closed_form"`` (what ``init="auto"`` chose), ``"random"`` for a
        plain MLP, ``None`` with ``solver="closed_form"``.

    shrinkage_ : float, str or None
        The shrinkage of the whitened or PLDA anchor (a number or
        ``"ledoit-wolf"``), ``None`` with another.

    class_centroids_ : ndarray of shape (n_classes, n_features_out)
        Mean embedding of each training class, used by ``predict``. Its width
        is that of ``transform``'s output: with an anchor, the anchor's
        dimensions, plus ``n_components`` when a trained head is kept.

    loss_curve_ : list of float
        Mean training loss of each epoch of the final model.

    validation_scores_ : list of float or None
        Validation NMI (``validation_metric_``) when ``early_stopping``, else
        ``None`` (and where nothing was held out: ``init="auto"`` with fewer
        than 4 classes, see ``validation_split``): with held-out samples, or
        when ``warm_start`` continues a fit, of the starting weights then of
        each epoch; otherwise, with held-out classes, of
        the anchor alone then, when a head was trained, of the anchor with
        the trained head (with 10 held-out classes or more, of each epoch;
        for ``init="random"``, of each epoch only; where ``tol="auto"``
        trained a head short of its margin on from its best epoch, the
        epochs after that best are left out).

    best_validation_score_ : float or None
        Best of ``validation_scores_``, or ``None``.

    validation_metric_ : str or None
        What ``validation_scores_`` measure: ``"k-means NMI"`` (k-means with
        as many clusters as classes), or, with 10 held-out classes or more,
        ``"nearest-mean NMI"`` (each held-out row assigned to the nearest
        mean of a held-out class; it scores every epoch at a fraction of
        k-means' cost). ``None`` without validation scores.

    n_validation_classes_ : int or None
        Number of whole classes held out for ``validation_scores_``, or
        ``None`` when samples were held out (or nothing). A k-means NMI on
        two or three classes is noisy: see ``validation_spread_``.

    validation_spread_ : float or None
        Standard deviation of the chosen anchor's held-out NMI over the sets
        of held-out classes on which ``init="auto"`` (or ``shrinkage="auto"``)
        compared the anchors: how much ``validation_scores_`` owes to which
        classes were held out. ``None`` where no anchors were compared (among
        them where sets of held-out classes would keep too few training
        classes to compare them, and the anchor is fixed).

    fit_stage_seconds_ : dict
        Seconds the last ``fit`` or ``partial_fit`` spent in each of its
        stages (``"fitting anchors"``, ``"choosing the anchor"``,
        ``"training"``, ``"scoring held-out data"``, ``"refit on every
        class"``, ``"closed form"``); a stage inside another counts for the
        inner one only. ``verbose`` prints them at the end of a fit.

    n_iter_ : int
        Number of epochs the final model was trained for: 0 where it is an
        anchor alone, no network trained. When held-out samples choose the
        best epoch, ``n_iter_`` counts every epoch run, and the weights kept
        may be those of an earlier one, or the start's (the anchor alone,
        with ``module_.head_scale`` 0, or the random start): ``verbose`` and
        ``sklearn-dsc info`` say which.

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

    Notes
    -----
    Like k-means, the embedding depends on the features' scales: a numeric
    ``shrinkage`` is a share of the inputs' largest variance, and the
    network sees each feature at its own scale (one factor rescales them
    all). Put a scaler before the estimator in a ``Pipeline``. On
    scikit-learn's wine data (features from about 0.1 to 1,700), fitted and
    scored on its three classes, ``init="whitened"`` gives a k-means NMI of
    0.43, as the raw features do; after a ``StandardScaler``, 0.94. (The
    defaults give 0.91 either way: with so few classes they keep the PLDA
    anchor alone, at ``shrinkage="ledoit-wolf"``, which scales each feature
    by its own spread.) Where some
    features are nearly constant in training, prefer a scale shared by all
    of them (``MinMaxScaler``, or pixels divided by 255): a
    ``StandardScaler`` would stretch them (see the user guide's limitations).

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
    0.78
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left"), None],
        "network": [StrOptions({"mlp", "conv"}), torch.nn.Module, callable],
        "input_shape": ["array-like", None],
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "normalize_embeddings": ["boolean", StrOptions({"auto"})],
        "solver": [StrOptions({"adam", "closed_form"})],
        "init": [StrOptions({"auto", "random", *ANCHORS})],
        "shrinkage": [
            Interval(Real, 0, None, closed="neither"),
            StrOptions({"auto", LEDOIT_WOLF}),
        ],
        "batch_size": [Interval(Integral, 2, None, closed="left")],
        "chunk_size": [Interval(Integral, 1, None, closed="left"), None],
        "samples_per_class": [Interval(Integral, 1, None, closed="left"), None],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "n_iter_no_change": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
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
        network="mlp",
        input_shape=None,
        hidden_layer_sizes=(256,),
        activation="relu",
        dropout=0.0,
        normalize_embeddings="auto",
        solver="adam",
        init="auto",
        shrinkage="auto",
        batch_size=256,
        chunk_size=None,
        samples_per_class=None,
        learning_rate_init=1e-3,
        alpha=1e-4,
        max_iter=100,
        tol="auto",
        n_iter_no_change="auto",
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
        self.network = network
        self.input_shape = input_shape
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.dropout = dropout
        self.normalize_embeddings = normalize_embeddings
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

        Notes
        -----
        An interrupt (``KeyboardInterrupt``, Ctrl-C) during training stops it:
        once an epoch has run, a :class:`~sklearn_dsc.TrainingInterrupted`
        warning is issued and the fit ends with the network trained so far
        (at its best epoch where held-out data score the epochs), not refit
        on every class; held-out classes that say a head does not help keep
        the anchor alone, as without the interrupt. Before
        that, or outside the epochs, the interrupt propagates and the
        estimator is left as it was before ``fit``. Any other error leaves it
        as it was, too.
        """
        return self._fit(X, y, incremental=False)

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
        them, and ``predict`` leaves those classes out. The parameters that
        build the network keep their values between calls (those listed
        under ``warm_start``); others raise a ``ValueError``.

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
        return self._fit(X, y, incremental=True, classes=classes)

    def _fit(self, X, y, incremental, classes=None):
        """``fit`` (``incremental=False``) and ``partial_fit``: validate, fit
        with ``_fitting``, store the result."""
        check_callback(self.callback)
        with self._fitting() as unfinished, exact_float32():
            continues = hasattr(self, "module_") and (incremental or self.warm_start)
            if continues and unfinished:
                refuse_unfinished("partial_fit" if incremental else "warm_start=True")
            # the closed form refits its map from the data whatever was fitted
            rebuilds = not continues or self.solver == "closed_form"
            if not rebuilds:
                check_built_with(self, incremental)
            X, y = self._validate_training_data(
                X, y, reset=not continues, chunk=incremental
            )
            if not incremental:  # a chunk may hold a single row of a class
                warn_if_single_rows(y)
            codes = self._encode_classes(y, classes, continues, incremental)
            n_classes = len(self.classes_)
            device = resolve_device(self.device)
            random_state = check_random_state(self.random_state)
            previous = self._fitted_result() if continues else None
            # without a callback nothing looks at the network between epochs
            on_epoch = None if self.callback is None else self._on_epoch
            run = Run(self._settings(), device, random_state, on_epoch, self._on_stage)
            if previous is None:  # a network of the user's, tried before any work
                check_own_network(X, n_classes, run.settings)
            if self.solver == "closed_form":
                with run.clock("closed form"):
                    result = fit_closed_form(X, codes, n_classes, run.settings)
            elif incremental:
                result = fit_chunk(X, codes, n_classes, run, previous)
            else:
                result = fit_adam(X, codes, n_classes, run, previous)
            self._store(result.module, result.history)
            self.init_, self.shrinkage_ = result.init, result.shrinkage
            if rebuilds:
                record_built_with(self)
            embeddings = embed(self.module_.to(device), X, device)
            self.module_.to("cpu")
            self.class_centroids_ = class_centroids(
                embeddings,
                codes,
                n_classes,
                getattr(self, "class_centroids_", None) if incremental else None,
            )
            self.fit_stage_seconds_ = dict(run.clock.seconds)
            if self.verbose:
                print(f"[{type(self).__name__}] time: {run.clock.describe()}")
            if not incremental:
                self._warn_if_other_width()
                warn_if_head_parameters_unused(self)
        return self

    def _warn_if_other_width(self):
        """``n_components`` is the trained part's width: say so when the
        embedding is not that wide."""
        width = self.class_centroids_.shape[1]
        if self.n_components is None or width == self.n_components:
            return
        if self.init_ is None:
            why = "the closed-form map has at most one direction per class"
        elif self.init_ == "random":
            why = "the network given as network= returns that many"
        elif not self.module_.head_scale:
            why = (
                f"no trained head was kept, so the embedding is the {self.init_} anchor"
            )
        else:
            why = f"the {self.init_} anchor's dimensions come before the head's"
        returns = f"a network that returns {self.n_components}"
        if self.init_ is None:  # the closed form: Adam trains a linear map
            remedy = f"use {setting_list([('solver', 'adam'), ('init', 'random')])}"
        elif self.init_ == "random":  # the built-in networks return n_components
            remedy = f"give {returns}"
        elif isinstance(self.network, str):
            remedy = f"use {setting('init', 'random')}"
        else:  # a network of one's own, which may return another width
            remedy = f"use {setting('init', 'random')} with {returns}"
        pipeline = in_python(f"PCA({self.n_components}) after this estimator")
        warn(
            f"{setting('n_components', self.n_components)} sets the width of the "
            f"trained head, but the embedding has {counted(width, 'dimension')}: "
            f"{why}. For exactly {counted(self.n_components, 'dimension')}, "
            f"{remedy}" + (f", or put {pipeline} in a pipeline." if pipeline else "."),
            UserWarning,
        )

    @contextlib.contextmanager
    def _fitting(self):
        """While ``fit`` or ``partial_fit`` runs, mark the estimator as being
        fitted (``BEING_FITTED``): a callback sees it so, and a pickle taken
        there keeps the mark; the context gives whether the estimator came in
        so marked. On any exception (an interrupt, a raising callback, running
        out of memory, bad input), put the estimator back as it was before
        the call: never half-fitted, never with weights from a failed step."""
        previous = dict(self.__dict__)
        module = previous.get("module_")
        weights = snapshot(module) if module is not None else None
        self.__dict__[BEING_FITTED] = True
        try:
            yield BEING_FITTED in previous  # pickled while being fitted
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(previous)
            if module is not None:
                restore(module, weights)
                module.to("cpu")
            raise
        self.__dict__.pop(BEING_FITTED, None)

    def _validate_training_data(self, X, y, reset, chunk=False):
        X, y = host_values(X), host_values(y)  # tensors with gradients, on a GPU
        check_rows(X)
        check_numeric_frame(X)
        if y is not None:  # (validate_data says that y is needed)
            check_labels(y, "y")
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            dtype=[np.float64, np.float32],
            ensure_all_finite=False,  # check_finite says more
            ensure_min_samples=2,
            reset=reset,
        )
        check_finite(X, getattr(self, "feature_names_in_", None))
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
        classes = np.unique(y)
        if len(classes) < 2:
            where = (
                " of every partial_fit chunk (it compares the classes of a batch): "
                "shuffle the rows, or give larger chunks"
                if chunk
                else ""
            )
            raise ValueError(
                f"The spectral clustering loss needs at least 2 classes in y{where}; "
                f"got {len(classes)} class."
            )
        if is_constant(X):
            raise ValueError(
                "X is constant: every row is the same, so no embedding of it can "
                "separate the classes."
            )
        warn_if_unlabelled_mark(classes)
        check_settings(self, X)
        return X, y

    def _encode_classes(self, y, classes, continues, incremental):
        """Set ``classes_`` (unless continuing) and return ``y``'s codes, the
        index of each label in ``classes_``."""
        if not continues:
            if classes is not None:
                check_labels(classes, "classes")
            self.classes_ = np.unique(y if classes is None else classes)
        elif not incremental:
            found = np.unique(y)
            if not np.array_equal(found, self.classes_):
                raise ValueError(
                    "warm_start=True needs the same classes as the previous fit; "
                    f"got {found.tolist()} instead of {self.classes_.tolist()}."
                )
        check_known_classes(y, self.classes_, continues)
        return np.searchsorted(self.classes_, y)

    def _settings(self):
        sizes = hidden_layers(self.hidden_layer_sizes)
        if not all(is_width(s) for s in sizes):
            raise ValueError(
                f"{parameter('hidden_layer_sizes')} must hold positive integers, got "
                f"{choice(sizes)}."
            )
        training = TrainingSettings(
            batch_size=self.batch_size,
            samples_per_class=self.samples_per_class,
            chunk_size=self.chunk_size,
            learning_rate=self.learning_rate_init,
            weight_decay=self.alpha,
            dropout=self.dropout,
            max_iter=self.max_iter,
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
            verbose=self.verbose,
            name=type(self).__name__,
        )
        return Settings(
            n_components=self.n_components,
            network=self.network,
            input_shape=None if self.input_shape is None else tuple(self.input_shape),
            hidden_layer_sizes=sizes,
            activation=self.activation,
            normalize_embeddings=(
                "auto"
                if is_choice(self.normalize_embeddings, "auto")
                else bool(self.normalize_embeddings)
            ),
            init=self.init,
            shrinkage=self.shrinkage,
            alpha=self.alpha,
            early_stopping=self.early_stopping,
            validation_split=self.validation_split,
            validation_fraction=self.validation_fraction,
            training=training,
        )

    def _fitted_result(self):
        """The fitted state as a ``FitResult`` that fitting continues from."""
        history = History(
            loss_curve=list(self.loss_curve_),
            n_iter=self.n_iter_,
            t=self.t_,
            validation_scores=self.validation_scores_,
            best_validation_score=self.best_validation_score_,
            validation_metric=getattr(self, "validation_metric_", None),
            n_validation_classes=getattr(self, "n_validation_classes_", None),
            validation_spread=getattr(self, "validation_spread_", None),
            optimizer_state=getattr(self, "_optimizer_state", None),
        )
        return FitResult(self.module_, self.init_, self.shrinkage_, history)

    def _store(self, module, history):
        """Write the network and its training history as fitted attributes,
        and, for a progress bar (``_progress.EpochProgress``), the epoch at
        which the training run in progress stops at the latest."""
        self.module_ = module
        self.loss_curve_ = history.loss_curve
        self.n_iter_ = history.n_iter
        self.t_ = history.t
        self.validation_scores_ = history.validation_scores
        self.best_validation_score_ = history.best_validation_score
        self.validation_metric_ = history.validation_metric
        self.n_validation_classes_ = history.n_validation_classes
        self.validation_spread_ = history.validation_spread
        self._optimizer_state = history.optimizer_state
        self._run_last_epoch = history.last_epoch

    def _on_stage(self, text):
        """Between epochs: what fitting does, for ``verbose`` and for a
        ``callback`` with a ``stage`` method."""
        if self.verbose:
            print(f"[{type(self).__name__}] {text}", flush=True)
        stage = getattr(self.callback, "stage", None)
        if callable(stage):
            stage(text)

    def _on_epoch(self, module, history):
        """After every epoch: show the network and history being trained to the
        ``callback``; its ``True`` stops training."""
        self._store(module, history)
        return bool(self.callback(self))

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
        return self._embed(X)

    def _embed(self, X):
        """``transform``'s embedding, always an ndarray (``set_output`` wraps
        ``transform`` alone) that no one else holds."""
        check_is_fitted(self)
        X = host_values(X)  # a tensor with gradients, on a GPU
        check_rows(X)
        check_numeric_frame(X)
        X = validate_data(
            self,
            X,
            accept_sparse=["csr", "csc"],
            dtype=[np.float64, np.float32],
            ensure_all_finite=False,  # check_finite says more
            reset=False,
        )
        check_finite(X, getattr(self, "feature_names_in_", None))
        if hasattr(X, "tocsr"):
            X = X.tocsr()
        device = resolve_device(self.device, for_inference=True)
        module, dtype = self.module_, torch.float32
        if X.dtype == np.float64:
            # float64 inputs are embedded in float64: the result then does not
            # depend on how rows are batched, to float32 rounding.
            module, dtype = copy.deepcopy(module).double(), torch.float64
        elif device.type != "cpu":
            module = copy.deepcopy(module)  # module_ stays put for other threads
        with exact_float32():
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
        check_is_fitted(self)
        check_fit_ended(self)
        embeddings = self._embed(X)
        known = ~np.isnan(self.class_centroids_[:, 0])
        nearest = pairwise_distances_argmin(embeddings, self.class_centroids_[known])
        return self.classes_[known][nearest]

    def score(self, X, y):
        """NMI between k-means on the embedding and ``y`` (k = distinct labels).

        The clustering metric of Law et al. (2017); it is defined for classes
        never seen in training, and it is what ``GridSearchCV`` maximises by
        default. k-means is seeded with ``random_state`` (0 when it is
        ``None``), so the same data always gets the same score.

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
        y = host_values(y)
        check_labels(y, "y")  # before the embedding's work
        # the embedding is ours alone: k-means may centre it in place
        seed = 0 if self.random_state is None else self.random_state
        return kmeans_nmi_in_place(self._embed(X), y, seed)

    def __getstate__(self):
        """The state without torch objects: the fitted attributes as values
        and arrays (``export_state``, as in model files), the network as its
        description and weights. Pickles are then portable across devices,
        and ``skops.io`` can write them. A network of your own is pickled as
        it is, as is an estimator being fitted (from a callback)."""
        # object's state may be __dict__ itself
        return pickled_state(self, dict(super().__getstate__()))

    def __setstate__(self, state):
        state = dict(state)
        fitted = state.pop("_fitted_state", None)
        super().__setstate__(state)
        if fitted is not None:
            import_state(self, FittedState(**fitted))

    @property
    def _n_features_out(self):
        return self.class_centroids_.shape[1]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
