"""The estimator's fitted state as plain values and arrays.

Every fitted attribute is listed once: the values in ``VALUES`` (each with
the check of a value read back), the arrays in ``ARRAYS``, and
``feature_names_in_``, ``module_`` and ``_optimizer_state``. ``export_state``
turns them into a ``FittedState`` of JSON-able values and NumPy arrays (the
network as its architecture and weights, the optimizer's state as its
parameter groups and arrays); ``import_state`` sets them back, checking each
value. Pickling (the estimator's ``__getstate__``/``__setstate__``) and
model files (``save``/``load``) both use the pair, and
``map_optimizer_tensors`` is the one converter of optimizer state, which
training uses too.
"""

import dataclasses

import numpy as np
import torch
from sklearn.exceptions import NotFittedError

from ._anchors import ANCHORS
from ._networks import build_network, describable, describe
from ._selection import KMEANS_NMI, NEAREST_MEAN_NMI
from ._wording import LEDOIT_WOLF


def map_optimizer_tensors(state, function, kind=torch.Tensor):
    """A copy of an optimizer's state dict with ``function`` applied to each
    per-parameter value of type ``kind`` (the parameter groups are shared)."""
    return {
        "state": {
            index: {
                key: function(value) if isinstance(value, kind) else value
                for key, value in values.items()
            }
            for index, values in state["state"].items()
        },
        "param_groups": state["param_groups"],
    }


