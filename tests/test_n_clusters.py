"""Estimating the number of clusters of an embedding."""

import numpy as np
import pytest
import torch

from sklearn_dsc import estimate_n_clusters, spectral_clustering_loss
from sklearn_dsc._n_clusters import (
    METHODS,
    REFERENCE_METHODS,
    NClustersEstimate,
    column_basis,
    covering_gap,
    local_quadratic,
    spectral_loss,
)

from helpers import run_fresh


def blobs(n_clusters=4, n_per_cluster=40, n_features=6, seed=0, spread=12.0):
    rng = np.random.RandomState(seed)
    centers = spread * rng.normal(size=(n_clusters, n_features))
    y = np.repeat(np.arange(n_clusters), n_per_cluster)
    return centers[y] + rng.normal(size=(len(y), n_features)), y


def estimate_by(method, X, reference, **options):
    """``estimate_n_clusters`` by ``method``, passing ``reference`` (rows and
    labels) to the methods that read one only."""
    rows, labels = reference if method in REFERENCE_METHODS else (None, None)
    return estimate_n_clusters(
        X,
        reference=rows,
        reference_labels=labels,
        method=method,
        random_state=0,
        **options,
    )


@pytest.mark.parametrize("method", METHODS)
def test_separated_blobs_are_counted(method):
    X, _ = blobs()
    # six other classes, as separate as the four: the calibrated reference
    estimate = estimate_by(method, X, blobs(n_clusters=6, seed=5), max_clusters=12)
    assert isinstance(estimate, NClustersEstimate)
    assert estimate.n_clusters == 4
    assert estimate.method == method
    assert len(estimate.candidates) == len(estimate.criterion)
    assert estimate.candidates.max() <= 12
    assert isinstance(estimate.criterion_name, str)
    if method == "calibrated":  # the gap after the estimate reaches the band
        low, high = estimate.reference_band
        assert 0 <= low <= high <= 1
        assert estimate.criterion[estimate.n_clusters - 2] >= low
    elif method != "hdbscan":  # the estimate is where the criterion is largest
        assert estimate.reference_band is None
        assert (estimate.cluster_price is None) == (method != "calibrated_loss")
        best = estimate.candidates[np.argmax(estimate.criterion)]
        assert estimate.n_clusters == best


def test_auto_is_the_calibrated_band_with_a_reference_and_the_eigengap_without():
    X, _ = blobs()
    reference, labels = blobs(n_clusters=6, seed=5)
    alone = estimate_n_clusters(X, random_state=0)
    assert alone.method == "eigengap"
    eigengap = estimate_n_clusters(X, method="eigengap", random_state=0)
    np.testing.assert_array_equal(alone.criterion, eigengap.criterion)
    calibrated = estimate_n_clusters(
        X, reference=reference, reference_labels=labels, random_state=0
    )
    assert calibrated.method == "calibrated"
    band = estimate_n_clusters(
        X, reference=reference, reference_labels=labels, method="calibrated"
    )
    np.testing.assert_array_equal(calibrated.criterion, band.criterion)


def overlapping(n_clusters, seed):
    """Many classes of 40 rows that overlap: the largest eigengap comes early."""
    return blobs(n_clusters, n_per_cluster=40, n_features=10, seed=seed, spread=0.9)


def test_the_band_counts_many_overlapping_classes_where_the_eigengap_fails():
    X, _ = overlapping(30, seed=2)
    reference, labels = overlapping(20, seed=3)  # other classes, as large
    assert estimate_n_clusters(X, random_state=0).n_clusters < 24  # 20 % low
    options = {"reference_labels": labels, "method": "calibrated", "random_state": 0}
    estimate = estimate_n_clusters(X, reference=reference, **options)
    assert 24 <= estimate.n_clusters <= 36  # within 20 %
    # the reference's own classes are counted right
    assert (
        estimate_n_clusters(reference, reference=reference, **options).n_clusters == 20
    )


