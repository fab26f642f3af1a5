"""The ``sklearn-dsc`` command line: demo, fit, transform, cluster, evaluate, info.

Data files are CSV or Parquet with a header (the label column named by
``--target``, every other column a feature), ``.npz`` with arrays ``X`` and
``y`` (or the sparse ``X`` of ``scipy.sparse.save_npz``), or ``.npy`` of
features alone (``numpy.save``) for ``transform`` and ``cluster``; ``-``
reads CSV from standard input, and ``-o -`` writes it to standard output.
Models are the files of ``sklearn_dsc.save``. Errors print one line and exit
with status 1 (``--debug`` shows the traceback); a closed standard output
(``| head``) ends a command with status 1 quietly; outputs are written
atomically, never over a file that the command reads.
"""

import argparse
import codecs
import contextlib
import io
import os
import sys
import warnings

from . import (
    _cli_cluster,
    _cli_evaluate,
    _cli_fit,
    _cli_info,
    _cli_transform,
)
from ._files import is_stream
from ._outputs import check_figure_output
from ._version import __version__

# torch and scikit-learn are imported by the commands that need them, so that
# --help and errors in the data answer at once. Each command is a module with
# add(commands, debug), which declares its arguments and its run(args).

PROGRAM = "sklearn-dsc"


def build_parser():
    parser = argparse.ArgumentParser(
        prog=PROGRAM,
        description="Deep Spectral Clustering Learning from the shell: learn an "
        "embedding from labelled data, then embed and cluster new data, also of "
        "classes never seen in training.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument(
        "--debug", action="store_true", help="show the traceback of an error"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add_command in (
        _add_demo,
        _cli_fit.add,
        _cli_transform.add,
        _cli_cluster.add,
        _cli_evaluate.add,
        _cli_info.add,
    ):
        add_command(commands, debug)
    return parser


def _add_demo(commands, debug):
    sub = commands.add_parser(
        "demo",
        parents=[debug],
        help="zero-shot clustering of the bundled digits",
        description="Train on the digits 0-4 of scikit-learn's bundled digits, "
        "embed the digits 5-9 that training never saw, cluster them with k-means, "
        "compare with raw pixels, PCA, LDA and NCA, and draw the unseen digits in "
        "the learned embedding next to raw pixels.",
    )
    sub.add_argument(
        "--random-state",
        type=int,
        default=0,
        metavar="SEED",
        help="seed of every method (0)",
    )
    sub.add_argument(
        "--figure",
        default="sklearn_dsc_demo.png",
        metavar="FIGURE",
        help="where to write the scatter plot, as its suffix says (.png, .svg, "
        ".pdf, ...; '' to skip; sklearn_dsc_demo.png)",
    )
    sub.add_argument(
        "-q",
        "--quiet",
        "--no-progress",
        dest="quiet",
        action="store_true",
        help="no progress bar (as fit's -q)",
    )
    sub.set_defaults(run=_demo)


def main(argv=None):
    """Run the command line; returns the exit status."""
    with _escaping_what_the_terminal_cannot_encode():
        return _main(argv)


@contextlib.contextmanager
def _escaping_what_the_terminal_cannot_encode():
    """Inside the block, standard output and error write the characters that
    their encoding lacks as escapes (``Z\\xfcrich``) instead of failing: the
    labels and column names of the data, under an ASCII locale or a code
    page such as Windows' cp1252 where output is redirected. UTF-8 streams
    are left alone; each stream is put back as it was."""
    changed = []
    for stream in (sys.stdout, sys.stderr):
        encoding = getattr(stream, "encoding", None) or "utf-8"
        if codecs.lookup(encoding).name == "utf-8":
            continue
        if getattr(stream, "reconfigure", None) is not None:
            changed.append((stream, stream.errors))
            stream.reconfigure(errors="backslashreplace")
    try:
        yield
    finally:
        for stream, errors in changed:
            stream.reconfigure(errors=errors)


def _main(argv):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            # the command line matches columns by name itself
            warnings.filterwarnings(
                "ignore", message="X does not have valid feature names"
            )
            status = args.run(args)
        for warning in caught:
            _say(f"warning: {_one_line(warning.message)}")
        return status
    except KeyboardInterrupt:
        _say("interrupted; no output was written")
        return 130
    except BrokenPipeError:
        # The reader of standard output has gone, as ``| head`` does once it
        # has its lines: stop as other tools do, without an error, unless
        # the command also had a file to write.
        _discard_stdout()
        output = getattr(args, "output", None)
        if output and not is_stream(output):
            _say("stopped: its standard output was closed before it finished")
        return 1
    except (ValueError, TypeError, OSError, MemoryError) as error:
        if args.debug:
            raise
        _say(f"error: {_one_line(error) or type(error).__name__}")
        return 1


def _discard_stdout():
    """Point standard output at the null device, so that Python's flush at
    exit does not fail on the closed pipe again (Python's documentation on
    ``SIGPIPE``)."""
    try:
        descriptor = sys.stdout.fileno()
    except (AttributeError, io.UnsupportedOperation, OSError):
        return  # not a file of the operating system: nothing to flush there
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, descriptor)
    finally:
        os.close(null)


def _say(text):
    print(f"{PROGRAM}: {text}", file=sys.stderr, flush=True)


def _one_line(message):
    return " ".join(str(message).split())


def _demo(args):
    from . import demo

    if args.figure:  # without matplotlib the demo says so and draws nothing
        check_figure_output(args.figure, "--figure", needs_matplotlib=False)
    demo.run(args.random_state, args.figure, not args.quiet)
    return 0


if __name__ == "__main__":
    sys.exit(main())
