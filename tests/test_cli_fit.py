"""``sklearn-dsc fit``: the estimator options, and what it prints."""

import re

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from sklearn_dsc import _fitting, load
from sklearn_dsc._cli_fit import OptionNames
from sklearn_dsc._wording import (
    choice,
    in_python,
    named_by,
    parameter,
    setting,
    setting_list,
)
from sklearn_dsc.cli import build_parser

from cli_helpers import FAST, NAMES, fails, ok, sklearn_dsc, write_csv
from helpers import interrupted_at_call


def test_fit_records_the_feature_names_and_options(digit_files, digit_model):
    fitted = load(digit_model)
    assert list(fitted.feature_names_in_) == NAMES
    assert fitted.classes_.tolist() == [f"d{d}" for d in range(5)]
    assert fitted.hidden_layer_sizes == (16,)
    assert fitted.max_iter == 2


@pytest.mark.parametrize(("value", "expected"), [("auto", "auto"), ("3", 3)])
def test_fit_takes_auto_or_a_number_of_epochs_of_patience(
    digit_files, tmp_path, value, expected
):
    path = tmp_path / "patience.dsc"
    ok("fit", digit_files / "seen.npz", "-o", path, *FAST, "--n-iter-no-change", value)
    assert load(path).n_iter_no_change == expected


@pytest.mark.parametrize(("value", "expected"), [("auto", "auto"), ("0.01", 0.01)])
def test_fit_takes_auto_or_a_tolerance(digit_files, tmp_path, value, expected):
    path = tmp_path / "tolerance.dsc"
    ok("fit", digit_files / "seen.npz", "-o", path, *FAST, "--tol", value)
    assert load(path).tol == expected


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ((), "auto"),
        (("--normalize-embeddings",), True),
        (("--no-normalize-embeddings",), False),
    ],
)
def test_fit_with_normalized_embeddings(digit_files, tmp_path, flags, expected):
    path = tmp_path / "unit.dsc"
    ok("fit", digit_files / "seen.npz", "-o", path, *FAST, *flags)
    assert load(path).normalize_embeddings == expected


def test_fit_with_dropout(digit_files, tmp_path):
    path = tmp_path / "dropout.dsc"
    ok("fit", digit_files / "seen.npz", "-o", path, *FAST, "--dropout", "0.2")
    fitted = load(path)
    assert fitted.dropout == 0.2
    assert any(isinstance(m, torch.nn.Dropout) for m in fitted.module_.modules())


def test_fit_from_a_random_start_names_no_anchor(digit_files, tmp_path):
    path = tmp_path / "random.dsc"
    args = ["--init", "random", "--no-early-stopping", "--max-iter", "1", "-q"]
    result = ok("fit", digit_files / "seen.npz", "-o", path, *args)
    assert "Anchor: none (init random: the network alone, from a random start)" in (
        result.stdout
    )
    assert "anchor: none (init random" in ok("info", path).stdout


@pytest.mark.parametrize(
    ("shrinkage", "expected"),
    [("0.3", 0.3), ("auto", "auto"), ("Ledoit-Wolf", "ledoit-wolf")],
)
def test_fit_whitened_anchor(digit_files, tmp_path, shrinkage, expected):
    path = tmp_path / "whitened.dsc"
    result = ok(
        "fit", digit_files / "seen.npz", "-o", path, *FAST,
        "--init", "whitened", "--shrinkage", shrinkage,
    )  # fmt: skip
    fitted = load(path)
    assert (fitted.init, fitted.shrinkage) == ("whitened", expected)
    assert fitted.init_ == "whitened"
    written = fitted.shrinkage_
    written = written if isinstance(written, str) else f"{written:g}"
    assert f"Anchor: whitened (shrinkage {written})" in result.stdout


def test_fit_npz_linear_closed_form(digit_files, tmp_path):
    path = tmp_path / "linear.dsc"
    ok(
        "fit",
        digit_files / "seen.npz",
        "-o",
        path,
        "--hidden-layer-sizes",
        "",
        "--solver",
        "closed_form",
        "--no-early-stopping",
    )
    fitted = load(path)
    assert fitted.solver == "closed_form"
    assert fitted.hidden_layer_sizes == ()
    assert not hasattr(fitted, "feature_names_in_")


