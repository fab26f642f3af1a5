"""Model files: ``save``/``load`` round trips, and hostile files refused cleanly."""

import hashlib
import io
import json
import os
import pickle
import re
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_dsc import DeepSpectralClusteringEmbedder, ModelFileError, load, save
from sklearn_dsc._persistence import FORMAT_VERSION


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16.0)[:600], y[:600]


CONFIGS = {
    "anchored-class-split": {"max_iter": 3},
    "random-init-samples-split": {
        "init": "random",
        "validation_split": "samples",
        "max_iter": 3,
        "hidden_layer_sizes": (32, 16),
        "activation": "tanh",
    },
    "linear-no-early-stopping": {
        "hidden_layer_sizes": (),
        "early_stopping": False,
        "max_iter": 3,
    },
    "closed-form": {"hidden_layer_sizes": (), "solver": "closed_form"},
    "dropout": {"max_iter": 3, "dropout": 0.25, "hidden_layer_sizes": (16, 8)},
    "one-layer-as-int": {"max_iter": 3, "init": "random", "hidden_layer_sizes": 16},
    "whitened": {"max_iter": 3, "init": "whitened", "hidden_layer_sizes": (16,)},
    "plda": {"max_iter": 3, "init": "plda", "hidden_layer_sizes": (16,)},
    "normalized": {"max_iter": 3, "init": "random", "normalize_embeddings": True},
}


def assert_same_model(a, b, X):
    np.testing.assert_array_equal(a.transform(X), b.transform(X))
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    assert a.get_params() == b.get_params()
    for name in ("n_features_in_", "n_iter_", "t_", "loss_curve_", "init_"):
        assert getattr(a, name) == getattr(b, name)
    assert a.validation_scores_ == b.validation_scores_
    assert a.shrinkage_ == b.shrinkage_
    np.testing.assert_array_equal(a.classes_, b.classes_)
    assert a.classes_.dtype == b.classes_.dtype
    np.testing.assert_array_equal(a.class_centroids_, b.class_centroids_)


@pytest.mark.parametrize("params", CONFIGS.values(), ids=CONFIGS.keys())
def test_round_trip(params, digits, tmp_path):
    X, y = digits
    model = DeepSpectralClusteringEmbedder(random_state=0, **params).fit(X, y)
    save(model, tmp_path / "model.dsc")
    assert_same_model(model, load(tmp_path / "model.dsc"), X)


def test_round_trip_string_classes_and_feature_names(digits, tmp_path):
    pd = pytest.importorskip("pandas")
    X, y = digits
    frame = pd.DataFrame(X, columns=[f"pixel {i}" for i in range(X.shape[1])])
    labels = np.array([f"digit {d}" for d in y], dtype=object)
    model = DeepSpectralClusteringEmbedder(
        hidden_layer_sizes=(), solver="closed_form"
    ).fit(frame, labels)
    save(model, tmp_path / "model.dsc")
    loaded = load(tmp_path / "model.dsc")
    assert_same_model(model, loaded, frame)
    np.testing.assert_array_equal(loaded.feature_names_in_, frame.columns)
    assert loaded.feature_names_in_.dtype == object
    with pytest.raises(ValueError, match="feature names"):
        loaded.transform(frame.rename(columns={"pixel 0": "other"}))


def test_the_output_container_of_set_output_is_kept(digits, tmp_path):
    pd = pytest.importorskip("pandas")
    X, y = digits
    model = DeepSpectralClusteringEmbedder(max_iter=2, random_state=0)
    model.set_output(transform="pandas").fit(X, y)
    save(model, tmp_path / "model.dsc")
    loaded = load(tmp_path / "model.dsc")
    pd.testing.assert_frame_equal(loaded.transform(X), model.transform(X))
    # a model that never called set_output records nothing, and gives arrays
    save(DeepSpectralClusteringEmbedder(max_iter=2).fit(X, y), tmp_path / "plain.dsc")
    with zipfile.ZipFile(tmp_path / "plain.dsc") as archive:
        assert "output" not in json.loads(archive.read("metadata.json"))
    assert isinstance(load(tmp_path / "plain.dsc").transform(X), np.ndarray)


