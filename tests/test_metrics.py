import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_dsc.metrics import kmeans_ami, kmeans_nmi, recall_at_k


def test_recall_at_k_by_hand():
    # 1-D points; labels a a b b a
    points = np.array([[0.0], [1.0], [1.5], [2.0], [10.0]])
    labels = ["a", "a", "b", "b", "a"]
    # query 0: nearest same-class is 1 (distance 1), no other class closer: rank 1
    # query 1: same-class 0 at 1, other-class 2 at 0.5 closer: rank 2
    # query 2: same-class 3 at 0.5, nearest: rank 1
    # query 3: same-class 2 at 0.5: rank 1
    # query 4: same-class 1 at 9, others 2 and 3 closer: rank 3
    assert recall_at_k(points, labels, k=(1, 2, 3)) == {1: 0.6, 2: 0.8, 3: 1.0}
    assert recall_at_k(points, labels, k=2) == 0.8


def test_ties_are_resolved_in_favour_of_the_query():
    points = np.array([[0.0], [1.0], [-1.0]])
    # query 0: same-class 1 and other-class 2 both at distance 1
    assert recall_at_k(points, [0, 0, 1], k=1) == 1.0


def test_single_member_classes_are_left_out():
    points = np.array([[0.0], [0.1], [5.0]])
    assert recall_at_k(points, [0, 0, 1], k=1) == 1.0
    with pytest.raises(ValueError, match="no class has two"):
        recall_at_k(points, [0, 1, 2], k=1)


def test_a_k_that_every_query_reaches_is_warned_about():
    """A query of class 1 has 4 samples of other classes, those of class 0
    fewer: Recall@5 and beyond are 1 whatever the points. The lone sample
    of class 2 is no query, but one of the others' other samples."""
    points = np.random.RandomState(0).normal(size=(6, 2))
    labels = [0, 0, 0, 1, 1, 2]
    with pytest.warns(UserWarning, match=r"Recall@5, Recall@9 are 1 whatever") as w:
        recalls = recall_at_k(points, labels, k=(1, 4, 5, 9))
    assert "Use K below 5" in str(w[0].message)
    assert w[0].filename == __file__
    assert recalls[5] == recalls[9] == 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        recall_at_k(points, labels, k=4)


def test_recall_of_a_single_class_is_warned_about_as_such():
    """With one class, every K scores every query a hit: the warning says
    that the labels hold a single class, not which K would do."""
    points = np.random.RandomState(0).normal(size=(6, 2))
    with pytest.warns(UserWarning, match=r"^Recall@1 is 1 whatever") as w:
        assert recall_at_k(points, [3] * 6, k=1) == 1.0
    message = str(w[0].message)
    assert "the labels hold a single class" in message
    assert "two classes or more" in message
    assert "below" not in message
    assert w[0].filename == __file__


def test_cosine_metric():
    points = np.array([[1.0, 0.0], [10.0, 0.5], [0.0, 1.0], [0.2, 5.0]])
    assert recall_at_k(points, [0, 0, 1, 1], k=1, metric="cosine") == 1.0
    assert recall_at_k(points, [0, 1, 0, 1], k=1, metric="cosine") == 0.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"k": 0}, "'k' parameter of recall_at_k must be an int in the range"),
        ({"k": (1, 2.5)}, "positive integers"),
        # each a message of ours, not int()'s ("invalid literal for int()")
        ({"k": ["a"]}, r"k must be positive integers, got \['a'\]"),
        ({"k": [None]}, r"k must be positive integers, got \[None\]"),
        ({"k": [np.nan]}, r"k must be positive integers, got \[nan\]"),
        ({"k": [True]}, r"k must be positive integers, got \[True\]"),
        ({"metric": "manhattan"}, "'metric' parameter of recall_at_k must be a str"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        recall_at_k(np.zeros((3, 2)), [0, 0, 1], **kwargs)


@pytest.mark.parametrize("score", [recall_at_k, kmeans_nmi, kmeans_ami])
def test_labels_of_another_length_are_named(score):
    with pytest.raises(ValueError, match="embeddings has 3 rows but labels has 2 "):
        score(np.zeros((3, 2)), [0, 1])


def test_memory_is_blocked(monkeypatch):
    """With a tiny working memory the answer is the same."""
    import sklearn

    rng = np.random.RandomState(0)
    points, labels = rng.normal(size=(300, 4)), rng.randint(0, 5, 300)
    expected = recall_at_k(points, labels)
    with sklearn.config_context(working_memory=0.01):
        assert recall_at_k(points, labels) == expected


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=0, max_value=10**6))
def test_recall_properties(seed):
    rng = np.random.RandomState(seed)
    points, labels = rng.normal(size=(40, 3)), rng.randint(0, 4, 40)
    recalls = recall_at_k(points, labels, k=(1, 2, 4, 8))
    values = list(recalls.values())
    assert all(0 <= v <= 1 for v in values)
    assert values == sorted(values)  # non-decreasing in K
    permutation = rng.permutation(40)
    assert recall_at_k(points[permutation], labels[permutation]) == recalls


@settings(max_examples=20, deadline=None)
@given(st.integers(min_value=0, max_value=10**6))
def test_kmeans_scores_bounds_and_perfect_clusters(seed):
    rng = np.random.RandomState(seed)
    labels = rng.randint(0, 3, 30)
    separated = labels[:, None] * 100.0 + rng.normal(size=(30, 2))
    if len(np.unique(labels)) > 1:
        assert kmeans_nmi(separated, labels, random_state=0) == pytest.approx(1.0)
        assert kmeans_ami(separated, labels, random_state=0) == pytest.approx(1.0)
    noise = rng.normal(size=(30, 2))
    assert 0 <= kmeans_nmi(noise, labels, random_state=0) <= 1
    assert kmeans_ami(noise, labels, random_state=0) <= 1


