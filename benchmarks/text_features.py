"""Bag-of-words features: what keeping 256 principal directions costs, and
what the projection of the rest gives back.

The PCA, whitened and PLDA anchors keep at most ``MAX_ANCHOR_WIDTH`` (256)
principal directions of the training classes' inputs. Dense features such
as pixels or sentence embeddings hold 97 % of their variance or more in
them (glyphs, fonts, MNIST, Fashion-MNIST and the dictionary's sentence
embeddings); bag-of-words features spread it over thousands of words, and
new classes with words of their own differ in the directions left out.
Where the directions hold less than ``RESIDUAL_SHARE`` (95 %), the anchors
carry a random projection of the rest (``sklearn_dsc._residual``).

This measures it on the dictionary's definitions (``datasets.dictionary``:
51 subjects seen, 51 unseen) as TF-IDF features, the vocabulary that of the
training definitions (words in two of them or more, sublinear term
frequencies), against the sentence embeddings of the same definitions;
and on generated documents (``generated_words``) whose 40 subjects each
have words of their own beside words that all share, 20 subjects seen.
Each row is clustered by k-means, as many clusters as unseen subjects:
NMI, mean over ``--seeds`` k-means seeds, on the one split. Beside the
estimator (defaults, and ``init="random"``, whose network reads every
feature), the inputs themselves, their top principal directions of the
training rows, and the PCA anchor; the anchor and the defaults also with
the directions alone, as they were before the projection of the rest.

The same generated documents, ``--few-rows`` of each subject for training
(100 rows), show the rest carried where the training rows are fewer than
the directions could be: their 99 directions hold all of their variance,
whatever the inputs, and the anchors carry the rest of the inputs beside
them (``_residual._holds_enough``); the rows "directions alone" as before.

    python benchmarks/text_features.py
"""

import argparse
import contextlib
import time

import numpy as np
import scipy.sparse as sp
from datasets import DATASETS, dictionary, dictionary_texts
from outputs import add_output, write_results

from sklearn_dsc import DeepSpectralClusteringEmbedder, _residual
from sklearn_dsc._anchors import MAX_ANCHOR_WIDTH, anchor_maps
from sklearn_dsc._pca import principal_directions
from sklearn_dsc._residual import kept_and_total_variance
from sklearn_dsc.metrics import kmeans_nmi

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


def generated_words(n_words, rows_per_class, n_classes=40, own=50, seed=0):
    """TF-IDF rows of generated documents, ``(X_train, y_train, X_test,
    y_test)``: the first half of ``n_classes`` subjects for training. Each
    subject has ``own`` words of its own; a document holds 10 of them
    (drawn with replacement) and 30 of the other ``n_words`` words, which
    every subject shares, drawn by Zipf's law."""
    from sklearn.feature_extraction.text import TfidfTransformer

    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(n_classes), rows_per_class)
    n_shared = n_words - n_classes * own
    zipf = 1.0 / np.arange(1, n_shared + 1)
    words = [
        np.concatenate(
            [
                n_classes * own + rng.choice(n_shared, 30, p=zipf / zipf.sum()),
                label * own + rng.integers(own, size=10),
            ]
        )
        for label in y
    ]
    counts = sp.csr_matrix(
        (
            np.ones(sum(map(len, words))),
            np.concatenate(words),
            np.cumsum([0] + [len(w) for w in words]),
        ),
        shape=(len(y), n_words),
    )
    counts.sum_duplicates()
    X = TfidfTransformer(sublinear_tf=True).fit_transform(counts)
    seen = y < n_classes // 2
    return X[seen], y[seen], X[~seen], y[~seen]


def _share(values, width):
    """The share of the squares of singular ``values`` in the top ``width``."""
    variances = values**2
    return float(variances[:width].sum() / variances.sum())


def top_share(X, width):
    """The share of the variance of ``X`` (dense) that its top ``width``
    principal directions hold."""
    centred = np.asarray(X, dtype=np.float64) - np.mean(X, axis=0)
    return _share(np.linalg.svd(centred, compute_uv=False), width)


def principal_maps(X_train, widths):
    """``{name: embed}`` of the top principal directions of ``X_train`` at
    each width and of every direction; and the share of the variance that
    the top ``MAX_ANCHOR_WIDTH`` hold."""
    dense = X_train.toarray()
    mean = dense.mean(axis=0)
    _, values, directions = np.linalg.svd(dense - mean, full_matrices=False)
    maps = {}
    for width in widths:
        kept = directions[:width]
        maps[f"PCA, {width} directions"] = lambda X, kept=kept: (X - mean) @ kept.T
    maps[f"PCA, every direction ({len(directions)})"] = lambda X: (
        (X - mean) @ directions.T
    )
    return maps, _share(values, MAX_ANCHOR_WIDTH)


@contextlib.contextmanager
def directions_alone():
    """The anchors without the rest of the inputs, as before they carried
    it: their directions are kept alone whatever they hold."""
    holds_enough = _residual._holds_enough
    _residual._holds_enough = lambda *arguments: True
    try:
        yield
    finally:
        _residual._holds_enough = holds_enough


