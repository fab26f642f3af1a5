"""The ``sklearn-dsc`` command line: every command but ``fit``, and errors."""

import csv
import json
import os
import sys

import numpy as np
import pytest
import torch

from sklearn_dsc import load
from sklearn_dsc.cli import build_parser

from cli_helpers import (
    NAMES,
    fails,
    ok,
    run_installed,
    sklearn_dsc,
    write_csv,
)


def unseen(folder):
    """The arguments that name the unseen digits' CSV file and its labels."""
    return [folder / "unseen.csv", "--target", "digit"]


def test_help_of_every_subcommand():
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    assert set(commands) == {"demo", "fit", "transform", "cluster", "evaluate", "info"}
    result = ok("--help")
    for command in commands:
        assert command in result.stdout
    for command in commands:
        assert "usage: sklearn-dsc " + command in ok(command, "--help").stdout


def test_installed_entry_points(tmp_path):
    script = os.path.join(os.path.dirname(sys.executable), "sklearn-dsc")
    for command in ([script], [sys.executable, "-m", "sklearn_dsc"]):
        result = run_installed(*command, "--help")
        assert result.returncode == 0, result.stderr
        assert "usage: sklearn-dsc" in result.stdout
    # errors: one line on stderr and exit status 1 ...
    result = run_installed(script, "info", tmp_path / "nothing.dsc")
    assert result.returncode == 1
    assert result.stderr.strip().startswith("sklearn-dsc: error: ")
    assert "Traceback" not in result.stderr
    # ... unless --debug asks for the traceback
    result = run_installed(script, "info", tmp_path / "nothing.dsc", "--debug")
    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert "FileNotFoundError" in result.stderr


def test_demo(tmp_path):
    result = ok("demo", "--figure", tmp_path / "demo.png")
    assert "| ours, defaults |" in result.stdout
    for peer in ("raw pixels", "PCA", "LDA"):
        assert f"| {peer}" in result.stdout
    assert (tmp_path / "demo.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Traceback" not in result.stderr


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
@pytest.mark.parametrize("suffix", [".csv", ".npy"])
def test_transform(digit_files, digit_model, tmp_path, suffix):
    out = tmp_path / f"embedding{suffix}"
    ok(
        "transform",
        digit_model,
        *unseen(digit_files),
        "-o",
        out,
    )
    fitted = load(digit_model)
    X = np.load(digit_files / "unseen.npz")["X"]
    if suffix == ".npy":
        embedding = np.load(out)
    else:
        with open(out) as f:
            header = next(csv.reader(f))
        assert header == list(fitted.get_feature_names_out())
        embedding = np.loadtxt(out, delimiter=",", skiprows=1)
    np.testing.assert_allclose(embedding, fitted.transform(X), rtol=1e-12)


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
def test_transform_reorders_columns_by_name(digit_files, digit_model, tmp_path):
    X = np.load(digit_files / "unseen.npz")["X"]
    write_csv(tmp_path / "shuffled.csv", X[:, ::-1].tolist(), NAMES[::-1])
    ok("transform", digit_model, tmp_path / "shuffled.csv", "-o", tmp_path / "z.npy")
    np.testing.assert_allclose(
        np.load(tmp_path / "z.npy"), load(digit_model).transform(X), rtol=1e-12
    )


def test_cluster(digit_files, digit_model, tmp_path):
    out = tmp_path / "clusters.csv"
    ok("cluster", digit_model, digit_files / "unseen.npz", "--n-clusters", 5, "-o", out)
    table = np.loadtxt(out, delimiter=",", skiprows=1, dtype=int)
    assert out.read_text().splitlines()[0] == "row,cluster"
    np.testing.assert_array_equal(table[:, 0], np.arange(300))  # to join on
    assert set(table[:, 1]) == set(range(5))


def cluster_unseen(digit_files, digit_model, out, *options):
    """``sklearn-dsc cluster`` of the unseen digits, which prints the K used."""
    result = ok("cluster", digit_model, digit_files / "unseen.npz", "-o", out, *options)
    return result, int(result.stdout.split("K=")[1].split()[0].rstrip(")"))


def test_cluster_estimates_the_number_of_clusters_by_default(
    digit_files, digit_model, tmp_path
):
    out, figure = tmp_path / "clusters.npy", tmp_path / "criterion.png"
    result, estimated = cluster_unseen(digit_files, digit_model, out, "--plot", figure)
    assert "Estimated K=" in result.stdout
    assert len(np.unique(np.load(out))) == estimated
    assert f"(K={estimated})" in result.stdout
    assert figure.read_bytes().startswith(b"\x89PNG")
    options = ["--n-clusters", "auto", "--method", "silhouette", "--max-clusters", 8]
    result, _ = cluster_unseen(digit_files, digit_model, out, *options)
    assert "(silhouette, 2 to 8 considered)" in result.stdout


def test_cluster_calibrates_the_estimate_on_reference_classes(
    digit_files, digit_model, tmp_path
):
    out, figure = tmp_path / "clusters.npy", tmp_path / "criterion.png"
    for reference, target in (
        ("seen.csv", ["--reference-target", "digit"]),
        ("seen.npz", []),
    ):
        options = ["--reference", digit_files / reference, *target, "--plot", figure]
        result, estimated = cluster_unseen(digit_files, digit_model, out, *options)
        assert "(calibrated_loss, 2 to " in result.stdout
        assert "Calibrated on 5 reference classes" in result.stdout
        assert 4 <= estimated <= 6  # five unseen digits
        assert len(np.unique(np.load(out))) == estimated


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            ["--max-clusters", 1000],
            "--max-clusters (1000) is not below the number of rows of the "
            "embedding of DATA",
        ),
        (
            ["--n-clusters", 5, "--plot", "k.png"],
            "--max-clusters, --reference and --plot go",
        ),
        (
            ["--reference", "DATA/seen.csv"],
            "name the label column with --reference-target",
        ),
        (
            ["--reference", "DATA/seen.npz", "--method", "bic"],
            "--reference is read by --method calibrated and calibrated_loss only; "
            "--method bic would",
        ),
        (["--method", "calibrated"], "--method calibrated needs --reference"),
        (["--max-clusters", 1], "--max-clusters must be an int in the range [2, inf)"),
    ],
)
def test_cluster_options_are_checked(
    digit_files, digit_model, tmp_path, options, message
):
    out = tmp_path / "clusters.npy"
    options = [str(option).replace("DATA/", f"{digit_files}/") for option in options]
    fails(
        "cluster",
        digit_model,
        digit_files / "unseen.npz",
        "-o",
        out,
        *options,
        message=message,
    )
    assert not out.exists()


