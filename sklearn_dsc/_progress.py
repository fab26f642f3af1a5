"""A text progress bar for training, usable as the estimator's ``callback``."""

import sys
import time


class EpochProgress:
    """``callback`` that draws a one-line progress bar of the epochs.

    The bar is redrawn in place after every epoch (epoch, ``max_iter``, mean
    loss, elapsed seconds). When the estimator starts a new training run
    (for example the refit on every class after validation), a new line
    begins. Between epochs, ``stage`` shows what the estimator does instead
    (choosing the anchor: split 3 of 10). Call ``close`` when training ends.

    Parameters
    ----------
    label : str
        Shown before the bar.
    stream : file-like, default=sys.stderr
        Where to draw.
    width : int, default=30
        Characters of the bar.
    """

    def __init__(self, label="training", stream=None, width=30):
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self._last_epoch = 0
        self._run_start = None  # the time and epoch a training run began at
        self._drawn = False
        self._staged = False
        self._width_drawn = 0
        self._start = self._last_call = time.perf_counter()

    def _draw(self, text):
        """Redraw the line in place, blanking what a longer line left."""
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
        total = max(estimator.max_iter, epoch)
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