@pytest.mark.parametrize("score", [kmeans_nmi, kmeans_ami])
@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (["a"] * 10, "single class"),
        (list("abcdefghij"), "Every class holds a single row"),
    ],
)
def test_a_score_that_any_embedding_gets_warns_that_it_means_nothing(
    score, labels, message
):
    points = np.random.RandomState(0).normal(size=(10, 2))
    with pytest.warns(UserWarning, match=message) as record:
        assert score(points, labels, random_state=0) == pytest.approx(1.0)
    assert record[0].filename == __file__


def test_scorers_in_grid_search_and_cross_validate():
    """The scorers in scikit-learn's model selection, on folds of several
    classes: a fold of one class would warn that its score means nothing,
    which fails here."""
    import pickle
    import warnings

    from sklearn.datasets import load_iris
    from sklearn.decomposition import PCA
    from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_validate
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from sklearn_dsc import DeepSpectralClusteringEmbedder
    from sklearn_dsc.metrics import make_kmeans_nmi_scorer, make_recall_at_k_scorer

    X, y = load_iris(return_X_y=True)  # sorted by class: plain folds hold one
    folds = StratifiedKFold(3, shuffle=True, random_state=0)
    scoring = {"nmi": make_kmeans_nmi_scorer(), "recall@1": make_recall_at_k_scorer(1)}
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        search = GridSearchCV(
            make_pipeline(StandardScaler(), PCA()),
            {"pca__n_components": [1, 2, 3]},
            scoring=scoring,
            refit="recall@1",
            cv=folds,
        ).fit(X, y)
        results = cross_validate(
            DeepSpectralClusteringEmbedder(hidden_layer_sizes=(), solver="closed_form"),
            X,
            y,
            cv=folds,
            scoring=scoring,
        )
    nmi, recall = (search.cv_results_[f"mean_test_{name}"] for name in scoring)
    assert np.all((nmi > 0.3) & (nmi < 1))
    assert search.best_params_ == {"pca__n_components": 1 + int(np.argmax(recall))}
    pca = make_pipeline(StandardScaler(), PCA(2)).fit(X)
    assert scoring["nmi"](pca, X, y) == kmeans_nmi(pca.transform(X), y, random_state=0)
    assert scoring["recall@1"](pca, X, y) == recall_at_k(pca.transform(X), y, k=1)
    assert np.all((results["test_nmi"] > 0.3) & (results["test_nmi"] <= 1))
    assert pickle.loads(pickle.dumps(scoring["nmi"]))(pca, X, y) == scoring["nmi"](
        pca, X, y
    )
    with pytest.raises(ValueError, match="'k' parameter of make_recall_at_k_scorer"):
        make_recall_at_k_scorer(0)


def test_tensors_from_a_network_are_scored_as_their_values():
    """``kmeans_nmi(model(X), y)`` in a training loop: a tensor with
    gradients, or in half precision, is scored as its values are."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    labels = np.repeat(np.arange(3), 30)
    embeddings = rng.normal(size=(90, 4)) + 2.0 * labels[:, None]
    tensor = torch.tensor(embeddings, requires_grad=True)
    for metric in (kmeans_nmi, kmeans_ami):
        expected = metric(embeddings, labels, random_state=0)
        assert metric(tensor, torch.tensor(labels), random_state=0) == expected
    assert recall_at_k(tensor, labels) == recall_at_k(embeddings, labels)
    rounded = tensor.detach().to(torch.bfloat16)
    assert kmeans_nmi(rounded, labels, random_state=0) == kmeans_nmi(
        rounded.float().numpy(), labels, random_state=0
    )


@pytest.mark.parametrize("metric", [kmeans_nmi, kmeans_ami, recall_at_k])
def test_non_finite_embeddings_are_named(metric):
    points = np.zeros((4, 2))
    points[1, 0] = np.nan
    with pytest.raises(ValueError, match="Input embeddings contains NaN"):
        metric(points, [0, 0, 1, 1])


@pytest.mark.parametrize("score", [kmeans_nmi, kmeans_ami])
def test_kmeans_scores_read_sparse_inputs_as_their_dense_values(score):
    """The inputs themselves, a baseline to compare an embedding with, are
    often sparse (bag-of-words, one-hot)."""
    import scipy.sparse as sp

    X = sp.random(120, 40, density=0.2, random_state=0, format="csr")
    labels = np.arange(120) % 4
    X = X + sp.csr_matrix(np.eye(4)[labels] @ np.ones((4, 40)) * labels[:, None])
    dense = score(X.toarray(), labels, random_state=0)
    for matrix in (X, X.tocsc(), X.tocoo()):
        assert score(matrix, labels, random_state=0) == pytest.approx(dense)


def test_a_scorer_given_an_estimator_without_transform_says_so():
    from sklearn.datasets import load_iris
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from sklearn_dsc.metrics import make_kmeans_nmi_scorer, make_recall_at_k_scorer

    X, y = load_iris(return_X_y=True)
    classifier = make_pipeline(StandardScaler(), KNeighborsClassifier()).fit(X, y)
    for scorer in (make_kmeans_nmi_scorer(), make_recall_at_k_scorer(1)):
        with pytest.raises(TypeError, match="Pipeline has no transform: give it a"):
            scorer(classifier, X, y)
