"""Model files that load without unpickling: ``save`` and ``load``.

A model file is a zip archive of ``metadata.json`` (format version, package
version, parameters, fitted scalars and the network's architecture) and one
``.npy`` array per fitted array and per weight tensor. Loading reads JSON and
plain numeric arrays (``allow_pickle=False``) and rebuilds the network from the
architecture the package knows: nothing in the file is ever executed.

Every array's dtype, shape and SHA-256 digest are recorded in the metadata and
checked on loading, and the zip format checks a CRC-32 of every member, so a
truncated or corrupted file is refused. The digests are not a signature: a
file edited with care can pass them, but it can only hold numbers, which are
validated like every other input.
"""

import hashlib
import io
import json
import os
import warnings
import zipfile
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import torch

from ._compat import output_config
from ._embedder import DeepSpectralClusteringEmbedder
from ._files import check_model_file
from ._fitted_state import (
    FittedState,
    export_state,
    fully_fitted,
    import_state,
    non_negative_integer,
)
from ._networks import AnchoredEmbedding, build_network
from ._outputs import atomic_write
from ._parameters import record_built_with
from ._version import __version__

FORMAT = "sklearn-dsc-model"
# 2: an anchored model whose head is not kept embeds with the anchor's columns
# alone; format 1 gave the head's columns too, as zeros.
# 3: the parameters network and input_shape; convolutional networks.
FORMAT_VERSION = 3
# What set_output may have been given, as a model file records it
OUTPUT_CONTAINERS = ("default", "pandas", "polars")
METADATA = "metadata.json"
# Bounds that a file's declared contents must respect before anything is read.
MAX_METADATA_BYTES = 1 << 24
MAX_ARRAY_BYTES = 1 << 34
ARRAY_DTYPES = {"float32", "float64", "int64", "bool"}


class ModelFileError(ValueError):
    """The file is not a model file that this version of sklearn_dsc can load."""


def save(estimator, path):
    """Write a fitted ``DeepSpectralClusteringEmbedder`` to ``path``.

    The file holds JSON and numeric arrays only, so ``load`` never unpickles.
    It records the package version, the parameters, the feature names, the
    network, the optimizer's state (``warm_start`` and ``partial_fit``
    continue from it) and the container that ``set_output`` chose. A
    ``callback`` or a ``RandomState`` instance as ``random_state`` cannot be
    written: they are saved as ``None``, with a warning. A file named by
    ``path`` is written atomically.

    Parameters
    ----------
    estimator : DeepSpectralClusteringEmbedder
        A fitted estimator.
    path : str, path-like or binary file object
        Where to write; an existing file is replaced. A file object (opened
        with ``"wb"``, or an ``io.BytesIO``) is written from where it stands,
        and left open.

    Raises
    ------
    TypeError
        When ``estimator`` is not a ``DeepSpectralClusteringEmbedder``, its
        network is one of your own, or ``path`` is neither a path nor a
        binary file object.
    ValueError
        When ``estimator`` is not fitted.
    OSError
        When ``path`` cannot be written: ``FileNotFoundError`` where its
        folder does not exist, ``IsADirectoryError`` where it is a folder,
        ``PermissionError`` where its folder cannot be written to.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_dsc import DeepSpectralClusteringEmbedder, load, save
    >>> X = np.random.default_rng(0).normal(size=(60, 4))
    >>> y = np.repeat([0, 1, 2], 20)
    >>> model = DeepSpectralClusteringEmbedder(
    ...     hidden_layer_sizes=(), solver="closed_form"
    ... ).fit(X, y)
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "model.dsc")
    >>> save(model, path)
    >>> np.allclose(load(path).transform(X), model.transform(X))
    True
    """
    path = _model_file(path, "save")
    if not isinstance(estimator, DeepSpectralClusteringEmbedder):
        raise TypeError(
            "save writes a DeepSpectralClusteringEmbedder, got an object of type "
            f"{type(estimator).__name__}; write other objects, such as a pipeline "
            "holding the estimator, with skops.io (which loads them without "
            "unpickling too), pickle or joblib."
        )
    if not hasattr(estimator, "module_"):
        raise ValueError("save needs a fitted estimator; call fit first.")
    if not fully_fitted(estimator):
        raise ValueError(
            "save needs a fitted estimator, and this one is being fitted (save "
            "was called from a callback?): keep the network trained so far with "
            "torch.save(estimator.module_.state_dict(), path), or pickle the "
            "estimator, and save it once fit returns."
        )
    if not isinstance(estimator.network, str):
        raise TypeError(
            "a model with a network of your own (network of type "
            f"{type(estimator.network).__name__}) cannot be written as a model "
            "file, which rebuilds only the built-in networks; save it with pickle "
            "or joblib instead."
        )
    if isinstance(path, Path):  # as load says it, not as the command line's
        check_model_file(path, writing=True)
    state = export_state(estimator)
    arrays = dict(state.arrays)
    arrays["classes_"] = _plain_array(estimator.classes_, "classes_")
    attributes = dict(state.attributes)
    attributes["classes_are_objects"] = estimator.classes_.dtype == object
    members, array_meta = _npy_members(arrays)
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "sklearn_dsc_version": __version__,
        "estimator": type(estimator).__name__,
        "params": _params(estimator),
        "attributes": attributes,
        "architecture": state.architecture,
        "optimizer": state.optimizer,
        "arrays": array_meta,
    }
    output = output_config(estimator)
    if output:  # set_output's container; readers that predate it ignore it
        metadata["output"] = output
    metadata = json.dumps(metadata, indent=1, allow_nan=False)
    if not isinstance(path, Path):
        _write_members(path, metadata, members)
        return
    with atomic_write(path, checked=False) as f:  # OSError, as open raises
        _write_members(f, metadata, members)


