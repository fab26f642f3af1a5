"""The ``sklearn-dsc`` command line.

Every subcommand and error case runs ``main`` in this process (importing
torch in a fresh interpreter for each would dominate the run time); the
installed entry points themselves are run through subprocesses.
"""

import contextlib
import csv
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from sklearn_dsc import load
from sklearn_dsc.cli import build_parser, main

from helpers import interrupted_at_call

N_FEATURES = 64
NAMES = [f"px{i}" for i in range(N_FEATURES)]
# init="pca" trains a head (with "auto" the digits keep an anchor alone)
FAST = [
    "--max-iter",
    "2",
    "--hidden-layer-sizes",
    "16",
    "--init",
    "pca",
    "--random-state",
    "0",
]


def sklearn_dsc(*args):
    """``sklearn-dsc ARGS`` in this process; returns the completed "process"."""
    argv = [str(arg) for arg in args]
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            returncode = main(argv)
        except SystemExit as exit:  # argparse: --help, usage errors
            returncode = exit.code
    return subprocess.CompletedProcess(
        argv, returncode, stdout.getvalue(), stderr.getvalue()
    )


def run_installed(*command):
    """Run an installed entry point in a fresh interpreter."""
    return subprocess.run(
        [*command],
        env={**os.environ, "MPLBACKEND": "Agg"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def ok(*args, **kwargs):
    result = sklearn_dsc(*args, **kwargs)
    assert result.returncode == 0, result.stderr
    return result


def fails(*args, message):
    """The command exits with status 1 and one line naming the problem."""
    result = sklearn_dsc(*args)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("sklearn-dsc: error: "), result.stderr
    assert message in lines[-1], lines[-1]
    assert "Traceback" not in result.stderr
    return lines[-1]


def write_csv(path, rows, header):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Digits 0-4 (training) and 5-9 (unseen) as CSV, .npz and Parquet files."""
    folder = tmp_path_factory.mktemp("data")
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    seen, unseen = np.flatnonzero(y < 5)[:400], np.flatnonzero(y >= 5)[:300]
    for name, rows in (("seen", seen), ("unseen", unseen)):
        write_csv(
            folder / f"{name}.csv",
            [[*X[i], f"d{y[i]}"] for i in rows],
            [*NAMES, "digit"],
        )
    np.savez(folder / "seen.npz", X=X[seen], y=y[seen])
    np.savez(folder / "unseen.npz", X=X[unseen], y=y[unseen])
    return folder


@pytest.fixture(scope="module")
def model(data):
    path = data / "model.dsc"
    result = ok("fit", data / "seen.csv", "--target", "digit", "-o", path, *FAST)
    assert "Saved to" in result.stdout
    assert "epoch" in result.stderr  # the progress bar
    return path


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


def test_fit_records_the_feature_names_and_options(data, model):
    fitted = load(model)
    assert list(fitted.feature_names_in_) == NAMES
    assert fitted.classes_.tolist() == [f"d{d}" for d in range(5)]
    assert fitted.hidden_layer_sizes == (16,)
    assert fitted.max_iter == 2


def test_fit_with_dropout(data, tmp_path):
    path = tmp_path / "dropout.dsc"
    ok("fit", data / "seen.npz", "-o", path, *FAST, "--dropout", "0.2")
    fitted = load(path)
    assert fitted.dropout == 0.2
    assert any(isinstance(m, torch.nn.Dropout) for m in fitted.module_.modules())


@pytest.mark.parametrize(("shrinkage", "expected"), [("0.3", 0.3), ("auto", "auto")])
def test_fit_whitened_anchor(data, tmp_path, shrinkage, expected):
    path = tmp_path / "whitened.dsc"
    result = ok(
        "fit", data / "seen.npz", "-o", path, *FAST,
        "--init", "whitened", "--shrinkage", shrinkage,
    )  # fmt: skip
    fitted = load(path)
    assert (fitted.init, fitted.shrinkage) == ("whitened", expected)
    assert fitted.init_ == "whitened"
    assert f"Anchor: whitened (shrinkage {fitted.shrinkage_:g})" in result.stdout


def test_fit_npz_linear_closed_form(data, tmp_path):
    path = tmp_path / "linear.dsc"
    ok(
        "fit",
        data / "seen.npz",
        "-o",
        path,
        "--hidden-layer-sizes",
        "",
        "--solver",
        "closed_form",
        "--no-early-stopping",
    )
    fitted = load(path)
    assert fitted.solver == "closed_form"
    assert fitted.hidden_layer_sizes == ()
    assert not hasattr(fitted, "feature_names_in_")


def test_fit_parquet(data, tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    X, y = load_digits(return_X_y=True)
    columns = {name: X[:200, j] for j, name in enumerate(NAMES)}
    pq.write_table(pa.table({**columns, "digit": y[:200]}), tmp_path / "d.parquet")
    ok("fit", tmp_path / "d.parquet", "--target", "digit", "-o", tmp_path / "m", *FAST)
    assert load(tmp_path / "m").classes_.tolist() == list(range(10))


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
@pytest.mark.parametrize("suffix", [".csv", ".npy"])
def test_transform(data, model, tmp_path, suffix):
    out = tmp_path / f"embedding{suffix}"
    ok("transform", model, data / "unseen.csv", "--target", "digit", "-o", out)
    fitted = load(model)
    X = np.load(data / "unseen.npz")["X"]
    if suffix == ".npy":
        embedding = np.load(out)
    else:
        with open(out) as f:
            header = next(csv.reader(f))
        assert header == list(fitted.get_feature_names_out())
        embedding = np.loadtxt(out, delimiter=",", skiprows=1)
    np.testing.assert_allclose(embedding, fitted.transform(X), rtol=1e-12)


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
def test_transform_reorders_columns_by_name(data, model, tmp_path):
    X = np.load(data / "unseen.npz")["X"]
    write_csv(tmp_path / "shuffled.csv", X[:, ::-1].tolist(), NAMES[::-1])
    ok("transform", model, tmp_path / "shuffled.csv", "-o", tmp_path / "z.npy")
    np.testing.assert_allclose(
        np.load(tmp_path / "z.npy"), load(model).transform(X), rtol=1e-12
    )


def test_cluster(data, model, tmp_path):
    out = tmp_path / "clusters.csv"
    ok("cluster", model, data / "unseen.npz", "--n-clusters", 5, "-o", out)
    table = np.loadtxt(out, delimiter=",", skiprows=1, dtype=int)
    assert out.read_text().splitlines()[0] == "row,cluster"
    np.testing.assert_array_equal(table[:, 0], np.arange(300))  # to join on
    assert set(table[:, 1]) == set(range(5))


def cluster_unseen(data, model, out, *options):
    """``sklearn-dsc cluster`` of the unseen digits, which prints the K used."""
    result = ok("cluster", model, data / "unseen.npz", "-o", out, *options)
    return result, int(result.stdout.split("K=")[1].split()[0].rstrip(")"))


def test_cluster_estimates_the_number_of_clusters_by_default(data, model, tmp_path):
    out, figure = tmp_path / "clusters.npy", tmp_path / "criterion.png"
    result, estimated = cluster_unseen(data, model, out, "--plot", figure)
    assert "Estimated K=" in result.stdout
    assert len(np.unique(np.load(out))) == estimated
    assert f"(K={estimated})" in result.stdout
    assert figure.read_bytes().startswith(b"\x89PNG")
    options = ["--n-clusters", "auto", "--method", "silhouette", "--max-clusters", 8]
    result, _ = cluster_unseen(data, model, out, *options)
    assert "(silhouette, 2 to 8 considered)" in result.stdout


def test_cluster_calibrates_the_estimate_on_reference_classes(data, model, tmp_path):
    out, figure = tmp_path / "clusters.npy", tmp_path / "criterion.png"
    for reference, target in (
        ("seen.csv", ["--reference-target", "digit"]),
        ("seen.npz", []),
    ):
        options = ["--reference", data / reference, *target, "--plot", figure]
        result, estimated = cluster_unseen(data, model, out, *options)
        assert "(calibrated, 2 to " in result.stdout
        assert 4 <= estimated <= 6  # five unseen digits
        assert len(np.unique(np.load(out))) == estimated


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--method", "gap"], "estimate the number of clusters: method must be 'auto'"),
        (["--max-clusters", 1000], "max_clusters=1000 is not below the number of rows"),
        (
            ["--n-clusters", 5, "--plot", "k.png"],
            "--max-clusters, --reference and --plot go",
        ),
        (
            ["--reference", "DATA/seen.csv"],
            "name the label column with --reference-target",
        ),
        (["--reference", "DATA/seen.npz", "--method", "bic"], "by method='calibrat"),
        (["--method", "calibrated"], "needs reference rows of known classes"),
    ],
)
def test_cluster_options_are_checked(data, model, tmp_path, options, message):
    out = tmp_path / "clusters.npy"
    options = [str(option).replace("DATA/", f"{data}/") for option in options]
    fails("cluster", model, data / "unseen.npz", "-o", out, *options, message=message)
    assert not out.exists()


def test_n_clusters_is_a_number_or_auto(data, model, tmp_path):
    out = tmp_path / "clusters.npy"
    result = sklearn_dsc(
        "cluster", model, data / "unseen.npz", "-o", out, "--n-clusters", "many"
    )
    assert result.returncode == 2
    assert "expected a number of clusters or 'auto', got 'many'" in result.stderr


def test_cluster_and_transform_carry_an_id_column(data, model, tmp_path):
    source = (data / "unseen.csv").read_text().splitlines()
    with_ids = tmp_path / "with_ids.csv"
    with_ids.write_text(
        "\n".join(
            [f"name,{source[0]}"] + [f"r{i},{row}" for i, row in enumerate(source[1:])]
        )
        + "\n"
    )
    named = [model, with_ids, "--target", "digit", "--id", "name"]
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


def test_semicolon_files_are_read(data, model, tmp_path):
    text = (data / "unseen.csv").read_text().replace(",", ";")
    semicolons = tmp_path / "semicolons.csv"
    semicolons.write_text(text)
    detected = ok("evaluate", model, semicolons, "--target", "digit", "--json")
    forced = ok(
        "evaluate", model, semicolons, "--target", "digit", "--json", "--sep", ";"
    )
    plain = ok("evaluate", model, data / "unseen.csv", "--target", "digit", "--json")
    assert json.loads(detected.stdout) == json.loads(plain.stdout)
    assert json.loads(forced.stdout) == json.loads(plain.stdout)
    fails(
        "evaluate",
        model,
        semicolons,
        "--target",
        "digit",
        "--sep",
        ",",
        message="no column 'digit'",
    )


def test_a_directory_given_as_data_is_named(model, tmp_path):
    fails(
        "transform",
        model,
        tmp_path,
        "-o",
        tmp_path / "out.csv",
        message="is a directory, not a data file",
    )


def test_evaluate(data, model):
    result = ok("evaluate", model, data / "unseen.csv", "--target", "digit", "--json")
    scores = json.loads(result.stdout)
    assert scores["n_samples"] == 300
    assert scores["n_classes"] == 5
    assert 0.3 < scores["nmi"] <= 1
    assert set(scores["recall_at_k"]) == {"1", "2", "4", "8"}
    table = ok("evaluate", model, data / "unseen.csv", "--target", "digit").stdout
    assert f"NMI       {scores['nmi']:.4f}" in table


def test_info(model):
    result = ok("info", model)
    assert "64 features (px0, px1" in result.stdout
    assert "'max_iter': 2" in result.stdout
    assert "anchor: pca" in result.stdout


def test_fit_says_what_it_does_and_why_no_network_was_trained(data, tmp_path):
    args = [data / "seen.csv", "--target", "digit", "--random-state", "0"]
    verbose = ok("fit", *args, "-o", tmp_path / "a.dsc", "-v")
    lines = verbose.stdout.splitlines()
    splits = [line for line in lines if "choosing the anchor: held-out class" in line]
    assert len(splits) == 10  # 5 classes, 2 held out: every split
    assert splits[-1].endswith("split 10 of 10")
    assert "No network was trained: held-out classes chose the whitened" in (
        verbose.stdout
    )
    # the progress bar shows the same stages
    quiet = ok("fit", *args, "-o", tmp_path / "b.dsc")
    assert "choosing the anchor: held-out class split 10 of 10" in quiet.stderr
    # a head that was trained but not kept is explained too
    pca = ok("fit", *args, "-o", tmp_path / "c.dsc", "--init", "pca", "-v", *FAST[:4])
    assert "training a head beside the pca anchor on 3 classes" in pca.stdout
    assert "refit on every class" not in pca.stdout
    assert "did not beat the anchor alone on held-out classes" in pca.stdout


# ------------------------------------------------------------------ errors


def test_missing_data_file(model, tmp_path):
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
        model,
        tmp_path / "nothing.csv",
        "-o",
        tmp_path / "z.npy",
        message="no such file",
    )


def test_missing_model_file(data, tmp_path):
    fails(
        "evaluate",
        tmp_path / "nothing.dsc",
        data / "unseen.csv",
        "--target",
        "digit",
        message="no such model file",
    )


def test_missing_target_column(data, tmp_path):
    message = fails(
        "fit",
        data / "seen.csv",
        "--target",
        "label",
        "-o",
        tmp_path / "m",
        message="no column 'label'",
    )
    assert "'px0'" in message
    fails("fit", data / "seen.csv", "-o", tmp_path / "m", message="--target")


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


def test_feature_columns_differ_from_the_model(data, model, tmp_path):
    X = np.load(data / "unseen.npz")["X"]
    names = ["other", *NAMES[1:]]
    write_csv(tmp_path / "d.csv", X.tolist(), names)
    message = fails(
        "transform",
        model,
        tmp_path / "d.csv",
        "-o",
        tmp_path / "z.npy",
        message="differ from the model's",
    )
    assert "missing 'px0'" in message
    assert "'other'" in message
    fails(
        "transform",
        model,
        data / "unseen.csv",
        "-o",
        tmp_path / "z.npy",
        message="not in the model 'digit'",
    )
    np.savez(tmp_path / "narrow.npz", X=X[:, :10])
    fails(
        "transform",
        model,
        tmp_path / "narrow.npz",
        "-o",
        tmp_path / "z.npy",
        message="10 feature columns, the model takes 64",
    )
    assert not (tmp_path / "z.npy").exists()


def test_foreign_and_truncated_model_files(data, model, tmp_path):
    (tmp_path / "foreign.dsc").write_text("hello")
    fails("info", tmp_path / "foreign.dsc", message="not a sklearn_dsc model file")
    (tmp_path / "cut.dsc").write_bytes(model.read_bytes()[:-200])
    fails(
        "transform",
        tmp_path / "cut.dsc",
        data / "unseen.npz",
        "-o",
        tmp_path / "z.npy",
        message="truncated or corrupted",
    )


def test_invalid_option_and_output(data, model, tmp_path):
    fails(
        "fit",
        data / "seen.csv",
        "--target",
        "digit",
        "-o",
        tmp_path / "m",
        "--activation",
        "swish",
        message="'activation' parameter",
    )
    fails(
        "transform",
        model,
        data / "unseen.npz",
        "-o",
        tmp_path / "z.txt",
        message="unknown output type '.txt'",
    )
    fails(
        "cluster",
        model,
        data / "unseen.npz",
        "--n-clusters",
        1000,
        "-o",
        tmp_path / "c.npy",
        message="--n-clusters must be between 1 and the 300",
    )
    fails(
        "transform",
        model,
        data / "unseen.npz",
        "-o",
        tmp_path / "no" / "z.npy",
        message="does not exist",
    )


def test_an_interrupted_fit_writes_nothing(data, model, tmp_path, monkeypatch):
    from sklearn_dsc import _training

    target = tmp_path / "kept.dsc"
    target.write_bytes(model.read_bytes())
    # the fourth batch is in the second epoch
    interrupted = interrupted_at_call(_training.spectral_clustering_loss, 4)
    monkeypatch.setattr(_training, "spectral_clustering_loss", interrupted)
    args = ["--init", "random", "--no-early-stopping", "--max-iter", "50", "-q"]
    result = sklearn_dsc(
        "fit", data / "seen.csv", "--target", "digit", "-o", target, *args
    )
    assert result.returncode == 130
    assert "interrupted; no output was written" in result.stderr
    assert "Saved" not in result.stdout
    assert target.read_bytes() == model.read_bytes()


def test_a_model_trained_on_a_missing_gpu_embeds_on_the_cpu(data, model, tmp_path):
    from sklearn_dsc import save

    estimator = load(model)
    estimator.set_params(device="cuda:7")  # a device this machine lacks
    path = tmp_path / "gpu.dsc"
    save(estimator, path)
    unseen = [data / "unseen.csv", "--target", "digit", "-o"]
    ok("transform", model, *unseen, tmp_path / "cpu.npy")
    result = ok("transform", path, *unseen, tmp_path / "gpu.npy")
    if torch.cuda.device_count() <= 7:
        assert "embedding on the CPU instead" in result.stderr
    np.testing.assert_array_equal(
        np.load(tmp_path / "gpu.npy"), np.load(tmp_path / "cpu.npy")
    )
    # --device chooses where to embed, without a warning
    result = ok(
        "evaluate", path, data / "unseen.csv", "--target", "digit", "--device", "cpu"
    )
    assert "warning" not in result.stderr
    assert "NMI" in result.stdout


def test_recall_at_large_k_is_readable(data, model):
    table = ok(
        "evaluate",
        model,
        data / "unseen.csv",
        "--target",
        "digit",
        "--k",
        "1",
        "10",
        "100",
    ).stdout
    lines = dict(line.rsplit(maxsplit=1) for line in table.splitlines()[1:])
    assert set(lines) == {"NMI", "AMI", "Recall@1", "Recall@10", "Recall@100"}
    assert all(0 <= float(value) <= 1 for value in lines.values())


def test_an_unwritable_output_is_found_before_any_work(data, tmp_path, monkeypatch):
    import tempfile

    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "TemporaryFile", refused)
    for command in (
        ["fit", data / "seen.csv", "--target", "digit", "-o", tmp_path / "m.dsc"],
        ["demo", "--figure", tmp_path / "demo.png"],
    ):
        message = fails(*command, message="Permission denied")
        assert "cannot write" in message
    assert list(tmp_path.iterdir()) == []


def test_outputs_honour_the_umask_and_keep_an_existing_mode(data, model, tmp_path):
    previous = os.umask(0o022)
    try:
        out = tmp_path / "embedding.npy"
        ok("transform", model, data / "unseen.csv", "--target", "digit", "-o", out)
        assert out.stat().st_mode & 0o777 == 0o644
        out.chmod(0o640)
        ok("transform", model, data / "unseen.csv", "--target", "digit", "-o", out)
        assert out.stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(previous)


def test_the_fit_summary_of_a_choice_made_after_every_epoch():
    from types import SimpleNamespace

    from sklearn_dsc.cli import _validation_summary, _why_untrained

    scores = [0.6, 0.61, 0.65, 0.63, 0.62, 0.64]
    model = SimpleNamespace(validation_scores_=scores, n_iter_=0, init_="whitened")
    assert _validation_summary(model) == "start 0.600, best 0.650 after epoch 2 of 5"
    assert "(k-means NMI 0.650, at its best epoch, against 0.600)" in _why_untrained(
        model
    )
    model.validation_scores_ = [0.6, 0.55]
    assert _validation_summary(model) == "0.600, 0.550"
    assert "(k-means NMI 0.550, against 0.600)" in _why_untrained(model)