def test_fit_parquet(digit_files, tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    X, y = load_digits(return_X_y=True)
    columns = {name: X[:200, j] for j, name in enumerate(NAMES)}
    pq.write_table(pa.table({**columns, "digit": y[:200]}), tmp_path / "d.parquet")
    ok("fit", tmp_path / "d.parquet", "--target", "digit", "-o", tmp_path / "m", *FAST)
    assert load(tmp_path / "m").classes_.tolist() == list(range(10))


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
def test_fit_parquet_with_a_column_of_lists(tmp_path):
    # embeddings as Parquet often stores them: a list of values a row
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    X, y = load_digits(return_X_y=True)
    X, y = X[:200] / 16, y[:200]
    table = pa.table({"pixels": list(X), "digit": y})
    pq.write_table(table, tmp_path / "d.parquet")
    ok("fit", tmp_path / "d.parquet", "--target", "digit", "-o", tmp_path / "m", *FAST)
    fitted = load(tmp_path / "m")
    assert list(fitted.feature_names_in_) == [f"pixels[{j}]" for j in range(64)]
    data = tmp_path / "d.parquet"
    ok("transform", tmp_path / "m", data, "--target", "digit", "-o", tmp_path / "z.npy")
    np.testing.assert_allclose(np.load(tmp_path / "z.npy"), fitted.transform(X))


@pytest.mark.parametrize(
    ("name", "transform"),
    [
        ("model.csv", True),
        ("Model.Parquet", True),
        ("m.tsv.gz", True),
        ("m.npz", False),
    ],
)
def test_fit_refuses_to_name_its_model_as_data(digit_files, tmp_path, name, transform):
    # a model file named model.csv would pass for the embedding transform writes
    message = fails(
        "fit", digit_files / "seen.npz", "-o", tmp_path / name, message="model.dsc"
    )
    assert "fit writes a model file" in message
    assert (f"transform -o {name}" in message) == transform
    assert list(tmp_path.iterdir()) == []


def test_fit_says_what_it_does_and_why_no_network_was_trained(
    digit_files, tmp_path, monkeypatch
):
    # ten digits: sets of 3 held-out classes keep 7, enough to choose an anchor
    X, y = load_digits(return_X_y=True)
    np.savez(tmp_path / "ten.npz", X=X / 16.0, y=y)
    ten = [tmp_path / "ten.npz", "--random-state", "0"]
    # every split said, however fast (a pass of the digits takes about 0.3 s)
    monkeypatch.setattr(_fitting, "SPLIT_REPORT_SECONDS", 0.0)
    verbose = ok("fit", *ten, "-o", tmp_path / "t.dsc", "-v")
    lines = verbose.stdout.splitlines()
    for stage in ("ranking the anchors", "k-means"):
        splits = [line for line in lines if f"anchor, {stage}: held-out" in line]
        assert len(splits) == 10
        assert splits[0].endswith("split 1 of 10")  # no pace yet: nothing said
        assert re.search(r"split 10 of 10, about \d+s left$", splits[-1])
    # the progress bar shows the same stages
    quiet = ok("fit", *ten, "-o", tmp_path / "q.dsc")
    assert "fitting: choosing the anchor, k-means: held-out class split 10 of 10" in (
        quiet.stderr
    )
    # a pass quicker than the interval is one line, its first split's
    monkeypatch.setattr(_fitting, "SPLIT_REPORT_SECONDS", 3600.0)
    verbose = ok("fit", *ten, "-o", tmp_path / "t.dsc", "-v")
    splits = [line for line in verbose.stdout.splitlines() if "class split" in line]
    assert [split.split("anchor, ")[1] for split in splits] == [
        "ranking the anchors: held-out class split 1 of 10",
        "k-means: held-out class split 1 of 10",
    ]
    # five digits: sets of 2 held-out classes would keep 3: none is scored
    args = [digit_files / "seen.csv", "--target", "digit", "--random-state", "0"]
    verbose = ok("fit", *args, "-o", tmp_path / "a.dsc", "-v")
    assert "held-out class split" not in verbose.stdout
    assert (
        "--init whitened --shrinkage 0.1 kept without comparing anchors: sets of 2 "
        "held-out classes would keep 3 training classes, fewer than 4"
    ) in verbose.stdout
    assert "No trained network was kept: the anchor kept is the whitened one" in (
        verbose.stdout
    )
    # a head that was trained but not kept is explained too
    pca = ok("fit", *args, "-o", tmp_path / "c.dsc", "--init", "pca", "-v", *FAST[:4])
    assert "training a head beside the pca anchor on 3 classes" in pca.stdout
    assert "refit on every class" not in pca.stdout
    assert "did not beat the anchor alone on held-out classes" in pca.stdout


def test_with_three_classes_the_fit_says_why_no_head_was_trained(tmp_path):
    X, y = load_digits(return_X_y=True)
    three = y < 3
    np.savez(tmp_path / "three.npz", X=X[three] / 16.0, y=y[three])
    args = [tmp_path / "three.npz", "-o", tmp_path / "three.dsc", "-v"]
    out = ok("fit", *args, "--random-state", "0").stdout
    assert "--init whitened --shrinkage 0.1 kept alone, no head trained" in out
    assert "(0 epochs)" in out
    assert (
        "No trained network was kept: with --init auto, 3 classes are too few to hold "
        "any out and see whether a head transfers to new classes"
    ) in out
    # the options that train a head beside the same anchor
    assert "(--init whitened --shrinkage 0.1 trains a head beside it)" in out
    assert "Validation" not in out


def test_an_interrupted_fit_writes_nothing(
    digit_files, digit_model, tmp_path, monkeypatch
):
    from sklearn_dsc import _training

    target = tmp_path / "kept.dsc"
    target.write_bytes(digit_model.read_bytes())
    # the fourth batch is in the second epoch
    interrupted = interrupted_at_call(_training.spectral_clustering_loss, 4)
    monkeypatch.setattr(_training, "spectral_clustering_loss", interrupted)
    args = ["--init", "random", "--no-early-stopping", "--max-iter", "50", "-q"]
    result = sklearn_dsc(
        "fit", digit_files / "seen.csv", "--target", "digit", "-o", target, *args
    )
    assert result.returncode == 130
    assert "interrupted; no output was written" in result.stderr
    assert "Saved" not in result.stdout
    assert target.read_bytes() == digit_model.read_bytes()


def test_the_fit_summary_of_a_choice_made_after_every_epoch():
    from types import SimpleNamespace

    from sklearn_dsc._cli_fit import validation_summary, why_untrained

    scores = [0.6, 0.61, 0.65, 0.63, 0.62, 0.64]
    model = SimpleNamespace(
        validation_scores_=scores,
        n_iter_=0,
        init_="whitened",
        shrinkage_=0.1,
        module_=SimpleNamespace(head_scale=torch.tensor(0.0)),
        n_validation_classes_=3,
        init="auto",
        early_stopping=True,
        validation_split="auto",
    )
    assert validation_summary(model) == "start 0.600, best 0.650 after epoch 2 of 5"
    # an epoch scored above the start, yet its head was not kept
    assert (
        "beat the anchor alone on held-out classes by too little to be kept "
        "(k-means NMI 0.650, at its best epoch, against 0.600; a head must gain "
        "more than a margin without lowering Recall@1, as fit -v shows)"
    ) in why_untrained(model)
    model.validation_scores_ = [0.7, 0.61, 0.65, 0.63, 0.62, 0.64]
    assert validation_summary(model) == (
        "start 0.700, which no epoch beat (best 0.650, epoch 2 of 5)"
    )
    model.validation_scores_ = [0.6, 0.55]
    assert validation_summary(model) == "0.600, 0.550"
    assert (
        "did not beat the anchor alone on held-out classes (k-means NMI 0.550, "
        "against 0.600)"
    ) in why_untrained(model)
    # the scores of many held-out classes, after every epoch
    model.validation_metric_ = "nearest-mean NMI"
    assert "(nearest-mean NMI 0.550, against 0.600)" in why_untrained(model)
    assert "on held-out classes" in why_untrained(model)
    # a head trained on held-out samples, none of whose epochs was kept
    model.n_iter_, model.n_validation_classes_ = 3, None
    assert "did not beat the anchor alone on held-out samples" in why_untrained(model)
    # a head that was kept
    model.module_.head_scale = torch.tensor(0.5)
    assert why_untrained(model) is None
    model.module_.head_scale = torch.tensor(0.0)
    # nothing held out: too few classes
    model.validation_scores_, model.classes_ = None, np.arange(3)
    assert why_untrained(model).startswith(
        "with --init auto, 3 classes are too few to hold any out"
    )
    assert why_untrained(model).endswith(
        "(--init whitened --shrinkage 0.1 trains a head beside it)"
    )


def validation_line(stdout):
    return next(line for line in stdout.splitlines() if "Validation" in line)


def test_the_fit_summary_says_what_the_validation_score_is_worth(digit_files, tmp_path):
    # 10 digits: --init auto compares the anchors on several sets of 3
    # held-out classes, whose scores say how much the validation score moves
    # with which classes are held out
    X, y = load_digits(return_X_y=True)
    np.savez(tmp_path / "ten.npz", X=X / 16.0, y=y)
    auto = [*FAST, "--init", "auto"]
    out = ok("fit", tmp_path / "ten.npz", "-o", tmp_path / "t.dsc", *auto).stdout
    line = validation_line(out)
    assert "on 3 held-out classes (the anchor's varies by " in line
    assert "one standard deviation, with the classes held out" in line
    # and what each stage of the fit cost
    (time_line,) = [line for line in out.splitlines() if line.startswith("Time: ")]
    assert "choosing the anchor " in time_line
    assert time_line.endswith(" s in these stages")
    # 5 digits: sets of 2 held-out classes would keep 3, too few to compare
    # anchors: the anchor is fixed, and no set measures the spread
    seen, model = digit_files / "seen.csv", tmp_path / "m.dsc"
    out = ok("fit", seen, "--target", "digit", "-o", model, *auto).stdout
    assert "on 2 held-out classes:" in validation_line(out)


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--max-iter", "0"], "--max-iter must be an int in the range [1, inf)"),
        (["--validation-fraction", "2"], "--validation-fraction must be a float"),
        # only what an option can give: no torch module, callable or device
        (["--network", "resnet"], "--network must be one of conv, mlp; got 'resnet'"),
        (
            ["--init", "lda"],
            "--init must be one of auto, closed_form, pca, plda, random, whitened; "
            "got 'lda'",
        ),
        (
            ["--n-components", "0"],
            "--n-components must be an int in the range [1, inf) or none; got 0",
        ),
        (["--tol", "-1"], "--tol must be a float in the range [0.0, inf) or auto;"),
        (
            ["--device", "gpu"],
            "--device gpu is not a valid torch device: use auto, cpu, cuda or cuda:N.",
        ),
    ],
)
def test_fit_names_the_option_of_a_bad_parameter(
    digit_files, tmp_path, option, message
):
    model = tmp_path / "model.dsc"
    csv = digit_files / "seen.csv"
    error = fails(
        "fit", csv, "--target", "digit", "-o", model, *option, message=message
    )
    assert "torch." not in error
    assert "callable" not in error
    assert not model.exists()


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--n-components", "x", "an integer or none"),
        ("--random-state", "1.5", "an integer or none"),
        ("--n-iter-no-change", "x", "auto or an integer"),
        ("--tol", "q", "auto or a number"),
        ("--shrinkage", "zz", "auto, ledoit-wolf or a number"),
    ],
)
def test_a_value_an_option_cannot_read_says_what_it_takes(option, value, expected):
    """argparse words the error after the option's type, which named a
    function of ours ("invalid _optional_int value")."""
    result = sklearn_dsc("fit", "d.csv", "-o", "m.dsc", option, value)
    assert result.returncode == 2  # argparse's usage error
    assert result.stderr.splitlines()[-1] == (
        f"sklearn-dsc fit: error: argument {option}: expected {expected}, got {value!r}"
    )


