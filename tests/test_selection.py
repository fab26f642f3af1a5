"""Model selection on held-out data."""

import dataclasses
import math
import re
import weakref

import numpy as np
import pytest
import torch
from sklearn.metrics import normalized_mutual_info_score

from sklearn_dsc import _anchors, _selection
from sklearn_dsc._anchors import anchor_maps, compared_by_auto
from sklearn_dsc._data import embed
from sklearn_dsc._networks import build_anchored, build_mlp
from sklearn_dsc._selection import (
    HeadEvidence,
    HeldOut,
    anchor_scores,
    best_start,
    capped_per_class,
    choose_anchor,
    distinct_subsets,
    half_sample_gain,
    n_held_out_classes,
    nearest_mean_nmi,
    paired_tests_prefer,
    recall_evidence,
    resolved_split,
    scored_rows_per_class,
    start_candidates,
    validation_split,
)
from sklearn_dsc._wording import LEDOIT_WOLF
from sklearn_dsc.metrics import kmeans_nmi

from helpers import informative_and_noise


def test_auto_holds_out_classes_from_four_on():
    assert resolved_split("auto", 3) == "samples"
    assert resolved_split("auto", 4) == "classes"
    assert resolved_split("samples", 40) == "samples"
    assert n_held_out_classes(0.3, 4) == 2
    assert n_held_out_classes(0.3, 40) == 12


def test_distinct_subsets_are_all_of_them_when_few():
    subsets = distinct_subsets(5, 2, 10, np.random.RandomState(0))
    assert len(subsets) == math.comb(5, 2)
    assert [tuple(s) for s in subsets] == sorted({tuple(s) for s in subsets})


def test_distinct_subsets_are_drawn_without_repeats_when_many():
    subsets = distinct_subsets(20, 3, 10, np.random.RandomState(0))
    assert len({tuple(s) for s in subsets}) == 10
    assert all(len(set(s)) == 3 for s in subsets)
    again = distinct_subsets(20, 3, 10, np.random.RandomState(0))
    assert [tuple(s) for s in again] == [tuple(s) for s in subsets]


def test_class_split_holds_out_whole_classes():
    X, codes = informative_and_noise(n_classes=10, n_per_class=5)
    X_train, codes_train, X_val, codes_val = validation_split(
        X, codes, 10, "classes", 0.3, np.random.RandomState(0)
    )
    assert len(np.unique(codes_val)) == 3
    assert not set(codes_train) & set(codes_val)
    assert len(X_train) + len(X_val) == len(X)
    with pytest.raises(ValueError, match="only 3 classes"):
        validation_split(
            X[:15], codes[:15], 3, "classes", 0.3, np.random.RandomState(0)
        )


def test_sample_split_is_stratified():
    X, codes = informative_and_noise(n_classes=4, n_per_class=20)
    _, codes_train, _, codes_val = validation_split(
        X, codes, 4, "samples", 0.25, np.random.RandomState(0)
    )
    assert np.bincount(codes_val).tolist() == [5, 5, 5, 5]
    assert np.bincount(codes_train).tolist() == [15, 15, 15, 15]
    with pytest.raises(ValueError, match="stratified validation set") as error:
        validation_split(
            X[:5], np.arange(5), 5, "samples", 0.25, np.random.RandomState(0)
        )
    assert "early_stopping=False" in str(error.value)


def test_start_candidates():
    assert start_candidates("auto", 0.1, scored=True) == [
        ("pca", None),
        ("whitened", 0.1),
        ("closed_form", None),
    ]
    assert start_candidates("auto", 0.1, scored=False) == [("pca", None)]
    assert start_candidates("whitened", 0.3, scored=False) == [("whitened", 0.3)]


def test_best_start_takes_the_first_of_equals_and_skips_scoring_one():
    assert best_start(["a", "b", "c"], {"a": 1.0, "b": 2.0, "c": 2.0}.get) == 1

    def never(module):
        raise AssertionError("a single candidate is not scored")

    assert best_start(["only"], never) == 0


def test_paired_tests_need_consistent_wins_and_a_mean_beyond_the_spread():
    rng = np.random.RandomState(0)
    steady = 0.005 + rng.normal(scale=0.001, size=10)  # small but consistent
    assert paired_tests_prefer(steady, 0.25)
    assert paired_tests_prefer(np.full(10, 0.001), 0.25)  # no spread at all
    # the same mean with a spread ten times larger: the sign test passes (10
    # wins) but not the corrected t-test, whose variance is 3.5 times the
    # plain one's for J = 10 splits holding out a fifth of the classes
    spread = np.abs(0.005 + rng.normal(scale=0.01, size=10)) + 1e-4
    assert not paired_tests_prefer(spread - spread.mean() + 0.005, 0.25)
    # 8 wins of 10 is not significant for the sign test at 5 %
    assert not paired_tests_prefer(np.r_[np.full(8, 0.1), -0.001, -0.001], 0.25)
    assert paired_tests_prefer(np.r_[np.full(9, 0.1), -0.001], 0.25)
    # ties (both perfect on a split) are no losses: 8 wins of 9 that differ
    assert paired_tests_prefer(np.r_[np.full(8, 0.1), -0.001, 0.0], 0.25)
    assert not paired_tests_prefer(np.full(10, -0.01), 0.25)
    assert not paired_tests_prefer([0.3], 0.25)


