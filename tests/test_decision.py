"""What held-out classes decide after a trial run, on evidence made by hand."""

import pytest

from sklearn_dsc._decision import REFIT, START, TRIAL, Evidence, decide
from sklearn_dsc._selection import NEAREST_MEAN_NMI, SELECTION_LEVEL, HeadEvidence
from sklearn_dsc._training import Outcome

HELPS = HeadEvidence(gain=0.05, margin=0.02, recall=0.9, anchor_recall=0.9, recall_p=1)
WITHIN_MARGIN = HeadEvidence(0.01, 0.02, 0.9, 0.9, 1.0)
LOWER_RECALL = HeadEvidence(0.05, 0.02, 0.8, 0.9, SELECTION_LEVEL / 2)


def one_comparison(head, outcome=Outcome.CONVERGED, scores=(0.5, 0.55)):
    return Evidence(list(scores), False, False, True, head, outcome, n_epochs=7)


def test_without_a_trained_head_the_anchor_is_kept():
    choice = decide(Evidence([0.6], per_epoch=False, random=False, trained=False))
    assert choice.keep == START
    assert not choice.warn_max_iter
    assert choice.describe() == (
        "k-means NMI: start 0.6000; the anchor alone kept, no head trained"
    )


def test_a_head_that_helps_is_refit_for_the_trial_epochs():
    choice = decide(one_comparison(HELPS))
    assert (choice.keep, choice.refit_epochs) == (REFIT, 7)
    assert not choice.warn_max_iter
    assert choice.describe().endswith(
        "; the trained network kept, refit on every class for 7 epochs"
    )
    assert decide(one_comparison(HELPS, Outcome.MAX_ITER)).warn_max_iter
    one_epoch = Evidence([0.5, 0.55], False, False, True, HELPS, n_epochs=1)
    assert decide(one_epoch).describe().endswith("refit on every class for 1 epoch")
    # an interrupt or the callback stopped the refit after 2 of its epochs
    assert choice.describe(7) == choice.describe()
    assert choice.describe(2).endswith(
        "; the trained network kept, refit on every class, stopped after 2 of its "
        "7 epochs"
    )


@pytest.mark.parametrize("head", [WITHIN_MARGIN, LOWER_RECALL])
def test_a_head_without_evidence_leaves_the_anchor_alone(head):
    choice = decide(one_comparison(head, Outcome.MAX_ITER))
    assert choice.keep == START
    assert not choice.warn_max_iter  # nothing trained is kept
    assert "the anchor alone kept, the trained network left out" in choice.describe()


def test_after_an_interrupt_the_trial_network_is_kept_as_it_is():
    choice = decide(one_comparison(HELPS, Outcome.INTERRUPTED))
    assert (choice.keep, choice.refit_epochs) == (TRIAL, 0)
    assert choice.describe().endswith(
        "; the trained network kept as it is, not refit on every class"
    )
    random = Evidence([0.5, 0.6], False, True, True, None, Outcome.INTERRUPTED, 3)
    assert decide(random).keep == TRIAL
    # the held-out classes still decide: a head that does not help is left out
    assert decide(one_comparison(WITHIN_MARGIN, Outcome.INTERRUPTED)).keep == START


def test_a_random_network_is_refit_even_below_the_margin_with_a_warning():
    evidence = Evidence([0.5, 0.51], False, True, True, None, Outcome.CONVERGED, 4)
    choice = decide(evidence)
    assert (choice.keep, choice.refit_epochs) == (REFIT, 4)
    assert choice.warn_untrained_random
    evidence = Evidence([0.5, 0.6], False, True, True, None, Outcome.CONVERGED, 4)
    assert not decide(evidence).warn_untrained_random


def test_per_epoch_scores_refit_for_the_best_epoch_when_the_head_helps():
    scores = [0.5, 0.55, 0.6, 0.58]
    evidence = Evidence(
        scores, True, False, True, HELPS, Outcome.MAX_ITER, 3, NEAREST_MEAN_NMI
    )
    choice = decide(evidence)
    assert (choice.keep, choice.refit_epochs, choice.best_epoch) == (REFIT, 2, 2)
    assert choice.warn_max_iter
    assert choice.describe() == (
        f"nearest-mean NMI: start 0.5000, best epoch 2 of 3 0.6000 "
        f"({HELPS.describe()}); a network refit on every class for 2 epochs"
    )
    choice = decide(Evidence(scores, True, False, True, WITHIN_MARGIN))
    assert choice.keep == START
    assert choice.describe().endswith("; the anchor alone kept, fitted on every class")


def test_per_epoch_scores_after_an_interrupt_keep_the_trial_network():
    evidence = Evidence([0.5, 0.6, 0.55], True, False, True, HELPS, Outcome.INTERRUPTED)
    choice = decide(evidence)
    assert (choice.keep, choice.refit_epochs, choice.best_epoch) == (TRIAL, 0, 1)
    assert choice.describe().endswith("; the network of epoch 1 kept")


def test_per_epoch_scores_of_a_random_network_refit_for_its_best_epoch():
    choice = decide(Evidence([0.3, 0.2, 0.1], True, True))
    assert (choice.keep, choice.refit_epochs, choice.best_epoch) == (REFIT, 1, 1)
    assert choice.describe().startswith("k-means NMI: best epoch 1 of 3 0.3000")
