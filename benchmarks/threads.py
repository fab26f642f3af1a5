"""Torch's CPU threads for the length of a benchmark's run."""

import contextlib

import torch


def run_with_threads(parser, run, argv=None):
    """Parse ``argv`` with ``parser`` and a ``--threads`` option (torch's CPU
    threads; by default, torch's own count), then ``run(args)`` with that
    many threads, putting the previous count back after it."""
    parser.add_argument(
        "--threads", type=int, default=None, help="torch's threads (its default)"
    )
    args = parser.parse_args(argv)
    with torch_threads(args.threads):
        return run(args)


@contextlib.contextmanager
def torch_threads(n_threads):
    """Run the block with ``n_threads`` torch threads (``None``: as they
    are), and put the previous count back after it."""
    before = torch.get_num_threads()
    if n_threads is not None:
        torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
