"""A text progress bar for training, usable as the estimator's ``callback``."""

import sys
import time


class EpochProgress:
    """``callback`` that draws a one-line progress bar of the epochs.

    The bar is redrawn in place after every epoch: the epoch, the last one
    the training run may reach (``max_iter`` for a fit; the refit on every
    class after validation runs its own number), the mean loss, the seconds
    elapsed and at most how many are left. When the estimator starts a new
    training run, a new line begins. Between epochs, ``stage`` shows what
    the estimator does instead (choosing the anchor: split 3 of 10). Call
    ``close`` when training ends. Where the stream is not a terminal (a log
    file, a pipe), each draw is a line of its own: a carriage return would
    pile the draws into one line there.

    Parameters
    ----------
    label : str
        Shown before the bar.
    stream : file-like, default=sys.stderr
        Where to draw.
    width : int, default=30
        Characters of the bar.
    in_place : bool, default=None
        Redraw one line in place; ``None`` does so where ``stream`` is a
        terminal.
    """

    def __init__(self, label="training", stream=None, width=30, in_place=None):
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        if in_place is None:
            isatty = getattr(self.stream, "isatty", None)
            in_place = bool(isatty()) if callable(isatty) else False
        self.in_place = in_place
        self._last_epoch = 0
        self._run_start = None  # the time and epoch a training run began at
        self._drawn = False
        self._staged = False
        self._width_drawn = 0
        self._start = self._last_call = time.perf_counter()

    def _draw(self, text):
        """Redraw the line in place, blanking what a longer line left; or,
        not in place, write ``text`` as a line."""
        if not self.in_place:
            self.stream.write(text + "\n")
            self.stream.flush()
            return
        self.stream.write("\r" + text.ljust(self._width_drawn))
        self.stream.flush()
        self._width_drawn = len(text)
        self._drawn = True

    def stage(self, text):
        """Show what the estimator is doing between epochs; a bar drawn
        before it keeps its line."""
        if self._drawn and not self._staged:
            self.stream.write("\n")
            self._width_drawn = 0
        now = time.perf_counter()
        self._draw(f"{self.label}: {text}  {now - self._start:.1f}s")
        self._staged = True
        self._last_call = now

    def __call__(self, estimator):
        epoch = estimator.n_iter_
        now = time.perf_counter()
        new_run = epoch <= self._last_epoch or self._staged or self._run_start is None
        if epoch <= self._last_epoch and self._drawn and not self._staged:
            self.stream.write("\n")
            self._width_drawn = 0
        if new_run:
            # this epoch's time is not known: the run is taken to begin at the
            # previous call (or at the start)
            self._run_start = (self._last_call, epoch - 1)
        self._last_epoch = epoch
        self._last_call = now
        self._staged = False
        # where this run stops at the latest, as the estimator says (not for
        # partial_fit's chunks, an epoch each, which go on while called)
        last = getattr(estimator, "_run_last_epoch", None) or estimator.max_iter
        total = max(last, epoch)
        filled = round(self.width * epoch / total)
        bar = "#" * filled + "-" * (self.width - filled)
        loss = estimator.loss_curve_[-1] if estimator.loss_curve_ else float("nan")
        text = (
            f"{self.label} [{bar}] epoch {epoch}/{total}  loss {loss:.4f}  "
            f"{now - self._start:.1f}s"
        )
        began, first = self._run_start
        if epoch > first and epoch < total:
            # at most the epochs left at this run's pace: patience may stop it
            left = (now - began) / (epoch - first) * (total - epoch)
            text += f", at most {left:.0f}s left"
        self._draw(text)
        return False

    def close(self):
        """End the bar's line."""
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False
            self._width_drawn = 0
