"""Fitting: starting networks, the fit strategies and class centroids."""

import dataclasses
import weakref

import numpy as np
import pytest
import threadpoolctl
import torch
from sklearn.datasets import load_digits

from sklearn_dsc import DeepSpectralClusteringEmbedder, _fitting, _selection
from sklearn_dsc._fitting import (
    Run,
    Settings,
    _fit_on_held_out_classes,
    class_centroids,
    fit_adam,
    fit_chunk,
    fit_closed_form,
    start,
)
from sklearn_dsc._networks import MLP, AnchoredEmbedding
from sklearn_dsc._selection import (
    DEFAULT_SHRINKAGE,
    EPOCH_PATIENCE,
    EPOCH_SELECTION_CLASSES,
    EPOCH_TOLERANCE,
    MANY_CLASSES_HEAD_WIDTH,
    MANY_CLASSES_ROWS_PER_CLASS,
    NEAREST_MEAN_NMI,
    SELECTION_LEVEL,
    SELECTION_MARGIN,
    HeadEvidence,
)
from sklearn_dsc._training import TrainingSettings

from helpers import informative_and_noise


def settings(**changes):
    """The fitting settings, with ``changes`` to them or to the training's."""
    training_fields = {field.name for field in dataclasses.fields(TrainingSettings)}
    training = TrainingSettings(
        **{
            "batch_size": 64,
            "samples_per_class": None,
            "chunk_size": None,
            "learning_rate": 1e-3,
            "weight_decay": 1e-4,
            "dropout": 0.0,
            "max_iter": 3,
            "tol": 1e-4,
            "n_iter_no_change": 10,
            "verbose": 0,
            "name": "Test",
            **{k: v for k, v in changes.items() if k in training_fields},
        }
    )
    changes = {k: v for k, v in changes.items() if k not in training_fields}
    values = {
        "n_components": None,
        "network": "mlp",
        "input_shape": None,
        "hidden_layer_sizes": (8,),
        "activation": "relu",
        "normalize_embeddings": "auto",
        "init": "auto",
        "shrinkage": "auto",
        "alpha": 1e-4,
        "early_stopping": True,
        "validation_split": "auto",
        "validation_fraction": 0.3,
        "training": training,
        **changes,
    }
    return Settings(**values)


@pytest.fixture
def problem():
    return informative_and_noise(n_classes=6, n_per_class=30)


def run(**changes):
    return Run(settings(**changes), torch.device("cpu"), np.random.RandomState(0))


def test_the_head_of_many_held_out_classes():
    head = settings().many_classes_head()
    assert head.n_components == MANY_CLASSES_HEAD_WIDTH
    assert head.normalize_embeddings is True
    assert head.training.samples_per_class == MANY_CLASSES_ROWS_PER_CLASS
    # values the user set are kept
    chosen = settings(
        n_components=5, normalize_embeddings=False, samples_per_class=4
    ).many_classes_head()
    assert chosen.n_components == 5
    assert chosen.normalize_embeddings is False
    assert chosen.training.samples_per_class == 4
    # a unit row of one dimension is +1 or -1: "auto" does not normalise it
    assert settings(n_components=1).many_classes_head().normalize_embeddings is False
    wide = settings(n_components=2).many_classes_head()
    assert wide.normalize_embeddings is True


def test_auto_normalisation_is_off_elsewhere(problem):
    X, codes = problem
    result = start(X, codes, run(), "random")
    assert not result.module.normalize


def test_the_fixed_shrinkage():
    assert settings().fixed_shrinkage == DEFAULT_SHRINKAGE
    assert settings(shrinkage=0.5).fixed_shrinkage == 0.5


def test_random_start_is_a_plain_mlp(problem):
    X, codes = problem
    result = start(X, codes, run(), "random")
    assert isinstance(result.module, MLP)
    assert result.init == "random"
    assert result.shrinkage is None
    assert result.history.n_iter == 0
    assert result.module.layer_sizes == [24, 8, 6]  # as wide as the classes
    assert result.module[0].input_scale.item() != 1.0


def test_anchored_start_without_a_score_is_pca(problem):
    X, codes = problem
    result = start(X, codes, run(), "auto", 0.1)
    assert isinstance(result.module, AnchoredEmbedding)
    assert (result.init, result.shrinkage) == ("pca", None)
    assert result.module.head_scale.item() == 0  # untrained: the anchor alone


