"""Where a benchmark script writes what it measured."""

import json
from pathlib import Path

from sklearn_dsc._wording import shrinkage_text

# The folder of the benchmark pages of the docs.
DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks"


def name_of(anchor):
    """How the tables name an anchor ``(init, shrinkage)``: ``"pca"``,
    ``"whitened 0.1"``."""
    init, shrinkage = anchor
    return init if shrinkage is None else f"{init} {shrinkage_text(shrinkage)}"


def add_output(parser, name, *others):
    """Add ``--output`` to ``parser``: the folder for ``<name>.md`` and
    ``.json`` and the files named in ``others``, ``DOCS`` unless given."""
    files = ", ".join([f"{name}.md", f"{name}.json", *others])
    parser.add_argument("--output", type=Path, default=DOCS, help=f"folder for {files}")


def add_results(parser):
    """Add ``--results`` to ``parser``: the JSON of an earlier run, whose
    tables the script writes instead of measuring (``earlier_results``)."""
    parser.add_argument(
        "--results",
        type=Path,
        help="write the tables of an earlier run's JSON instead of measuring",
    )


def earlier_results(args):
    """What the JSON that ``--results`` names holds; ``None`` without it."""
    return None if args.results is None else json.loads(args.results.read_text())


def write_results(folder, name, text, results, indent=1):
    """Print the table ``text``, write it to ``folder/<name>.md`` and
    ``results`` to ``folder/<name>.json`` (``indent`` as ``json.dumps``
    takes it), making ``folder`` if needed, and say so."""
    print(text)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.md").write_text(text)
    (folder / f"{name}.json").write_text(json.dumps(results, indent=indent))
    print(f"wrote {folder}/{name}.md and .json")
