"""What the commands that read a model and a data file share: their
arguments, reading the data in the model's columns, embedding it, checking
a matrix output and k-means."""

import sys
from pathlib import Path

from ._files import (
    DATA_SUFFIXES,
    MATRIX_SUFFIXES,
    TABLE_SUFFIXES,
    DataError,
    check_data_file,
    check_model_file,
    data_suffix,
    is_stream,
    read_table,
)
from ._outputs import check_not_read, check_output, check_parquet_writable
from ._wording import counted

OUTPUT_HELP = (
    "the .csv or .tsv (also compressed as .gz, .bz2 or .xz), .parquet or .npy to "
    "write, or - for CSV on standard output"
)


def model_and_data(sub, labelled=False):
    """MODEL, DATA and the options that read DATA; ``labelled``: the command
    needs DATA's labels (a CSV or Parquet file's ``--target``, an ``.npz``
    file's ``y``)."""
    sub.add_argument("model", metavar="MODEL", help="a model file from fit")
    add_data_argument(sub, labelled)
    sub.add_argument(
        "--target",
        metavar="COLUMN",
        help="the label column"
        + (
            " (an .npz file's labels are its y)"
            if labelled
            else " of DATA, if it has one (left out)"
        ),
    )
    sub.add_argument(
        "--device",
        help="where to embed: cpu, cuda or cuda:N (the model's own device by "
        "default, or the CPU where it is missing)",
    )
    add_id_option(sub, "left out of the features and written first in a CSV output")
    add_csv_options(sub)


def add_data_argument(sub, labelled=True):
    """DATA: the file of rows that a command reads (with their labels where
    ``labelled``; else also an ``.npy`` file, which holds features alone)."""
    files = "Parquet or .npz" if labelled else "Parquet, .npz or .npy"
    sub.add_argument(
        "data",
        metavar="DATA",
        help=f"CSV (.csv, .tsv, also as .gz, .bz2 or .xz), {files} file, or - for "
        "CSV on standard input",
    )


def add_id_option(sub, what_is_done):
    """``--id``: a column of row identifiers, and ``what_is_done`` with it."""
    sub.add_argument(
        "--id", metavar="COLUMN", help=f"a column of row identifiers, {what_is_done}"
    )


def add_csv_options(sub):
    """``--sep`` and ``--decimal``: how a CSV file is written."""
    sub.add_argument(
        "--sep",
        metavar="CHAR",
        help="the delimiter of a CSV file (detected among , ; tab and | by default)",
    )
    sub.add_argument(
        "--decimal",
        choices=(".", ","),
        default=".",
        metavar="CHAR",
        help="the decimal mark of a CSV file's numbers: . (the default) or ,",
    )


def csv_format(args):
    """What ``add_csv_options`` read, as ``read_table``'s arguments."""
    return {"sep": args.sep, "decimal": args.decimal}


def load_model(path, remedy="give the model file first, then the data"):
    """The model file ``path``; where it is none but is named as a data file
    (arguments given in the wrong order, say), the error says ``remedy``."""
    if not is_stream(path):
        check_model_file(Path(path))  # at once: loading imports torch
    from ._persistence import ModelFileError, load

    try:
        return load(path)
    except ModelFileError as error:
        if is_stream(path) or data_suffix(Path(path)) not in DATA_SUFFIXES:
            raise
        raise ModelFileError(f"{error}; it is named as a data file: {remedy}") from None


def embed_data(args, labelled=False):
    """The model, DATA's table (its columns in the model's order) and
    embedding; ``labelled``: DATA must hold labels."""
    check_data_file(args.data)  # at once: loading the model imports torch
    # the commands write arrays, whatever container set_output chose
    model = load_model(args.model).set_output(transform="default")
    if args.device is not None:
        model.set_params(device=args.device)
    table = read_for(
        model,
        args.data,
        args.target,
        id_column=args.id,
        require_target=labelled,
        **csv_format(args),
    )
    return model, table, model.transform(table.features)


def read_for(model, path, target, **options):
    """``read_table`` of ``path``, its columns in ``model``'s order."""
    names = getattr(model, "feature_names_in_", None)
    names = None if names is None else list(names)
    table = read_table(path, target, feature_names=names, **options)
    if table.features.shape[1] != model.n_features_in_:
        raise DataError(
            f"{path}: {table.features.shape[1]} feature columns, the model "
            f"takes {model.n_features_in_}"
        )
    return table


def check_matrix_output(args):
    """Fail before any work where ``-o`` cannot be written as asked, or where
    the inputs cannot be read as given."""
    if is_stream(args.data) and is_stream(getattr(args, "reference", None)):
        raise DataError(
            "DATA and --reference cannot both be - : standard input is one file"
        )
    check_output(args.output, MATRIX_SUFFIXES, stream=True)
    if is_stream(args.output):
        return  # CSV, which takes --id
    check_not_read(args.output, read_by(args))
    check_parquet_writable(args.output)
    if args.id is not None and not str(args.output).lower().endswith(TABLE_SUFFIXES):
        raise DataError(
            "--id needs a CSV or Parquet output (an .npy file holds numbers only)"
        )


def report_stream(args):
    """Where a command that writes ``-o`` says what it did: standard error
    where its output goes to standard output, so as not to mix with it."""
    return sys.stderr if is_stream(args.output) else sys.stdout


def read_by(args):
    """``{what: path}`` of the files that a command of MODEL and DATA reads."""
    return {
        "MODEL": args.model,
        "DATA": args.data,
        "--reference": getattr(args, "reference", None),
    }


def kmeans(embedding, n_clusters, random_state):
    from sklearn.cluster import KMeans

    if not 1 <= n_clusters <= embedding.shape[0]:
        raise DataError(
            f"--n-clusters must be between 1 and the "
            f"{counted(embedding.shape[0], 'row')} of DATA, got {n_clusters}"
        )
    return KMeans(n_clusters, n_init=10, random_state=random_state).fit_predict(
        embedding
    )
