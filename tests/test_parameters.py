"""The parameters that build the network, between fits: continuing refuses
new values; and the head's parameters that an anchor alone ignores."""

import re
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from sklearn_dsc import DeepSpectralClusteringEmbedder
from sklearn_dsc._parameters import (
    StartKept,
    warn_if_head_parameters_unused,
    why_start_kept,
)

from helpers import informative_and_noise


def continued(**params):
    """A small network from a random start that ``fit`` continues."""
    params = {
        "hidden_layer_sizes": (32,),
        "n_components": 4,
        "max_iter": 2,
        "random_state": 0,
        "device": "cpu",
        "init": "random",
        "early_stopping": False,
        "warm_start": True,
        **params,
    }
    return DeepSpectralClusteringEmbedder(**params)


def weights(estimator):
    return [p.detach().clone() for p in estimator.module_.parameters()]


@pytest.mark.parametrize("incremental", [False, True])
@pytest.mark.parametrize(
    "changed",
    [
        {"hidden_layer_sizes": (16, 8)},
        {"n_components": 3},
        {"activation": "tanh", "dropout": 0.2},
        {"network": torch.nn.Linear(6, 4)},
        {"init": "pca", "n_components": None},
    ],
)
def test_continuing_refuses_other_architecture_parameters(blobs, changed, incremental):
    X, y = blobs
    first = continued()
    estimator = clone(first).fit(X, y)
    before, n_iter = weights(estimator), estimator.n_iter_
    estimator.set_params(**changed)
    continuing = "partial_fit" if incremental else "warm_start=True"
    message = rf"{re.escape(continuing)} continues the fitted network, built with "
    with pytest.raises(ValueError, match=message) as raised:
        estimator.partial_fit(X, y) if incremental else estimator.fit(X, y)
    built_with, asked = str(raised.value).split("cannot take")
    for name, value in changed.items():  # each named with both of its values
        assert f"{name}={getattr(first, name)!r}" in built_with
        assert f"{name}={value!r}" in asked
    assert estimator.n_iter_ == n_iter
    assert all(map(torch.equal, weights(estimator), before))
    # starting anew takes the new parameters
    estimator.set_params(warm_start=False)
    estimator.fit(X, y)
    assert estimator.n_iter_ == 2


def test_continuing_takes_the_same_architecture_in_another_form(blobs):
    X, y = blobs
    estimator = continued(hidden_layer_sizes=[32]).fit(X, y)
    estimator.set_params(hidden_layer_sizes=(32,), n_components=np.int64(4))
    estimator.fit(X, y)
    assert estimator.n_iter_ == 4
    estimator.set_params(hidden_layer_sizes=32)  # one layer, as MLPClassifier's
    estimator.fit(X, y)
    assert estimator.n_iter_ == 6
    # the closed form refits its map whatever was fitted: nothing to refuse
    linear = DeepSpectralClusteringEmbedder(
        solver="closed_form", hidden_layer_sizes=(), n_components=2, warm_start=True
    ).fit(X, y)
    linear.set_params(n_components=3)
    assert linear.fit(X, y).transform(X).shape == (len(X), 3)