def test_scored_start_keeps_the_best_anchor(problem):
    X, codes = problem
    scored = []

    def score(module):
        scored.append(module.anchor.out_features)
        return -module.anchor.out_features  # the narrowest anchor wins

    result = start(X, codes, run(), "auto", 0.3, score=score)
    assert len(scored) == 3
    assert result.init == "closed_form"  # one direction per class: 6 < 24
    assert result.module.anchor.out_features == min(scored)


def test_start_width_follows_n_components_or_n_classes(problem):
    X, codes = problem
    wide = start(X, codes, run(n_components=11), "random")
    assert wide.module.layer_sizes[-1] == 11
    every = start(X, codes[:60] % 2, run(), "random", n_classes=6)
    assert every.module.layer_sizes[-1] == 6


@pytest.mark.parametrize(
    ("n_classes", "changes", "width"),
    [
        (10, {}, 10),  # batches of 64 rows: 6 of each class, every class
        (40, {}, 32),  # 2 rows of each of 32 classes
        (40, {"samples_per_class": 8}, 8),
        (40, {"n_components": 50}, 50),  # as given
    ],
)
def test_the_default_width_is_at_most_the_classes_of_a_batch(n_classes, changes, width):
    """Outputs as wide as a batch has rows leave the loss nothing to lower;
    as many as the classes in a batch are what its optimum spans."""
    assert _fitting.head_width(settings(**changes), n_classes) == width


def test_closed_form_history_is_one_pass(problem):
    X, codes = problem
    result = fit_closed_form(X, codes, 6, settings(hidden_layer_sizes=()))
    assert result.history.n_iter == 1
    assert result.history.t == len(X)
    assert 0 <= result.history.loss_curve[0] < 1
    assert result.init is None


def test_fit_without_validation_trains_the_start(problem):
    X, codes = problem
    result = fit_adam(X, codes, 6, run(early_stopping=False), None)
    assert result.history.n_iter == 3
    assert result.history.validation_scores is None


def test_held_out_classes_record_the_anchor_then_the_head(problem):
    X, codes = problem
    result = fit_adam(X, codes, 6, run(init="pca"), None)
    anchor_score, trained_score = result.history.validation_scores
    assert result.history.best_validation_score == max(anchor_score, trained_score)
    kept = trained_score > anchor_score + 0.02
    assert (result.history.n_iter > 0) == kept
    assert (result.module.head_scale.item() > 0) == kept


class ScriptedHeldOut:
    """Held-out classes whose scores are ``script``, one per call; keeps the
    head's weights that each call saw. Their evidence on a head is its gain in
    the scores it is given, with ``margin`` and Recall@1 p-value ``recall_p``."""

    many_classes = True  # scores after every epoch
    ranked = False  # whether rank scored an epoch
    weight_chosen = False  # whether choose_anchor_weight was asked

    def __init__(self, codes, script, margin=SELECTION_MARGIN, recall_p=1.0):
        self.codes = codes
        self.n_classes = len(np.unique(codes))
        self.script = list(script)
        self.seen = []
        self.margin = margin
        self.recall_p = recall_p
        self.evidence_seen = None

    def score(self, module):
        head = getattr(module, "head", module)
        self.seen.append({k: v.clone() for k, v in head.state_dict().items()})
        return self.script[len(self.seen) - 1]

    def rank(self, module):
        """The score after every epoch: scripted alike."""
        self.ranked = True
        return self.score(module)

    def choose_anchor_weight(self, module):
        self.weight_chosen = True

    def head_evidence(self, module, scores):
        self.evidence_seen = {k: v.clone() for k, v in module.head.state_dict().items()}
        gain = scores[1] - scores[0]
        return HeadEvidence(gain, self.margin, 0.9, 0.9, self.recall_p)


@pytest.fixture
def many_classes():
    X, codes = informative_and_noise(n_classes=30, n_per_class=10)
    held = codes >= 30 - EPOCH_SELECTION_CLASSES
    return X, codes, (X[~held], codes[~held]), codes[held]


def assert_same_state(state, expected):
    """Two state dicts hold the same tensors, bit for bit."""
    assert state.keys() == expected.keys()
    for name, value in state.items():
        torch.testing.assert_close(value, expected[name], rtol=0, atol=0)


