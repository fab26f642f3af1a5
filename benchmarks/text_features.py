"""Bag-of-words features: what keeping 256 principal directions costs.

The PCA, whitened and PLDA anchors keep at most ``MAX_ANCHOR_WIDTH`` (256)
principal directions of the training classes' inputs. Dense features such
as pixels or sentence embeddings hold 97 % of their variance or more in
them (glyphs, fonts, MNIST, Fashion-MNIST and the dictionary's sentence
embeddings); bag-of-words features spread it over thousands of words, and
new classes with words of their own differ in the directions left out.

This measures it on the dictionary's definitions (``datasets.dictionary``:
51 subjects seen, 51 unseen) as TF-IDF features, the vocabulary that of the
training definitions (words in two of them or more, sublinear term
frequencies), against the sentence embeddings of the same definitions.
Each row is clustered by k-means, as many clusters as unseen subjects:
NMI, mean over ``--seeds`` k-means seeds, on the one split of the
benchmark. Beside the estimator (defaults, and ``init="random"``, whose
network reads every feature), the inputs themselves, their top principal
directions of the training rows, and those 256 directions together with a
Gaussian random projection of the rest to 768 columns (which keeps the
distances of the inputs, approximately, at a bounded width).

    python benchmarks/text_features.py
"""

import argparse
import time

import numpy as np
from datasets import DATASETS, dictionary, dictionary_texts
from outputs import add_output, write_results

from sklearn_dsc import DeepSpectralClusteringEmbedder
from sklearn_dsc._anchors import MAX_ANCHOR_WIDTH
from sklearn_dsc.metrics import kmeans_nmi

RESIDUAL_WIDTH = 768
# The benchmark's datasets of more than 256 features
DENSE = ["mnist-5k", "fashion-mnist", "glyphs", "fonts", "dictionary"]