def test_estimate_errors_name_the_options(digit_files, digit_model, tmp_path):
    seen = np.load(digit_files / "seen.npz")
    one_class = tmp_path / "one_class.npz"
    np.savez(one_class, X=seen["X"][seen["y"] == 0], y=seen["y"][seen["y"] == 0])
    fails(
        "cluster",
        digit_model,
        digit_files / "unseen.npz",
        "-o",
        tmp_path / "clusters.npy",
        "--reference",
        one_class,
        message="clusters: --reference's labels must hold at least two classes; got 1",
    )


def test_an_unknown_method_of_estimating_is_refused(digit_files, digit_model):
    result = sklearn_dsc(
        "cluster",
        digit_model,
        digit_files / "unseen.npz",
        "-o",
        "k.npy",
        "--method",
        "gap",
    )
    assert result.returncode == 2
    assert "invalid choice: 'gap'" in result.stderr


def test_n_clusters_is_a_number_or_auto(digit_files, digit_model, tmp_path):
    out = tmp_path / "clusters.npy"
    result = sklearn_dsc(
        "cluster",
        digit_model,
        digit_files / "unseen.npz",
        "-o",
        out,
        "--n-clusters",
        "many",
    )
    assert result.returncode == 2
    assert "expected a number of clusters or 'auto', got 'many'" in result.stderr


