"""Errors that name the problem: in arguments, as the caller names them, and
in data files."""


class ArgumentError(ValueError):
    """A bad argument, or a bad combination of arguments and data.

    Its message names the arguments with ``_wording.parameter`` and
    ``_wording.setting``: as the function does (``max_clusters``), or as a
    caller that runs it inside ``_wording.named_by`` calls them (the
    command line: ``--max-clusters``). A caller catches this class to say
    which of its steps the arguments failed.
    """


class DataError(ValueError):
    """A data file cannot be used as asked; the message names the problem."""