def test_many_held_out_classes_refit_for_the_best_epoch(many_classes):
    X, codes, train_part, held_codes = many_classes
    held_out = ScriptedHeldOut(held_codes, [0.5, 0.55, 0.6, 0.58, 0.52])
    result = _fit_on_held_out_classes(
        X, codes, 30, train_part, held_out, run(init="pca", max_iter=4)
    )
    assert result.history.validation_scores == [0.5, 0.55, 0.6, 0.58, 0.52]
    assert result.history.best_validation_score == 0.6
    # the cheap score chose the epoch, k-means the anchor weight
    assert held_out.ranked
    assert held_out.weight_chosen
    assert result.history.validation_metric == NEAREST_MEAN_NMI
    # the evidence was measured on the weights scored after the second epoch,
    # not the last ones
    assert_same_state(held_out.evidence_seen, held_out.seen[2])
    with pytest.raises(AssertionError):
        assert_same_state(held_out.evidence_seen, held_out.seen[4])
    # then a network was refit on every class for those two epochs
    assert result.history.n_iter == 2
    assert result.module.head_scale.item() > 0
    # the head of many held-out classes: 16 wide, its rows L2-normalised
    head = result.module.head
    rows = head(torch.from_numpy(X[:5]).float())
    assert rows.shape[1] == MANY_CLASSES_HEAD_WIDTH
    torch.testing.assert_close(rows.norm(dim=1), torch.ones(5))


def test_many_held_out_classes_say_when_they_score(many_classes):
    X, codes, train_part, held_codes = many_classes
    said = []
    fitting = dataclasses.replace(run(init="pca", max_iter=2), on_stage=said.append)
    held_out = ScriptedHeldOut(held_codes, [0.5, 0.55, 0.6])
    _fit_on_held_out_classes(X, codes, 30, train_part, held_out, fitting)
    assert (
        f"training a head beside the pca anchor on {30 - EPOCH_SELECTION_CLASSES} "
        f"classes, to be scored on {EPOCH_SELECTION_CLASSES} held-out ones after "
        "every epoch"
    ) in said


@pytest.mark.parametrize(
    ("margin", "recall_p"), [(0.2, 1.0), (SELECTION_MARGIN, SELECTION_LEVEL)]
)
def test_a_head_without_evidence_leaves_the_anchor(many_classes, margin, recall_p):
    """A gain within the spread the evidence measured, or a Recall@1
    significantly lower, and the anchor alone is kept."""
    X, codes, train_part, held_codes = many_classes
    held_out = ScriptedHeldOut(held_codes, [0.5, 0.6, 0.55], margin, recall_p)
    result = _fit_on_held_out_classes(
        X, codes, 30, train_part, held_out, run(init="pca", max_iter=2)
    )
    assert result.module.head_scale.item() == 0
    assert result.history.validation_scores == [0.5, 0.6, 0.55]
    assert not held_out.weight_chosen  # for a head that is not kept


def test_no_evidence_is_measured_when_no_epoch_beats_the_start(many_classes):
    X, codes, train_part, held_codes = many_classes
    held_out = ScriptedHeldOut(held_codes, [0.6, 0.5, 0.55])
    result = _fit_on_held_out_classes(
        X, codes, 30, train_part, held_out, run(init="pca", max_iter=2)
    )
    assert held_out.evidence_seen is None
    assert result.module.head_scale.item() == 0


def test_a_head_within_the_margin_leaves_the_anchor_fitted_on_every_class(
    many_classes,
):
    X, codes, train_part, held_codes = many_classes
    held_out = ScriptedHeldOut(held_codes, [0.6, 0.61, 0.615, 0.605])
    result = _fit_on_held_out_classes(
        X, codes, 30, train_part, held_out, run(init="pca", max_iter=3)
    )
    assert result.module.head_scale.item() == 0
    assert result.history.n_iter == 0
    assert result.history.validation_scores == [0.6, 0.61, 0.615, 0.605]
    anchor_alone = start(X, codes, run(), "pca")
    assert result.module.anchor.weight.shape == anchor_alone.module.anchor.weight.shape


class WeighingHeldOut(ScriptedHeldOut):
    """Scripted held-out classes that choose the anchor weight 0.5."""

    def choose_anchor_weight(self, module):
        super().choose_anchor_weight(module)
        module.anchor_weight.fill_(0.5)


