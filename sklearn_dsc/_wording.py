"""Wording shared by messages: counts with their nouns, lists cut short,
and the estimator's parameters named as the caller names them.

Messages name a parameter with ``parameter("max_iter")`` and a setting with
``setting("init", "random")``: ``max_iter`` and ``init='random'`` in Python.
A caller that calls them otherwise (the command line: ``--max-iter``,
``--init random``) fits inside ``named_by(names)``, and every message made
there, warnings and printed lines included, names them its way. Nothing
parses a message afterwards.
"""

import contextlib
import contextvars
import inspect

# The shrinkage that asks for Ledoit-Wolf's within-class covariance
# (``_anchors.ledoit_wolf_within``), as ``shrinkage`` and ``--shrinkage``
# take it.
LEDOIT_WOLF = "ledoit-wolf"


def shrinkage_text(shrinkage):
    """A shrinkage as the progress messages and tables write it: ``"0.01"``,
    ``"ledoit-wolf"``."""
    return shrinkage if isinstance(shrinkage, str) else f"{shrinkage:g}"


def counted(n, noun, plural=None):
    """``"1 epoch"``, ``"3 epochs"``: ``n`` and ``noun``, in the plural
    (``plural``, or ``noun`` with an s) unless ``n`` is 1."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def listed(items, show=str, limit=10, total=True):
    """The first ``limit`` of ``items``, each written by ``show``, and
    "..." where there are more, with how many there are in all unless
    ``total`` is false (where the text already says it)."""
    shown = ", ".join(show(item) for item in items[:limit])
    if len(items) <= limit:
        return shown
    return shown + (f", ... ({len(items)} in all)" if total else ", ...")


def alternatives(items):
    """``items`` as choices: ``"a"``, ``"a or b"``, ``"a, b or c"``."""
    *others, last = items
    return f"{', '.join(others)} or {last}" if others else last


def plain(value):
    """``value``, a NumPy scalar as the Python number it holds (whose repr
    is ``0.1``, not ``np.float64(0.1)``)."""
    return value.item() if type(value).__module__ == "numpy" else value


def shown(value):
    """``value`` as a message writes it: its repr (a NumPy scalar's as
    ``plain``'s), a function or a class by its name (``two_layers``, not
    ``<function two_layers at 0x...>``), and an object whose repr runs over
    several lines, such as a torch module of layers, by its type's name
    (``Sequential(...)``)."""
    value = plain(value)
    if inspect.isfunction(value) or inspect.isclass(value):
        return value.__qualname__
    text = repr(value)
    return f"{type(value).__name__}(...)" if "\n" in text else text


def columns_and_pronoun(names):
    """``("column", "it")`` for one of ``names``, else the plural words."""
    return ("column", "it") if len(names) == 1 else ("columns", "them")


def cut_short(value, length=40):
    """``value``'s text on one line, cut to ``length`` characters with "..."
    where longer: a data cell as a message quotes it (a document, an array
    written out)."""
    text = " ".join(str(value).split())
    return text if len(text) <= length else text[: length - 3] + "..."


class PythonNames:
    """The parameters as Python names them: ``init='random'``."""

    separator = ", "

    def parameter(self, name):
        return name

    def choice(self, value):
        return shown(value)

    def setting(self, name, value):
        return f"{name}={shown(value)}"

    def in_python(self, text):
        return text


class CommandLineNames(PythonNames):
    """The parameters as a command of the command line names them: by its
    table ``names`` (a parameter missing from it keeps its Python name),
    values as typed (``--input-shape 3,3``), settings listed without commas,
    and no remedy that only Python can follow."""

    separator = " "
    names = {}

    def parameter(self, name):
        return self.names.get(name, name)

    def choice(self, value):
        if isinstance(value, tuple | list):
            return ",".join(str(part) for part in value) or "''"
        return str(value)

    def setting(self, name, value):
        if name not in self.names:
            return super().setting(name, value)
        return f"{self.names[name]} {self.choice(value)}"

    def in_python(self, text):
        return None


_PYTHON = PythonNames()
_NAMES = contextvars.ContextVar("sklearn_dsc_names", default=None)


def _names():
    return _NAMES.get() or _PYTHON


@contextlib.contextmanager
def named_by(names):
    """Messages made inside name the parameters as ``names`` does (an object
    with the methods and ``separator`` of ``PythonNames``)."""
    token = _NAMES.set(names)
    try:
        yield
    finally:
        _NAMES.reset(token)


def parameter(name):
    """A parameter named alone: ``max_iter``."""
    return _names().parameter(name)


def choice(value):
    """A value of the parameter named before it: ``'plda'`` in "init='pca'
    or 'plda'"."""
    return _names().choice(value)


def setting(name, value):
    """A parameter and its value: ``init='random'``."""
    return _names().setting(name, value)


def in_python(text):
    """``text``, a remedy only Python can follow (a pipeline step), for a
    Python caller; ``None`` for a caller that names the parameters
    otherwise (the command line has no pipeline)."""
    return _names().in_python(text)


def setting_list(pairs):
    """Several settings, ``(name, value)`` pairs, as one list:
    ``init='whitened', shrinkage=0.1``."""
    names = _names()
    return names.separator.join(names.setting(name, value) for name, value in pairs)


def unequal_lengths(rows, n_rows, labels, n_labels):
    """The refusal of ``n_rows`` rows of the argument ``rows`` beside
    ``n_labels`` entries of the argument ``labels``, named by
    ``parameter``."""
    return (
        f"{parameter(rows)} has {counted(n_rows, 'row')} but {parameter(labels)} "
        f"has {counted(n_labels, 'entry', 'entries')}; they must have the same "
        "length."
    )
