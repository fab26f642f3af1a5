"""Seconds spent in each stage of a fit, for ``verbose`` and the command line."""

import contextlib
import time

# The stages of a fit, in the order they are reported.
STAGES = (
    "fitting anchors",
    "choosing the anchor",
    "training",
    "scoring held-out data",
    "refit on every class",
    "closed form",
)


class StageClock:
    """Seconds spent in each stage: ``with clock("training"): ...``.

    A stage timed inside another counts for the inner one only (scoring
    held-out data after every epoch is not training), so the stages add up
    to the time spent in any of them.
    """

    def __init__(self):
        self.seconds = {}
        self._inner = []  # the seconds of the stages inside the open ones

    @contextlib.contextmanager
    def __call__(self, stage):
        start = time.perf_counter()
        self._inner.append(0.0)
        try:
            yield
        finally:
            elapsed = time.perf_counter() - start
            inner = self._inner.pop()
            self.seconds[stage] = self.seconds.get(stage, 0.0) + elapsed - inner
            if self._inner:
                self._inner[-1] += elapsed

    def describe(self):
        """The seconds of each stage in words (``describe_seconds``)."""
        return describe_seconds(self.seconds)


def describe_seconds(seconds):
    """``{stage: seconds}`` in words, the stages in the order of ``STAGES``:
    ``choosing the anchor 3.1 s, training 1.2 s; 4.3 s in these stages``."""
    known = [stage for stage in STAGES if stage in seconds]
    others = sorted(set(seconds) - set(known))
    parts = [f"{stage} {seconds[stage]:.1f} s" for stage in known + others]
    return f"{', '.join(parts)}; {sum(seconds.values()):.1f} s in these stages"