def non_negative_integer(value, name, error=ValueError):
    """``value`` if it is an ``int`` (not a ``bool``) of at least 0, else
    ``error`` naming it as ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise error(f"{name} must be a non-negative integer, got {value!r}")
    return value


def _integer_or_none(value, name):
    return None if value is None else non_negative_integer(value, name)


def _float_or_none(value, name):
    return None if value is None else float(value)


def _floats(values, name):
    return [float(v) for v in values]


def _floats_or_none(values, name):
    return None if values is None else _floats(values, name)


def _metric(value, name):
    """``validation_metric_``: a held-out score's name, or ``None`` (also in
    files written before it was saved)."""
    if value not in (None, KMEANS_NMI, NEAREST_MEAN_NMI):
        raise ValueError(f"unknown {name} {value!r}")
    return value


def _seconds(value, name):
    """``fit_stage_seconds_``: seconds by stage (``{}`` in older files)."""
    value = {} if value is None else value
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, int | float) and v >= 0
        for k, v in value.items()
    ):
        raise ValueError(f"{name} must map stages to seconds, got {value!r}")
    return {k: float(v) for k, v in value.items()}


def _shrinkage(value, name):
    """``shrinkage_``: a number, ``LEDOIT_WOLF``, or ``None``."""
    if value is None or value == LEDOIT_WOLF:
        return value
    if isinstance(value, str):
        raise ValueError(f"unknown {name} {value!r}")
    return float(value)


def _init(value, name):
    """``init_`` as fit records it: an anchor, ``"random"``, or ``None``."""
    if value is not None and value not in (*ANCHORS, "random"):
        raise ValueError(f"unknown {name} {value!r}")
    return value


# The fitted values, each with the check of a value read back.
VALUES = {
    "n_features_in_": non_negative_integer,
    "n_iter_": non_negative_integer,
    "t_": non_negative_integer,
    "loss_curve_": _floats,
    "validation_scores_": _floats_or_none,
    "best_validation_score_": _float_or_none,
    "validation_metric_": _metric,
    "n_validation_classes_": _integer_or_none,
    "validation_spread_": _float_or_none,
    "init_": _init,
    "shrinkage_": _shrinkage,
    "fit_stage_seconds_": _seconds,
}
# The fitted arrays.
ARRAYS = ("classes_", "class_centroids_")
# Every fitted attribute: the estimator's state less these is its parameters.
FITTED = (*VALUES, *ARRAYS, "feature_names_in_", "module_", "_optimizer_state")


# The attribute that marks an estimator as being fitted: set while fit or
# partial_fit runs, when a callback sees the network and history between
# epochs (beside the centroids and choices of an earlier fit, where it
# continues one), and kept by a pickle taken there.
BEING_FITTED = "_being_fitted"


def fully_fitted(estimator):
    """Whether ``estimator`` holds a whole fitted state, every attribute
    that ``export_state`` reads, and is not being fitted."""
    if getattr(estimator, BEING_FITTED, False):
        return False
    return all(hasattr(estimator, name) for name in (*VALUES, *ARRAYS, "module_"))


def check_fit_ended(estimator):
    """Refuse ``predict`` while ``estimator`` is being fitted: the centroids
    it reads are computed once training ends (or are an earlier fit's)."""
    if not fully_fitted(estimator):
        raise NotFittedError(
            "predict needs the training classes' centroids, which fit computes "
            "once training ends, and this estimator is being fitted (called "
            "from a callback, or pickled there): transform and score read the "
            "network trained so far."
        )


def refuse_unfinished(how):
    """Refuse to continue (``how``: ``"partial_fit"`` or ``"warm_start=True"``)
    an estimator pickled or copied while it was being fitted."""
    raise ValueError(
        f"{how} continues a fitted network, and this estimator was pickled or "
        "copied while being fitted (from a callback), before its fit ended: fit "
        "it anew, or continue one whose fit returned."
    )


def pickled_state(estimator, state):
    """``state``, the attributes of ``estimator``, as its ``__getstate__``
    pickles them: a fitted built-in network as ``export_state``'s values and
    arrays (portable across devices), under ``"_fitted_state"``; a network
    of the user's own, or an estimator being fitted, as they are."""
    if describable(state.get("module_")) and fully_fitted(estimator):
        fitted = dataclasses.asdict(export_state(estimator))
        state = {k: v for k, v in state.items() if k not in FITTED}
        state["_fitted_state"] = fitted
    return state


@dataclasses.dataclass
class FittedState:
    """The fitted attributes as JSON-able ``attributes`` (the values and the
    feature names), the network's ``architecture``, the optimizer's
    parameter groups and state keys (``optimizer``, or ``None``), and the
    ``arrays``: ``classes_``, ``class_centroids_``, ``module/<weight>`` and
    ``optimizer/<index>/<key>``."""

    attributes: dict
    architecture: dict
    optimizer: dict | None
    arrays: dict


def _plain(value):
    """A JSON-able copy of a fitted value (NumPy scalars as Python's)."""
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def export_state(estimator):
    """The fitted state of ``estimator`` (with a built-in network) as a
    ``FittedState``."""
    attributes = {name: _plain(getattr(estimator, name)) for name in VALUES}
    if hasattr(estimator, "feature_names_in_"):
        attributes["feature_names_in_"] = [str(n) for n in estimator.feature_names_in_]
    arrays = {name: getattr(estimator, name) for name in ARRAYS}
    for name, tensor in estimator.module_.state_dict().items():
        arrays[f"module/{name}"] = tensor.detach().cpu().numpy()
    optimizer = getattr(estimator, "_optimizer_state", None)
    meta = None
    if optimizer is not None:
        meta = {"param_groups": optimizer["param_groups"], "state": {}}
        for index, values in optimizer["state"].items():
            meta["state"][str(index)] = sorted(values)
            for key, value in values.items():
                arrays[f"optimizer/{index}/{key}"] = (
                    torch.as_tensor(value).detach().cpu().numpy()
                )
    return FittedState(attributes, describe(estimator.module_), meta, arrays)


def import_state(estimator, state):
    """Set the fitted attributes of ``state`` (a ``FittedState``) on
    ``estimator``, checking each value; ``ValueError`` names what is wrong."""
    arrays = dict(state.arrays)
    for name, check in VALUES.items():
        setattr(estimator, name, check(state.attributes.get(name), name))
    for name in ARRAYS:
        setattr(estimator, name, arrays.pop(name))
    names = state.attributes.get("feature_names_in_")
    if names is not None:
        if not all(isinstance(n, str) for n in names):
            raise ValueError("feature names must be strings")
        if len(names) != estimator.n_features_in_:
            raise ValueError(
                f"{len(names)} feature names, expected {estimator.n_features_in_}"
            )
        estimator.feature_names_in_ = np.asarray(names, dtype=object)
    module = build_network(state.architecture)
    module.load_state_dict(
        {
            name[len("module/") :]: torch.from_numpy(np.array(arrays.pop(name)))
            for name in [n for n in arrays if n.startswith("module/")]
        }
    )
    estimator.module_ = module
    estimator._optimizer_state = _optimizer_state(state.optimizer, arrays)
    if arrays:
        raise ValueError(f"unexpected arrays {sorted(arrays)[:5]}")


def _optimizer_state(meta, arrays):
    """The optimizer's state dict from its metadata, taking its arrays out
    of ``arrays``."""
    if meta is None:
        if any(name.startswith("optimizer/") for name in arrays):
            raise ValueError("optimizer arrays without optimizer metadata")
        return None
    state = {}
    for index, keys in meta["state"].items():
        state[int(index)] = {
            key: torch.from_numpy(np.array(arrays.pop(f"optimizer/{index}/{key}")))
            for key in keys
        }
    return {"state": state, "param_groups": meta["param_groups"]}