def test_head_evidence_helps_by_its_margin_unless_recall_drops():
    helps = HeadEvidence(
        gain=0.03, margin=0.02, recall=0.8, anchor_recall=0.8, recall_p=1.0
    )
    assert helps.helps
    assert not dataclasses.replace(helps, gain=0.02).helps
    assert not dataclasses.replace(helps, recall_p=_selection.SELECTION_LEVEL).helps
    assert "NMI gain +0.0300 (needs > 0.0200)" in helps.describe()


def test_held_out_recall_compares_the_rows_the_anchors_are_scored_on(monkeypatch):
    X, codes = informative_and_noise(n_classes=10, n_per_class=20)
    held_out = HeldOut(X, codes, torch.device("cpu"), 0, whole_classes=True)
    module = build_anchored(np.eye(24), np.zeros(24), build_mlp(24, (), 4, "relu", 0))
    module.head_scale.fill_(1.0)
    compared = []

    def recall(anchor, network, codes):
        compared.append(np.bincount(codes, minlength=10).tolist())
        return 1.0, 1.0, 1.0

    monkeypatch.setattr(_selection, "recall_evidence", recall)
    held_out.head_evidence(module, [0.5, 0.6])
    monkeypatch.setattr(_selection, "MAX_SCORED_ROWS", 120)
    monkeypatch.setattr(_selection, "MIN_SCORED_ROWS_PER_CLASS", 5)
    held_out.head_evidence(module, [0.5, 0.6])
    assert compared == [[20] * 10, [12] * 10]


def test_recall_evidence_is_a_one_sided_test_on_the_rows_that_differ():
    codes = np.repeat(np.arange(4), 10)
    rng = np.random.RandomState(0)
    separated = np.eye(4)[codes] * 10 + rng.normal(size=(40, 4))
    noise = rng.normal(size=(40, 4))
    recall, anchor_recall, p = recall_evidence(separated, noise, codes)
    assert recall < anchor_recall == 1.0
    assert p < 1e-3  # the network (noise) loses many rows and wins none
    recall, anchor_recall, p = recall_evidence(noise, separated, codes)
    assert recall == 1.0
    assert p == 1.0
    assert recall_evidence(noise, noise, codes)[2] == 1.0  # no row differs


def test_half_sample_gain_and_its_standard_error():
    X, codes = informative_and_noise(n_classes=12, n_per_class=30)
    informative = X[:, :4]
    gain, error = half_sample_gain(X, informative, codes, nearest_mean_nmi, seed=0)
    assert gain == pytest.approx(
        nearest_mean_nmi(informative, codes) - nearest_mean_nmi(X, codes)
    )
    assert gain > 0.2
    assert 0 < error < gain / 3
    # the same embedding twice: every half gains exactly nothing
    assert half_sample_gain(X, X, codes, nearest_mean_nmi, seed=0) == (0.0, 0.0)

    # any score of points and classes
    def kmeans(points, labels):
        return kmeans_nmi(points, labels, random_state=0, n_init=10)

    gain, _ = half_sample_gain(X, informative, codes, kmeans, seed=0)
    assert gain == pytest.approx(kmeans(informative, codes) - kmeans(X, codes))


@pytest.mark.parametrize("many", [True, False])
def test_held_out_head_evidence(many):
    n_classes = _selection.EPOCH_SELECTION_CLASSES if many else 3
    X, codes = informative_and_noise(n_classes=n_classes, n_per_class=20)
    held_out = HeldOut(X, codes, torch.device("cpu"), 0, whole_classes=True)
    noise = np.zeros((20, 24))
    noise[:, 4:] = np.eye(20)
    head = torch.nn.Linear(24, 4)
    with torch.no_grad():
        head.weight.copy_(10 * torch.eye(24)[:4])  # dominates the noise
        head.bias.zero_()
    module = build_anchored(noise, np.zeros(20), head)
    module.head_scale.fill_(1.0)
    scores = [kmeans_nmi(X[:, 4:], codes, random_state=0, n_init=3)]
    scores.append(held_out.score(module))
    weight = module.anchor_weight.item()
    evidence = held_out.head_evidence(module, scores)
    assert module.anchor_weight.item() == weight  # left as score set it
    assert evidence.helps
    assert evidence.recall > evidence.anchor_recall
    if many:  # measured afresh, its margin from the spread over halves
        assert evidence.margin != _selection.SELECTION_MARGIN
    else:
        assert evidence.gain == scores[1] - scores[0]
        assert evidence.margin == _selection.SELECTION_MARGIN


def recorded_passes(monkeypatch):
    """The ``(criterion, scores)`` of each call of ``anchor_scores`` that
    ``choose_anchor`` makes from now on, in order (the scores are computed
    as before)."""
    passes = []
    original = _selection.anchor_scores

    def recording(X, codes, candidates, held_out_sets, seed, criterion, *a):
        scores = original(X, codes, candidates, held_out_sets, seed, criterion)
        passes.append((criterion, scores))
        return scores

    monkeypatch.setattr(_selection, "anchor_scores", recording)
    return passes