def test_the_calibrated_estimate_is_the_gap_that_covers_the_most_of_the_band():
    eigenvalues = np.array([1.0, 0.95, 0.90, 0.80, 0.78, 0.76, 0.50, 0.40])
    candidates = np.arange(2, len(eigenvalues))
    # the band (0.79, 0.86): the gap after 3 (0.90 to 0.80) covers 0.06 of
    # it, the gap after 4 (0.80 to 0.78) 0.01
    assert covering_gap(eigenvalues, candidates, (0.79, 0.86)) == 3
    # the band (0.795, 0.801): the gap after 3, five times wider, only
    # touches it (0.001); the gap after 4 covers 0.005
    assert covering_gap(eigenvalues, candidates, (0.795, 0.801)) == 4
    # within one gap: its K
    assert covering_gap(eigenvalues, candidates, (0.6, 0.7)) == 6
    # no width: the number of eigenvalues above it, within the candidates
    assert covering_gap(eigenvalues, candidates, (0.79, 0.79)) == 4
    assert covering_gap(eigenvalues, candidates, (0.99, 0.99)) == 2
    assert covering_gap(eigenvalues, candidates, (0.1, 0.1)) == 7


@pytest.mark.parametrize("method", ["eigengap", "loss"])
def test_the_same_seed_gives_the_same_estimate(method):
    X, _ = blobs(n_clusters=6, seed=1)
    first = estimate_n_clusters(X, method=method, random_state=3, max_samples=150)
    second = estimate_n_clusters(X, method=method, random_state=3, max_samples=150)
    assert first.n_clusters == second.n_clusters
    np.testing.assert_array_equal(first.criterion, second.criterion)


def test_more_rows_than_max_samples_are_drawn_from():
    X, _ = blobs(n_clusters=3, n_per_cluster=200)
    estimate = estimate_n_clusters(X, max_samples=90, random_state=0)
    assert estimate.n_clusters == 3
    assert estimate.candidates.max() <= 9  # a tenth of the rows drawn


def test_the_loss_criterion_is_the_spectral_clustering_loss():
    X, y = blobs(n_clusters=5, n_features=8)
    labels = np.random.RandomState(0).randint(0, 5, size=len(X))
    centred = torch.from_numpy(X - X.mean(axis=0))
    for partition in (y, labels):
        expected = spectral_clustering_loss(centred, torch.from_numpy(partition))
        got = spectral_loss(column_basis(X), partition)
        assert got == pytest.approx(expected.item(), rel=1e-10)


def test_the_calibrated_loss_prices_a_cluster_off_the_reference():
    # 180 rows of rank 80: a split cluster still lies much in the column
    # space, so the loss's price of 1/2 per cluster counts too many
    X, _ = blobs(n_clusters=6, n_per_cluster=30, n_features=80, spread=2.0)
    reference = blobs(n_clusters=6, n_per_cluster=30, n_features=80, seed=1, spread=2.0)
    for seed in range(3):
        options = {"max_clusters": 17, "random_state": seed}
        assert estimate_n_clusters(X, method="loss", **options).n_clusters > 10
        estimate = estimate_n_clusters(
            X,
            reference=reference[0],
            reference_labels=reference[1],
            method="calibrated_loss",
            **options,
        )
        assert estimate.n_clusters == 6
        assert 0.5 < estimate.cluster_price < 1


def test_the_local_quadratic_keeps_a_quadratic_and_smooths_noise():
    x = np.log(np.arange(2, 40))
    curve = 3 - 2 * x + 0.5 * x**2
    assert local_quadratic(x, curve) == pytest.approx(curve, abs=1e-9)
    noise = np.random.RandomState(0).normal(scale=0.1, size=(5, len(x)))
    smoothed = np.array([local_quadratic(x, curve + row) for row in noise])
    # about 0.7 of the noise's root mean square is left
    assert np.sqrt(np.mean((smoothed - curve) ** 2)) < 0.8 * np.sqrt(np.mean(noise**2))
    assert local_quadratic(x[:1], curve[:1]) == pytest.approx(curve[:1])


def test_repeated_rows_give_a_finite_affinity():
    X, _ = blobs(n_clusters=3, n_per_cluster=30)
    X = np.repeat(X, 10, axis=0)  # every row ten times, like integer features
    # the affinity holds the 90 distinct rows: two a cluster, 45 at most
    with pytest.warns(UserWarning, match="90 distinct rows among the 900 used"):
        estimate = estimate_n_clusters(X, method="eigengap", random_state=0)
    assert np.isfinite(estimate.criterion).all()
    assert estimate.n_clusters == 3
    assert estimate.candidates.max() == 45