def test_partial_fit_continues_from_the_saved_optimizer_state(digits, tmp_path):
    X, y = digits
    model = DeepSpectralClusteringEmbedder(
        hidden_layer_sizes=(16,), init="random", random_state=0
    )
    model.partial_fit(X, y)
    save(model, tmp_path / "model.dsc")
    loaded = load(tmp_path / "model.dsc")
    pickled = pickle.loads(pickle.dumps(model))
    model.partial_fit(X, y)
    loaded.partial_fit(X, y)
    np.testing.assert_array_equal(model.transform(X), loaded.transform(X))
    # and only its own network: both copies know what built it
    for copy in (loaded, pickled):
        copy.set_params(hidden_layer_sizes=(8,))
        with pytest.raises(ValueError, match=r"hidden_layer_sizes=\(16,\)"):
            copy.partial_fit(X, y)


def test_pickle_still_works(digits):
    X, y = digits
    model = DeepSpectralClusteringEmbedder(max_iter=2, random_state=0).fit(X, y)
    assert_same_model(model, pickle.loads(pickle.dumps(model)), X)


def test_save_refuses_what_it_cannot_write(digits, tmp_path):
    X, y = digits
    with pytest.raises(ValueError, match="fitted"):
        save(DeepSpectralClusteringEmbedder(), tmp_path / "model.dsc")
    with pytest.raises(
        TypeError,
        match=r"got an object of type Pipeline; write other objects, such as a "
        r"pipeline holding the estimator, with skops\.io .* pickle or joblib",
    ):
        save(make_pipeline(StandardScaler()), tmp_path / "model.dsc")
    model = DeepSpectralClusteringEmbedder(
        hidden_layer_sizes=(),
        solver="closed_form",
        callback=print,
        random_state=np.random.RandomState(0),
    ).fit(X, y)
    with pytest.warns(UserWarning, match="callback|random_state") as record:
        save(model, tmp_path / "model.dsc")
    said = " ".join(str(w.message) for w in record)
    assert "callback" in said
    assert "random_state" in said
    loaded = load(tmp_path / "model.dsc")
    assert loaded.callback is None
    assert loaded.random_state is None
    assert not (tmp_path / "model.dsc").with_suffix(".part").exists()


# ------------------------------------------------------------ hostile files


@pytest.fixture(scope="module")
def model_bytes(digits, tmp_path_factory):
    X, y = digits
    model = DeepSpectralClusteringEmbedder(max_iter=2, random_state=0).fit(X, y)
    path = tmp_path_factory.mktemp("model") / "model.dsc"
    save(model, path)
    return path.read_bytes()


def rewrite(data, edit):
    """The model file ``data`` with ``edit(members)`` applied to its members."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    edit(members)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def edit_metadata(change):
    def edit(members):
        metadata = json.loads(members["metadata.json"])
        change(metadata)
        members["metadata.json"] = json.dumps(metadata).encode()

    return edit


def npy(array):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def replace_array(name, content, declared_dtype=None):
    """Swap an array's bytes, updating its checksum as a careful forger would."""

    def edit(members):
        members[f"{name}.npy"] = content
        metadata = json.loads(members["metadata.json"])
        metadata["arrays"][name]["sha256"] = hashlib.sha256(content).hexdigest()
        if declared_dtype is not None:
            metadata["arrays"][name]["dtype"] = declared_dtype
        members["metadata.json"] = json.dumps(metadata).encode()

    return edit


def test_a_file_of_the_other_byte_order_loads(digits, model_bytes, tmp_path):
    """Arrays written on a machine of the other byte order (a big-endian
    one, for most readers) load as this machine's: the same model."""
    X, _ = digits
    path = tmp_path / "model.dsc"
    path.write_bytes(model_bytes)
    current = load(path)

    def swapped(members):
        metadata = json.loads(members["metadata.json"])
        for name, spec in metadata["arrays"].items():
            array = np.lib.format.read_array(io.BytesIO(members[f"{name}.npy"]))
            if array.dtype.byteorder in "=<>":  # it has one: not bytes nor bool
                other = array.dtype.newbyteorder("S")
                members[f"{name}.npy"] = content = npy(array.astype(other))
                spec["sha256"] = hashlib.sha256(content).hexdigest()
                spec["dtype"] = other.str
        members["metadata.json"] = json.dumps(metadata).encode()

    path.write_bytes(rewrite(model_bytes, swapped))
    with zipfile.ZipFile(path) as archive:
        declared = json.loads(archive.read("metadata.json"))["arrays"]
    assert np.dtype(declared["class_centroids_"]["dtype"]).isnative is False
    loaded = load(path)
    assert loaded.class_centroids_.dtype.isnative
    assert_same_model(loaded, current, X)


