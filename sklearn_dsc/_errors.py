"""Errors about arguments, named as the caller names them."""


class ArgumentError(ValueError):
    """A bad argument, or a bad combination of arguments and data.

    Its message names the arguments with ``_wording.parameter`` and
    ``_wording.setting``: as the function does (``max_clusters``), or as a
    caller that runs it inside ``_wording.named_by`` calls them (the
    command line: ``--max-clusters``). A caller catches this class to say
    which of its steps the arguments failed.
    """
