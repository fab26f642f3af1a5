"""Time how the command line reads a CSV file, beside pandas' ``read_csv``.

The command line reads CSV files without pandas (``_files.read_table``).
NumPy's parser (``np.loadtxt``, one pass in C) reads a file whose feature
columns hold numbers alone; a file with a cell that is not a number as
``float`` writes one (a missing value, a truth value, a decimal comma) is
read again, every cell on its own, to say which. This script writes a file
of features written as float32 with a column of text labels, and times
``read_table`` on it, the same with every cell on its own (as it reads the
files NumPy's parser leaves to it), and pandas' ``read_csv`` with the same
columns made into an array, checking that all three read the same numbers.

    python benchmarks/bench_read_csv.py --rows 50000 --features 128
"""

import argparse
import tempfile
import time
from pathlib import Path
from unittest import mock

import numpy as np
from bench_loss import _fmt_ratio, _fmt_time

from sklearn_dsc import _files


def write_csv(path, rows, features, seed=0):
    """A CSV file of ``rows`` rows: ``features`` columns of numbers written
    with the 8 significant digits of float32 (as embeddings are), and a
    column of text labels, ``label``."""
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(rows, features)).astype(np.float32).astype(object)
    table = np.column_stack([values, rng.choice(["cat", "dog", "bird"], size=rows)])
    header = ",".join([*(f"f{j}" for j in range(features)), "label"])
    fmt = ["%.8g"] * features + ["%s"]
    np.savetxt(path, table, fmt=fmt, delimiter=",", header=header, comments="")


def _cell_by_cell(f, *args):
    f.seek(0)  # as _at_once leaves a file it does not read


def readers():
    """The readers timed: each returns the features as a float64 array."""

    def ours(path):
        return _files.read_table(path, target="label").features

    def ours_cell_by_cell(path):
        with mock.patch.object(_files, "_at_once", _cell_by_cell):
            return ours(path)

    def pandas(path):
        import pandas as pd

        frame = pd.read_csv(path)
        return frame.drop(columns="label").to_numpy(dtype=np.float64)

    return {"ours": ours, "ours, cell by cell": ours_cell_by_cell, "pandas": pandas}


def best_of(read, path, repeat):
    """The shortest of ``repeat`` reads, in seconds, and what was read."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        features = read(path)
        times.append(time.perf_counter() - start)
    return min(times), features


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10000, 50000])
    parser.add_argument("--features", type=int, default=128)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    names = list(readers())
    print(
        "| rows | features | MB | "
        + " | ".join(names)
        + " | ours / pandas | cell by cell / ours | same numbers |"
    )
    print("|" + "---|" * (len(names) + 6))
    with tempfile.TemporaryDirectory() as folder:
        for rows in args.rows:
            path = Path(folder) / f"{rows}.csv"
            write_csv(path, rows, args.features)
            timed = {
                name: best_of(read, path, args.repeat)
                for name, read in readers().items()
            }
            seconds = {name: result[0] for name, result in timed.items()}
            read = [result[1] for result in timed.values()]
            same = all(np.array_equal(read[0], other) for other in read[1:])
            row = [
                rows,
                args.features,
                f"{path.stat().st_size / 1e6:.1f}",
                *(_fmt_time(seconds[name]) for name in names),
                _fmt_ratio(seconds["ours"], seconds["pandas"]),
                _fmt_ratio(seconds["ours, cell by cell"], seconds["ours"]),
                same,
            ]
            print("| " + " | ".join(map(str, row)) + " |", flush=True)


if __name__ == "__main__":
    main()