class _Exploit:
    """Unpickling this creates the file ``path``."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_format_1_files_lose_the_zero_columns_of_an_unused_head(
    digits, model_bytes, tmp_path
):
    X, _ = digits
    path = tmp_path / "model.dsc"
    path.write_bytes(model_bytes)
    current = load(path)
    assert not current.module_.head_scale  # the digits keep an anchor alone
    n_classes, width = current.class_centroids_.shape
    assert width == current.module_.anchor.out_features
    # format 1 stored (and transform gave) the head's columns as zeros
    padded = np.hstack([current.class_centroids_, np.zeros((n_classes, n_classes))])

    def as_format_1(metadata):
        metadata["format_version"] = 1
        metadata["arrays"]["class_centroids_"]["shape"] = list(padded.shape)

    def edit(members):
        edit_metadata(as_format_1)(members)
        replace_array("class_centroids_", npy(padded))(members)

    path.write_bytes(rewrite(model_bytes, edit))
    assert_same_model(load(path), current, X)


def test_format_2_files_load(digits, model_bytes, tmp_path):
    """Format 2 had no network or input_shape parameters and described an
    anchored network without its head's kind (always an MLP)."""
    X, _ = digits
    path = tmp_path / "model.dsc"
    path.write_bytes(model_bytes)
    current = load(path)

    def as_format_2(metadata):
        metadata["format_version"] = 2
        del metadata["params"]["network"], metadata["params"]["input_shape"]
        del metadata["architecture"]["head"]

    path.write_bytes(rewrite(model_bytes, edit_metadata(as_format_2)))
    loaded = load(path)
    assert loaded.network == "mlp"
    assert loaded.input_shape is None
    assert_same_model(loaded, current, X)


def test_the_user_guide_names_the_current_format():
    guide = Path(__file__).resolve().parents[1] / "docs" / "user_guide.md"
    assert f"The current format is {FORMAT_VERSION}," in guide.read_text()


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (lambda data: data[: len(data) // 2], "truncated or corrupted"),
        (lambda data: data[:100], "truncated or corrupted"),
        (lambda data: b"", "truncated or corrupted"),
        (lambda data: b"not a model file at all" * 10, "not a sklearn_dsc model"),
        (lambda data: npy(np.arange(3)), "not a sklearn_dsc model"),
        (
            lambda data: rewrite(data, lambda m: m.pop("metadata.json")),
            "not a sklearn_dsc model",
        ),
        (
            lambda data: rewrite(
                data, edit_metadata(lambda m: m.update(format="something else"))
            ),
            "not a sklearn_dsc model",
        ),
        (
            lambda data: rewrite(
                data,
                edit_metadata(lambda m: m.update(format_version=FORMAT_VERSION + 1)),
            ),
            "upgrade sklearn_dsc",
        ),
        (
            lambda data: rewrite(
                data, edit_metadata(lambda m: m.update(estimator="os.system"))
            ),
            "unknown estimator",
        ),
        (
            lambda data: rewrite(
                data, edit_metadata(lambda m: m["params"].update(activation="rm -rf"))
            ),
            "activation",
        ),
        (
            lambda data: rewrite(
                data, edit_metadata(lambda m: m["params"].update(evil=1))
            ),
            "unknown parameters",
        ),
        (
            lambda data: rewrite(data, lambda m: m.update({"payload.pkl": b"x"})),
            "unexpected members",
        ),
        (
            lambda data: rewrite(data, lambda m: m.pop("classes_.npy")),
            "classes_",
        ),
        (
            lambda data: rewrite(
                data, lambda m: m.update({"classes_.npy": npy(np.arange(5) + 1)})
            ),
            "checksum",
        ),
        (
            lambda data: rewrite(
                data, replace_array("classes_", npy(np.arange(7, dtype=np.int64)))
            ),
            "declared",
        ),
        (
            lambda data: rewrite(
                data,
                replace_array(
                    "module/head.0.weight", npy(np.zeros((3, 3), dtype=np.float32))
                ),
            ),
            "declared",
        ),
        (
            lambda data: rewrite(
                data,
                replace_array(
                    "class_centroids_",
                    npy(np.zeros((5, 5))),
                    declared_dtype="<f8",
                ),
            ),
            "declared",
        ),
        (
            lambda data: rewrite(data, edit_metadata(lambda m: m.pop("arrays"))),
            "arrays",
        ),
        # huge declared layers are refused before anything is allocated
        (
            lambda data: rewrite(
                data,
                edit_metadata(
                    lambda m: m["architecture"].update(
                        layer_sizes=[64, 10**9, 10**9, 5]
                    )
                ),
            ),
            "do not match the network",
        ),
        (
            lambda data: rewrite(
                data,
                edit_metadata(lambda m: m["architecture"].update(anchor_width=10**12)),
            ),
            "do not match the network",
        ),
        (
            lambda data: rewrite(
                data,
                edit_metadata(lambda m: m["architecture"].update(activation="eval")),
            ),
            "unknown activation 'eval'",
        ),
        (
            lambda data: rewrite(data, lambda m: m.update({"metadata.json": b"{"})),
            "not valid JSON",
        ),
        (
            lambda data: rewrite(
                data, edit_metadata(lambda m: m.update(output={"transform": "xml"}))
            ),
            "output {'transform': 'xml'} is not a transform container among",
        ),
        (
            lambda data: rewrite(
                data,
                edit_metadata(lambda m: m["arrays"]["classes_"].update(shape=[-4])),
            ),
            "shape of classes_ must be a non-negative integer, got -4",
        ),
    ],
)
def test_damaged_and_foreign_files_are_refused(corrupt, message, model_bytes, tmp_path):
    path = tmp_path / "model.dsc"
    path.write_bytes(corrupt(model_bytes))
    with pytest.raises(ModelFileError, match=message):
        load(path)


