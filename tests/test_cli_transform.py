"""``sklearn-dsc transform``: the embedding, in the model's columns."""

import csv
import gzip

import numpy as np
import pytest

from sklearn_dsc import load, save

from cli_helpers import (
    NAMES,
    fails,
    ok,
    unseen,
    write_csv,
)


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
@pytest.mark.parametrize("suffix", [".csv", ".tsv.gz", ".parquet", ".npy"])
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
    elif suffix == ".parquet":
        frame = pytest.importorskip("pandas").read_parquet(out)
        assert list(frame.columns) == list(fitted.get_feature_names_out())
        embedding = frame.to_numpy()
    else:
        sep = "," if suffix == ".csv" else "\t"
        with (gzip.open if suffix.endswith(".gz") else open)(out, "rt") as f:
            header = next(csv.reader(f, delimiter=sep))
        assert header == list(fitted.get_feature_names_out())
        embedding = np.loadtxt(out, delimiter=sep, skiprows=1)  # .gz: unzipped
    np.testing.assert_allclose(embedding, fitted.transform(X), rtol=1e-12)


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
@pytest.mark.parametrize("command", ["transform", "cluster"])
def test_an_npy_file_of_features_is_read_as_data(
    digit_files, digit_model, tmp_path, command
):
    """An array saved with numpy.save (embeddings, or transform's own .npy
    output) is DATA for the commands that need no labels."""
    X = np.load(digit_files / "unseen.npz")["X"]
    np.save(tmp_path / "unseen.npy", X.astype(np.float32))
    options = ["--n-clusters", "5"] if command == "cluster" else []
    out = tmp_path / "out.npy"
    ok(command, digit_model, tmp_path / "unseen.npy", "-o", out, *options)
    expected = load(digit_model).transform(X.astype(np.float32).astype(np.float64))
    if command == "transform":
        np.testing.assert_allclose(np.load(out), expected, rtol=1e-12)
    else:
        assert np.load(out).shape == (len(X), 1)  # one cluster number a row
    fails(
        "evaluate",
        digit_model,
        tmp_path / "unseen.npy",
        message="an .npy file holds one array, the features, and no labels: "
        "save both with numpy.savez('unseen.npz', X=X, y=y)",
    )


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
def test_transform_reorders_columns_by_name(digit_files, digit_model, tmp_path):
    X = np.load(digit_files / "unseen.npz")["X"]
    write_csv(tmp_path / "shuffled.csv", X[:, ::-1].tolist(), NAMES[::-1])
    ok("transform", digit_model, tmp_path / "shuffled.csv", "-o", tmp_path / "z.npy")
    np.testing.assert_allclose(
        np.load(tmp_path / "z.npy"), load(digit_model).transform(X), rtol=1e-12
    )


@pytest.mark.parametrize("command", ["transform", "cluster", "evaluate"])
def test_a_model_saved_with_a_frame_output_writes_arrays(
    digit_files, digit_model, tmp_path, command
):
    """set_output(transform="pandas") is kept in the file; the commands still
    read the embedding as an array."""
    pytest.importorskip("pandas")
    framed = tmp_path / "framed.dsc"
    save(load(digit_model).set_output(transform="pandas"), framed)
    out = {
        "transform": ["-o", tmp_path / "z.csv"],
        "cluster": ["-o", tmp_path / "c.csv"],
    }
    ok(command, framed, *unseen(digit_files), *out.get(command, []))