@pytest.mark.parametrize(
    ("init", "shrinkage", "n_features", "expected"),
    [
        ("auto", "auto", 64, ("whitened", _selection.DEFAULT_SHRINKAGE)),
        ("auto", 0.5, 64, ("whitened", 0.5)),
        ("whitened", "auto", 64, ("whitened", _selection.DEFAULT_SHRINKAGE)),
        ("plda", "auto", 64, ("plda", _selection.DEFAULT_SHRINKAGE)),
        # the means span all but 40 of 44 features: the PLDA anchor at
        # FEW_KEPT_SHRINKAGE; all but 41 of 45: the whitened one
        ("auto", "auto", 44, ("plda", _selection.FEW_KEPT_SHRINKAGE)),
        ("auto", "auto", 24, ("plda", _selection.FEW_KEPT_SHRINKAGE)),
        ("auto", "auto", 4, ("plda", _selection.FEW_KEPT_SHRINKAGE)),
        ("auto", "auto", 45, ("whitened", _selection.DEFAULT_SHRINKAGE)),
    ],
)
def test_sets_that_keep_few_classes_fix_the_anchor_and_score_nothing(
    monkeypatch, init, shrinkage, n_features, expected
):
    """Sets of 2 held-out classes of 5 keep 3: the anchor is fixed, so no
    set is drawn (``random_state`` is not drawn from) and none is scored.
    The 5 classes differ in 4 directions, beside noisy ones (the first
    ``n_features`` columns): where their means span all but
    ``FEW_KEPT_UNSPANNED`` directions of the inputs, the anchor fixed is the
    PLDA one (``fixed_anchor``)."""
    assert _selection.FEWEST_KEPT_CLASSES > 5 - 2
    assert _selection.FEW_KEPT_UNSPANNED == 40
    passes = recorded_passes(monkeypatch)
    X, codes = informative_and_noise(n_classes=5, n_noise=60)
    X = X[:, :n_features]
    random_state = np.random.RandomState(0)
    chosen = choose_anchor(X, codes, 5, init, shrinkage, 2, random_state, 0)
    assert chosen[:2] == expected
    assert passes == []
    assert chosen.split_scores is None
    assert random_state.randint(2**31) == np.random.RandomState(0).randint(2**31)


def test_the_estimator_states_the_fixed_anchors_bound():
    """The docstring of ``init`` gives the number of unspanned directions up
    to which the PLDA anchor is fixed, and that of ``shrinkage`` the
    shrinkage it is fixed at."""
    from sklearn_dsc import DeepSpectralClusteringEmbedder

    text = " ".join(DeepSpectralClusteringEmbedder.__doc__.split())
    bound = _selection.FEW_KEPT_UNSPANNED
    assert text.count(f"leave at most {bound} directions") == 1
    assert f'is ``"{FEW_KEPT}"`` for the ``"plda"`` anchor kept' in text


def test_sets_that_keep_few_classes_keep_the_ledoit_wolf_plda_where_classes_span(
    monkeypatch,
):
    """5 classes in 3 features: their means span the inputs, and sets of 2
    held-out classes keep 3, too few to rank the PLDA anchor's shrinkages:
    it is kept at FEW_KEPT_SHRINKAGE and nothing is scored. Where the
    classes differ only in a direction of tiny within-class spread, beside
    two of large shared noise (as in a panel), that estimate keeps the
    feature's own spread and its anchor separates them, where a shrinkage
    of 0.01 of the largest variance hides it."""
    rng = np.random.RandomState(0)
    codes = np.repeat(np.arange(5), 40)
    assert _selection.spans_the_inputs(5, 3)
    assert _selection.keeps_too_few(5, 2)
    passes = recorded_passes(monkeypatch)

    def chosen(X, init="auto"):
        return choose_anchor(X, codes, 5, init, "auto", 2, np.random.RandomState(0), 0)

    def tiny():
        signal = 0.01 * codes + rng.normal(scale=0.002, size=200)
        return np.column_stack([signal, rng.normal(size=(200, 2))])

    X, new_rows = tiny(), tiny()
    assert chosen(X)[:2] == ("plda", FEW_KEPT)
    assert chosen(X, "plda")[:2] == ("plda", FEW_KEPT)
    assert chosen(X, "whitened")[:2] == ("whitened", _selection.DEFAULT_SHRINKAGE)
    assert passes == []
    candidates = [("plda", FEW_KEPT), ("plda", SPANNED[0])]
    nmi = [
        kmeans_nmi(new_rows @ weight.T + bias, codes, random_state=0)
        for weight, bias in anchor_maps(candidates, X, codes, 0)
    ]
    assert nmi[0] > 0.9
    assert nmi[0] > nmi[1] + 0.5


@pytest.mark.parametrize(
    ("n_classes", "n_held_out", "expected"),
    [(12, 3, "plda"), (24, _selection.EPOCH_SELECTION_CLASSES, "closed_form")],
)
def test_the_class_direction_is_chosen_where_it_transfers(
    n_classes, n_held_out, expected
):
    """Classes spread along one direction, hidden by large noise in the
    others (more features than classes: their means do not span them). With
    fewer than 10 held-out classes the PLDA anchor, which damps the noise
    directions, is compared and chosen; with more, where it is not, the
    closed form passes the paired tests."""
    rng = np.random.RandomState(0)
    codes = np.repeat(np.arange(n_classes), 40)
    noise = rng.normal(scale=100, size=(len(codes), n_classes + 1))
    X = np.column_stack([3.0 * codes + rng.normal(size=len(codes)), noise])
    assert not _selection.spans_the_inputs(n_classes, X.shape[1])
    chosen = choose_anchor(X, codes, n_classes, "auto", "auto", n_held_out, rng, 0)
    assert chosen.init == expected