def test_cluster_and_transform_carry_an_id_column(digit_files, digit_model, tmp_path):
    source = (digit_files / "unseen.csv").read_text().splitlines()
    with_ids = tmp_path / "with_ids.csv"
    with_ids.write_text(
        "\n".join(
            [f"name,{source[0]}"] + [f"r{i},{row}" for i, row in enumerate(source[1:])]
        )
        + "\n"
    )
    named = [digit_model, with_ids, "--target", "digit", "--id", "name"]
    out = tmp_path / "clusters.csv"
    ok("cluster", *named, "--n-clusters", 5, "-o", out)
    lines = out.read_text().splitlines()
    assert lines[0] == "name,cluster"
    assert lines[1].startswith("r0,")
    embedded = tmp_path / "embedding.csv"
    ok("transform", *named, "-o", embedded)
    assert embedded.read_text().splitlines()[2].startswith("r1,")
    fails(
        "cluster",
        *named,
        "--n-clusters",
        5,
        "-o",
        tmp_path / "c.npy",
        message="--id needs a .csv",
    )


def test_semicolon_files_are_read(digit_files, digit_model, tmp_path):
    text = (digit_files / "unseen.csv").read_text().replace(",", ";")
    semicolons = tmp_path / "semicolons.csv"
    semicolons.write_text(text)
    detected = ok("evaluate", digit_model, semicolons, "--target", "digit", "--json")
    forced = ok(
        "evaluate", digit_model, semicolons, "--target", "digit", "--json", "--sep", ";"
    )
    plain = ok(
        "evaluate",
        digit_model,
        *unseen(digit_files),
        "--json",
    )
    assert json.loads(detected.stdout) == json.loads(plain.stdout)
    assert json.loads(forced.stdout) == json.loads(plain.stdout)
    fails(
        "evaluate",
        digit_model,
        semicolons,
        "--target",
        "digit",
        "--sep",
        ",",
        message="no column 'digit'",
    )