@pytest.mark.parametrize(
    ("script", "refit"),
    [([0.5, 0.55, 0.6, 0.58], True), ([0.6, 0.5, 0.55, 0.52], False)],
)
def test_the_trial_is_freed_before_the_kept_network_is_formed(
    many_classes, monkeypatch, script, refit
):
    """Its anchor may be 1,024 x n_features: the network kept is formed
    after it is gone, a refit at the anchor weight chosen on it."""
    X, codes, train_part, held_codes = many_classes
    held_out = WeighingHeldOut(held_codes, script)
    formed, trial_alive = [], []

    def recording_start(*args, **kwargs):
        trial_alive.append(bool(formed) and formed[0]() is not None)
        result = start(*args, **kwargs)
        formed.append(weakref.ref(result.module))
        return result

    monkeypatch.setattr(_fitting, "start", recording_start)
    result = _fit_on_held_out_classes(
        X, codes, 30, train_part, held_out, run(init="pca", max_iter=3)
    )
    assert trial_alive == [False, False]  # none before the trial; it, before the kept
    assert formed[0]() is None
    assert result.module is formed[1]()
    assert held_out.weight_chosen is refit
    if refit:
        assert result.module.anchor_weight.item() == 0.5
        assert result.history.n_iter == 2
    else:
        assert result.module.head_scale.item() == 0


@pytest.mark.parametrize(
    ("n_iter_no_change", "epochs"), [("auto", EPOCH_PATIENCE), (3, 3), (7, 7)]
)
def test_epochs_scored_on_many_held_out_classes_have_their_own_patience(
    many_classes, n_iter_no_change, epochs
):
    """``"auto"`` stops the trial after ``EPOCH_PATIENCE`` epochs without a
    better held-out score; a number of epochs given is kept."""
    X, codes, train_part, held_codes = many_classes
    held_out = ScriptedHeldOut(held_codes, [0.6] + [0.5] * 20)
    fitting = run(init="pca", max_iter=20, n_iter_no_change=n_iter_no_change)
    result = _fit_on_held_out_classes(X, codes, 30, train_part, held_out, fitting)
    assert result.history.validation_scores == [0.6] + [0.5] * epochs


# a held-out score that creeps up by half the tolerance an epoch
CREEPING = [0.6 + EPOCH_TOLERANCE / 2 * epoch for epoch in range(13)]


@pytest.mark.parametrize(("tol", "epochs"), [("auto", EPOCH_PATIENCE), (0.0, 12)])
def test_epochs_scored_on_many_held_out_classes_have_their_own_tolerance(
    many_classes, tol, epochs
):
    """``"auto"`` counts an epoch as progress only when it beats the best
    held-out score by more than ``EPOCH_TOLERANCE``, once the head clears
    its margin; a tolerance given is kept."""
    X, codes, train_part, held_codes = many_classes
    held_out = ScriptedHeldOut(held_codes, CREEPING, margin=0.001)
    fitting = run(init="pca", max_iter=12, tol=tol, n_iter_no_change="auto")
    result = _fit_on_held_out_classes(X, codes, 30, train_part, held_out, fitting)
    assert result.history.validation_scores == CREEPING[: epochs + 1]
    assert result.history.n_iter == epochs  # refit for the best epoch


def test_a_head_short_of_its_margin_trains_on_with_the_plain_tolerance(
    many_classes,
):
    """Where ``tol="auto"`` stopped a head still short of its margin, the
    trial trains on from its best epoch with the plain tolerance, and the
    evidence is measured again at the best epoch of both runs."""
    X, codes, train_part, held_codes = many_classes
    stopped = EPOCH_PATIENCE  # the first run's last epoch, its best
    # the second run scores the best epoch's weights first, then trains on
    script = [*CREEPING[: stopped + 1], CREEPING[stopped], *CREEPING[stopped + 1 :]]
    held_out = ScriptedHeldOut(held_codes, script, margin=0.02)
    fitting = run(init="pca", max_iter=12, tol="auto", n_iter_no_change="auto")
    result = _fit_on_held_out_classes(X, codes, 30, train_part, held_out, fitting)
    assert result.history.validation_scores == CREEPING  # 12 epochs in all
    assert result.history.n_iter == 12  # the head now clears it: refit
    assert held_out.weight_chosen
    # a tolerance given is kept: one run, and the head short of its margin
    held_out = ScriptedHeldOut(held_codes, CREEPING[: stopped + 1], margin=0.02)
    fitting = run(init="pca", max_iter=12, tol=EPOCH_TOLERANCE, n_iter_no_change="auto")
    result = _fit_on_held_out_classes(X, codes, 30, train_part, held_out, fitting)
    assert result.history.validation_scores == CREEPING[: stopped + 1]
    assert result.module.head_scale.item() == 0  # the anchor alone