@pytest.mark.parametrize(
    ("option", "value", "parameter", "expected"),
    [
        ("--n-components", "NONE", "n_components", None),
        ("--random-state", "7", "random_state", 7),
        ("--n-iter-no-change", "Auto", "n_iter_no_change", "auto"),
        ("--tol", "1e-3", "tol", 1e-3),
        ("--shrinkage", "Ledoit-Wolf", "shrinkage", "ledoit-wolf"),
        ("--shrinkage", "auto", "shrinkage", "auto"),
        ("--shrinkage", "0.1", "shrinkage", 0.1),
    ],
)
def test_the_options_read_words_in_any_case_and_numbers(
    option, value, parameter, expected
):
    args = build_parser().parse_args(["fit", "d.csv", "-o", "m.dsc", option, value])
    assert getattr(args, parameter) == expected


@pytest.mark.parametrize(
    ("write", "expected"),
    [
        (lambda: setting("init", "random"), "--init random"),
        (lambda: setting("input_shape", (3, 3)), "--input-shape 3,3"),
        (lambda: setting("hidden_layer_sizes", ()), "--hidden-layer-sizes ''"),
        (lambda: setting("hidden_layer_sizes", [64, 32]), "--hidden-layer-sizes 64,32"),
        (lambda: setting("shrinkage", np.float64(0.1)), "--shrinkage 0.1"),
        (lambda: setting("early_stopping", False), "--no-early-stopping"),
        (lambda: setting("normalize_embeddings", True), "--normalize-embeddings"),
        (lambda: parameter("max_iter"), "--max-iter"),
        (lambda: choice("plda"), "plda"),
        (lambda: in_python("PCA(2) after this estimator"), None),
        (
            lambda: setting_list([("init", "plda"), ("shrinkage", "ledoit-wolf")]),
            "--init plda --shrinkage ledoit-wolf",
        ),
        # parameters that no option sets keep their Python names
        (lambda: setting("chunk_size", 3), "chunk_size=3"),
        (lambda: parameter("warm_start"), "warm_start"),
    ],
)
def test_fit_names_the_parameters_as_its_options(write, expected):
    with named_by(OptionNames()):
        assert write() == expected


