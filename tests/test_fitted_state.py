"""The fitted state as values and arrays: one table, one pair of functions."""

import dataclasses
import pickle

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning

from sklearn_dsc import DeepSpectralClusteringEmbedder
from sklearn_dsc._fitted_state import (
    FITTED,
    FittedState,
    export_state,
    import_state,
    map_optimizer_tensors,
)

from helpers import informative_and_noise


@pytest.fixture(scope="module")
def fitted():
    X, y = informative_and_noise(n_classes=5, n_per_class=30)
    model = DeepSpectralClusteringEmbedder(
        init="pca",
        early_stopping=False,  # a trained head, with the optimizer's state
        max_iter=2,
        hidden_layer_sizes=(8,),
        random_state=0,
    )
    with pytest.warns(ConvergenceWarning):  # max_iter is reached, on purpose
        model.fit(X, np.array(list("abcde"))[y])
    return model, X


def test_every_fitted_attribute_is_listed_once(fitted):
    model, _ = fitted
    assert len(set(FITTED)) == len(FITTED)
    params = set(model.get_params())
    found = {
        name
        for name in vars(model)
        if name not in params and (name.endswith("_") or name == "_optimizer_state")
    }
    assert found <= set(FITTED)
    assert set(FITTED) - found <= {"feature_names_in_"}  # an array without names


def test_export_then_import_gives_the_same_model(fitted):
    model, X = fitted
    state = export_state(model)
    assert all(isinstance(a, np.ndarray) for a in state.arrays.values())
    copy = DeepSpectralClusteringEmbedder(**model.get_params())
    import_state(copy, FittedState(**dataclasses.asdict(state)))
    np.testing.assert_array_equal(copy.transform(X), model.transform(X))
    np.testing.assert_array_equal(copy.classes_, model.classes_)
    assert copy.loss_curve_ == model.loss_curve_
    assert (
        copy._optimizer_state["param_groups"] == model._optimizer_state["param_groups"]
    )


def test_pickles_hold_the_exported_state_and_no_torch_object(fitted):
    model, X = fitted
    state = model.__getstate__()
    assert "module_" not in state
    assert "_fitted_state" in state

    def torch_objects(value):
        if isinstance(value, dict):
            return any(torch_objects(v) for v in value.values())
        if isinstance(value, list | tuple):
            return any(torch_objects(v) for v in value)
        return isinstance(value, torch.Tensor | torch.nn.Module)

    assert not torch_objects(state)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.transform(X), model.transform(X))


def test_a_bad_value_is_named(fitted):
    model, _ = fitted
    state = export_state(model)
    state.attributes["n_iter_"] = -1
    with pytest.raises(ValueError, match="n_iter_ must be a non-negative integer"):
        import_state(DeepSpectralClusteringEmbedder(), state)
    state = export_state(model)
    state.arrays["stray"] = np.zeros(1)
    with pytest.raises(ValueError, match="unexpected arrays"):
        import_state(DeepSpectralClusteringEmbedder(), state)


def test_the_optimizer_converter_maps_tensors_only():
    state = {
        "state": {0: {"step": 3, "exp_avg": torch.ones(2)}},
        "param_groups": [{"lr": 0.1, "params": [0]}],
    }
    mapped = map_optimizer_tensors(state, lambda t: t.numpy())
    assert mapped["state"][0]["step"] == 3
    assert isinstance(mapped["state"][0]["exp_avg"], np.ndarray)
    assert isinstance(state["state"][0]["exp_avg"], torch.Tensor)  # a copy