def test_training_on_says_from_which_epoch(many_classes):
    """The second run starts from the first run's best epoch: the stage
    says which, and how many epochs after it are set aside."""
    X, codes, train_part, held_codes = many_classes
    # the start, a best first epoch, then EPOCH_PATIENCE epochs below it;
    # the second run scores the first epoch's weights again, then two more
    first = [0.6, 0.61, *[0.605] * EPOCH_PATIENCE]
    held_out = ScriptedHeldOut(held_codes, [*first, 0.61, 0.62, 0.63], margin=0.05)
    stages = []
    fitting = Run(
        settings(
            init="pca", max_iter=len(first) + 1, tol="auto", n_iter_no_change="auto"
        ),
        torch.device("cpu"),
        np.random.RandomState(0),
        on_stage=stages.append,
    )
    result = _fit_on_held_out_classes(X, codes, 30, train_part, held_out, fitting)
    assert (
        "the head's held-out gain is short of its margin: training on from epoch "
        f"1's weights with the plain tolerance (the {EPOCH_PATIENCE} epochs after "
        "it set aside)"
    ) in stages
    assert result.history.validation_scores == [0.6, 0.61, 0.62, 0.63]


def test_random_init_with_many_held_out_classes_refits_its_best_epoch(
    many_classes,
):
    X, codes, train_part, held_codes = many_classes
    # the first score is of the first epoch: the random start is no candidate
    held_out = ScriptedHeldOut(held_codes, [0.3, 0.2, 0.1])
    result = _fit_on_held_out_classes(
        X, codes, 30, train_part, held_out, run(init="random", max_iter=3)
    )
    assert result.history.validation_scores == [0.3, 0.2, 0.1]
    assert isinstance(result.module, MLP)
    assert result.history.n_iter == 1  # refit on every class for the best epoch


def test_fit_scores_every_epoch_on_many_held_out_classes():
    X, codes = informative_and_noise(n_classes=34, n_per_class=10)
    assert round(0.3 * 34) >= EPOCH_SELECTION_CLASSES
    fitting = run(init="pca", max_iter=3)
    result = fit_adam(X, codes, 34, fitting, None)
    assert len(result.history.validation_scores) == 4  # the anchor, 3 epochs
    # each stage is timed, scoring apart from the training it interrupts
    seconds = fitting.clock.seconds
    assert {"fitting anchors", "training", "scoring held-out data"} <= set(seconds)
    assert all(value > 0 for value in seconds.values())


def test_continuing_keeps_the_history(problem):
    X, codes = problem
    first = fit_chunk(X, codes, 6, run(init="pca"), None)
    assert first.history.n_iter == 1
    second = fit_chunk(X, codes, 6, run(init="pca"), first)
    assert second is first
    assert second.history.n_iter == 2
    assert len(second.history.loss_curve) == 2


def test_class_centroids_keep_what_a_chunk_does_not_hold():
    embeddings = np.array([[0.0, 0.0], [2.0, 2.0], [4.0, 6.0]])
    centroids = class_centroids(embeddings, np.array([0, 0, 2]), 3)
    np.testing.assert_array_equal(centroids[0], [1.0, 1.0])
    assert np.isnan(centroids[1]).all()
    np.testing.assert_array_equal(centroids[2], [4.0, 6.0])
    update = class_centroids(np.array([[9.0, 9.0]]), np.array([1]), 3, centroids)
    np.testing.assert_array_equal(update[1], [9.0, 9.0])
    np.testing.assert_array_equal(update[[0, 2]], centroids[[0, 2]])
    assert np.isnan(centroids[1]).all()  # the previous array is not changed


def test_held_out_classes_choose_and_train_with_one_blas_thread(monkeypatch):
    """Past the class moments, a fit's k-means scores and training run beside
    OpenBLAS limited to one thread (its spinning threads would take their
    cores), and the caller's limit is restored."""

    def blas_threads():
        return {
            pool["num_threads"]
            for pool in threadpoolctl.threadpool_info()
            if pool["user_api"] == "blas"
        }

    seen = []
    original = _selection.held_out_kmeans_nmi

    def recording(*args, **kwargs):
        seen.append(blas_threads())
        return original(*args, **kwargs)

    monkeypatch.setattr(_selection, "held_out_kmeans_nmi", recording)
    X, y = load_digits(return_X_y=True)
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        assert blas_threads() == {2}
        DeepSpectralClusteringEmbedder(random_state=0).fit(X / 16, y)
        assert blas_threads() == {2}
    assert seen
    assert all(threads == {1} for threads in seen)