def test_head_parameters_that_an_anchor_alone_ignores_are_named():
    X, y = informative_and_noise(n_classes=12)
    # 4 held-out classes choose the PLDA anchor, beside which no head is
    # trained: the widths of the hidden layers cannot matter
    with pytest.warns(
        UserWarning,
        match=r"does not depend on hidden_layer_sizes=\(8,\)\. To train a head "
        r"beside that anchor, set init='plda', shrinkage=0\.01\.$",
    ):
        estimator = DeepSpectralClusteringEmbedder(
            hidden_layer_sizes=(8,), random_state=0
        ).fit(X, y)
    assert (estimator.init_, estimator.shrinkage_) == ("plda", 0.01)
    # what the warning says does train one (which held-out classes may reject)
    followed = DeepSpectralClusteringEmbedder(
        hidden_layer_sizes=(8,), init="plda", shrinkage=0.01, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        followed.fit(X, y)
    assert len(followed.validation_scores_) > 1
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        DeepSpectralClusteringEmbedder(random_state=0).fit(X, y)  # the defaults
    # with three classes none is held out, and no head is trained either
    three = y < 3
    with pytest.warns(
        UserWarning,
        match="with init='auto' and 3 classes none can .* To train a head beside "
        "that anchor, set init='plda', shrinkage='ledoit-wolf'.$",
    ):
        DeepSpectralClusteringEmbedder(hidden_layer_sizes=(8,), random_state=0).fit(
            X[three], y[three]
        )


def layers(n_features, n_components):
    return torch.nn.Sequential(
        torch.nn.Linear(n_features, 16),
        torch.nn.ReLU(),
        torch.nn.Linear(16, n_components),
    )


@pytest.mark.parametrize(
    ("network", "named"),
    [(layers(6, 4), "network=Sequential(...)"), (layers, "network=layers")],
)
def test_a_network_of_ones_own_is_named_in_one_line(blobs, network, named):
    X, y = blobs
    # with four classes the anchor is kept alone: the network is not used
    with pytest.warns(UserWarning, match="No trained head was kept") as caught:
        DeepSpectralClusteringEmbedder(network=network, random_state=0).fit(X, y)
    (text,) = [str(w.message) for w in caught if "No trained head" in str(w.message)]
    assert text.endswith(
        f"does not depend on {named}. To train a head beside that anchor, set "
        f"init='plda', shrinkage='ledoit-wolf'; to train {named} alone, set "
        "init='random'."
    )
    assert "\n" not in text
    # continuing with another module of the same type says it is another one
    estimator = continued(network=layers(6, 4)).fit(X, y)
    estimator.set_params(network=layers(6, 4))
    with pytest.raises(ValueError, match="continues the fitted network") as raised:
        estimator.partial_fit(X, y)
    said = str(raised.value)
    assert "built with network=Sequential(...); it cannot take " in said
    assert "network=Sequential(...) (another object)." in said
    assert "\n" not in said


def test_a_head_that_held_out_samples_did_not_keep_is_named_as_such(capsys):
    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    # three classes: samples are held out; the anchor alone clusters them
    # perfectly, so no epoch of the head beats it and the start is kept
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimator = DeepSpectralClusteringEmbedder(
            init="plda", max_iter=3, random_state=0, verbose=1
        ).fit(X, y)
    assert (
        "init='plda', shrinkage=0.1; held-out samples: k-means NMI: start 1.0000, "
        "best epoch 0 of 3 1.0000; the anchor alone kept"
    ) in capsys.readouterr().out
    assert estimator.n_iter_ == 3
    assert estimator.n_validation_classes_ is None
    assert estimator.validation_scores_[0] == max(estimator.validation_scores_)
    assert not estimator.module_.head_scale
    assert why_start_kept(estimator) is StartKept.NOT_BEATEN
    messages = [str(warning.message) for warning in caught]
    assert any(
        "did not cluster held-out samples better than the anchor alone" in message
        and "does not depend on max_iter=3" in message
        for message in messages
    ), messages
    # the epochs ran out, but none of them is kept: nothing to warn about
    assert not any(
        issubclass(warning.category, ConvergenceWarning) for warning in caught
    ), messages
    # a head that is kept
    kept = DeepSpectralClusteringEmbedder(
        init="plda", early_stopping=False, max_iter=2
    ).fit(X, y)
    assert kept.module_.head_scale > 0
    assert why_start_kept(kept) is None


def test_the_warning_tells_a_head_left_out_by_the_margin_from_one_that_lost():
    X, y = informative_and_noise(n_classes=5, n_per_class=20)
    estimator = DeepSpectralClusteringEmbedder(
        init="closed_form", early_stopping=False, max_iter=2, random_state=0
    ).fit(X, y)
    estimator.module_.head_scale = torch.tensor(0.0)
    estimator.n_validation_classes_ = 2
    said = {}
    for scores in ([0.5, 0.6], [0.6, 0.5]):
        estimator.validation_scores_ = scores
        with pytest.warns(UserWarning, match="No trained head was kept") as caught:
            warn_if_head_parameters_unused(estimator)
        (text,) = [
            str(w.message) for w in caught if "No trained head" in str(w.message)
        ]
        said[scores[1] > scores[0]] = text
    assert (
        "clustered held-out classes better than the anchor alone, but not by the "
        "margin that keeping it needs, or at a cost in Recall@1"
    ) in said[True]
    assert (
        "did not cluster held-out classes better than the anchor alone" in (said[False])
    )
    assert all("does not depend on max_iter=2" in text for text in said.values())


def test_why_the_start_was_kept_is_read_from_the_fitted_state():
    def fitted(scores, n_classes=12, **params):
        state = {
            "init_": "plda",
            "module_": SimpleNamespace(head_scale=torch.tensor(0.0)),
            "validation_scores_": scores,
            "classes_": np.arange(n_classes),
            "init": "auto",
            "early_stopping": True,
            "validation_split": "auto",
        }
        return SimpleNamespace(**{**state, **params})

    assert why_start_kept(fitted([0.6, 0.5])) is StartKept.NOT_BEATEN
    assert why_start_kept(fitted([0.6, 0.5, 0.6])) is StartKept.NOT_BEATEN
    # scored above the start, yet left out (short of the margin, say)
    assert why_start_kept(fitted([0.5, 0.6])) is StartKept.TOO_LITTLE_GAIN
    assert why_start_kept(fitted([0.5, 0.4, 0.6])) is StartKept.TOO_LITTLE_GAIN
    assert why_start_kept(fitted([0.6])) is StartKept.HEAD_NOT_TRIED
    assert why_start_kept(fitted(None, n_classes=3)) is StartKept.TOO_FEW_CLASSES
    # nothing held out for another reason
    for params in [{"init": "plda"}, {"early_stopping": False}]:
        estimator = fitted(None, n_classes=3, **params)
        assert why_start_kept(estimator) is StartKept.NOT_TRAINED
    assert why_start_kept(fitted(None, validation_split="samples")) is (
        StartKept.NOT_TRAINED
    )
    # a trained head kept, the closed form, a network trained from a random start
    kept = fitted([0.5, 0.6])
    kept.module_.head_scale = torch.tensor(0.5)
    assert why_start_kept(kept) is None
    assert why_start_kept(fitted([0.6], init_=None)) is None
    random = fitted([0.6, 0.5], init_="random", n_iter_=4)
    assert why_start_kept(random) is None
    random.n_iter_ = 0
    assert why_start_kept(random) is StartKept.NOT_BEATEN
    # held-out samples that scored the random start best, in a fit that began
    # there (not one that continued an earlier fit's network)
    random = fitted([0.6, 0.5, 0.55], init_="random", n_iter_=2)
    random.n_validation_classes_ = None
    assert why_start_kept(random) is StartKept.NOT_BEATEN
    random.n_iter_ = 5
    assert why_start_kept(random) is None
    random.n_iter_, random.n_validation_classes_ = 2, 3  # epochs' scores alone
    assert why_start_kept(random) is None
    random.validation_scores_, random.n_validation_classes_ = [0.5, 0.6, 0.55], None
    assert why_start_kept(random) is None


def test_running_out_of_epochs_is_warned_about_where_an_epoch_is_kept():
    X, y = load_digits(return_X_y=True)
    five = y < 5
    estimator = DeepSpectralClusteringEmbedder(
        init="random", max_iter=3, validation_split="samples", random_state=0
    )
    with pytest.warns(ConvergenceWarning, match=r"maximum iterations \(3\) reached"):
        estimator.fit(X[five] / 16.0, y[five])
    # the random start scores far below the trained network
    assert int(np.argmax(estimator.validation_scores_)) > 0
    assert why_start_kept(estimator) is None
