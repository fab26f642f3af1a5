"""Wording shared by messages."""

from sklearn_dsc._wording import counted


def test_counted_is_singular_for_one_alone():
    assert counted(1, "epoch") == "1 epoch"
    assert counted(0, "epoch") == "0 epochs"
    assert counted(3, "row") == "3 rows"
    assert counted(2, "class", "classes") == "2 classes"
    assert counted(1, "class", "classes") == "1 class"