SPANNED = _selection.SPANNED_SHRINKAGES
FEW_KEPT = _selection.FEW_KEPT_SHRINKAGE


@pytest.mark.parametrize(
    ("init", "shrinkage", "n_classes", "n_features", "expected"),
    [
        # 12 classes in 24 features: every anchor, every shrinkage (the PLDA
        # anchor too, with fewer than 10 classes held out)
        (
            "auto",
            "auto",
            12,
            24,
            ([*compared_by_auto(), "plda"], _selection.SHRINKAGES),
        ),
        ("auto", "auto", 40, 64, (compared_by_auto(), _selection.SHRINKAGES)),
        ("plda", "auto", 12, 24, (["plda"], _selection.SHRINKAGES)),
        # in 11 features the classes' means span them: the PLDA anchor alone
        ("auto", "auto", 12, 11, (["plda"], SPANNED)),
        ("plda", "auto", 12, 11, (["plda"], SPANNED)),
        ("auto", 0.5, 12, 11, (["plda"], (0.5,))),
        ("whitened", "auto", 12, 11, (["whitened"], _selection.SHRINKAGES)),
        # sets of 2 of 5 classes keep 3: one anchor, one shrinkage; where
        # the classes' means span the inputs (4 features) or all but 40 of
        # them (44), the PLDA anchor at FEW_KEPT_SHRINKAGE; all but 41 (45
        # features), the whitened anchor
        ("auto", "auto", 5, 64, (["whitened"], (_selection.DEFAULT_SHRINKAGE,))),
        ("plda", "auto", 5, 64, (["plda"], (_selection.DEFAULT_SHRINKAGE,))),
        ("whitened", "auto", 5, 4, (["whitened"], (_selection.DEFAULT_SHRINKAGE,))),
        ("auto", "auto", 5, 4, (["plda"], (FEW_KEPT,))),
        ("plda", "auto", 5, 4, (["plda"], (FEW_KEPT,))),
        ("auto", 0.5, 5, 4, (["plda"], (0.5,))),
        ("auto", "auto", 5, 44, (["plda"], (FEW_KEPT,))),
        ("plda", "auto", 5, 44, (["plda"], (FEW_KEPT,))),
        ("auto", 0.5, 5, 44, (["plda"], (0.5,))),
        ("whitened", "auto", 5, 44, (["whitened"], (_selection.DEFAULT_SHRINKAGE,))),
        ("auto", "auto", 5, 45, (["whitened"], (_selection.DEFAULT_SHRINKAGE,))),
        ("auto", "auto", 4, 43, (["plda"], (FEW_KEPT,))),
        ("auto", "auto", 4, 44, (["whitened"], (_selection.DEFAULT_SHRINKAGE,))),
        ("auto", LEDOIT_WOLF, 5, 64, (["whitened"], (LEDOIT_WOLF,))),
        ("auto", LEDOIT_WOLF, 12, 11, (["plda"], (LEDOIT_WOLF,))),
    ],
)
def test_compared_anchors(init, shrinkage, n_classes, n_features, expected):
    n_held_out = n_held_out_classes(0.3, n_classes)
    assert (
        _selection.compared_anchors(init, shrinkage, n_classes, n_held_out, n_features)
        == expected
    )


@pytest.mark.parametrize(
    ("n_classes", "n_features", "by_mean", "tested"),
    [
        # every anchor but the closed form by the mean; it must pass the tests
        (12, 24, 11, [("closed_form", None)]),
        # the classes span the inputs: every PLDA shrinkage by the mean
        (12, 11, len(SPANNED), []),
        # too few kept: the one fixed anchor
        (5, 4, 1, []),
        (5, 64, 1, []),
        (5, 24, 1, []),
    ],
)
def test_candidate_groups(n_classes, n_features, by_mean, tested):
    n_held_out = n_held_out_classes(0.3, n_classes)
    groups = _selection.candidate_groups(
        "auto", "auto", n_classes, n_held_out, n_features
    )
    assert (len(groups[0]), groups[1]) == (by_mean, tested)
    assert set(groups[0]).isdisjoint(groups[1])


def test_plda_is_compared_beside_the_others_and_damps_what_classes_share():
    """Chosen, the PLDA anchor takes its shrinkage from held-out classes like
    the whitened anchor, and where classes differ in 4 directions of 24 it
    clusters them better on the same splits; with fewer than 10 held-out
    classes init="auto" compares it beside the others, and keeps it. (It is
    not offered where no held-out classes compare the starts.)"""
    assert all(init != "plda" for init, _ in start_candidates("auto", 0.1, True))
    X, codes = informative_and_noise(n_classes=12)

    def chosen(init):
        return choose_anchor(X, codes, 12, init, "auto", 4, np.random.RandomState(0), 0)

    plda, whitened = chosen("plda"), chosen("whitened")
    assert plda.init == "plda"
    assert plda.shrinkage in _selection.SHRINKAGES
    assert np.mean(plda.split_scores) > np.mean(whitened.split_scores)
    assert chosen("auto").init == "plda"