def test_flipped_byte_is_refused(model_bytes, tmp_path):
    data = bytearray(model_bytes)
    with zipfile.ZipFile(io.BytesIO(model_bytes)) as archive:
        info = archive.getinfo("module/head.0.weight.npy")
    # a byte inside the member's compressed data
    data[info.header_offset + 30 + len(info.filename) + 200] ^= 0xFF
    path = tmp_path / "model.dsc"
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError):
        load(path)


def test_loading_never_unpickles(model_bytes, tmp_path):
    marker = tmp_path / "executed"
    exploit = npy(np.array([_Exploit(marker)], dtype=object))
    for declared in ("|O", "<i8"):
        path = tmp_path / "model.dsc"
        path.write_bytes(
            rewrite(model_bytes, replace_array("classes_", exploit, declared))
        )
        with pytest.raises(ModelFileError):
            load(path)
    assert not marker.exists()


def test_missing_file(digits, tmp_path):
    with pytest.raises(FileNotFoundError, match="no such model file"):
        load("/nonexistent/model.dsc")
    with pytest.raises(IsADirectoryError, match="is a directory, not a model file"):
        load(tmp_path)
    # save says so in the same errors, as open would
    X, y = digits
    model = DeepSpectralClusteringEmbedder(max_iter=1, random_state=0).fit(X, y)
    with pytest.raises(IsADirectoryError, match="is a directory, not a model file"):
        save(model, tmp_path)
    with pytest.raises(FileNotFoundError, match=r"model\.dsc: no folder .*nowhere"):
        save(model, tmp_path / "nowhere" / "model.dsc")


def test_save_raises_the_os_error_of_a_folder_it_cannot_write(
    digits, tmp_path, monkeypatch
):
    """Not the command line's DataError: a PermissionError, as open raises."""
    X, y = digits
    model = DeepSpectralClusteringEmbedder(max_iter=1, random_state=0).fit(X, y)

    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refused)
    monkeypatch.setattr(tempfile, "TemporaryFile", refused)
    with pytest.raises(PermissionError, match="Permission denied"):
        save(model, tmp_path / "model.dsc")
    assert not list(tmp_path.iterdir())


