"""What the commands that read a model and a data file share: reading the
data in the model's columns, and the problems they name."""

import json

import numpy as np
import scipy.sparse as sp
import torch

from sklearn_dsc import load

from cli_helpers import (
    NAMES,
    fails,
    ok,
    unseen,
    write_csv,
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


def test_decimal_commas_are_read_with_decimal(digit_files, digit_model, tmp_path):
    """A file written with decimal commas and semicolons (as spreadsheets
    write it in much of Europe) scores as the plain file does with
    ``--decimal ,``; ``fit`` and ``cluster`` (with ``--reference``) take
    it too."""
    header, *rows = (digit_files / "unseen.csv").read_text().splitlines()
    lines = [header.replace(",", ";")]
    for row in rows:
        *pixels, digit = row.split(",")
        lines.append(";".join([*(pixel.replace(".", ",") for pixel in pixels), digit]))
    commas = tmp_path / "commas.csv"
    commas.write_text("\n".join(lines) + "\n")
    target = ["--target", "digit", "--json"]
    plain = ok("evaluate", digit_model, *unseen(digit_files), "--json")
    read = ok("evaluate", digit_model, commas, *target, "--decimal", ",")
    assert json.loads(read.stdout) == json.loads(plain.stdout)
    fails("evaluate", digit_model, commas, *target, message="--decimal , reads")
    ok("fit", commas, "--target", "digit", "--decimal", ",", "-o", tmp_path / "m")
    assert load(tmp_path / "m").n_features_in_ == len(NAMES)
    ok(  # the option reads every file of the command
        "cluster",
        digit_model,
        commas,
        "--target",
        "digit",
        "--reference",
        commas,
        "--reference-target",
        "digit",
        "--decimal",
        ",",
        "-o",
        tmp_path / "clusters.csv",
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
    # a column left over is not a label column when the model's are missing
    assert "--target" not in message
    message = fails(
        "transform",
        digit_model,
        digit_files / "unseen.csv",
        "-o",
        tmp_path / "z.npy",
        message="not in the model 'digit'",
    )
    assert "(name a label column with --target or row identifiers with --id)" in message
    # once a label column is named, the columns left over are not one
    write_csv(
        tmp_path / "e.csv",
        [[*row, 0, 1] for row in X.tolist()],
        [*NAMES, "extra", "label"],
    )
    message = fails(
        "evaluate",
        digit_model,
        tmp_path / "e.csv",
        "--target",
        "label",
        message="not in the model 'extra'",
    )
    assert "--target)" not in message
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


def test_a_sparse_npz_file_embeds_as_its_dense_rows(digit_files, digit_model, tmp_path):
    X = np.load(digit_files / "unseen.npz")["X"]
    sp.save_npz(tmp_path / "sparse.npz", sp.csr_matrix(X))
    for data, out in [(digit_files / "unseen.npz", "dense"), ("sparse.npz", "sparse")]:
        ok("transform", digit_model, tmp_path / data, "-o", tmp_path / f"{out}.npy")
    np.testing.assert_allclose(
        np.load(tmp_path / "sparse.npy"), np.load(tmp_path / "dense.npy"), atol=1e-6
    )
    fails("evaluate", digit_model, tmp_path / "sparse.npz", message="and no labels")


def test_data_given_as_the_model_says_the_model_comes_first(
    digit_files, digit_model, tmp_path
):
    seen, out = digit_files / "seen.csv", ["-o", tmp_path / "out.csv"]
    for command, *rest in (("transform", *out), ("cluster", *out), ("evaluate",)):
        message = fails(
            command, seen, digit_model, *rest, message="not a sklearn_dsc model file"
        )
        assert message.endswith(
            "it is named as a data file: give the model file first, then the data"
        )
    message = fails("info", seen, message="not a sklearn_dsc model file")
    assert message.endswith("info describes a model file, as fit writes one")
    # a file that is not named as data is not told that it is
    (tmp_path / "notes.txt").write_text("hello")
    message = fails("info", tmp_path / "notes.txt", message="not a sklearn_dsc model")
    assert "data file" not in message


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
        # the model's device, not an option given: named as the estimator names it
        assert "device='cuda:7'" in result.stderr
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