def test_whitening_is_chosen_where_noise_is_shared_by_the_classes():
    """The noise the classes share is divided out: a whitening anchor (the
    whitened or the PLDA one) at a small shrinkage, not PCA or the closed
    form."""
    X, codes = informative_and_noise(n_classes=12)
    chosen = choose_anchor(X, codes, 12, "auto", "auto", 4, np.random.RandomState(0), 0)
    assert chosen.init in ("whitened", "plda")
    assert chosen.shrinkage <= 0.03
    # the chosen anchor's score on each of the distinct held-out class sets
    assert len(chosen.split_scores) == _selection.ANCHOR_SPLITS
    assert all(0 <= score <= 1 for score in chosen.split_scores)


@pytest.mark.parametrize(
    ("n_held_out", "n_splits"),
    [
        (_selection.EPOCH_SELECTION_CLASSES - 1, _selection.ANCHOR_SPLITS),
        (_selection.EPOCH_SELECTION_CLASSES, _selection.MANY_CLASSES_ANCHOR_SPLITS),
    ],
)
def test_many_held_out_classes_compare_the_anchors_on_fewer_splits(
    n_held_out, n_splits
):
    X, codes = informative_and_noise(n_classes=24, n_per_class=12)
    chosen = choose_anchor(
        X, codes, 24, "auto", "auto", n_held_out, np.random.RandomState(0), 0
    )
    assert len(chosen.split_scores) == n_splits


@pytest.mark.parametrize(
    ("n_classes", "n_held_out", "n_features", "expected"),
    [
        (12, 4, 24, _selection.ANCHOR_SPLITS),
        (36, 11, 64, _selection.MANY_CLASSES_ANCHOR_SPLITS),
        # the classes span the inputs: more sets of few classes cut the noise
        (12, 4, 11, _selection.SPANNED_ANCHOR_SPLITS),
        # many classes held out: each set's score is steady, spanned or not
        (36, 11, 24, _selection.MANY_CLASSES_ANCHOR_SPLITS),
        (2000, 600, 512, _selection.MANY_CLASSES_ANCHOR_SPLITS),
    ],
)
def test_anchor_splits(n_classes, n_held_out, n_features, expected):
    assert _selection.anchor_splits(n_classes, n_held_out, n_features) == expected


@pytest.mark.parametrize("n_held_out", [2, _selection.EPOCH_SELECTION_CLASSES])
def test_n_splits_overrides_the_number_of_held_out_class_sets(n_held_out):
    X, codes = informative_and_noise(n_classes=24, n_per_class=12)
    chosen = choose_anchor(
        X,
        codes,
        24,
        "auto",
        "auto",
        n_held_out,
        np.random.RandomState(0),
        0,
        n_splits=7,
    )
    assert len(chosen.split_scores) == 7


def test_pca_is_kept_where_nothing_beats_the_input_geometry():
    rng = np.random.RandomState(0)
    centres = rng.normal(scale=10.0, size=(8, 8))
    codes = np.repeat(np.arange(8), 30)
    X = centres[codes] + rng.normal(size=(240, 8))  # isotropic, well separated
    assert not _selection.spans_the_inputs(8, X.shape[1])
    # a huge shrinkage makes the whitened anchor PCA again: PCA wins the tie
    chosen = choose_anchor(X, codes, 8, "auto", 1e9, 2, rng, 0)
    assert chosen[:2] == ("pca", None)


def test_capped_per_class_keeps_at_most_the_cap_of_each_class_in_order():
    codes = np.repeat([0, 1, 2], [5, 12, 30])
    rows = np.flatnonzero(codes > 0)[::-1]
    rng = np.random.RandomState(0)
    kept = capped_per_class(rows, codes, 10, rng)
    assert np.bincount(codes[kept]).tolist() == [0, 10, 10]
    assert np.isin(kept, rows).all()
    assert (np.diff(kept) < 0).all()  # in the order given
    state = rng.get_state()[1].copy()
    assert capped_per_class(rows, codes, 30, rng) is rows
    np.testing.assert_array_equal(rng.get_state()[1], state)  # nothing drawn


def test_scored_rows_share_a_budget_between_a_floor_and_a_cap():
    assert scored_rows_per_class(2) == _selection.MAX_SCORED_ROWS_PER_CLASS
    n_held_out = 36
    share = scored_rows_per_class(n_held_out)
    assert share * n_held_out <= _selection.MAX_SCORED_ROWS
    assert (share + 1) * n_held_out > _selection.MAX_SCORED_ROWS
    assert scored_rows_per_class(10**4) == _selection.MIN_SCORED_ROWS_PER_CLASS


def test_anchor_scores_cluster_at_most_the_budget_of_a_set(monkeypatch):
    X, codes = informative_and_noise(n_classes=8)  # 50 rows a class
    held_out_sets = distinct_subsets(8, 3, 2, np.random.RandomState(0))
    clustered = []

    def kmeans(points, labels):
        clustered.append(np.bincount(labels, minlength=8).max())
        return 0.0

    args = (X, codes, [("pca", None)], held_out_sets, 0, kmeans)
    anchor_scores(*args)
    assert clustered == [50, 50]  # 150 rows a set: under the budget
    monkeypatch.setattr(_selection, "MAX_SCORED_ROWS", 90)
    monkeypatch.setattr(_selection, "MIN_SCORED_ROWS_PER_CLASS", 10)
    anchor_scores(*args)
    assert clustered[2:] == [30, 30]
    monkeypatch.setattr(_selection, "MIN_SCORED_ROWS_PER_CLASS", 40)
    anchor_scores(*args)
    assert clustered[4:] == [40, 40]  # never fewer than the floor