# three points, each the embedding of 50 rows: a collapsed embedding
COLLAPSED = np.repeat([[0.0, 0.0], [5.0, 5.0], [9.0, 0.0]], 50, axis=0)


@pytest.mark.parametrize("method", ["silhouette", "bic", "loss"])
def test_kmeans_methods_consider_no_more_clusters_than_distinct_rows(method):
    with pytest.warns(UserWarning, match="at most 3 clusters, not 15"):
        estimate = estimate_n_clusters(COLLAPSED, method=method, random_state=0)
    assert estimate.n_clusters == 3
    assert estimate.candidates.max() == 3


@pytest.mark.parametrize("method", ["eigengap", "hdbscan", "auto"])
def test_methods_on_distinct_rows_refuse_too_few_of_them(method):
    with pytest.raises(ValueError, match="has 3 distinct rows among the 150 used"):
        estimate_n_clusters(COLLAPSED, method=method, random_state=0)
    two = COLLAPSED[:100]
    with pytest.raises(ValueError, match="method='silhouette' clusters the rows"):
        estimate_n_clusters(two, method=method, random_state=0)


def test_hdbscan_needs_five_distinct_rows_a_cluster():
    points = np.repeat(np.arange(18.0).reshape(9, 2), 20, axis=0)
    with pytest.raises(ValueError, match=r"9 distinct rows.*needs 5 distinct rows a"):
        estimate_n_clusters(points, method="hdbscan", random_state=0)
    ten = np.repeat(np.arange(20.0).reshape(10, 2), 20, axis=0)
    with pytest.warns(UserWarning, match="at most 2 clusters, not 20"):
        estimate_n_clusters(ten, method="hdbscan", random_state=0)


REFERENCE, CLASSES = blobs(n_clusters=3, n_per_cluster=10, seed=2)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"embedding": np.full((20, 3), np.nan)}, "NaN"),
        ({"embedding": np.ones((20, 3))}, "constant"),
        ({"embedding": np.arange(6.0).reshape(3, 2)}, "3 rows: 2 clusters need"),
        ({"max_clusters": 40}, r"max_clusters \(40\) is not below the number of rows"),
        ({"max_clusters": 3, "min_clusters": 5}, r"max_clusters \(3\) is below min_"),
        ({"max_clusters": 1}, "'max_clusters' parameter of estimate_n_clusters must"),
        ({"min_clusters": 1}, "'min_clusters' parameter of estimate_n_clusters must"),
        ({"method": "gap"}, "'method' parameter of estimate_n_clusters must be a"),
        ({"n_neighbors": 0}, "'n_neighbors' parameter of estimate_n_clusters must"),
        ({"embedding": np.ones(30)}, "2D array"),
        ({"embedding": np.ones((1, 3))}, "embedding has 1 row: 2 clusters need at"),
        ({"embedding": np.ones((3, 3))}, "embedding has 3 rows: 2 clusters need at"),
        ({"method": "calibrated"}, "needs reference rows of known classes"),
        ({"method": "calibrated_loss"}, "'calibrated_loss' needs reference rows"),
        ({"reference": np.ones((20, 3))}, "reference and reference_labels go"),
        ({"reference_labels": np.zeros(20)}, "reference and reference_labels go"),
        (
            {"reference": REFERENCE, "reference_labels": CLASSES, "method": "bic"},
            "reference is read by method='calibrated' and 'calibrated_loss' only",
        ),
        (
            {"reference": REFERENCE[:, :2], "reference_labels": CLASSES},
            "reference has 2 columns, embedding 6",
        ),
        (
            {"reference": REFERENCE, "reference_labels": np.zeros(len(CLASSES))},
            "at least two classes; got 1",
        ),
        (
            {"reference": REFERENCE, "reference_labels": np.full(len(CLASSES), np.nan)},
            "reference_labels holds .* missing labels",
        ),
        (
            {"reference": REFERENCE, "reference_labels": np.full(len(CLASSES), np.inf)},
            "reference_labels holds infinity",
        ),
        (
            {"reference": REFERENCE, "reference_labels": CLASSES[:5]},
            f"reference has {len(REFERENCE)} rows but reference_labels has 5 entries",
        ),
        (
            {"reference": np.full_like(REFERENCE, np.nan), "reference_labels": CLASSES},
            "reference contains NaN",
        ),
    ],
)
def test_bad_input_is_named(change, message):
    X, _ = blobs(n_clusters=2, n_per_cluster=20)
    arguments = {"embedding": X, **change}
    with pytest.raises(ValueError, match=message):
        estimate_n_clusters(**arguments)


