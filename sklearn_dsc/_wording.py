"""Wording shared by messages: counts with their nouns."""


def counted(n, noun, plural=None):
    """``"1 epoch"``, ``"3 epochs"``: ``n`` and ``noun``, in the plural
    (``plural``, or ``noun`` with an s) unless ``n`` is 1."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"