def test_anchor_scores_from_moments_equal_those_of_anchors_fitted_afresh(
    monkeypatch,
):
    X, codes = informative_and_noise(n_classes=8)
    candidates = [("pca", None), ("whitened", 0.1), ("closed_form", None)]
    held_out_sets = distinct_subsets(8, 3, 4, np.random.RandomState(0))
    clustered = []
    monkeypatch.setattr(_selection, "MAX_SCORED_ROWS_PER_CLASS", 20)

    def kmeans(points, labels):
        clustered.append(len(labels))
        return kmeans_nmi(points, labels, random_state=0, n_init=3)

    args = (X, codes, candidates, held_out_sets, 0, kmeans)
    from_moments = anchor_scores(*args)
    assert set(clustered) == {3 * 20}  # 20 of the 50 rows of each class
    monkeypatch.setattr(_selection.ClassMoments, "applies", lambda X: False)
    afresh = anchor_scores(*args)
    assert from_moments.keys() == afresh.keys()
    for candidate, scores in from_moments.items():
        np.testing.assert_allclose(scores, afresh[candidate], atol=1e-12)


def test_whitened_init_chooses_among_the_shrinkages():
    X, codes = informative_and_noise()
    init, shrinkage, _ = choose_anchor(
        X, codes, 12, "whitened", "auto", 4, np.random.RandomState(0), 0
    )
    assert init == "whitened"
    assert shrinkage in _selection.SHRINKAGES
    fixed = choose_anchor(X, codes, 12, "whitened", 0.5, 4, np.random.RandomState(0), 0)
    assert fixed[:2] == ("whitened", 0.5)


def test_held_out_score_chooses_the_anchor_weight():
    X, codes = informative_and_noise(n_classes=4)
    held_out = HeldOut(X, codes, torch.device("cpu"), kmeans_seed=0)
    mlp = build_mlp(24, (), 4, "relu", seed=0)
    assert 0 <= held_out.score(mlp) <= 1
    module = build_anchored(
        np.eye(24)[:4], np.zeros(4), build_mlp(24, (8,), 4, "relu", 0)
    )
    module.head_scale.fill_(1.0)
    score = held_out.score(module)
    assert module.anchor_weight.item() in _selection.ANCHOR_WEIGHTS
    # the score is that of the module as it is left
    assert held_out.score(module) == pytest.approx(score)
    # rank: the same choice by the nearest-mean NMI, which it returns
    ranked = held_out.rank(module)
    assert module.anchor_weight.item() in _selection.ANCHOR_WEIGHTS
    embedding = embed(module, X, torch.device("cpu"))
    assert ranked == pytest.approx(nearest_mean_nmi(embedding, codes))
    by_weight = []
    for weight in _selection.ANCHOR_WEIGHTS:
        module.anchor_weight.fill_(weight)
        points = embed(module, X, torch.device("cpu"))
        by_weight.append(nearest_mean_nmi(points, codes))
    assert ranked == pytest.approx(max(by_weight))
    # choose_anchor_weight: the weight whose k-means NMI is best, which it returns
    chosen = held_out.choose_anchor_weight(module)
    weight = module.anchor_weight.item()
    by_kmeans = {}
    for candidate in _selection.ANCHOR_WEIGHTS:
        module.anchor_weight.fill_(candidate)
        points = embed(module, X, torch.device("cpu"))
        by_kmeans[candidate] = kmeans_nmi(points, codes, random_state=0, n_init=3)
    assert chosen == pytest.approx(max(by_kmeans.values()))
    assert by_kmeans[weight] == pytest.approx(chosen)


def test_held_out_rows_are_embedded_by_an_anchor_once_and_by_its_head_each_time():
    """An anchor is fixed while its head trains: scoring after every epoch
    embeds the held-out rows by the anchor once, and by the head each time."""
    n_classes = _selection.EPOCH_SELECTION_CLASSES
    X, codes = informative_and_noise(n_classes=n_classes, n_per_class=20)
    held_out = HeldOut(X, codes, torch.device("cpu"), 0, whole_classes=True)
    anchor_calls = []

    def anchored(seed):
        module = build_anchored(
            np.eye(24)[4:12], np.zeros(8), build_mlp(24, (8,), 4, "relu", seed)
        )
        module.head_scale.fill_(0.5)
        module.anchor.register_forward_hook(lambda *_: anchor_calls.append(seed))
        return module

    def expected(module):
        by_weight = []
        for weight in _selection.MANY_CLASSES_ANCHOR_WEIGHTS:
            module.anchor_weight.fill_(weight)
            by_weight.append(nearest_mean_nmi(embed(module, X, "cpu"), codes))
        return max(by_weight)

    module, scored = anchored(0), []
    for _ in range(3):  # epochs that move the head
        with torch.no_grad():
            module.head[0].weight.mul_(-2.0)
        before = len(anchor_calls)
        score = held_out.rank(module)
        scored.append(len(anchor_calls) - before)
        assert score == pytest.approx(expected(module))
    assert scored == [1, 0, 0]
    other = anchored(1)  # another anchor: embedded afresh
    before = len(anchor_calls)
    assert held_out.rank(other) == pytest.approx(expected(other))
    assert anchor_calls[before] == 1


