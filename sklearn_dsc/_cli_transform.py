"""``sklearn-dsc transform``: embed the rows of a data file."""

from ._cli_data import (
    OUTPUT_HELP,
    check_matrix_output,
    embed_data,
    model_and_data,
    report_stream,
)
from ._outputs import output_name, write_matrix


def add(commands, debug):
    sub = commands.add_parser(
        "transform",
        parents=[debug],
        help="embed data with a model",
        description=(
            "Embed the rows of DATA; write them to OUT (CSV, Parquet or .npy)."
        ),
    )
    model_and_data(sub)
    sub.add_argument("-o", "--output", required=True, metavar="OUT", help=OUTPUT_HELP)
    sub.set_defaults(run=run)


def run(args):
    check_matrix_output(args)
    model, table, embedding = embed_data(args)
    index = None if args.id is None else (args.id, table.ids)
    write_matrix(args.output, embedding, model.get_feature_names_out(), index)
    print(
        f"Wrote a {embedding.shape[0]} x {embedding.shape[1]} embedding to "
        f"{output_name(args.output)}",
        file=report_stream(args),
    )
    return 0
