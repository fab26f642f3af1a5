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


def test_a_number_of_clusters_out_of_range_is_refused(digit_files, digit_model):
    """``--n-clusters 0`` was read as unset, and scored with the labels'
    number of clusters."""
    for value in ("0", "-2", "301"):
        fails(
            "evaluate",
            digit_model,
            *unseen(digit_files),
            "--n-clusters",
            value,
            message=f"--n-clusters must be between 1 and the 300 rows of DATA, "
            f"got {value}",
        )
    scores = json.loads(
        ok(
            "evaluate", digit_model, *unseen(digit_files), "--n-clusters", "7", "--json"
        ).stdout
    )
    assert scores["n_clusters"] == 7


def test_a_bad_k_is_refused_before_the_data_is_read(digit_files, digit_model):
    fails(
        "evaluate",
        digit_model,
        digit_files / "missing.csv",
        "--k",
        "0",
        message="--k must be positive, got [0]",
    )
