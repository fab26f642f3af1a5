"""``sklearn-dsc transform``: the embedding, in the model's columns."""

import csv
import gzip

import numpy as np
import pytest

from sklearn_dsc import load, save

from cli_helpers import (
    NAMES,
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