def test_held_out_rows_keep_no_anchor_alive():
    """The anchor whose columns are kept is freed with its network (a
    trial's anchor may be 1,024 x n_features), and a new one is embedded."""
    X, codes = informative_and_noise(n_classes=_selection.EPOCH_SELECTION_CLASSES)
    held_out = HeldOut(X, codes, torch.device("cpu"), 0, whole_classes=True)

    def anchored(rows):
        module = build_anchored(
            np.eye(24)[rows], np.zeros(8), build_mlp(24, (8,), 4, "relu", 0)
        )
        module.head_scale.fill_(0.5)
        return module

    module = anchored(slice(4, 12))
    held_out.rank(module)
    anchor = weakref.ref(module.anchor)
    del module
    assert anchor() is None
    # the anchor met next is embedded, even where it takes the freed one's place
    other = anchored(slice(12, 20))
    assert held_out.rank(other) == pytest.approx(held_out.rank(anchored(slice(12, 20))))
    assert held_out.score(other) == pytest.approx(
        kmeans_nmi(embed(other, X, "cpu"), codes, random_state=0, n_init=3)
    )


@pytest.mark.parametrize("whole_classes", [True, False])
def test_many_held_out_classes_may_choose_the_head_alone(whole_classes):
    n_classes = _selection.EPOCH_SELECTION_CLASSES
    X, codes = informative_and_noise(n_classes=n_classes, n_per_class=20)
    held_out = HeldOut(X, codes, torch.device("cpu"), 0, whole_classes)
    assert held_out.many_classes == whole_classes
    # an anchor of pure noise beside a head that sees the informative columns
    noise = np.zeros((20, 24))
    noise[:, 4:] = np.eye(20)
    head = torch.nn.Linear(24, 4)
    with torch.no_grad():
        head.weight.copy_(torch.eye(24)[:4])
        head.bias.zero_()
    module = build_anchored(noise, np.zeros(20), head)
    module.head_scale.fill_(1.0)
    score = held_out.score(module)
    head_alone = kmeans_nmi(X[:, :4], codes, random_state=0, n_init=3)
    if whole_classes:  # only whole held-out classes may drop the anchor
        assert module.anchor_weight.item() == 0.0
        assert score == pytest.approx(head_alone)
    else:
        assert module.anchor_weight.item() in _selection.ANCHOR_WEIGHTS
        assert score < head_alone


def _nearest_mean_without_the_row(points, codes):
    """Each row's nearest class mean, its own class's mean taken without it,
    by brute force; ``None`` for a row alone in its class."""
    classes, nearest = np.unique(codes), []
    for i, row in enumerate(points):
        others = np.arange(len(codes)) != i
        if not np.any(codes[others] == codes[i]):
            nearest.append(None)
            continue
        distances = [
            np.sum((row - points[others & (codes == label)].mean(axis=0)) ** 2)
            if np.any(others & (codes == label))
            else np.inf
            for label in classes
        ]
        nearest.append(classes[np.argmin(distances)])
    return nearest


def test_nearest_mean_nmi_assigns_rows_to_the_closest_class_mean():
    rng = np.random.RandomState(0)
    codes = np.repeat([3, 7, 9], 20)  # labels need not be 0..k-1
    means = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]])
    points = means[np.searchsorted([3, 7, 9], codes)] + rng.normal(size=(60, 2))
    nearest = _nearest_mean_without_the_row(points, codes)
    expected = normalized_mutual_info_score(codes, nearest)
    assert nearest_mean_nmi(points, codes) == pytest.approx(expected)
    assert 0 < nearest_mean_nmi(points, codes) < 1  # overlapping classes
    assert nearest_mean_nmi(10 * points, codes) == pytest.approx(expected)
    assert nearest_mean_nmi(means[np.searchsorted([3, 7, 9], codes)], codes) == 1


def test_nearest_mean_nmi_takes_each_row_out_of_its_class_mean():
    """With few rows a class, a row's own class mean is pulled towards it:
    counted with the row, classes of pure noise look apart (every row is
    nearest its own class's mean, NMI 1); without it, they do not."""
    rng = np.random.RandomState(0)
    codes = np.repeat(np.arange(40), 2)
    points = rng.normal(size=(80, 64))
    centres = np.array([points[codes == c].mean(axis=0) for c in range(40)])
    with_the_row = np.linalg.norm(points[:, None] - centres[None], axis=2).argmin(1)
    assert normalized_mutual_info_score(codes, with_the_row) == 1
    expected = normalized_mutual_info_score(
        codes, _nearest_mean_without_the_row(points, codes)
    )
    assert nearest_mean_nmi(points, codes) == pytest.approx(expected)
    assert nearest_mean_nmi(points, codes) < 0.9
    # classes apart still score 1
    assert nearest_mean_nmi(points + 100 * rng.normal(size=(40, 64))[codes], codes) == 1


