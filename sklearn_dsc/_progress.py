"""A text progress bar for training, usable as the estimator's ``callback``."""

import sys
import time


class EpochProgress:
    """``callback`` that draws a one-line progress bar of the epochs.

    The bar is redrawn in place after every epoch (epoch, ``max_iter``, mean
    loss, elapsed seconds). When the estimator starts a new training run
    (for example the refit on every class after validation), a new line
    begins. Call ``close`` when training ends.

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
        self._drawn = False
        self._start = time.perf_counter()

    def __call__(self, estimator):
        epoch = estimator.n_iter_
        if epoch <= self._last_epoch and self._drawn:
            self.stream.write("\n")
        self._last_epoch = epoch
        total = max(estimator.max_iter, epoch)
        filled = round(self.width * epoch / total)
        bar = "#" * filled + "-" * (self.width - filled)
        loss = estimator.loss_curve_[-1] if estimator.loss_curve_ else float("nan")
        seconds = time.perf_counter() - self._start
        self.stream.write(
            f"\r{self.label} [{bar}] epoch {epoch}/{total}  loss {loss:.4f}  "
            f"{seconds:.1f}s"
        )
        self.stream.flush()
        self._drawn = True
        return False

    def close(self):
        """End the bar's line."""
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False
