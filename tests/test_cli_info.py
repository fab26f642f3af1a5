"""``sklearn-dsc info``: what a model file holds."""

from cli_helpers import ok


def test_info(digit_model):
    result = ok("info", digit_model)
    assert "64 features (px0, px1" in result.stdout
    assert "'max_iter': 2" in result.stdout
    assert "anchor: pca" in result.stdout


# ------------------------------------------------------------------ errors