def test_pickles_hold_no_torch_objects(digits):
    X, y = digits
    model = DeepSpectralClusteringEmbedder(
        init="pca", max_iter=2, early_stopping=False, random_state=0
    ).fit(X, y)
    data = pickle.dumps(model)
    assert b"torch" not in data  # portable: no tensor, no device
    restored = pickle.loads(data)
    assert_same_model(restored, model, X)
    # the optimizer's state survives: partial_fit continues identically
    np.testing.assert_array_equal(
        restored.partial_fit(X, y).transform(X), model.partial_fit(X, y).transform(X)
    )


def test_a_pipeline_round_trips_through_skops(digits, tmp_path):
    sio = pytest.importorskip("skops.io")
    from sklearn.preprocessing import MinMaxScaler

    X, y = digits
    pipeline = make_pipeline(
        MinMaxScaler(), DeepSpectralClusteringEmbedder(max_iter=2, random_state=0)
    ).fit(X, y)
    path = tmp_path / "pipeline.skops"
    sio.dump(pipeline, path)
    untrusted = sio.get_untrusted_types(file=path)
    assert untrusted == ["sklearn_dsc._embedder.DeepSpectralClusteringEmbedder"]
    loaded = sio.load(path, trusted=untrusted)
    np.testing.assert_array_equal(loaded.transform(X), pipeline.transform(X))


@pytest.mark.parametrize("where", [None, 3, [b"model"]])
def test_save_and_load_take_a_path_or_a_file_object(digits, where):
    """Anything else got Path's own message, which names neither the function
    nor the argument."""
    X, y = digits
    model = DeepSpectralClusteringEmbedder(max_iter=1, random_state=0).fit(X, y)
    name = type(where).__name__
    for function, args in ((save, (model, where)), (load, (where,))):
        message = (
            f"{function.__name__} takes the path of a model file (a str or "
            f"os.PathLike) or a binary file object, got an object of type {name}."
        )
        with pytest.raises(TypeError, match=re.escape(message)):
            function(*args)


class _Stream(io.RawIOBase):
    """A binary stream that reads forward only, as a socket or a pipe does."""

    def __init__(self, data):
        self._data = io.BytesIO(data)

    def readable(self):
        return True

    def readinto(self, buffer):
        return self._data.readinto(buffer)


def test_a_model_is_written_to_and_read_from_binary_file_objects(digits, tmp_path):
    """Bytes in memory, an open file, a stream that cannot seek: the same
    model, and the file object left open; a text file object is refused."""
    X, y = digits
    model = DeepSpectralClusteringEmbedder(max_iter=2, random_state=0).fit(X, y)
    buffer = io.BytesIO()
    save(model, buffer)
    assert not buffer.closed
    buffer.seek(0)
    assert_same_model(model, load(buffer), X)
    assert_same_model(model, load(_Stream(buffer.getvalue())), X)
    with open(tmp_path / "model.dsc", "wb") as f:
        f.write(b"header")  # written from where the file object stands
        save(model, f)
    with open(tmp_path / "model.dsc", "rb") as f:
        f.seek(len(b"header"))
        assert_same_model(model, load(f), X)
        assert not f.closed
    for function, args, mode in ((save, (model,), "w"), (load, (), "r")):
        with (
            open(tmp_path / "model.dsc", mode) as f,
            pytest.raises(
                TypeError, match=f"got one of text: open the file with '{mode}b'"
            ),
        ):
            function(*args, f)
    with pytest.raises(ModelFileError, match="the BytesIO is not a sklearn_dsc model"):
        load(io.BytesIO(b"not a model"))
    # a file object of a descriptor is named by its type, not its number
    read, write = os.pipe()
    os.write(write, b"not a model")
    os.close(write)
    with (
        os.fdopen(read, "rb") as f,
        pytest.raises(
            ModelFileError, match=r"^the BufferedReader is not a sklearn_dsc model"
        ),
    ):
        load(f)
    with open(tmp_path / "other.bin", "wb") as f:
        f.write(b"not a model")
    with (
        open(tmp_path / "other.bin", "rb") as f,
        pytest.raises(
            ModelFileError, match=r"other\.bin is not a sklearn_dsc model file"
        ),
    ):
        load(f)