def test_fit_names_its_options_in_warnings_errors_and_its_log(digit_files, tmp_path):
    args = [digit_files / "seen.csv", "--target", "digit", "-o", tmp_path / "m.dsc"]
    result = ok("fit", *args, *FAST, "--shrinkage", "0.1", "-v")
    assert (
        "sklearn-dsc: warning: --shrinkage 0.1 is not used: --init pca fits no "
        "anchor that shrinks"
    ) in result.stderr
    assert "[DeepSpectralClusteringEmbedder] training a head beside the pca anchor" in (
        result.stdout
    )
    assert "init=" not in result.stdout + result.stderr
    fails(
        "fit", *args, "--network", "conv", message="--network conv needs --input-shape"
    )
    # a remedy that only Python can follow is left out
    result = ok("fit", *args, *FAST[4:], "--n-components", "2")
    assert "For exactly 2 dimensions, use --init random.\n" in result.stderr


@pytest.mark.parametrize("ids", [["a7", "b2"], [1007, 1002]], ids=["text", "numbers"])
def test_fit_leaves_a_column_of_row_identifiers_out(digit_files, tmp_path, ids):
    """An identifier column, text or numbers, is no feature with --id; text
    without it is refused with a message that names --id."""
    X, y = load_digits(return_X_y=True)
    rows = [[ids[i % 2], *(X[i] / 16), f"d{y[i]}"] for i in range(200)]
    data = tmp_path / "ided.csv"
    write_csv(data, rows, ["id", *NAMES, "digit"])
    model = tmp_path / "m.dsc"
    ok("fit", data, "--target", "digit", "--id", "id", "-o", model, *FAST)
    assert list(load(model).feature_names_in_) == NAMES
    if isinstance(ids[0], str):
        fails(
            "fit",
            data,
            "--target",
            "digit",
            "-o",
            tmp_path / "n.dsc",
            message="name the label column with --target or a column of row "
            "identifiers with --id",
        )