def _write_members(f, metadata, members):
    """The model file's zip archive, its ``metadata`` (JSON) first, into the
    binary file object ``f``."""
    with zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(METADATA, metadata)
        for name, data in members.items():
            archive.writestr(name, data)


def _model_file(path, function):
    """``path`` as a ``Path``, or a binary file object as it is (one that
    ``function``, ``"save"`` or ``"load"``, can write or read); else the
    error that says what ``function`` takes (``Path``'s own names neither
    the function nor the argument)."""
    if hasattr(path, "write" if function == "save" else "read"):
        if isinstance(path, io.TextIOBase):
            mode = "wb" if function == "save" else "rb"
            raise TypeError(
                f"{function} takes a binary file object, got one of text: open "
                f"the file with {mode!r}."
            )
        return path
    try:
        return Path(os.fsdecode(path))
    except TypeError:
        raise TypeError(
            f"{function} takes the path of a model file (a str or os.PathLike) "
            f"or a binary file object, got an object of type {type(path).__name__}."
        ) from None


def _npy_members(arrays):
    """The ``.npy`` bytes of each array, and each one's dtype, shape and digest."""
    members, array_meta = {}, {}
    for name, array in arrays.items():
        buffer = io.BytesIO()
        np.lib.format.write_array(buffer, array, allow_pickle=False)
        data = buffer.getvalue()
        members[f"{name}.npy"] = data
        array_meta[name] = {
            "dtype": array.dtype.str,
            "shape": list(array.shape),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
    return members, array_meta


def load(path):
    """Read a model file written by ``save``.

    Nothing in the file is executed: it is read as JSON and numeric arrays,
    and the network is rebuilt from its recorded architecture.

    Parameters
    ----------
    path : str, path-like or binary file object
        A file written by ``save``, or a file object (opened with ``"rb"``,
        or an ``io.BytesIO``) that holds one, read from where it stands.

    Returns
    -------
    estimator : DeepSpectralClusteringEmbedder
        The fitted estimator, on the CPU.

    Raises
    ------
    ModelFileError
        (a ``ValueError``) When the file is not a sklearn_dsc model file, was
        written in a newer format, or is truncated, corrupted or inconsistent.
    FileNotFoundError, IsADirectoryError
        When there is no file at ``path``, or a directory.
    """
    source, name = _model_source(path)
    try:
        with zipfile.ZipFile(source) as archive:
            return _load(name, archive)
    except ModelFileError as error:
        if str(name) in str(error):
            raise
        raise ModelFileError(f"{name}: {error}") from None
    except zipfile.BadZipFile as error:
        raise ModelFileError(
            f"{name} is not a sklearn_dsc model file, or it is truncated or "
            f"corrupted ({error})"
        ) from None
    except KeyError as error:
        raise ModelFileError(
            f"{name} is a damaged model file: missing entry {error}"
        ) from None
    except (
        AttributeError,
        EOFError,
        OSError,
        RuntimeError,
        TypeError,
        ValueError,
    ) as error:
        raise ModelFileError(f"{name} is a damaged model file: {error}") from None


def _model_source(path):
    """What ``load`` reads ``path`` from, and how its messages name it: the
    file's ``Path`` (refused where there is none, or a directory), or a
    binary file object, named by its ``name`` where it has one (read whole
    where it cannot seek: a zip archive is read from its end)."""
    source = _model_file(path, "load")
    if not isinstance(source, Path):
        name = getattr(source, "name", None)  # a descriptor's is a number
        if not isinstance(name, str | os.PathLike) or not name:
            name = f"the {type(source).__name__}"
        if not (hasattr(source, "seekable") and source.seekable()):
            source = io.BytesIO(source.read())
        return source, name
    check_model_file(source)
    return source, source


def _load(path, archive):
    members = {info.filename: info for info in archive.infolist()}
    metadata, version = _read_metadata(path, archive, members)
    declared = metadata["arrays"]
    expected_members = {METADATA} | {f"{name}.npy" for name in declared}
    unexpected = sorted(set(members) - expected_members)
    if unexpected:
        raise ModelFileError(f"{path}: unexpected members {unexpected[:5]}")
    # the network's declared sizes must match its arrays before either is read
    _check_network(metadata, declared)
    arrays = {
        name: _read_array(archive, members, name, spec)
        for name, spec in declared.items()
    }
    estimator = DeepSpectralClusteringEmbedder()
    estimator.set_params(**_restore_params(metadata["params"]))
    attributes = metadata["attributes"]
    if attributes["classes_are_objects"]:
        arrays["classes_"] = arrays["classes_"].astype(object)
    state = FittedState(
        attributes, metadata["architecture"], metadata["optimizer"], arrays
    )
    try:
        import_state(estimator, state)
    except ValueError as error:
        raise ModelFileError(str(error)) from None
    _restore_output(estimator, metadata.get("output"))
    if version < 2:
        _drop_zero_head_columns(estimator)
    record_built_with(estimator)  # the saved parameters built the network
    _check_consistent(path, estimator)
    return estimator


def _read_metadata(path, archive, members):
    """The metadata of a model file of a format this version reads, and the
    format's version."""
    if METADATA not in members:
        raise ModelFileError(f"{path} is not a sklearn_dsc model file (no {METADATA})")
    if members[METADATA].file_size > MAX_METADATA_BYTES:
        raise ModelFileError(f"{path}: {METADATA} is implausibly large")
    try:
        metadata = json.loads(archive.read(METADATA).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelFileError(
            f"{path}: {METADATA} is not valid JSON ({error})"
        ) from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a sklearn_dsc model file")
    version = metadata.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise ModelFileError(f"{path}: invalid format_version {version!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} was written by sklearn_dsc "
            f"{metadata.get('sklearn_dsc_version', '?')} in model format {version}; "
            f"sklearn_dsc {__version__} reads format {FORMAT_VERSION} and older: "
            "upgrade sklearn_dsc."
        )
    if metadata.get("estimator") != DeepSpectralClusteringEmbedder.__name__:
        raise ModelFileError(f"{path}: unknown estimator {metadata.get('estimator')!r}")
    return metadata, version


def _restore_output(estimator, output):
    """``set_output`` as the saved estimator had it (``output``, or ``None``
    for a file without it)."""
    if output is None:
        return
    if (
        not isinstance(output, dict)
        or set(output) - {"transform"}
        or output.get("transform") not in OUTPUT_CONTAINERS
    ):
        raise ModelFileError(
            f"output {output!r} is not a transform container among "
            f"{list(OUTPUT_CONTAINERS)}"
        )
    estimator.set_output(**output)


def _drop_zero_head_columns(estimator):
    """Format 1: the centroids' columns of a head that is not kept go."""
    module = estimator.module_
    if isinstance(module, AnchoredEmbedding) and not module.head_scale:
        width = module.anchor.out_features
        estimator.class_centroids_ = estimator.class_centroids_[:, :width]


def _read_array(archive, members, name, spec):
    member = f"{name}.npy"
    if member not in members:
        raise ModelFileError(f"missing array {name!r}")
    dtype = np.dtype(spec["dtype"])
    shape = tuple(
        non_negative_integer(n, f"shape of {name}", ModelFileError)
        for n in spec["shape"]
    )
    if dtype.name not in ARRAY_DTYPES and dtype.kind != "U":
        raise ModelFileError(f"array {name!r} has unsupported dtype {dtype}")
    size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if size > MAX_ARRAY_BYTES or members[member].file_size > size + 4096:
        raise ModelFileError(f"array {name!r} is larger than its declared shape")
    data = archive.read(member)
    if hashlib.sha256(data).hexdigest() != spec["sha256"]:
        raise ModelFileError(f"array {name!r} does not match its checksum")
    array = np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)
    if array.dtype != dtype or array.shape != shape:
        raise ModelFileError(
            f"array {name!r} is {array.dtype} {array.shape}, declared {dtype} {shape}"
        )
    if (
        array.dtype.kind == "f"
        and not np.isfinite(array).all()
        and name != ("class_centroids_")
    ):
        raise ModelFileError(f"array {name!r} holds NaN or infinite values")
    # a file written on a machine of the other byte order (torch reads this
    # machine's alone)
    return (
        array if array.dtype.isnative else array.astype(array.dtype.newbyteorder("="))
    )


def _prefixed(arrays, prefix):
    return {
        name[len(prefix) :]: value
        for name, value in arrays.items()
        if name.startswith(prefix)
    }


def _check_network(metadata, declared):
    """The architecture describes a network of this package that takes
    ``n_features_in_`` inputs and whose weights have the declared shapes.

    The network is built on the meta device, so a file that declares huge
    layers is refused without allocating them.
    """
    try:
        with torch.device("meta"):
            module = build_network(metadata["architecture"])
    except ValueError as error:
        raise ModelFileError(str(error)) from None
    n_inputs = module.n_features
    n_features_in = metadata["attributes"].get("n_features_in_")
    if n_inputs != n_features_in:
        raise ModelFileError(
            f"the network takes {n_inputs} features, n_features_in_ is {n_features_in}"
        )
    expected = {name: list(value.shape) for name, value in module.state_dict().items()}
    found = {
        name: spec.get("shape") for name, spec in _prefixed(declared, "module/").items()
    }
    if found != expected:
        missing = sorted(set(expected) - set(found))
        unexpected = sorted(set(found) - set(expected))
        wrong = sorted(
            name for name in set(found) & set(expected) if found[name] != expected[name]
        )
        raise ModelFileError(
            f"the weights do not match the network: missing {missing}, unexpected "
            f"{unexpected}, of another shape {wrong}"
        )


def _check_consistent(path, estimator):
    n_classes = len(estimator.classes_)
    if estimator.classes_.ndim != 1 or n_classes < 2:
        raise ModelFileError(f"{path}: classes_ must hold at least 2 classes")
    width = estimator.module_(torch.zeros(1, estimator.n_features_in_)).shape[1]
    if estimator.class_centroids_.shape != (n_classes, width):
        raise ModelFileError(
            f"{path}: class_centroids_ has shape {estimator.class_centroids_.shape}, "
            f"expected {(n_classes, width)}"
        )


def _params(estimator):
    params = {}
    for name, value in estimator.get_params(deep=False).items():
        if name == "callback" and value is not None:
            warnings.warn(
                "the callback is not saved; the loaded model has callback=None",
                UserWarning,
                stacklevel=3,
            )
            value = None
        elif name == "random_state" and not (
            value is None or isinstance(value, Integral)
        ):
            warnings.warn(
                "random_state is a RandomState instance, which is not saved; the "
                "loaded model has random_state=None",
                UserWarning,
                stacklevel=3,
            )
            value = None
        elif name == "device":
            value = str(value)
        elif name == "hidden_layer_sizes" and isinstance(value, Integral):
            value = int(value)  # one hidden layer, restored as it was given
        elif name in ("hidden_layer_sizes", "input_shape") and value is not None:
            value = [int(size) for size in value]
        elif isinstance(value, bool | str) or value is None:
            pass
        elif isinstance(value, Integral):
            value = int(value)
        elif isinstance(value, Real):
            value = float(value)
        params[name] = value
    return params


def _restore_params(params):
    known = set(DeepSpectralClusteringEmbedder().get_params())
    unknown = sorted(set(params) - known)
    if unknown:
        raise ModelFileError(f"unknown parameters {unknown}")
    params = dict(params)
    sizes = params.get("hidden_layer_sizes", (256,))
    if not isinstance(sizes, Integral):
        params["hidden_layer_sizes"] = tuple(sizes)
    if params.get("input_shape") is not None:
        params["input_shape"] = tuple(params["input_shape"])
    # The same validation as fit: a file cannot smuggle in an invalid value.
    DeepSpectralClusteringEmbedder(**params)._validate_params()
    return params


def _plain_array(array, name):
    if array.dtype != object:
        return array
    if not all(isinstance(value, str) for value in array):
        raise TypeError(
            f"{name} holds objects that are not strings; such a model can only be "
            "saved with pickle or joblib."
        )
    return array.astype(str)