def test_nearest_mean_nmi_scores_no_row_alone_in_its_class():
    """A row alone in its class leaves no mean to be near: it is not scored,
    and its class's mean still draws the other rows."""
    rng = np.random.RandomState(1)
    codes = np.array([0, 0, 0, 1, 1, 1, 2])
    points = rng.normal(size=(7, 3))
    points[6] = points[0]  # the lone row sits on a row of class 0
    nearest = _nearest_mean_without_the_row(points, codes)
    scored = [i for i in range(7) if nearest[i] is not None]
    assert scored == list(range(6))
    assert nearest[0] == 2  # drawn to the lone row's mean
    expected = normalized_mutual_info_score(codes[scored], [nearest[i] for i in scored])
    assert nearest_mean_nmi(points, codes) == pytest.approx(expected)
    assert nearest_mean_nmi(points[[0, 3]], [0, 1]) == 0.0  # no row to score


def test_k_means_compares_only_the_shortlist_of_the_ranked_anchors(monkeypatch):
    X, codes = informative_and_noise(n_classes=12)
    passes = recorded_passes(monkeypatch)
    chosen = choose_anchor(X, codes, 12, "auto", "auto", 4, np.random.RandomState(0), 0)
    (ranking, ranked), (_, compared) = passes
    assert ranking is nearest_mean_nmi
    # PCA, five shrinkages of the whitened anchor, the closed form, and five
    # of the PLDA anchor (fewer than 10 classes held out)
    assert len(ranked) == 12

    def best(group, n):
        return sorted(group, key=lambda c: -np.mean(ranked[c]))[:n]

    plda = [c for c in ranked if c[0] == "plda"]
    others = [c for c in ranked if c[0] != "plda"]
    assert len(plda) == len(_selection.SHRINKAGES)
    expected = best(others, _selection.SHORTLIST) + best(
        plda, _selection.PLDA_SHORTLIST
    )
    assert set(compared) == set(expected)
    assert chosen[:2] in compared
    # the chosen anchor's k-means scores are those reported
    assert chosen.split_scores == compared[chosen[:2]]


def test_anchors_fitted_afresh_are_ranked_and_clustered_in_one_pass(monkeypatch):
    """Where the anchors are fitted on the rows kept rather than from class
    moments, one pass over the sets gives both the ranking and the k-means
    scores: each set's anchors are fitted once, and the choice and its
    scores are those of the two passes from class moments."""
    X, codes = informative_and_noise(n_classes=12)

    def chosen():
        passes = recorded_passes(monkeypatch)
        random_state = np.random.RandomState(0)
        return choose_anchor(X, codes, 12, "auto", "auto", 4, random_state, 0), passes

    two_passes, (_, (_, compared)) = chosen()
    monkeypatch.setattr(_selection.ClassMoments, "applies", lambda X: False)
    fits = []
    original = _selection.anchor_embeddings
    monkeypatch.setattr(
        _selection,
        "anchor_embeddings",
        lambda *args: fits.append(args) or original(*args),
    )
    one_pass, passes = chosen()
    ((_, both),) = passes
    assert len(both) == 12  # every candidate, ranked and clustered
    assert len(fits) == _selection.ANCHOR_SPLITS  # once a set
    assert one_pass[:2] == two_passes[:2]
    np.testing.assert_allclose(one_pass.split_scores, two_passes.split_scores)
    for candidate, scores in compared.items():
        np.testing.assert_allclose([k for _, k in both[candidate]], scores)


def test_sets_the_moments_cannot_all_keep_are_factorised_once(monkeypatch):
    """Where the class moments could not keep every set's factorisation for
    a second pass, one pass over the sets ranks every candidate and clusters
    it too: each set is factorised once, and the choice and its scores are
    those of the two passes over factorisations kept."""
    X, codes = informative_and_noise(n_classes=12)
    factorised = []
    original = _selection.ClassMoments._kept_moments

    def counting(self, held_classes, *args):
        n_top = args[-1]
        if (held_classes, n_top) not in self._factorisations:
            factorised.append(held_classes)
        return original(self, held_classes, *args)

    monkeypatch.setattr(_selection.ClassMoments, "_kept_moments", counting)

    def chosen():
        factorised.clear()
        random_state = np.random.RandomState(0)
        return choose_anchor(X, codes, 12, "auto", "auto", 4, random_state, 0)

    two_passes = chosen()
    assert len(factorised) == len(set(factorised)) == _selection.ANCHOR_SPLITS
    monkeypatch.setattr(_anchors, "FACTORISATION_BYTES", 0)  # none kept
    one_pass = chosen()
    assert len(factorised) == len(set(factorised)) == _selection.ANCHOR_SPLITS
    assert one_pass[:2] == two_passes[:2]
    np.testing.assert_allclose(one_pass.split_scores, two_passes.split_scores)


@pytest.mark.parametrize(
    ("n_classes", "fraction", "why"),
    [
        (3, 0.2, "y has only 3 classes"),
        (10, 0.99, "validation_fraction=0.99 holds out 10 of the 10 classes: lower it"),
        (10, 0.9, "validation_fraction=0.9 holds out 9 of the 10 classes: lower it"),
    ],
)
def test_too_few_classes_left_to_train_on_say_why(n_classes, fraction, why):
    """Ten classes are enough to hold some out; a validation_fraction that
    leaves fewer than 2 to train on is what to change."""
    codes = np.repeat(np.arange(n_classes), 5)
    X = np.zeros((len(codes), 2))
    message = (
        "validation_split='classes' holds out at least 2 whole classes and "
        f"trains on at least 2; {why}."
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        _selection.validation_split(
            X, codes, n_classes, "classes", fraction, np.random.RandomState(0)
        )
