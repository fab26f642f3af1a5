"""The demo's pieces (the whole demo runs in test_cli)."""

import numpy as np
import pytest

from sklearn_dsc import demo


def test_the_methods_compared():
    names = [name for name, _ in demo.methods(random_state=0)]
    assert names[0] == "raw pixels"
    assert demo.OURS in names
    assert len(set(names)) == len(names)


def test_evaluate_scores_a_perfect_embedding():
    labels = np.repeat([0, 1, 2], 10)
    embeddings = np.eye(3)[labels] * 10 + np.random.RandomState(0).normal(
        scale=0.01, size=(30, 3)
    )
    nmi, ami, recall = demo.evaluate(embeddings, labels)
    assert nmi == pytest.approx(1.0)
    assert ami == pytest.approx(1.0)
    assert recall == 1.0


def test_plot_embeddings_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    labels = np.repeat([5, 6], 10)
    rng = np.random.RandomState(0)
    embeddings = {"a": rng.normal(size=(20, 3)), "b": rng.normal(size=(20, 4))}
    path = tmp_path / "figure.png"
    demo.plot_embeddings(embeddings, labels, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
