"""``sklearn-dsc info``: what a model file holds."""

import numpy as np
from sklearn.datasets import load_digits

from cli_helpers import ok


def test_info(digit_model):
    result = ok("info", digit_model)
    assert "64 features (px0, px1, px2, px3, px4, px5, px6, px7, ...)\n" in (
        result.stdout
    )
    assert "classes (5): d0, d1, d2, d3, d4\n" in result.stdout
    # as the options that fit it
    assert (
        "parameters other than the defaults: --hidden-layer-sizes 16 --init pca "
        "--max-iter 2 --random-state 0\n"
    ) in result.stdout
    assert "anchor: pca" in result.stdout
    # the model's head did not beat the anchor alone
    assert (
        "no trained network kept: the head beside the anchor trained on the "
        "training classes did not beat the anchor alone on held-out classes"
    ) in result.stdout


def test_info_says_why_no_trained_network_was_kept(tmp_path):
    X, y = load_digits(return_X_y=True)
    three = y < 3
    np.savez(tmp_path / "three.npz", X=X[three] / 16.0, y=y[three])
    ok("fit", tmp_path / "three.npz", "-o", tmp_path / "three.dsc", "-q")
    result = ok("info", tmp_path / "three.dsc")
    assert "64 features (unnamed)" in result.stdout
    assert "classes (3): 0, 1, 2\n" in result.stdout
    assert "embedding: 64 dimensions; 0 epochs" in result.stdout
    # -v showed the fit; the model does not keep it
    ok("fit", tmp_path / "three.npz", "-o", tmp_path / "loud.dsc", "-v")
    assert "parameters other than the defaults: none" in (
        ok("info", tmp_path / "loud.dsc").stdout
    )
    assert (
        "no trained network kept: with --init auto, 3 classes are too few to hold "
        "any out"
    ) in result.stdout
    # a head trained and kept
    trained = ["--init", "pca", "--no-early-stopping", "--max-iter", "2", "-q"]
    ok("fit", tmp_path / "three.npz", "-o", tmp_path / "head.dsc", *trained)
    result = ok("info", tmp_path / "head.dsc")
    assert "anchor: pca" in result.stdout
    assert "no trained network kept" not in result.stdout


# ------------------------------------------------------------------ errors


def test_info_says_when_it_lists_only_the_first_classes(tmp_path):
    X, y = load_digits(return_X_y=True)
    labels = np.array([f"c{i:02d}" for i in range(25)])[np.arange(len(y)) % 25]
    np.savez(tmp_path / "many.npz", X=X / 16.0, y=labels)
    ok("fit", tmp_path / "many.npz", "-o", tmp_path / "many.dsc", "-q", "--max-iter", 1)
    shown = ", ".join(f"c{i:02d}" for i in range(20))
    assert f"classes (25): {shown}, ...\n" in ok("info", tmp_path / "many.dsc").stdout