def anchors_and_fits(X_train, y_train, X_test, y_test, nmi):
    """The rows of the table that the library computes: the PCA anchor and
    the estimator's fits, with the projection of the rest and without."""
    rows = {}

    def pca_anchor(name):
        ((weight, bias),) = anchor_maps([("pca", None)], X_train, y_train, 0)
        rows[name] = {"nmi": nmi(np.asarray(X_test @ weight.T) + bias, y_test)}

    def fit(name, **params):
        start = time.perf_counter()
        model = DeepSpectralClusteringEmbedder(random_state=0, **params)
        model.fit(X_train, y_train)
        seconds = time.perf_counter() - start  # the fit's alone
        rows[name] = {
            "nmi": nmi(model.transform(X_test), y_test),
            "kept": f"{model.init_} {model.shrinkage_ or ''}".strip(),
            "fit_seconds": seconds,
        }
        print(name, rows[name], flush=True)

    with directions_alone():
        pca_anchor("the PCA anchor, its directions alone")
    pca_anchor("the PCA anchor")
    with directions_alone():
        fit("defaults, the anchors' directions alone")
    fit("defaults")
    fit('init="random"', init="random")
    return rows


def sparse_top_share(X, width):
    """``top_share`` of sparse ``X``, by the library's principal directions."""
    _, mean, variances = principal_directions(X, width, 0)
    kept, total = kept_and_total_variance(X.astype(np.float64), mean, variances)
    return kept / total


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
    parser.add_argument(
        "--generated-words",
        type=int,
        default=30_000,
        help="the generated documents' vocabulary (default: 30,000)",
    )
    parser.add_argument(
        "--generated-rows",
        type=int,
        default=100,
        help="generated documents per subject (default: 100)",
    )
    parser.add_argument(
        "--few-rows",
        type=int,
        default=5,
        help="generated documents per subject in the case of few training "
        "rows (default: 5)",
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
    maps, share = principal_maps(X_train, args.widths or (MAX_ANCHOR_WIDTH, 1024))
    dense_test = X_test.toarray()
    for name, embed in maps.items():
        rows[name] = {"nmi": nmi(embed(dense_test), y_test)}
        print(name, f"{rows[name]['nmi']:.3f}", flush=True)
    rows |= anchors_and_fits(X_train, y_train, X_test, y_test, nmi)
    G_train, g_train, G_test, g_test = generated_words(
        args.generated_words, args.generated_rows
    )
    generated = {"the rows themselves": {"nmi": nmi(G_test, g_test)}}
    generated |= anchors_and_fits(G_train, g_train, G_test, g_test, nmi)
    F_train, f_train, F_test, f_test = generated_words(
        args.generated_words, args.few_rows
    )
    few = {"the rows themselves": {"nmi": nmi(F_test, f_test)}}
    few |= anchors_and_fits(F_train, f_train, F_test, f_test, nmi)
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
        "generated": {
            "n_words": args.generated_words,
            "n_training_rows": G_train.shape[0],
            "top_directions_share": sparse_top_share(G_train, MAX_ANCHOR_WIDTH),
            "rows": generated,
        },
        "few_rows": {"n_training_rows": F_train.shape[0], "rows": few},
        "sentence_embeddings": sentences,
    }
    write_results(args.output, "text_features", _table(results, args.seeds), results)


def _table(results, seeds):
    generated, few = results["generated"], results["few_rows"]
    lines = [
        "# Bag-of-words features: the directions the anchors keep",
        "",
        "Generated by `python benchmarks/text_features.py`. The dictionary's "
        "definitions (51 subjects seen, 51 unseen) as TF-IDF features of "
        f"{results['n_words']} words, whose top {MAX_ANCHOR_WIDTH} principal "
        "directions on the training rows hold "
        f"{results['top_directions_share']:.0%} of the variance; generated "
        f"documents of {generated['n_words']} words (20 subjects seen in "
        f"{generated['n_training_rows']} training rows, 20 unseen), the top "
        f"{MAX_ANCHOR_WIDTH} holding {generated['top_directions_share']:.0%}. "
        "The anchors carry a random projection of the rest where the top "
        f"{MAX_ANCHOR_WIDTH} hold less than {_residual.RESIDUAL_SHARE:.0%}; "
        'the rows "directions alone" leave it out. *generated, few rows*: the '
        f"same documents, {few['n_training_rows']} training rows, whose "
        f"{few['n_training_rows'] - 1} directions hold all of their variance: "
        "the anchors carry the rest there too. k-means NMI of the unseen "
        f"subjects, mean of {seeds} k-means seeds. Why and how: the script's "
        "docstring.",
        "",
        "| features | embedding | unseen NMI | kept | fit s |",
        "|---|---|---|---|---|",
    ]
    for group, rows in (
        ("TF-IDF", results["tfidf"]),
        ("generated", generated["rows"]),
        ("generated, few rows", few["rows"]),
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