def test_a_directory_given_as_data_is_named(digit_model, tmp_path):
    fails(
        "transform",
        digit_model,
        tmp_path,
        "-o",
        tmp_path / "out.csv",
        message="is a directory, not a data file",
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


def test_info(digit_model):
    result = ok("info", digit_model)
    assert "64 features (px0, px1" in result.stdout
    assert "'max_iter': 2" in result.stdout
    assert "anchor: pca" in result.stdout


# ------------------------------------------------------------------ errors


def test_missing_data_file(digit_model, tmp_path):
    fails(
        "fit",
        tmp_path / "nothing.csv",
        "--target",
        "y",
        "-o",
        tmp_path / "m",
        message="no such file",
    )
    fails(
        "transform",
        digit_model,
        tmp_path / "nothing.csv",
        "-o",
        tmp_path / "z.npy",
        message="no such file",
    )


def test_missing_model_file(digit_files, tmp_path):
    fails(
        "evaluate",
        tmp_path / "nothing.dsc",
        *unseen(digit_files),
        message="no such model file",
    )


def test_missing_target_column(digit_files, tmp_path):
    message = fails(
        "fit",
        digit_files / "seen.csv",
        "--target",
        "label",
        "-o",
        tmp_path / "m",
        message="no column 'label'",
    )
    assert "'px0'" in message
    fails("fit", digit_files / "seen.csv", "-o", tmp_path / "m", message="--target")


def test_non_numeric_feature_columns_are_named(tmp_path):
    write_csv(
        tmp_path / "d.csv",
        [[1, "a", 0], [2, "b", 1], [3, "c", 1]],
        ["x", "colour", "y"],
    )
    fails(
        "fit",
        tmp_path / "d.csv",
        "--target",
        "y",
        "-o",
        tmp_path / "m",
        message="non-numeric feature columns 'colour'",
    )


def test_nan_cells_are_counted(tmp_path):
    rows = [[1, 2, 0], [np.nan, 1, 0], [3, "", 1], [4, 5, 1]]
    write_csv(tmp_path / "d.csv", rows, ["a", "b", "y"])
    message = fails(
        "fit",
        tmp_path / "d.csv",
        "--target",
        "y",
        "-o",
        tmp_path / "m",
        message="2 missing or NaN feature cells",
    )
    assert "first: row 2, column 'a'" in message


def test_feature_columns_differ_from_the_model(digit_files, digit_model, tmp_path):
    X = np.load(digit_files / "unseen.npz")["X"]
    names = ["other", *NAMES[1:]]
    write_csv(tmp_path / "d.csv", X.tolist(), names)
    message = fails(
        "transform",
        digit_model,
        tmp_path / "d.csv",
        "-o",
        tmp_path / "z.npy",
        message="differ from the model's",
    )
    assert "missing 'px0'" in message
    assert "'other'" in message
    fails(
        "transform",
        digit_model,
        digit_files / "unseen.csv",
        "-o",
        tmp_path / "z.npy",
        message="not in the model 'digit'",
    )
    np.savez(tmp_path / "narrow.npz", X=X[:, :10])
    fails(
        "transform",
        digit_model,
        tmp_path / "narrow.npz",
        "-o",
        tmp_path / "z.npy",
        message="10 feature columns, the model takes 64",
    )
    assert not (tmp_path / "z.npy").exists()


def test_foreign_and_truncated_model_files(digit_files, digit_model, tmp_path):
    (tmp_path / "foreign.dsc").write_text("hello")
    fails("info", tmp_path / "foreign.dsc", message="not a sklearn_dsc model file")
    (tmp_path / "cut.dsc").write_bytes(digit_model.read_bytes()[:-200])
    fails(
        "transform",
        tmp_path / "cut.dsc",
        digit_files / "unseen.npz",
        "-o",
        tmp_path / "z.npy",
        message="truncated or corrupted",
    )


def test_invalid_option_and_output(digit_files, digit_model, tmp_path):
    fails(
        "fit",
        digit_files / "seen.csv",
        "--target",
        "digit",
        "-o",
        tmp_path / "m",
        "--activation",
        "swish",
        message="--activation must be a str among",
    )
    fails(
        "transform",
        digit_model,
        digit_files / "unseen.npz",
        "-o",
        tmp_path / "z.txt",
        message="unknown output type '.txt'",
    )
    fails(
        "cluster",
        digit_model,
        digit_files / "unseen.npz",
        "--n-clusters",
        1000,
        "-o",
        tmp_path / "c.npy",
        message="--n-clusters must be between 1 and the 300",
    )
    fails(
        "transform",
        digit_model,
        digit_files / "unseen.npz",
        "-o",
        tmp_path / "no" / "z.npy",
        message="does not exist",
    )


def test_a_model_trained_on_a_missing_gpu_embeds_on_the_cpu(
    digit_files, digit_model, tmp_path
):
    from sklearn_dsc import save

    estimator = load(digit_model)
    estimator.set_params(device="cuda:7")  # a device this machine lacks
    path = tmp_path / "gpu.dsc"
    save(estimator, path)
    rows = [*unseen(digit_files), "-o"]
    ok("transform", digit_model, *rows, tmp_path / "cpu.npy")
    result = ok("transform", path, *rows, tmp_path / "gpu.npy")
    if torch.cuda.device_count() <= 7:
        assert "embedding on the CPU instead" in result.stderr
    np.testing.assert_array_equal(
        np.load(tmp_path / "gpu.npy"), np.load(tmp_path / "cpu.npy")
    )
    # --device chooses where to embed, without a warning
    result = ok(
        "evaluate",
        path,
        *unseen(digit_files),
        "--device",
        "cpu",
    )
    assert "warning" not in result.stderr
    assert "NMI" in result.stdout


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


def test_an_unwritable_output_is_found_before_any_work(
    digit_files, tmp_path, monkeypatch
):
    import tempfile

    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "TemporaryFile", refused)
    for command in (
        [
            "fit",
            digit_files / "seen.csv",
            "--target",
            "digit",
            "-o",
            tmp_path / "m.dsc",
        ],
        ["demo", "--figure", tmp_path / "demo.png"],
    ):
        message = fails(*command, message="Permission denied")
        assert "cannot write" in message
    assert list(tmp_path.iterdir()) == []


def test_outputs_honour_the_umask_and_keep_an_existing_mode(
    digit_files, digit_model, tmp_path
):
    previous = os.umask(0o022)
    try:
        out = tmp_path / "embedding.npy"
        ok(
            "transform",
            digit_model,
            *unseen(digit_files),
            "-o",
            out,
        )
        assert out.stat().st_mode & 0o777 == 0o644
        out.chmod(0o640)
        ok(
            "transform",
            digit_model,
            *unseen(digit_files),
            "-o",
            out,
        )
        assert out.stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(previous)