def test_plot_draws_the_criterion_the_estimate_and_the_band():
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    X, _ = blobs()
    reference, labels = blobs(n_clusters=6, seed=5)
    for estimate in (
        estimate_n_clusters(X, max_clusters=12, random_state=0),
        estimate_n_clusters(
            X, reference=reference, reference_labels=labels, max_clusters=12
        ),
    ):
        axis = estimate.plot(Figure().subplots())
        (line,) = [line for line in axis.get_lines() if len(line.get_xdata()) > 2]
        np.testing.assert_array_equal(line.get_xdata(), estimate.candidates)
        np.testing.assert_array_equal(line.get_ydata(), estimate.criterion)
        assert axis.get_ylabel().replace("\n", " ") == estimate.criterion_name
        assert f"K = {estimate.n_clusters}" in axis.get_title()
        assert len(axis.patches) == (estimate.reference_band is not None)
        legend = [text.get_text() for text in axis.get_legend().get_texts()]
        assert legend[:2] == [estimate.method, f"estimate, K = {estimate.n_clusters}"]
        assert len(legend) == 2 + (estimate.reference_band is not None)


@pytest.mark.parametrize("method", METHODS)
def test_the_plot_shows_its_axis_labels_whole(method):
    # as `sklearn-dsc cluster --plot` draws it: 6 x 3.5 inches, tight layout
    pytest.importorskip("matplotlib")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    candidates = np.arange(2, 30)
    estimate = NClustersEstimate(5, method, candidates, np.log(candidates))
    figure = Figure(figsize=(6, 3.5))
    canvas = FigureCanvasAgg(figure)
    axis = estimate.plot(figure.subplots())
    figure.tight_layout()
    canvas.draw()  # places the labels
    renderer = canvas.get_renderer()
    page = figure.bbox
    for label in (axis.yaxis.label, axis.xaxis.label, axis.title):
        extent = label.get_window_extent(renderer)
        inside = (
            page.x0 <= extent.x0,
            extent.x1 <= page.x1,
            page.y0 <= extent.y0,
            extent.y1 <= page.y1,
        )
        assert all(inside), label.get_text()


@pytest.mark.parametrize("method", METHODS)
def test_every_method_answers_within_the_numbers_considered(method):
    # no structure at all: HDBSCAN calls every row noise, which counts as the
    # smallest number considered, as it would for the other criteria
    X = np.random.RandomState(0).normal(size=(300, 20))
    reference = blobs(6, n_features=20, seed=5)
    estimate = estimate_by(method, X, reference, min_clusters=5, max_clusters=8)
    assert 5 <= estimate.n_clusters <= 8


def test_tensors_from_a_network_are_read_as_their_values():
    """Embeddings straight from a network (with gradients, in bfloat16)
    give the estimate of their values."""
    X, _ = blobs(seed=3)
    reference, labels = blobs(seed=4)
    expected = estimate_n_clusters(
        X, reference=reference, reference_labels=labels, random_state=0
    )
    tensor = torch.tensor(X, dtype=torch.float32, requires_grad=True)
    estimate = estimate_n_clusters(
        tensor,
        reference=torch.tensor(reference, dtype=torch.bfloat16),
        reference_labels=torch.tensor(labels),
        random_state=0,
    )
    assert estimate.n_clusters == expected.n_clusters == 4


def test_estimating_on_arrays_imports_no_torch():
    """``estimate_n_clusters`` of NumPy arrays needs no torch, which takes a
    second to import: a user of other embeddings waits for none."""
    script = (
        "import sys, numpy as np\n"
        "from sklearn_dsc import estimate_n_clusters\n"
        "X = np.random.default_rng(0).normal(size=(60, 3))\n"
        "estimate_n_clusters(X, random_state=0)\n"
        "print('torch' in sys.modules)\n"
    )
    assert run_fresh(script).stdout.strip() == "False"
