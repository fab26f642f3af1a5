"""``sklearn-dsc cluster``: the number of clusters, given or estimated, and
the rows' identifiers."""

import numpy as np
import pytest

from cli_helpers import (
    fails,
    ok,
    sklearn_dsc,
    write_csv,
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


def test_cluster_draws_the_figure_type_its_name_says(
    digit_files, digit_model, tmp_path
):
    """--plot writes the format its suffix names; one that matplotlib does
    not write, or none, is refused before any work."""
    pytest.importorskip("matplotlib")
    out, figure = tmp_path / "clusters.npy", tmp_path / "criterion.svg"
    cluster_unseen(digit_files, digit_model, out, "--plot", figure)
    assert b"<svg" in figure.read_bytes()[:1000]
    for name in ("criterion.xyz", "criterion"):
        suffix = name.partition(".")[2]
        fails(
            "cluster",
            digit_model,
            digit_files / "unseen.npz",
            "-o",
            tmp_path / "other.npy",
            "--plot",
            tmp_path / name,
            message=f"unknown figure type '{'.' * bool(suffix)}{suffix}'; use .",
        )
        assert not (tmp_path / "other.npy").exists()


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
        assert "(calibrated, 2 to " in result.stdout
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
            ["--reference-target", "digit"],
            "--reference-target and --reference-id go with --reference",
        ),
        (
            ["--reference", "DATA/seen.npz", "--method", "bic"],
            "--reference is read by --method calibrated and calibrated_loss only; "
            "--method bic would",
        ),
        (
            ["--reference", "DATA/seen.npz", "--reference-target", "digit"],
            "an .npz file holds arrays X and y; --reference-target must be y, not "
            "'digit'",
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
    pd = pytest.importorskip("pandas")
    ok("cluster", *named, "--n-clusters", 5, "-o", tmp_path / "clusters.parquet")
    table = pd.read_parquet(tmp_path / "clusters.parquet")
    assert list(table.columns) == ["name", "cluster"]
    assert table["name"].tolist()[:2] == ["r0", "r1"]
    np.testing.assert_array_equal(
        table["cluster"], [int(line.split(",")[1]) for line in lines[1:]]
    )
    fails(
        "cluster",
        *named,
        "--n-clusters",
        5,
        "-o",
        tmp_path / "c.npy",
        message="--id needs a CSV or Parquet output",
    )


def test_cluster_leaves_the_references_identifiers_out(
    digit_files, digit_model, tmp_path
):
    rows = [line.split(",") for line in (digit_files / "seen.csv").read_text().split()]
    header, rows = rows[0], rows[1:]
    reference = tmp_path / "reference.csv"
    write_csv(
        reference, [[f"r{i}", *row] for i, row in enumerate(rows)], ["id", *header]
    )
    options = ["--reference", reference, "--reference-target", "digit"]
    out = tmp_path / "clusters.csv"
    data = [digit_model, digit_files / "unseen.csv", "--target", "digit", "-o", out]
    fails(
        "cluster", *data, *options, message="(name row identifiers with --reference-id)"
    )
    ok("cluster", *data, *options, "--reference-id", "id")
    assert out.exists()
