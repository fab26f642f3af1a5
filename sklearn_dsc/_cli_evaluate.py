"""``sklearn-dsc evaluate``: clustering and retrieval quality of a model on
labelled data."""

import json

from ._cli_data import embed_data, kmeans, model_and_data
from ._files import DataError


def add(commands, debug):
    sub = commands.add_parser(
        "evaluate",
        parents=[debug],
        help="clustering quality of a model on labelled data",
        description="Embed DATA, cluster it with k-means (K = number of labels "
        "unless --n-clusters) and print NMI, AMI and Recall@K against its labels.",
    )
    model_and_data(sub, labelled=True)
    sub.add_argument(
        "--n-clusters",
        type=int,
        metavar="K",
        help="k-means' number of clusters (DATA's number of labels by default)",
    )
    sub.add_argument(
        "--k", type=int, nargs="+", default=[1, 2, 4, 8], help="Recall@K (1 2 4 8)"
    )
    sub.add_argument(
        "--random-state", type=int, default=0, metavar="SEED", help="k-means seed (0)"
    )
    sub.add_argument("--json", action="store_true", help="print JSON")
    sub.set_defaults(run=run)


def run(args):
    if min(args.k) < 1:
        raise DataError(f"--k must be positive, got {args.k}")
    _, table, embedding = embed_data(args, labelled=True)
    # after the data is read: an error in it answers before these load
    import numpy as np
    from sklearn.metrics import adjusted_mutual_info_score, normalized_mutual_info_score

    from .metrics import recall_at_k

    labels = table.target
    n_classes = len(np.unique(labels))
    n_clusters = args.n_clusters
    if n_clusters is None:  # (0 is refused by kmeans, not read as unset)
        n_clusters = n_classes
    clusters = kmeans(embedding, n_clusters, args.random_state)
    results = {
        "n_samples": len(labels),
        "n_classes": n_classes,
        "n_clusters": int(n_clusters),
        "nmi": float(normalized_mutual_info_score(labels, clusters)),
        "ami": float(adjusted_mutual_info_score(labels, clusters)),
        "recall_at_k": {
            str(k): value for k, value in recall_at_k(embedding, labels, args.k).items()
        },
    }
    if args.json:
        print(json.dumps(results, indent=1))
        return 0
    print(
        f"{results['n_samples']} samples, {results['n_classes']} classes, k-means "
        f"with K={n_clusters}"
    )
    rows = [("NMI", results["nmi"]), ("AMI", results["ami"])] + [
        (f"Recall@{k}", value) for k, value in results["recall_at_k"].items()
    ]
    width = max(len(name) for name, _ in rows) + 2
    for name, value in rows:
        print(f"{name:<{width}}{value:.4f}")
    return 0
