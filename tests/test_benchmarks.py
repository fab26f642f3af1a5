"""The benchmark scripts run (on small inputs) and report what they claim."""

import functools
import itertools
import json
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))


def test_bench_loss_prints_a_table_with_ratios(capsys):
    import bench_loss

    bench_loss.main(["--n", "256", "512", "--d", "8", "--repeat", "1"])
    out = capsys.readouterr().out
    assert "| n | d | k | ours | paper | autograd | paper/ours | autograd/ours |" in out
    assert out.count("\n| 256 |") == 1
    assert "| 512 |" in out


def test_bench_class_sums_times_each_method_and_checks_it(capsys):
    import bench_class_sums

    bench_class_sums.main(
        ["--n", "600", "--d", "4", "--classes", "3", "50", "900", "--repeat", "1"]
    )
    rows = [line for line in capsys.readouterr().out.splitlines() if "| 600 |" in line]
    assert len(rows) == 2  # 900 classes exceed the rows
    for row, k in zip(rows, (3, 50), strict=True):
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert cells[:3] == ["600", str(k), str(600 // k)]
        # the indicator products, dense and sparse, give the same bits on
        # every run, and each method float64's sums to float32 rounding
        assert cells[9].endswith("True, True")
        assert all(float(error) < 1e-6 for error in cells[10].split(", "))


def test_bench_gather_times_each_gather_and_checks_the_bits(capsys):
    import bench_gather

    bench_gather.main(["--n", "64", "200", "--d", "3", "--repeat", "1"])
    rows = [line for line in capsys.readouterr().out.splitlines() if "| True |" in line]
    assert [row.split("|")[1:3] for row in rows] == [[" 64 ", " 8 "], [" 200 ", " 25 "]]


def test_bench_read_csv_times_each_reader_of_the_same_numbers(capsys):
    pytest.importorskip("pandas")
    import bench_read_csv

    bench_read_csv.main(["--rows", "30", "80", "--features", "3", "--repeat", "1"])
    rows = [line for line in capsys.readouterr().out.splitlines() if " ms |" in line]
    assert [row.split("|")[1:3] for row in rows] == [[" 30 ", " 3 "], [" 80 ", " 3 "]]
    assert all(row.endswith("| True |") for row in rows)


def test_bench_transform_times_transform_beside_the_same_product(capsys):
    import bench_transform

    bench_transform.main(["--rows", "50", "--features", "6", "--repeats", "1"])
    lines = capsys.readouterr().out.splitlines()
    rows = [line for line in lines if line.startswith("| 50 |")]
    assert [row.split("|")[1:3] for row in rows] == [[" 50 ", " 6 "]]
    assert float(rows[0].strip("|").split("|")[-1]) < 1e-5  # the same map


def test_bench_conv_layout_times_both_formats_of_the_same_weights(capsys):
    import bench_conv_layout

    bench_conv_layout.main(["--rows", "40", "--repeats", "1", "--threads", "1"])
    rows = [line for line in capsys.readouterr().out.splitlines() if " ms |" in line]
    assert [row.split("|")[1].strip() for row in rows] == ["32x32", "28x28", "3x32x32"]
    for row in rows:  # the same weights: the embeddings differ by rounding
        assert float(row.strip("|").split("|")[-1]) < 1e-5


def test_bench_sparse_layout_times_each_arm_of_the_same_weights(capsys):
    import bench_sparse_layout

    bench_sparse_layout.main(
        ["--widths", "5000", "--rows", "8", "40", "--repeats", "1", "--threads", "1"]
    )
    rows = [line for line in capsys.readouterr().out.splitlines() if " ms |" in line]
    assert [row.split("|")[1].strip() for row in rows] == [
        "5000 columns, sparse, 100 values",
        "5000 columns, sparse, 100 values",
        "1024 columns, dense",
        "1024 columns, dense",
    ]
    assert [row.split("|")[7].strip() for row in rows] == ["8", "40", "8", "40"]
    for row in rows:  # the same weights: the embeddings differ by rounding
        assert float(row.strip("|").split("|")[-1]) < 1e-5


def test_bench_inference_batch_times_each_size_and_checks_the_bits(capsys):
    import bench_inference_batch
    import torch

    threads = torch.get_num_threads()
    bench_inference_batch.main(["--rows", "80", "--repeats", "1", "--threads", "1"])
    assert torch.get_num_threads() == threads  # put back
    rows = [line for line in capsys.readouterr().out.splitlines() if " s |" in line]
    assert len(rows) == 3 * len(bench_inference_batch.ROWS_A_CALL)
    for row in rows:  # the same outputs, to float32 rounding
        same, difference = row.strip("|").split("|")[-2:]
        assert same.strip() in ("yes", "no")
        assert float(difference) < 1e-5
        assert (same.strip() == "yes") == (float(difference) == 0)
    chosen = [row.split("|")[1].strip() for row in rows if "(embed's)" in row]
    assert chosen == ["64 (embed's)", "64 (embed's)", "4096 (embed's)"]


def test_bench_loss_graphs_times_each_variant_and_restores_the_defaults(capsys):
    """On the CPU every variant runs eagerly: the script's own check."""
    import bench_loss_graphs

    from sklearn_dsc import _loss_graphs

    bench_loss_graphs.main(
        ["--device", "cpu", "--n", "96", "--d", "3", "--rounds", "2", "--repeat", "1"]
    )
    rows = [line for line in capsys.readouterr().out.splitlines() if "| 96 |" in line]
    (row,) = rows
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[:2] == ["96", "12"]
    assert len(cells) == 2 + len(bench_loss_graphs.VARIANTS) + 3
    assert all(" to " in cell for cell in cells[2:-1])  # two rounds: a range
    assert cells[-1] == ", ".join(["True"] * len(bench_loss_graphs.VARIANTS))
    assert _loss_graphs.GRAPHED_GRADIENT
    assert _loss_graphs.SIDE_STREAM


def test_bench_loss_graphs_says_where_cuda_is_missing(capsys):
    import bench_loss_graphs
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(SystemExit):
        bench_loss_graphs.main(["--device", "cuda"])
    assert "no CUDA device here" in capsys.readouterr().err


def test_paper_formulation_matches_ours():
    import bench_loss
    import torch

    from sklearn_dsc import spectral_clustering_loss

    generator = torch.Generator().manual_seed(0)
    embeddings = torch.randn(60, 5, dtype=torch.float64, generator=generator)
    labels = torch.arange(60) % 7
    loss, grad = bench_loss.paper_loss_and_grad(embeddings, labels)
    embeddings.requires_grad_(True)
    ours = spectral_clustering_loss(embeddings, labels)
    ours.backward()
    torch.testing.assert_close(loss, ours.detach())
    torch.testing.assert_close(grad, embeddings.grad)


def test_zero_shot_writes_table_chart_and_json(tmp_path):
    pytest.importorskip("matplotlib")
    import zero_shot

    zero_shot.main(
        [
            "--datasets",
            "digits",
            "--methods",
            "raw features",
            "LDA",
            "ours, linear closed form",
            "--seeds",
            "2",
            "--output",
            str(tmp_path),
        ]
    )
    table = (tmp_path / "zero_shot.md").read_text()
    assert "| raw features | 64 | **0.7" in table  # raw pixels win on digits
    assert "| SC NMI | Ward NMI |" in table
    results = json.loads((tmp_path / "zero_shot.json").read_text())
    for runs in results["digits"].values():
        assert all(
            0 <= run["SC NMI"] <= 1 and 0 <= run["Ward NMI"] <= 1 for run in runs
        )
    assert (tmp_path / "zero_shot.png").stat().st_size > 10_000
    assert (tmp_path / "zero_shot.json").exists()


def test_zero_shot_trains_our_loss_in_the_metric_learning_peers_loop(tmp_path):
    pytest.importorskip("matplotlib")
    pytest.importorskip("pytorch_metric_learning")
    import zero_shot

    method = "MLP + spectral loss (PML's loop)"
    zero_shot.main(
        [
            "--datasets",
            "digits",
            "--methods",
            method,
            "--seeds",
            "1",
            "--epochs",
            "2",
            "--output",
            str(tmp_path),
        ]
    )
    (run,) = json.loads((tmp_path / "zero_shot.json").read_text())["digits"][method]
    # two epochs already separate unseen digits far better than chance
    assert run["NMI"] > 0.3
    assert run["dims"] == 64


def test_zero_shot_reads_peers_out_two_ways_and_gives_them_the_conv_network(
    tmp_path,
):
    pytest.importorskip("matplotlib")
    pytest.importorskip("pytorch_metric_learning")
    import zero_shot

    conv = "conv + MultiSimilarity (PML)"
    options = ["--seeds", "1", "--epochs", "1", "--other-rows", "300"]
    zero_shot.main(
        ["--datasets", "digits", "--methods", conv, *options, "--output", str(tmp_path)]
    )
    rows = json.loads((tmp_path / "zero_shot.json").read_text())["digits"]
    assert set(rows) == {conv, conv + zero_shot.L2_READOUT}
    assert rows[conv][0]["fit s"] == rows[conv + zero_shot.L2_READOUT][0]["fit s"]
    assert rows[conv][0]["NMI"] != rows[conv + zero_shot.L2_READOUT][0]["NMI"]


def test_zero_shot_read_outs_and_time_ratios():
    import zero_shot

    points = np.array([[3.0, 4.0], [0.0, 2.0]])
    (raw, l2) = zero_shot.read_outs("MLP + triplet (PML)")
    np.testing.assert_array_equal(raw[1](points), points)
    np.testing.assert_allclose(l2[1](points), [[0.6, 0.8], [0.0, 1.0]])
    assert len(zero_shot.read_outs("ours, defaults")) == 1  # ours: as it is
    assert {"ours, conv", "conv + softmax"} <= zero_shot.IMAGE_METHODS
    methods = {
        "ours, defaults": [{"fit s": 6.0}, {"fit s": 9.0}],
        "MLP + spectral loss (PML's loop)": [{"fit s": 2.0}, {"fit s": 3.0}],
    }
    (_, line) = zero_shot.time_ratios(methods)
    assert line.startswith("*ours, defaults* took 3.0x the fit time of")
    assert line.endswith("(per seed: 3.0x, 3.0x).")
    assert zero_shot.time_ratios({"ours, defaults": methods["ours, defaults"]}) == []


def test_zero_shot_lists_merged_rows_in_the_order_of_its_methods():
    import zero_shot

    rows = ["ours, defaults", "MLP + softmax, L2 rows", "raw features", "MLP + softmax"]
    ordered = sorted(rows, key=zero_shot.row_order)
    assert ordered == [
        "raw features",
        "MLP + softmax",
        "MLP + softmax, L2 rows",
        "ours, defaults",
    ]


def test_zero_shot_normalised_configuration_gives_unit_rows_of_16(tmp_path):
    pytest.importorskip("matplotlib")
    pytest.importorskip("pytorch_metric_learning")
    import zero_shot

    loop = "MLP + spectral loss, normalised rows, 16 x 16"
    ours = "ours, normalised embeddings, 16 x 16"
    zero_shot.main(
        [
            *("--datasets", "digits", "--methods", loop, ours, "--seeds", "1"),
            *("--epochs", "2", "--output", str(tmp_path)),
        ]
    )
    rows = json.loads((tmp_path / "zero_shot.json").read_text())["digits"]
    assert set(rows) == {loop, loop + zero_shot.L2_READOUT, ours}
    assert all(run[0]["dims"] == 16 for run in rows.values())
    assert rows[ours][0]["NMI"] > 0.2  # two epochs, far above chance


def test_mlp_gap_records_each_read_out_after_the_scored_epochs(tmp_path):
    pytest.importorskip("pytorch_metric_learning")
    import mlp_gap

    variant = "ours, 16 x 16, L2 rows in the loss, 16 outputs"
    mlp_gap.main(
        [
            *("--datasets", "digits", "--variants", variant, "--seeds", "1"),
            *("--epochs", "3", "--rows-per-class", "20", "--output", str(tmp_path)),
        ]
    )
    (run,) = json.loads((tmp_path / "mlp_gap.json").read_text())["digits"][variant]
    assert set(run["curves"]) == set(mlp_gap.READOUTS)
    assert all(len(curve) == 3 for curve in run["curves"].values())  # epochs 1-3
    assert (
        "| ours, 16 x 16, L2 rows in the loss, 16 outputs | L2 rows |"
        in (tmp_path / "mlp_gap.md").read_text()
    )


def test_epoch_criteria_replays_patience_on_the_records():
    import epoch_criteria

    def epoch(score, unseen):
        return [{"nearest-mean NMI": score, "unseen": unseen, "weight": None}]

    # the best score at epoch 1, a better one at epoch 5
    scores = [0.5, 0.6, 0.55, 0.58, 0.59, 0.65, 0.6, 0.6, 0.6]
    records = [epoch(score, 0.1 * index) for index, score in enumerate(scores)]
    entry, last = epoch_criteria.patience_choice(records, 3)
    assert (last, entry["unseen"]) == (4, pytest.approx(0.1))  # stops first
    entry, last = epoch_criteria.patience_choice(records, 5)
    assert (last, entry["unseen"]) == (8, pytest.approx(0.5))  # reaches epoch 5
    # a run whose records end before the patience does stops where they end
    entry, last = epoch_criteria.patience_choice(records, 10)
    assert last == len(records) - 1
    # as the training loop: a gain within the tolerance does not reset the
    # patience, but its epoch is the best one kept
    entry, last = epoch_criteria.patience_choice(records, 5, tol=0.06)
    assert (last, entry["unseen"]) == (6, pytest.approx(0.5))


def test_selection_criteria_replays_the_shortlist_on_fewer_sets():
    import selection_criteria

    # 3 candidates, 4 held-out sets: on the first set alone the third leads
    run = {
        "criteria": {},
        "splits": {
            "nearest-mean NMI": [[0.5, 0.9, 0.9, 0.9], [0.6] * 4, [0.9, 0.1, 0.1, 0.1]],
            "k-means NMI": [[0.5, 0.9, 0.9, 0.9], [0.6] * 4, [0.9, 0.1, 0.1, 0.1]],
        },
    }
    run["criteria"] = {
        name: np.mean(values, axis=1).tolist() for name, values in run["splits"].items()
    }
    first, second = "nearest-mean NMI", "k-means NMI"
    choose = selection_criteria.shortlisted_choice
    assert choose(run, first, second, 2) == 0  # every set: the first
    assert choose(run, first, second, 2, (1, 1)) == 2  # the first set alone
    assert choose(run, first, second, 1, (None, 1)) == 0  # shortlisted on all
    assert selection_criteria.used_splits(run, 1) == 0.25
    old = {"criteria": run["criteria"]}  # no set's scores recorded
    assert choose(old, first, second, 2, (1, 1)) is None


def test_bench_memory_prints_a_row_per_call_and_size(capsys):
    import bench_memory

    bench_memory.main(["--rows", "5000"])
    out = capsys.readouterr().out
    assert "| fit | 5000 |" in out
    assert "| transform | 5000 |" in out
    assert "| score | 5000 |" in out
    bench_memory.main(["--rows", "5000", "--calls", "transform"])
    out = capsys.readouterr().out
    assert "| transform | 5000 |" in out
    assert "| fit |" not in out
    assert "| score |" not in out


def test_bench_large_batch_checks_chunks_against_whole_batches(capsys):
    import bench_large_batch

    bench_large_batch.main(["--batch-sizes", "512", "--chunk-size", "128"])
    out = capsys.readouterr().out
    assert "| batch | whole: memory | chunked: memory |" in out
    assert "\n| 512 |" in out


def test_bench_distributed_compares_one_and_two_processes(capsys):
    import bench_distributed

    bench_distributed.main(["--batch-sizes", "256", "--repeat", "1"])
    out = capsys.readouterr().out
    assert "| global batch | 1 process: s/step | 2 processes: s/step |" in out
    assert "\n| 256 |" in out


def test_bench_throughput_prints_samples_per_second(capsys):
    pytest.importorskip("pytorch_metric_learning")
    import bench_throughput

    bench_throughput.main(["--data", "random", "--samples", "2048", "--epochs", "1"])
    out = capsys.readouterr().out
    assert "| device | ours | triplet (PML) | estimator | ours/triplet |" in out
    assert "\n| cpu |" in out


def test_ablation_writes_a_row_per_variant(tmp_path):
    import ablation

    ablation.main(
        [
            "--datasets",
            "digits",
            "--variants",
            "defaults",
            "closed-form anchor always",
            "--seeds",
            "1",
            "--output",
            str(tmp_path),
        ]
    )
    table = (tmp_path / "ablation.md").read_text()
    rows = {
        line.split(" | ")[0].lstrip("| "): line
        for line in table.splitlines()
        if line.startswith("| ")
    }
    for name in (
        "raw features",
        "PCA",
        "closed form",
        "defaults",
        "closed-form anchor always",
        "spectral step at test time",
    ):
        assert name in rows
    assert "PCA + wide head" not in rows  # not run
    results = json.loads((tmp_path / "ablation.json").read_text())["digits"]
    # on digits the pixel geometry transfers and the class directions do not
    assert results["defaults"][0] > results["closed-form anchor always"][0] + 0.3
    assert abs(results["defaults"][0] - results["raw features"][0]) < 0.02
    assert not (tmp_path / "ablation.partial.json").exists()


def test_ablation_merge_shows_a_dash_where_a_variant_was_not_run(tmp_path):
    import ablation

    first, second = tmp_path / "first.json", tmp_path / "second.json"
    first.write_text(json.dumps({"digits": {"defaults": [0.7], "no anchor": [0.2]}}))
    second.write_text(json.dumps({"glyphs": {"defaults": [0.6, 0.62]}}))
    ablation.main(["--merge", str(first), str(second), "--output", str(tmp_path)])
    rows = {
        line.split(" | ")[0].lstrip("| "): line.split(" | ")[2:]
        for line in (tmp_path / "ablation.md").read_text().splitlines()
        if line.startswith("| ") and not line.startswith("| variant")
    }
    assert rows["defaults"] == ["**0.700 ± 0.000**", "**0.610 ± 0.010** |"]
    assert rows["no anchor"] == ["0.200 ± 0.000", "— |"]
    assert "PCA + wide head" not in rows


def test_spectral_step_rows_are_unit_vectors():
    import ablation
    import numpy as np

    embeddings = np.random.default_rng(0).normal(size=(50, 6))
    rows = ablation.spectral_step(embeddings, 3)
    assert rows.shape == (50, 3)
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1.0)


def test_bench_fit_time_without_the_blas_limit_fits_the_same_model(capsys):
    import bench_fit_time

    bench_fit_time.main(
        ["--without-blas-limit", "--datasets", "digits", "--seeds", "1"]
    )
    out = capsys.readouterr().out
    (row,) = [line for line in out.splitlines() if line.startswith("| digits |")]
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[5] == cells[6]  # the anchor
    assert cells[7] == cells[8]  # the unseen classes' NMI
    assert "s without the BLAS limit, " in out


def test_bench_sparse_compares_principal_directions_with_arpack(capsys):
    import bench_sparse

    bench_sparse.main(["--shapes", "300x5000", "--no-fit"])
    out = capsys.readouterr().out
    assert (
        "| rows x features | ours, 256 directions | scikit-learn arpack | ratio |"
        in out
    )
    assert "\n| 300x5000 |" in out


def test_bench_sparse_can_measure_the_fit_alone(capsys):
    import bench_sparse

    bench_sparse.main(["--shapes", "300x5000", "--fit-only"])
    out = capsys.readouterr().out
    assert "arpack" not in out
    assert "| rows x features | default fit | peak growth | one D x D matrix |" in out
    assert "\n| 300x5000 | " in out


def test_bench_fit_time_fits_both_code_bases_side_by_side(capsys):
    import bench_fit_time

    bench_fit_time.main(["--baseline", "HEAD", "--datasets", "digits", "--seeds", "1"])
    out = capsys.readouterr().out
    (row,) = [line for line in out.splitlines() if line.startswith("| digits |")]
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    old_s, new_s, ratio = float(cells[2]), float(cells[3]), float(cells[4])
    # the times and the ratio are printed to 0.01, each from the unrounded
    # times (a fit of the digits' anchor alone takes hundredths of a second)
    assert (new_s - 0.005) / (old_s + 0.005) - 0.005 <= ratio
    if old_s > 0.005:
        assert ratio <= (new_s + 0.005) / (old_s - 0.005) + 0.005
    assert all(cells[5:7])  # the anchors chosen
    assert all(0 < float(nmi) <= 1 for nmi in cells[7:9])
    assert "Total fit time:" in out


def test_bench_devices_fits_on_both_devices_at_once(capsys):
    import bench_devices

    arguments = "--dataset digits --network mlp --devices cpu cpu --seeds 2"
    bench_devices.main([*arguments.split(), "--other-seeds", "1", "--threads", "1"])
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| cpu |")]
    assert len(rows) == 3  # two seeds on the first device, one on the other
    nmi = [float(row.split("|")[5]) for row in rows]
    assert nmi[0] == nmi[2] > 0.6  # seed 0 on each: the same fit
    assert "cpu/cpu: " in out


def test_plda_anchor_writes_each_anchor_alone(tmp_path):
    import plda_anchor

    plda_anchor.main(
        ["--datasets", "digits", "--seeds", "1", "--output", str(tmp_path)]
    )
    ((n_classes, scores),) = json.loads(
        (tmp_path / "plda_anchor.json").read_text()
    ).values()
    assert n_classes == 5
    assert list(scores) == [plda_anchor.name_of(c) for c in plda_anchor.CANDIDATES]
    assert all(0 < score <= 1 for score in scores.values())
    row = next(
        line
        for line in (tmp_path / "plda_anchor.md").read_text().splitlines()
        if line.startswith("| digits (5) |")
    )
    best_plda = max(v for k, v in scores.items() if k.startswith("plda"))
    assert f"**{best_plda:.3f}**" in row


def test_anchor_width_prints_a_row_per_width_that_fits(capsys):
    import anchor_width

    anchor_width.main(
        ["--datasets", "digits", "--widths", "16", "full", "128", "--seeds", "1"]
    )
    rows = [
        line for line in capsys.readouterr().out.splitlines() if "| digits |" in line
    ]
    assert [row.split("|")[2].strip() for row in rows] == ["16 (16)", "full (64)"]
    for row in rows:
        scores = [float(cell) for cell in row.split("|")[3:10]]
        assert all(0 < score <= 1 for score in scores)
        assert scores[-1] == max(scores[:-1])  # the best of PCA and the shrinkages


def test_n_clusters_merge_replaces_method_by_method():
    import n_clusters

    first = {"digits": {"raw": {"true k": 5, "eigengap": {"k": 5}, "bic": {"k": 40}}}}
    second = {
        "digits": {"raw": {"true k": 5, "bic": {"k": 6}}},
        "glyphs": {"raw": {"true k": 50, "bic": {"k": 2}}},
    }
    results = n_clusters.merged([first, second])
    assert results["digits"]["raw"] == {
        "true k": 5,
        "eigengap": {"k": 5},
        "bic": {"k": 6},
    }
    assert results["glyphs"]["raw"]["bic"] == {"k": 2}


def test_n_clusters_counts_datasets_where_the_embedding_is_closer():
    import n_clusters

    def spaces(true_k, embedded, raw):
        return {
            "embedding": {"true k": true_k, "eigengap": {"k": embedded}},
            "raw": {"true k": true_k, "eigengap": {"k": raw}},
        }

    results = {
        "closer": spaces(5, 5, 4),
        "farther": spaces(50, 60, 45),  # 10 off against 5
        "as close": spaces(10, 8, 12),
        "raw only": {"raw": {"true k": 5, "eigengap": {"k": 5}}},
    }
    assert n_clusters.against_raw(results, ["eigengap"]) == ["| eigengap | 1 | 1 | 1 |"]


def test_n_clusters_new_rows_of_a_share_of_the_unseen_classes(tmp_path):
    import n_clusters

    options = ["--datasets", "digits", "--methods", "eigengap", "calibrated"]
    n_clusters.main([*options, "--new-fraction", "0.4", "--output", str(tmp_path)])
    results = json.loads((tmp_path / "n_clusters.json").read_text())
    for space in ("embedding", "raw"):
        assert results["digits"][space]["true k"] == 2  # 2 of the 5 unseen digits
        assert results["digits"][space]["eigengap"]["k"] >= 2
    table = (tmp_path / "n_clusters.md").read_text()
    assert "the new rows: those of 40% of the unseen classes" in table


def test_n_clusters_reads_the_embeddings_a_run_of_the_same_source_kept(
    tmp_path, monkeypatch
):
    import n_clusters

    fits = tmp_path / "fits"
    options = ["--datasets", "digits", "--methods", "eigengap"]
    options += ["--fits", str(fits), "--output", str(tmp_path)]

    def estimates():
        n_clusters.main(options)
        results = json.loads((tmp_path / "n_clusters.json").read_text())
        return {
            space: (row["NMI at true k"], row["eigengap"]["k"])
            for space, row in results["digits"].items()
        }

    first = estimates()
    (kept,) = fits.iterdir()
    assert kept.name == f"digits-{n_clusters.source_digest()}.npz"

    def no_fit(*args, **kwargs):
        raise AssertionError("the embedding kept should have been read")

    monkeypatch.setattr(n_clusters.DeepSpectralClusteringEmbedder, "fit", no_fit)
    assert estimates() == first
    # another source is another key: the kept file is not read
    monkeypatch.setattr(n_clusters, "source_digest", lambda: "changed")
    with pytest.raises(AssertionError, match="should have been read"):
        estimates()


def test_a_share_of_the_classes_is_seeded_and_keeps_whole_classes():
    from datasets import class_share

    y = np.repeat(np.arange(10), 3)
    assert class_share(y, 1.0, seed=0).all()
    kept = class_share(y, 0.5, seed=0)
    assert len(np.unique(y[kept])) == 5
    assert np.bincount(y[kept]).max() == 3  # whole classes
    np.testing.assert_array_equal(kept, class_share(y, 0.5, seed=0))
    assert not np.array_equal(kept, class_share(y, 0.5, seed=1))
    few = class_share(y, 0.01, seed=0, at_least=2)
    assert len(np.unique(y[few])) == 2  # at least two


def test_the_glyph_renderer_is_read_where_it_was_recorded(tmp_path, monkeypatch):
    import datasets

    path = tmp_path / "glyphs.npz"
    monkeypatch.setattr(datasets, "GLYPHS", path)
    assert datasets.glyph_renderer() is None  # not built
    np.savez(path, images=np.zeros((1, 1, 2, 2)))
    assert datasets.glyph_renderer() is None  # built before it was recorded
    np.savez(path, images=np.zeros((1, 1, 2, 2)), renderer="Pillow 1, FreeType 2")
    assert datasets.glyph_renderer() == "Pillow 1, FreeType 2"


def frozen_features_on_digits(tmp_path, *options):
    """``frozen_features.py`` for one epoch at one learning rate on digits: the
    results and the table."""
    import frozen_features

    quick = ["--dataset", "digits", "--epochs", "1", "--learning-rates", "1e-3"]
    frozen_features.main([*quick, *options, "--output", str(tmp_path)])
    results = json.loads((tmp_path / "frozen_features.json").read_text())
    return results, (tmp_path / "frozen_features.md").read_text()


def test_frozen_features_curves_start_where_each_start_says(tmp_path):
    import frozen_features

    results, table = frozen_features_on_digits(tmp_path)
    curves = results["curves"]
    assert len(curves) == 3 * len(frozen_features.COMPOSITIONS)
    assert all(len(scores) == 2 for scores in curves.values())  # start, epoch 1
    for name, scores in curves.items():
        if not name.startswith("plain MLP"):  # both start at the anchor itself
            assert scores[0] == pytest.approx(results["anchor"])
    assert "| residual head at zero | 0.001 | 4 per class, every class |" in table
    assert "held-out choice" not in table
    assert not (tmp_path / "frozen_features.partial.json").exists()


def test_frozen_features_with_held_out_classes_reports_their_choice(tmp_path):
    results, table = frozen_features_on_digits(tmp_path, "--held-out", "0.4")
    assert results["held-out curves"].keys() == results["curves"].keys()
    assert all(len(scores) == 2 for scores in results["held-out curves"].values())
    assert "Trained on 60% of the training classes" in table
    assert "| held-out choice (epoch) |" in table


def test_n_clusters_spectra_tells_two_digits_from_five(capsys):
    import n_clusters_spectra

    options = ["--datasets", "digits", "--draws", "2", "--n-rows", "400"]
    results = n_clusters_spectra.main(options)
    for space in ("embedding", "raw"):
        row = results["digits"][space]
        assert row["classes"] == [2, 5]
        # digits separate: two of them have other eigenvalues than five, and
        # two (five) training digits are the nearer model of two (five) new ones
        assert row["separation"] > 2
        assert row["to the twin of as many"] < row["to the twin of the other number"]
    assert "\n| digits | 2, 5 | " in capsys.readouterr().out


def test_n_clusters_spectra_needs_two_draws(capsys):
    import n_clusters_spectra

    with pytest.raises(SystemExit):
        n_clusters_spectra.main(["--datasets", "digits", "--draws", "1"])
    assert "--draws must be at least 2" in capsys.readouterr().err


def one_suite_dataset(monkeypatch, n_per_class):
    """The name of the suite's first dataset, made to load ten generated
    classes of ``n_per_class`` rows (``X``, string labels), and those."""
    import tabular_suite

    from helpers import informative_and_noise

    X, codes = informative_and_noise(n_classes=10, n_per_class=n_per_class)
    labels = np.array([f"class {code}" for code in codes])
    monkeypatch.setattr(
        tabular_suite, "load", lambda dataset, datasets=None: (X, labels)
    )
    return next(iter(tabular_suite.SUITE)), X, labels


def test_tabular_suite_splits_classes_and_compares_with_the_best_other(
    tmp_path, monkeypatch
):
    import tabular_suite

    name, X, labels = one_suite_dataset(monkeypatch, n_per_class=40)
    X_train, y_train, _, y_test = tabular_suite.split(X, labels, seed=0)
    assert not set(y_train) & set(y_test)  # class-disjoint halves
    assert len(set(y_train)) == len(set(y_test)) == 5
    np.testing.assert_allclose(X_train.mean(axis=0), 0, atol=1e-12)

    methods = ["raw features", "LDA", "ours, defaults"]
    arguments = ["--datasets", name, "--methods", *methods, "--seeds", "2"]
    tabular_suite.main([*arguments, "--output", str(tmp_path)])
    results = json.loads((tmp_path / "tabular_suite.json").read_text())
    runs = results[name]
    assert runs["_shape"] == [400, 24, 10]
    means = {m: np.mean([run["nmi"] for run in runs[m]]) for m in methods}
    gap = means["ours, defaults"] - max(means["raw features"], means["LDA"])
    table = (tmp_path / "tabular_suite.md").read_text()
    assert f"| {name} (400, 24, 10) |" in table
    assert f"| {gap:+.3f} |" in table
    assert "of 1 datasets" in table


def test_tabular_suite_fresh_loads_its_own_datasets_to_its_own_page(
    tmp_path, monkeypatch
):
    import tabular_suite

    from helpers import informative_and_noise

    X, codes = informative_and_noise(n_classes=8, n_per_class=20)
    labels = np.array([f"class {code}" for code in codes])
    loaded = []

    def load(dataset, datasets=tabular_suite.SUITE):
        loaded.append(datasets[dataset])
        return X, labels

    monkeypatch.setattr(tabular_suite, "load", load)
    name = next(iter(tabular_suite.FRESH))
    arguments = ["--fresh", "--datasets", name, "--methods", "raw features"]
    tabular_suite.main([*arguments, "--seeds", "1", "--output", str(tmp_path)])
    assert loaded == [tabular_suite.FRESH[name]]
    assert not (tmp_path / "tabular_suite.md").exists()
    table = (tmp_path / "tabular_fresh.md").read_text()
    assert table.startswith("# Zero-shot clustering on tabular datasets never used")
    assert "`python benchmarks/tabular_suite.py --fresh` (1 seeds)" in table
    assert f"| {name} (160, 24, 8) |" in table


def test_selection_criteria_rank_the_candidates_of_a_dataset(tmp_path, monkeypatch):
    import selection_criteria

    name, _, _ = one_suite_dataset(monkeypatch, n_per_class=30)
    selection_criteria.main(
        ["--datasets", name, "--seeds", "1", "--output", str(tmp_path)]
    )
    table = (tmp_path / "selection_criteria.md").read_text()
    assert f"| {name} | " in table
    results = json.loads((tmp_path / "selection_criteria.json").read_text())
    (run,) = results[name]
    n_candidates = len(selection_criteria.CANDIDATES)
    assert len(run["unseen"]) == n_candidates
    assert all(len(v) == n_candidates for v in run["criteria"].values())
    assert set(run["seconds"]) == set(selection_criteria.CRITERIA)


def test_selection_criteria_choose_without_lda_among_the_anchors_alone():
    import selection_criteria

    candidates = selection_criteria.CANDIDATES
    n = len(candidates)
    lda, pca = candidates.index(("lda", None)), candidates.index(("pca", None))
    kmeans = np.linspace(0.1, 0.2, n)
    kmeans[lda], kmeans[pca] = 0.9, 0.8  # LDA's map first, PCA next
    run = {
        "criteria": {c: kmeans.tolist() for c in selection_criteria.CRITERIA},
        "unseen": np.linspace(0.3, 0.6, n).tolist(),
        "seconds": dict.fromkeys(selection_criteria.CRITERIA, 1.0),
    }
    row = selection_criteria.summary({"data": [run]})["data"]
    assert row["k-means NMI"][1] == run["unseen"][lda]
    assert row[selection_criteria.WITHOUT_LDA][1] == run["unseen"][pca]
    assert row["seconds"][selection_criteria.WITHOUT_LDA] == (n - 1) / n


def test_tabular_choices_separate_the_candidates_from_the_choice(tmp_path, monkeypatch):
    import tabular_choices
    import tabular_suite

    name, _, _ = one_suite_dataset(monkeypatch, n_per_class=30)
    tabular_choices.main(
        ["--datasets", name, "--seeds", "4", "--output", str(tmp_path)]
    )
    runs = json.loads((tmp_path / "tabular_choices.json").read_text())[name]
    assert len(runs) == 4
    for run in runs:
        assert set(run["others"]) == set(tabular_suite.OTHERS)
        assert set(run["rules"]) == set(tabular_choices.RULES)
        assert set(run["choices"]) == {*tabular_choices.RULES, "the defaults"}
        # the defaults' choice is one of the candidates, with its NMI
        choice = run["choices"]["the defaults' choice"]
        assert run["rules"]["the defaults' choice"] == run["candidates"][choice]
        assert 0 < run["fitted"]["the defaults"] <= 1
        assert "plda 0.01" in run["candidates"]
    # the best candidate of each seed is at least every candidate's mean
    mean, best = tabular_choices.columns(runs)
    per_seed = mean[("candidates", tabular_choices.BEST_OF_EACH_SEED)]
    assert all(
        per_seed >= value for (part, _), value in mean.items() if part == "candidates"
    )
    gap = mean[("rules", "on 30 sets")] - mean[("others", best)]
    table = (tmp_path / "tabular_choices.md").read_text()
    assert f"| {name} | {best} {mean[('others', best)]:.3f} | " in table
    assert f"{gap:+.3f}" in table
    assert "| within 0.005 | | " in table
    # the draws of 3 seeds of 4: the best candidate of each seed meets the
    # bar on a draw exactly where its gap on that draw does
    draws = list(itertools.combinations(range(4), 3))
    column = ("candidates", tabular_choices.BEST_OF_EACH_SEED)
    met = [
        tabular_choices.meets_the_bar(
            tabular_choices.gaps({name: runs}, [column], draw)[column]
        )
        for draw in draws
    ]
    row = next(line for line in table.splitlines() if line.startswith("| best cand"))
    assert row.endswith(f"| {np.mean(met):.0%} |")


def test_tabular_spanned_measures_the_datasets_whose_classes_span_the_features(
    tmp_path, monkeypatch
):
    import tabular_spanned
    import tabular_suite

    from sklearn_dsc._selection import FEW_KEPT_SHRINKAGE, SPANNED_SHRINKAGES

    rng = np.random.RandomState(0)

    def generated(n_classes, n_features):
        codes = np.repeat(np.arange(n_classes), 20)
        means = rng.normal(scale=3, size=(n_classes, n_features))
        X = means[codes] + rng.normal(size=(len(codes), n_features))
        return X, np.array([f"class {code}" for code in codes])

    # halves of 5 classes in 24 features, 6 in 3; outside the suite 8 in 4
    # and 4 in 2 (sets of 2 held-out classes keep 2: too few to choose)
    data = {"wide": generated(10, 24), "narrow": generated(12, 3)}
    data.update(panel=generated(16, 4), few=generated(8, 2))
    monkeypatch.setattr(tabular_suite, "SUITE", dict.fromkeys(["wide", "narrow"]))
    outside = dict.fromkeys(["panel", "few"])
    monkeypatch.setattr(tabular_spanned, "OUTSIDE_THE_SUITE", outside)
    monkeypatch.setattr(tabular_suite, "load", lambda name, datasets=None: data[name])
    assert list(tabular_spanned.spanned_datasets()) == ["narrow", "panel", "few"]

    tabular_spanned.main(["--seeds", "2", "--output", str(tmp_path)])
    results = json.loads((tmp_path / "tabular_spanned.json").read_text())
    assert list(results) == ["narrow", "panel", "few"]
    columns = [
        tabular_suite.DEFAULTS,
        *map(tabular_spanned.name_of, tabular_spanned.ANCHORS),
    ]
    for name, result in results.items():
        for run in result["runs"]:
            assert run["init"] == "plda"
            if name == "few":  # the sets keep too few classes: not compared
                assert run["shrinkage"] == FEW_KEPT_SHRINKAGE
            else:
                assert run["shrinkage"] in SPANNED_SHRINKAGES
            assert set(run["nmi"]) == {*tabular_suite.METHODS, *columns}
    table = (tmp_path / "tabular_spanned.md").read_text()
    kept = {"narrow": 4, "panel": 6, "few": 2}  # training classes less 2 held out
    for name, result in results.items():
        best, _, gap = tabular_spanned.gaps(result["runs"], columns)
        row = next(
            line for line in table.splitlines() if line.startswith(f"| {name} (")
        )
        assert f"| {best} " in row
        assert all(f"| {gap[column]:+.3f} |" in row for column in columns)
        assert row.endswith(f"| {kept[name]} |")
    assert "| within 0.005 | | " in table


def test_few_classes_sets_the_defaults_beside_the_anchor_samples_choose(
    tmp_path, monkeypatch
):
    import few_classes

    from helpers import informative_and_noise

    X, y = informative_and_noise(n_classes=8, n_per_class=20)
    case = (lambda: (X, y, None, None), True)
    monkeypatch.setattr(few_classes, "CASES", {"blobs": case})
    arguments = ["--datasets", "blobs", "--classes", "3", "--draws", "2"]
    few_classes.main([*arguments, "--output", str(tmp_path)])
    runs = json.loads((tmp_path / "few_classes.json").read_text())["blobs, 3 classes"]
    assert len(runs) == 2
    for run in runs:
        assert set(run["nmi"]) == set(few_classes.METHODS)
        # 3 classes leave 22 of the 24 directions unspanned: few enough
        assert run["kept"]["defaults"] == "plda"
    table = (tmp_path / "few_classes.md").read_text()
    row = next(line for line in table.splitlines() if line.startswith("| blobs, 3"))
    mean = np.mean([run["nmi"]["defaults"] for run in runs])
    assert f"{mean:.3f} ± " in row
    # the unseen classes are the five not drawn, standardised by the three
    X_train, _, _, y_test = few_classes.drawn(case[0](), 3, 0, True)
    assert len(np.unique(y_test)) == 5
    np.testing.assert_allclose(X_train.mean(axis=0), 0, atol=1e-12)


def test_few_classes_seen_scores_the_training_classes_new_rows(tmp_path, monkeypatch):
    import few_classes
    import few_kept_span

    from helpers import informative_and_noise

    X, y = informative_and_noise(n_classes=10, n_per_class=20, n_noise=60)
    monkeypatch.setattr(
        few_classes, "CASES", {"blobs": (lambda: (X, y, None, None), True)}
    )
    loaders = {"narrow": lambda: (X[:, :8], y, True), "wide": lambda: (X, y, True)}
    monkeypatch.setattr(few_kept_span, "loaders", lambda: loaders)
    arguments = ["--seen", "--datasets", "blobs", "--classes", "3", "--draws", "2"]
    few_classes.main([*arguments, "--output", str(tmp_path)])
    results = json.loads((tmp_path / "few_classes_seen.json").read_text())
    cases, spans = (
        results[few_classes.FEW_CLASSES_DATASETS],
        results[few_classes.SPAN_DATASETS],
    )
    assert list(cases) == ["blobs, 3 classes"]
    assert list(spans) == ["narrow"]  # too many directions left in "wide"
    assert spans["narrow"]["shape"] == [200, 8, 10]
    table = (tmp_path / "few_classes_seen.md").read_text()
    for name, result, row_start in (
        ("blobs, 3 classes", cases["blobs, 3 classes"], "| blobs, 3 classes |"),
        ("narrow", spans["narrow"], "| narrow (200, 8, 10) |"),
    ):
        draws = result["draws"]
        assert len(draws) == 2, name
        for draw in draws:
            assert set(draw) == {"defaults", few_classes.WITH_HEAD}
            for scores in draw.values():
                assert set(scores) == {*few_classes.SEEN_SCORES, "fit s"}
                assert 0 <= scores["accuracy"] <= 1
                assert scores["fit s"] > 0
        gains = [few_classes.seen_gain(draws, what) for what in few_classes.SEEN_SCORES]
        row = next(line for line in table.splitlines() if line.startswith(row_start))
        assert row == f"{row_start} " + " | ".join(f"{g:+.3f}" for g in gains) + " |"
    gain = few_classes.seen_gain(spans["narrow"]["draws"], "unseen")
    assert f"- unseen classes: {gain:+.3f} on average over 1 datasets" in table
    gain = few_classes.seen_gain(cases["blobs, 3 classes"]["draws"], "unseen")
    assert f"- unseen classes: {gain:+.3f} on average over 1 settings" in table


def test_few_classes_kept_span_compares_the_defaults_with_a_head_and_whitened(
    tmp_path, monkeypatch
):
    import few_classes
    import few_kept_span

    from helpers import informative_and_noise

    X, y = informative_and_noise(n_classes=10, n_per_class=20, n_noise=60)
    # 2 training classes leave 7 of 8 features unspanned, and 63 of 64
    loaders = {"narrow": lambda: (X[:, :8], y, True), "wide": lambda: (X, y, True)}
    monkeypatch.setattr(few_kept_span, "loaders", lambda: loaders)
    few_classes.main(["--kept-span", "--draws", "2", "--output", str(tmp_path)])
    results = json.loads((tmp_path / "few_classes_kept_span.json").read_text())
    assert list(results) == ["narrow"]  # too many directions left in "wide"
    draws = results["narrow"]["draws"]
    assert results["narrow"]["shape"] == [200, 8, 10]
    assert [draw["kept"] for draw in draws] == [
        {
            few_classes.WHITENED: "whitened",
            few_classes.WITH_HEAD: "plda",
            "defaults": "plda",
        }
    ] * 2
    for draw in draws:
        assert set(draw["nmi"]) == set(few_classes.SPAN_METHODS)
    # the draws are few_kept_span's, with 2 training classes and then 3
    for seed, n_train in ((0, 2), (1, 3)):
        _, y_train, _, _ = few_kept_span.drawn(X[:, :8], y, seed, True, smallest=2)
        assert len(np.unique(y_train)) == n_train

    gains = {
        what: np.mean([d["nmi"][method] - d["nmi"][other] for d in draws])
        for what, (method, other) in few_classes.KEPT_SPAN_GAINS.items()
    }
    assert list(gains) == [
        "the head left out",
        "the PLDA anchor, a head beside each",
        "the PLDA anchor, both alone",
    ]
    table = (tmp_path / "few_classes_kept_span.md").read_text()
    row = next(line for line in table.splitlines() if line.startswith("| narrow ("))
    assert row.startswith("| narrow (200, 8, 10) |")
    assert row.endswith(" | ".join(f"{g:+.3f}" for g in gains.values()) + " |")
    for what, gain in gains.items():
        assert f"- {what}: {gain:+.3f} on average over 1 datasets" in table
    # the whitened anchor alone is what the defaults keep on wide inputs
    halves = few_kept_span.drawn(X, y, 0, True, smallest=2)
    wide = few_classes.measure(*halves, 0, methods=few_classes.SPAN_METHODS)["nmi"]
    assert wide["defaults"] == pytest.approx(wide[few_classes.WHITENED_ALONE])


def test_tabular_choices_bar_counts_a_share_of_datasets_and_a_floor():
    import tabular_choices

    assert tabular_choices.meets_the_bar([0.0] * 8 + [-0.004] + [-0.02] * 2)
    assert not tabular_choices.meets_the_bar([0.0] * 8 + [-0.02] * 3)  # 8 of 11
    assert not tabular_choices.meets_the_bar([0.0] * 10 + [-0.031])  # below the floor


def test_tabular_choices_scale_the_chosen_shrinkage_by_the_share_kept():
    import selection_criteria
    import tabular_choices

    from helpers import informative_and_noise

    X, codes = informative_and_noise(n_classes=10, n_per_class=30)
    fitted = selection_criteria.maps(X, codes, 0)
    init, shrinkage = tabular_choices.defaults_choice(X, codes, 0)
    assert init in ("whitened", "plda")  # the noise is shared by the classes
    _, name = tabular_choices.chosen(tabular_choices.SCALED, X, codes, 0, fitted)
    assert name == f"{init} {shrinkage * 7 / 10:g}"  # 3 of 10 classes held out
    transform, name = tabular_choices.chosen(
        tabular_choices.SIDE_BY_SIDE, X, codes, 0, fitted
    )
    assert transform(X[:3]).shape == (3, 5 * X.shape[1])


def test_selection_criteria_on_separated_classes():
    import selection_criteria

    rng = np.random.RandomState(0)
    codes = np.repeat(np.arange(4), 25)
    embedding = 50.0 * np.eye(4)[codes] + rng.normal(size=(100, 4))
    assert selection_criteria.nearest_mean(embedding, codes, 0) == 1.0
    assert 0.9 < selection_criteria.centroid_silhouette(embedding, codes, 0) <= 1
    # the loss sees the column space only: an invertible map changes nothing
    mixed = embedding @ rng.normal(size=(4, 4))
    assert selection_criteria.minus_loss(mixed, codes, 0) == pytest.approx(
        selection_criteria.minus_loss(embedding, codes, 0)
    )


def test_readouts_of_one_embedding(tmp_path, monkeypatch):
    import readouts
    import tabular_suite

    from helpers import informative_and_noise

    rng = np.random.RandomState(0)
    train, test = (
        rng.normal(size=(50, 4)) @ rng.normal(size=(4, 4)),
        rng.normal(size=(20, 4)),
    )
    white = readouts.whitened(train, train, 3)
    np.testing.assert_allclose(np.cov(white, rowvar=False), np.eye(4), atol=1e-9)
    np.testing.assert_allclose(
        np.linalg.norm(readouts.l2_rows(train, test, 3), axis=1), 1.0
    )
    assert readouts.spectral_step(train, test, 3).shape == (20, 3)

    X, codes = informative_and_noise(n_classes=8, n_per_class=20)
    labels = np.array([f"class {code}" for code in codes])
    name = next(iter(tabular_suite.SUITE))
    monkeypatch.setattr(tabular_suite, "load", lambda dataset: (X, labels))
    arguments = ["--datasets", name, "--models", "defaults", "--seeds", "1"]
    readouts.main([*arguments, "--output", str(tmp_path)])
    results = json.loads((tmp_path / "readouts.json").read_text())
    assert set(results[name]["defaults"]) == set(readouts.READOUTS)
    assert f"| {name} | defaults | " in (tmp_path / "readouts.md").read_text()


def test_epoch_criteria_records_the_unseen_rows_in_their_own_anchor_columns():
    import epoch_criteria
    import torch

    from sklearn_dsc._networks import AnchoredEmbedding
    from sklearn_dsc._selection import NEAREST_MEAN_NMI, HeldOut

    rng = np.random.RandomState(0)
    X, X_test = rng.normal(size=(30, 4)), rng.normal(size=(20, 4))
    codes, y_test = np.repeat(np.arange(3), 10), np.repeat([5, 6], 10)
    torch.manual_seed(0)
    module = AnchoredEmbedding(torch.nn.Linear(4, 2), torch.nn.Linear(4, 3))
    module.head_scale.fill_(1.0)
    held_out = HeldOut(X, codes, "cpu", kmeans_seed=0)
    held_out.rank(module)  # the anchor's columns of the held-out rows, kept
    records = []
    score = epoch_criteria.recording_score(records, X_test, y_test)
    assert score(held_out, module, NEAREST_MEAN_NMI) == max(
        entry[NEAREST_MEAN_NMI] for entry in records[0]
    )
    assert [entry["weight"] for entry in records[0]] == list(held_out.anchor_weights)
    assert all(0 <= entry["unseen"] <= 1 for entry in records[0])


def test_epoch_criteria_names_the_settings_of_the_recorded_fits():
    from epoch_criteria import fits_described

    assert fits_described({"a": [{}, {"options": {}}]}) == "The fits are the defaults'."
    longer = {"tol": 1e-4, "n_iter_no_change": 10}
    text = fits_described({"a": [{"options": longer}], "b": [{"options": longer}]})
    assert text.startswith("The fits are the defaults' but for `n_iter_no_change=10`, ")
    assert "`tol=0.0001`:" in text
    mixed = fits_described({"a": [{"options": longer}, {}]})
    assert "`tol=0.0001`; the defaults:" in mixed


def test_epoch_criteria_choose_from_the_records_of_a_fit():
    import epoch_criteria as ec

    def entry(weight, kmeans, nearest, unseen):
        seconds = {ec.KMEANS: 1.0, ec.NEAREST_MEAN: 0.1}
        return {
            "weight": weight,
            ec.KMEANS: kmeans,
            ec.NEAREST_MEAN: nearest,
            "unseen": unseen,
            "seconds": seconds,
        }

    records = [
        [entry(None, 0.5, 0.6, 0.50)],  # the start
        [entry(1.0, 0.7, 0.6, 0.40), entry(2.0, 0.6, 0.7, 0.60)],
        [entry(1.0, 0.5, 0.8, 0.55), entry(2.0, 0.65, 0.75, 0.45)],
    ]
    chosen, seconds = ec.choice(records, ec.KMEANS, 1)
    assert (chosen["unseen"], seconds) == (0.40, 5.0)
    chosen, seconds = ec.choice(records, ec.NEAREST_MEAN, 1)
    assert chosen["unseen"] == 0.55
    assert seconds == pytest.approx(0.5)
    # the nearest mean's epoch (the last), k-means' weight there (2.0)
    chosen, seconds = ec.choice(records, ec.RULES[2], 1)
    assert chosen["unseen"] == 0.45
    assert seconds == pytest.approx(2.5)
    # every second epoch: the start and the last
    assert ec.scored_epochs(records, 2) == [records[0], records[2]]
    rows = ec.summary([{"records": records}])
    assert rows[(ec.KMEANS, 1)]["shortfall"] == pytest.approx(0.20)
    assert rows[(ec.NEAREST_MEAN, 1)]["shortfall"] == pytest.approx(0.05)
    assert np.isnan(rows[(ec.RULES[2], 1)]["rho"])


def test_epoch_criteria_score_the_unseen_classes_on_a_sample_of_each():
    import epoch_criteria as ec

    y = np.repeat([0, 1, 2], [5, 80, 30])
    rows = ec.unseen_sample(y, 20, seed=0)
    assert np.bincount(y[rows]).tolist() == [5, 20, 20]
    assert (np.diff(rows) > 0).all()
    np.testing.assert_array_equal(rows, ec.unseen_sample(y, 20, seed=0))
    np.testing.assert_array_equal(ec.unseen_sample(y, None, 0), np.arange(len(y)))


def test_zero_shot_names_the_anchor_each_of_our_fits_kept(tmp_path):
    import zero_shot

    zero_shot.main(
        [
            "--datasets",
            "digits",
            "--methods",
            "raw features",
            "ours, defaults",
            "--seeds",
            "2",
            "--output",
            str(tmp_path),
        ]
    )
    rows = json.loads((tmp_path / "zero_shot.json").read_text())["digits"]
    # 5 training classes: every set of held-out classes keeps 3, and the
    # whitened anchor at the default shrinkage is kept
    assert [run["anchor"] for run in rows["ours, defaults"]] == ["whitened 0.1"] * 2
    assert all("anchor" not in run for run in rows["raw features"])
    line = "Anchors kept, seed by seed: *ours, defaults* whitened 0.1, whitened 0.1."
    assert line in (tmp_path / "zero_shot.md").read_text()


def test_plda_compared_adds_the_plda_anchor_where_many_classes_leave_it_out(
    monkeypatch, capsys
):
    import plda_compared

    from sklearn_dsc import _selection

    def compared(names):
        return plda_compared.with_plda(lambda: (names, (0.1,)))()[0]

    assert compared(["pca", "whitened"]) == ["pca", "whitened", "plda"]
    assert compared(["plda"]) == ["plda"]  # alone where the classes span
    assert compared(["whitened"]) == ["whitened"]  # kept, not compared
    original = _selection.compared_anchors

    def fitted(*halves):  # 1: the defaults' candidates, 0: patched ones
        return float(_selection.compared_anchors is original), "anchor"

    monkeypatch.setattr(plda_compared, "defaults", fitted)
    many = plda_compared.measure("glyphs", None, None, None, None, 0, True)
    assert many["nmi"] == {"without PLDA": 1.0, "with PLDA": 0.0}
    few = plda_compared.measure("glyphs", None, None, None, None, 0)
    assert few["nmi"] == {"without PLDA": 0.0, "with PLDA": 1.0}
    with pytest.raises(SystemExit):
        plda_compared.main(["--many-classes", "--datasets", "letters"])
    assert "--many-classes takes datasets of" in capsys.readouterr().err


def test_plda_compared_measures_the_defaults_with_and_without_the_plda_anchor(
    tmp_path, monkeypatch
):
    import plda_compared
    import tabular_suite

    from helpers import informative_and_noise

    # 12 training classes in 24 features (not spanned), 4 of them held out:
    # the PLDA anchor is compared beside the others, and chosen
    X, y = informative_and_noise(n_classes=24, n_per_class=40)
    labels = np.array([f"class {code}" for code in y])
    monkeypatch.setattr(plda_compared, "TABULAR", ["blobs"])
    monkeypatch.setattr(plda_compared, "OUTSIDE_THE_SUITE", {"blobs": None})
    monkeypatch.setattr(tabular_suite, "load", lambda name, datasets: (X, labels))
    images, codes = informative_and_noise(n_classes=12, n_per_class=30, seed=1)
    halves = codes < 6
    split = images[halves], codes[halves], images[~halves], codes[~halves]
    monkeypatch.setitem(plda_compared.DATASETS, "images", lambda: split)
    monkeypatch.setattr(plda_compared, "FEWER_CLASSES", {"images": (7, 3, 10, None)})

    plda_compared.main(["--seeds", "2", "--output", str(tmp_path)])
    results = json.loads((tmp_path / "plda_compared.json").read_text())
    assert list(results) == ["blobs", "images"]
    for name, runs in results.items():
        others = set(tabular_suite.OTHERS) if name == "blobs" else set()
        for run in runs:
            assert set(run["nmi"]) == {"without PLDA", "with PLDA", *others}
            assert not run["anchor"]["without PLDA"].startswith("plda")
    blobs = results["blobs"]
    assert all(run["anchor"]["with PLDA"].startswith("plda") for run in blobs)
    table = (tmp_path / "plda_compared.md").read_text()
    row = next(line for line in table.splitlines() if line.startswith("| blobs |"))
    without = np.mean([run["nmi"]["without PLDA"] for run in blobs])
    with_plda = np.mean([run["nmi"]["with PLDA"] for run in blobs])
    assert f"| {with_plda - without:+.3f} |" in row
    assert "| images | n/a |" in table
    # the tables again from the JSON alone
    again = tmp_path / "again"
    json_path = str(tmp_path / "plda_compared.json")
    plda_compared.main(["--results", json_path, "--output", str(again)])
    assert (again / "plda_compared.md").read_text() == table

    # a seed's draw: 7 training classes and 3 others, at most 10 rows each,
    # from both halves of the split
    X_train, y_train, X_test, y_test = plda_compared.drawn_classes(
        *split, 0, (7, 3, 10, None)
    )
    assert len(np.unique(y_train)) == 7
    assert len(np.unique(y_test)) == 3
    assert not set(y_train) & set(y_test)
    assert np.bincount(np.concatenate([y_train, y_test])).max() == 10
    assert len(X_train) == len(y_train)
    assert len(X_test) == len(y_test)


def test_few_kept_span_sets_the_fixed_anchor_by_the_directions_left_unspanned(
    tmp_path, monkeypatch
):
    import few_kept_span

    from sklearn_dsc import _selection

    from helpers import informative_and_noise

    X, y = informative_and_noise(n_classes=10, n_per_class=20, n_noise=60)
    # 4 or 5 training classes span all but 5 of 8 features or fewer, and all
    # but 60 or 61 of 64
    loaders = {"narrow": lambda: (X[:, :8], y, True), "wide": lambda: (X, y, True)}
    monkeypatch.setattr(few_kept_span, "loaders", lambda: loaders)
    unspanned = _selection.FEW_KEPT_UNSPANNED
    few_kept_span.main(["--draws", "2", "--output", str(tmp_path)])
    assert unspanned == _selection.FEW_KEPT_UNSPANNED  # put back after each fit
    results = json.loads((tmp_path / "few_kept_span.json").read_text())
    for name, anchor, span in (
        ("narrow", "plda ledoit-wolf", few_kept_span.NEARLY),
        ("wide", "whitened 0.1", few_kept_span.LESS),
    ):
        for draw in results[name]["draws"]:
            assert set(draw["nmi"]) == set(few_kept_span.METHODS)
            assert draw["kept"] == {
                "defaults": anchor,
                few_kept_span.SPANNED_ONLY: "whitened 0.1",
            }
            assert draw["span"] == span
    table = (tmp_path / "few_kept_span.md").read_text()
    row = next(line for line in table.splitlines() if line.startswith("| narrow ("))
    draws = results["narrow"]["draws"]
    gain = np.mean(
        [d["nmi"]["defaults"] - d["nmi"][few_kept_span.SPANNED_ONLY] for d in draws]
    )
    assert f"| {gain:+.3f} | plda ledoit-wolf 2 |" in row
    # the tables again from the JSON alone
    again = tmp_path / "again"
    json_path = str(tmp_path / "few_kept_span.json")
    few_kept_span.main(["--results", json_path, "--output", str(again)])
    assert (again / "few_kept_span.md").read_text() == table
    assert "| 5 | 1 |" in table  # 8 features, 4 classes: 5 directions unspanned
    assert "| more than 40 | 1 |" in table
    assert "| 6 to 10 |" not in table
    # 4 training classes on even draws, 5 on odd ones; up to 5 others,
    # standardised by the training classes
    for draw, n_train in ((0, 4), (1, 5)):
        X_train, y_train, _, y_test = few_kept_span.drawn(X, y, draw, True)
        assert len(np.unique(y_train)) == n_train
        assert len(np.unique(y_test)) == 5
        assert set(y_train).isdisjoint(y_test)
        np.testing.assert_allclose(X_train.mean(axis=0), 0, atol=1e-12)


def test_few_kept_span_more_measures_the_more_datasets_alone(tmp_path, monkeypatch):
    import few_kept_span

    from helpers import informative_and_noise

    X, y = informative_and_noise(n_classes=10, n_per_class=20)
    loaders = {"suite": lambda: (X[:, :8], y, True), "more": lambda: (X, y, True)}
    monkeypatch.setattr(few_kept_span, "loaders", lambda: loaders)
    monkeypatch.setattr(few_kept_span, "MORE_DATASETS", {"more": None})
    few_kept_span.main(["--draws", "1", "--output", str(tmp_path)])
    few_kept_span.main(["--more", "--draws", "1", "--output", str(tmp_path)])
    suite = json.loads((tmp_path / "few_kept_span.json").read_text())
    more = json.loads((tmp_path / "few_kept_span_more.json").read_text())
    assert list(suite) == ["suite"]
    assert list(more) == ["more"]
    table = (tmp_path / "few_kept_span_more.md").read_text()
    assert table.startswith("# Four or five training classes: the fixed anchor on more")
    assert "`python benchmarks/few_kept_span.py --more` (1 draws" in table


def test_few_kept_span_fresh_measures_the_fresh_datasets_alone(
    tmp_path, monkeypatch, capsys
):
    import few_kept_span
    import tabular_suite

    from helpers import informative_and_noise

    X, y = informative_and_noise(n_classes=10, n_per_class=20)
    loaders = {"suite": lambda: (X[:, :8], y, True), "fresh": lambda: (X, y, True)}
    monkeypatch.setattr(few_kept_span, "loaders", lambda: loaders)
    monkeypatch.setattr(tabular_suite, "FRESH", {"fresh": None})
    few_kept_span.main(["--fresh", "--draws", "1", "--output", str(tmp_path)])
    assert list(json.loads((tmp_path / "few_kept_span_fresh.json").read_text())) == [
        "fresh"
    ]
    assert not (tmp_path / "few_kept_span.json").exists()
    table = (tmp_path / "few_kept_span_fresh.md").read_text()
    assert table.startswith("# Four or five training classes: the fixed anchor on data")
    assert "`python benchmarks/few_kept_span.py --fresh` (1 draws" in table
    with pytest.raises(SystemExit):  # one page a run
        few_kept_span.main(["--fresh", "--more", "--output", str(tmp_path)])
    assert "not allowed with argument" in capsys.readouterr().err


def test_few_kept_span_reads_the_vowels_as_mlbench_ships_them():
    import few_kept_span

    if not few_kept_span.MLBENCH.exists():
        pytest.skip("benchmarks/install_data.sh has not run")
    pytest.importorskip("rdata")
    X, y = few_kept_span.vowels_by_sound()
    assert X.shape == (990, 9)
    assert np.isfinite(X).all()
    assert np.unique(y, return_counts=True)[1].tolist() == [90] * 11


def test_few_kept_span_states_the_oas_shrinkage_as_the_anchors_count_it():
    import few_kept_span
    from sklearn.covariance import oas
    from sklearn.decomposition import PCA

    from helpers import informative_and_noise

    X, y = informative_and_noise(n_classes=5, n_per_class=20)
    codes = np.unique(y, return_inverse=True)[1]
    shrinkage = few_kept_span.fitted_shrinkage(X, codes)
    means = np.array([X[codes == c].mean(axis=0) for c in range(5)])
    residuals = X - means[codes]
    within = residuals.T @ residuals / len(X)
    shrunk, rho = oas(residuals)
    # the largest variance as the anchors take it: PCA's explained variance
    largest = PCA(1).fit(X).explained_variance_[0]
    # the anchors whiten within + shrinkage * largest * I: OAS's estimate, scaled
    np.testing.assert_allclose(
        (1 - rho) * (within + shrinkage * largest * np.eye(X.shape[1])), shrunk
    )
    assert 0 < rho < 1
    isotropic = np.random.default_rng(0).normal(size=(400, 3))
    assert few_kept_span.fitted_shrinkage(isotropic, np.arange(400) % 4) is None


def test_scored_rows_chooses_on_fewer_rows_and_puts_the_budget_back(
    tmp_path, monkeypatch
):
    import scored_rows

    from sklearn_dsc import _selection

    from helpers import informative_and_noise

    X, y = informative_and_noise(n_classes=24, n_per_class=40)
    train = y < 16
    small = {"small": lambda: (X[train], y[train], X[~train], y[~train])}
    monkeypatch.setattr(scored_rows, "LOADERS", small)

    def budget():
        return _selection.MAX_SCORED_ROWS, _selection.MIN_SCORED_ROWS_PER_CLASS

    before = budget()
    scored_rows.main(["--seeds", "1", "--output", str(tmp_path)])
    assert budget() == before
    results = json.loads((tmp_path / "scored_rows.json").read_text())
    for seed in results["small"]:
        assert list(seed) == list(scored_rows.LEVELS)
        # 5 held-out classes of 40 rows: the defaults score every row
        for part in ("anchor", "nmi"):
            assert seed[scored_rows.DEFAULTS][part] == seed[scored_rows.EVERY_ROW][part]
    assert scored_rows.scored_rows(30, 5) == 150
    assert scored_rows.scored_rows(None, 5) == _selection.MAX_SCORED_ROWS
    assert scored_rows.scored_rows(np.inf, 5) > 5 * _selection.MAX_SCORED_ROWS_PER_CLASS
    table = (tmp_path / "scored_rows.md").read_text()
    assert "| small | " in table
    assert ", 1 of 1 | " in table  # every row chose what every row chose


def test_text_features_compares_the_kept_directions_with_the_inputs(
    tmp_path, monkeypatch
):
    """Subjects of words of their own, as TF-IDF: every row of the table,
    the share of the variance that the directions kept hold, and the
    estimator's fits."""
    import text_features

    rng = np.random.default_rng(0)

    def texts(subjects):
        y = np.repeat(subjects, 12)
        words = [
            " ".join([*rng.choice([f"s{s}w{j}" for j in range(6)], 4), "the", "of"])
            for s in y
        ]
        return np.array(words), y

    def dictionary_texts():
        return (*texts(np.arange(4)), *texts(np.arange(4, 8)))

    def dictionary():
        X = rng.normal(size=(96, 5)) + np.repeat(np.eye(8, 5) * 4, 12, axis=0)
        y = np.repeat(np.arange(8), 12)
        return X[:48], y[:48], X[48:], y[48:]

    monkeypatch.setattr(text_features, "dictionary_texts", dictionary_texts)
    monkeypatch.setattr(text_features, "dictionary", dictionary)
    monkeypatch.setattr(text_features, "MAX_ANCHOR_WIDTH", 4)
    # 2 words of their own for each of the 40 subjects, 40 shared
    generated_words = functools.partial(text_features.generated_words, own=2)
    monkeypatch.setattr(text_features, "generated_words", generated_words)
    text_features.main(
        [
            "--seeds",
            "1",
            "--widths",
            "2",
            "--dense",
            "digits",
            "--generated-words",
            "120",
            "--generated-rows",
            "4",
            "--few-rows",
            "2",
            "--output",
            str(tmp_path),
        ]
    )
    results = json.loads((tmp_path / "text_features.json").read_text())
    # the 64 pixels of the digits: 4 directions hold part of their variance
    assert 0.5 < results["dense_top_directions_share"]["digits"] < 1
    assert results["n_words"] == 26  # the 24 words of the training subjects
    assert 0 < results["top_directions_share"] < 1
    assert list(results["tfidf"]) == [
        "TF-IDF rows themselves",
        "PCA, 2 directions",
        "PCA, every direction (26)",
        "the PCA anchor, its directions alone",
        "the PCA anchor",
        "defaults, the anchors' directions alone",
        "defaults",
        'init="random"',
    ]
    assert all(0 <= row["nmi"] <= 1 for row in results["tfidf"].values())
    assert results["tfidf"]["defaults"]["fit_seconds"] > 0
    generated = results["generated"]
    assert generated["n_training_rows"] == 80  # 20 subjects of 4 documents
    assert 0 < generated["top_directions_share"] < 1
    assert list(generated["rows"])[:3] == [
        "the rows themselves",
        "the PCA anchor, its directions alone",
        "the PCA anchor",
    ]
    few = results["few_rows"]
    assert few["n_training_rows"] == 40  # 20 subjects of 2 documents
    assert list(few["rows"]) == list(generated["rows"])
    table = (tmp_path / "text_features.md").read_text()
    assert "TF-IDF features of 26 words, whose top 4 principal" in table
    assert table.count("\n| sentence embeddings |") == 2
    assert table.count("\n| generated |") == 6
    assert table.count("\n| generated, few rows |") == 6
    assert "*generated, few rows*: the same documents, 40 training rows" in table
    assert "of the benchmark's dense datasets hold: digits " in table


def test_few_rows_fits_the_defaults_both_ways_on_few_rows_a_class(
    tmp_path, monkeypatch
):
    """Each number of rows a class, drawn per seed, fitted with the held-out
    nearest mean leaving the row out and counting it; the library's own
    scoring restored after."""
    import few_rows

    from sklearn_dsc import _selection

    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(24), 8)
    X = rng.normal(size=(len(y), 6)) + 3 * rng.normal(size=(24, 6))[y]
    train = y < 12
    split = X[train], y[train], X[~train], y[~train]
    monkeypatch.setitem(few_rows.DATASETS, "blobs", lambda: split)
    saved = _selection._own_mean_without_the_row, _selection._nearest_nmi
    arguments = ["--datasets", "blobs", "--rows", "2", "0", "--seeds", "1"]
    few_rows.main([*arguments, "--output", str(tmp_path)])
    assert (_selection._own_mean_without_the_row, _selection._nearest_nmi) == saved
    results = json.loads((tmp_path / "few_rows.json").read_text())["blobs"]
    assert 0 < results["inputs"] <= 1
    assert {rows: run["n_rows"] for rows, run in results["rows"].items()} == {
        "2": 24,
        "0": 96,
    }
    for run in results["rows"].values():
        for way in (few_rows.LEFT_OUT, few_rows.COUNTED):
            assert len(run[way]) == 1
            assert all(0 <= fit["nmi"] <= 1 and fit["dims"] > 0 for fit in run[way])
    table = (tmp_path / "few_rows.md").read_text()
    assert "| blobs | 2 (24) |" in table
    assert "| blobs | every row (96) |" in table
    assert "Over the 2 rows: the difference is" in table
    # the tables of the run again, from its JSON alone
    (tmp_path / "few_rows.md").unlink()
    rerun = ["--results", str(tmp_path / "few_rows.json"), "--output", str(tmp_path)]
    few_rows.main(rerun)
    assert (tmp_path / "few_rows.md").read_text() == table


def test_few_rows_counting_the_row_in_its_mean_sees_two_rows_apart():
    """Counted in its own class's mean, a row of a class of two is nearest
    that mean whatever the rows: noise looks perfectly apart."""
    import few_rows

    from sklearn_dsc._selection import nearest_mean_nmi

    points = np.random.default_rng(0).normal(size=(60, 32))
    codes = np.repeat(np.arange(30), 2)
    assert nearest_mean_nmi(points, codes) < 0.9
    with few_rows.row_in_its_mean():
        assert nearest_mean_nmi(points, codes) == 1
    assert nearest_mean_nmi(points, codes) < 0.9
    drawn = few_rows.drawn_rows(np.repeat([0, 1, 2], [5, 1, 3]), 2, seed=0)
    assert sorted(np.repeat([0, 1, 2], [5, 1, 3])[drawn]) == [0, 0, 1, 2, 2]
