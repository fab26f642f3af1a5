"""Errors about arguments that callers with other names for them can reword."""


class ArgumentError(ValueError):
    """A bad argument, or a bad combination of arguments and data.

    The message is a template in which each argument is written ``{name}``;
    ``str(error)`` names them as the function does, and ``in_terms(names)``
    as a caller does that calls them otherwise (the command line names
    ``max_clusters`` ``--max-clusters``). Each caller holds one table of its
    names: nothing parses the message.
    """

    def __init__(self, template, **values):
        self.template = template
        self.values = values
        super().__init__(self.in_terms({}))

    def in_terms(self, names):
        """The message with the arguments named as in ``names`` (a missing
        one keeps its own name)."""
        return self.template.format_map(_Names(names, self.values))


class _Names(dict):
    """``{name}`` as the caller calls it; other fields are the values."""

    def __init__(self, names, values):
        super().__init__(values)
        self.names = names

    def __missing__(self, key):
        return self.names.get(key, key)
