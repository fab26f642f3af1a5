"""scikit-learn's estimator checks, for the MLP and the linear variants."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_dsc import DeepSpectralClusteringEmbedder

ESTIMATORS = [
    DeepSpectralClusteringEmbedder(
        hidden_layer_sizes=(16,), max_iter=5, random_state=0, device="cpu"
    ),
    DeepSpectralClusteringEmbedder(
        hidden_layer_sizes=(), max_iter=5, random_state=0, device="cpu"
    ),
    DeepSpectralClusteringEmbedder(
        hidden_layer_sizes=(16,), init="pca", max_iter=5, random_state=0, device="cpu"
    ),
    DeepSpectralClusteringEmbedder(
        hidden_layer_sizes=(16,),
        init="closed_form",
        max_iter=5,
        early_stopping=True,
        random_state=0,
        device="cpu",
    ),
    DeepSpectralClusteringEmbedder(
        hidden_layer_sizes=(), solver="closed_form", random_state=0, device="cpu"
    ),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