def tfidf():
    """TF-IDF rows of the training and the unseen definitions, and their
    subjects."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts_train, y_train, texts_test, y_test = dictionary_texts()
    vectorizer = TfidfVectorizer(min_df=2, sublinear_tf=True).fit(texts_train)
    return (
        vectorizer.transform(texts_train),
        y_train,
        vectorizer.transform(texts_test),
        y_test,
    )


def _share(values, width):
    """The share of the squares of singular ``values`` in the top ``width``."""
    variances = values**2
    return float(variances[:width].sum() / variances.sum())


def top_share(X, width):
    """The share of the variance of ``X`` (dense) that its top ``width``
    principal directions hold."""
    centred = np.asarray(X, dtype=np.float64) - np.mean(X, axis=0)
    return _share(np.linalg.svd(centred, compute_uv=False), width)


def principal_maps(X_train, widths, seed):
    """``{name: embed}`` of the top principal directions of ``X_train`` at
    each width, of every direction, and of the top ``MAX_ANCHOR_WIDTH`` with
    a random projection of the rest; and the share of the variance that
    the top ``MAX_ANCHOR_WIDTH`` hold."""
    dense = X_train.toarray()
    mean = dense.mean(axis=0)
    _, values, directions = np.linalg.svd(dense - mean, full_matrices=False)
    share = _share(values, MAX_ANCHOR_WIDTH)
    maps = {}
    for width in widths:
        kept = directions[:width]
        maps[f"PCA, {width} directions"] = lambda X, kept=kept: (X - mean) @ kept.T
    maps[f"PCA, every direction ({len(directions)})"] = lambda X: (
        (X - mean) @ directions.T
    )
    top = directions[:MAX_ANCHOR_WIDTH]
    projection = np.random.default_rng(seed).normal(
        size=(dense.shape[1], RESIDUAL_WIDTH)
    ) / np.sqrt(RESIDUAL_WIDTH)

    def with_the_rest(X):
        centred = X - mean
        kept = centred @ top.T
        return np.hstack([kept, (centred - kept @ top) @ projection])

    name = (
        f"PCA, {MAX_ANCHOR_WIDTH} directions + the rest projected to {RESIDUAL_WIDTH}"
    )
    maps[name] = with_the_rest
    return maps, share


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="k-means seeds")
    parser.add_argument(
        "--dense",
        nargs="*",
        choices=DATASETS,
        default=DENSE,
        help="datasets whose training rows' share of the variance in the top "
        "directions to report beside (default: the benchmark's wider than 256)",
    )
    parser.add_argument(
        "--widths",
        type=int,
        nargs="+",
        help="numbers of principal directions to keep (default: 256 and 1024)",
    )
    add_output(parser, "text_features")
    args = parser.parse_args(argv)

    def nmi(embedding, labels):
        return float(
            np.mean(
                [
                    kmeans_nmi(embedding, labels, random_state=seed)
                    for seed in range(args.seeds)
                ]
            )
        )

    X_train, y_train, X_test, y_test = tfidf()
    print(f"TF-IDF: {X_train.shape[0]} training rows of {X_train.shape[1]} words")
    rows = {"TF-IDF rows themselves": {"nmi": nmi(X_test, y_test)}}
    widths = args.widths or (MAX_ANCHOR_WIDTH, 1024)
    maps, share = principal_maps(X_train, widths, seed=0)
    dense_test = X_test.toarray()
    for name, embed in maps.items():
        rows[name] = {"nmi": nmi(embed(dense_test), y_test)}
        print(name, f"{rows[name]['nmi']:.3f}", flush=True)
    for name, params in {
        "defaults": {},
        'init="random"': {"init": "random"},
    }.items():
        start = time.perf_counter()
        model = DeepSpectralClusteringEmbedder(random_state=0, **params)
        model.fit(X_train, y_train)
        seconds = time.perf_counter() - start
        rows[name] = {
            "nmi": nmi(model.transform(X_test), y_test),
            "kept": f"{model.init_} {model.shrinkage_ or ''}".strip(),
            "fit_seconds": seconds,
        }
        print(name, rows[name], flush=True)
    S_train, s_train, S_test, s_test = dictionary()
    sentences = {"sentence embeddings themselves": {"nmi": nmi(S_test, s_test)}}
    model = DeepSpectralClusteringEmbedder(random_state=0).fit(S_train, s_train)
    sentences["sentence embeddings, defaults"] = {
        "nmi": nmi(model.transform(S_test), s_test)
    }
    dense_shares = {}
    for name in args.dense:
        dense_shares[name] = top_share(DATASETS[name]()[0], MAX_ANCHOR_WIDTH)
        print(f"{name}: {dense_shares[name]:.3f} of the variance", flush=True)
    results = {
        "top_directions_share": share,
        "dense_top_directions_share": dense_shares,
        "n_words": X_train.shape[1],
        "tfidf": rows,
        "sentence_embeddings": sentences,
    }
    write_results(args.output, "text_features", _table(results, args.seeds), results)


def _table(results, seeds):
    lines = [
        "# Bag-of-words features: the directions the anchors keep",
        "",
        "Generated by `python benchmarks/text_features.py`. The dictionary's "
        "definitions (51 subjects seen, 51 unseen) as TF-IDF features of "
        f"{results['n_words']} words, whose top {MAX_ANCHOR_WIDTH} principal "
        "directions on the training rows hold "
        f"{results['top_directions_share']:.0%} of the variance; k-means NMI "
        f"of the unseen subjects, mean of {seeds} k-means seeds. Why and how: "
        "the script's docstring.",
        "",
        "| features | embedding | unseen NMI | kept | fit s |",
        "|---|---|---|---|---|",
    ]
    for group, rows in (
        ("TF-IDF", results["tfidf"]),
        ("sentence embeddings", results["sentence_embeddings"]),
    ):
        for name, row in rows.items():
            seconds = row.get("fit_seconds")
            lines.append(
                f"| {group} | {name} | {row['nmi']:.3f} | {row.get('kept', '')} "
                f"| {'' if seconds is None else f'{seconds:.0f}'} |"
            )
    shares = results["dense_top_directions_share"]
    if shares:
        listed = ", ".join(f"{name} {share:.1%}" for name, share in shares.items())
        lines += [
            "",
            f"The top {MAX_ANCHOR_WIDTH} principal directions of the training rows "
            f"of the benchmark's dense datasets hold: {listed} of the variance.",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
