"""``sklearn-dsc evaluate``: NMI, AMI and Recall@K against the labels."""

import json

from cli_helpers import (
    fails,
    ok,
    unseen,
)


def test_evaluate(digit_files, digit_model):
    result = ok(
        "evaluate",
        digit_model,
        *unseen(digit_files),
        "--json",
    )
    scores = json.loads(result.stdout)
    assert scores["n_samples"] == 300
    assert scores["n_classes"] == 5
    assert 0.3 < scores["nmi"] <= 1
    assert set(scores["recall_at_k"]) == {"1", "2", "4", "8"}
    table = ok("evaluate", digit_model, *unseen(digit_files)).stdout
    assert f"NMI       {scores['nmi']:.4f}" in table


def test_recall_at_large_k_is_readable(digit_files, digit_model):
    table = ok(
        "evaluate",
        digit_model,
        *unseen(digit_files),
        "--k",
        "1",
        "10",
        "100",
    ).stdout
    lines = dict(line.rsplit(maxsplit=1) for line in table.splitlines()[1:])
    assert set(lines) == {"NMI", "AMI", "Recall@1", "Recall@10", "Recall@100"}
    assert all(0 <= float(value) <= 1 for value in lines.values())


def test_an_npz_file_gives_its_labels_as_to_fit(digit_files, digit_model):
    """As ``fit`` does, ``evaluate`` reads an ``.npz`` file's ``y`` without
    ``--target``; a CSV file still needs its label column named."""
    data = digit_files / "unseen.npz"
    scores = json.loads(ok("evaluate", digit_model, data, "--json").stdout)
    named = ok("evaluate", digit_model, data, "--target", "y", "--json").stdout
    assert scores == json.loads(named)
    assert scores["n_classes"] == 5
    fails(
        "evaluate",
        digit_model,
        digit_files / "unseen.csv",
        message="name the label column with --target",
    )
