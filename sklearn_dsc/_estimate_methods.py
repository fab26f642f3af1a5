"""The names of ``estimate_n_clusters``'s methods, in a module of their own so
that the command line's ``--help`` can list them without importing scikit-learn
or SciPy."""

METHODS = (
    "calibrated_loss",
    "calibrated",
    "eigengap",
    "loss",
    "silhouette",
    "bic",
    "hdbscan",
)
# the methods that read a reference of known classes
REFERENCE_METHODS = ("calibrated_loss", "calibrated")
