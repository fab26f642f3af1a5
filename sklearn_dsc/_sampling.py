"""Class-balanced mini-batches."""

import numpy as np


class ClassBalancedSampler:
    """Mini-batches of several classes with several samples each.

    Each batch draws ``classes_per_batch`` distinct classes uniformly (all of
    them when there are fewer) and ``samples_per_class`` samples of each (all
    of a class's samples when it has fewer). Samples of a class are visited
    in a shuffled cycle, reshuffled when exhausted, so every sample of a class
    is seen before any is seen twice. Every batch therefore holds at least two
    classes, which the spectral clustering loss needs to be informative.

    Parameters
    ----------
    codes : ndarray of shape (n_samples,)
        Class of each sample, as integers in ``[0, n_classes)``.
    samples_per_class : int
        Samples drawn from each class in a batch.
    classes_per_batch : int
        Classes in a batch, at least 2.
    random_state : numpy.random.RandomState
        The only source of randomness.
    """

    def __init__(self, codes, samples_per_class, classes_per_batch, random_state):
        self.samples_per_class = samples_per_class
        self.classes_per_batch = classes_per_batch
        self.random_state = random_state
        order = np.argsort(codes, kind="stable")
        boundaries = np.flatnonzero(np.diff(codes[order])) + 1
        self._members = np.split(order, boundaries)
        self._cycles = [random_state.permutation(m) for m in self._members]
        self._positions = np.zeros(len(self._members), dtype=np.intp)

    @property
    def n_classes(self):
        return len(self._members)

    def largest_batch(self):
        """The most rows that a batch can hold."""
        n_chosen = min(self.classes_per_batch, self.n_classes)
        taken = [min(self.samples_per_class, len(m)) for m in self._members]
        return sum(sorted(taken, reverse=True)[:n_chosen])

    def _take(self, class_code):
        members = self._members[class_code]
        count = min(self.samples_per_class, len(members))
        position = self._positions[class_code]
        cycle = self._cycles[class_code]
        if position + count > len(cycle):
            # keep the unseen tail, then start a fresh shuffled cycle
            tail = cycle[position:]
            fresh = self.random_state.permutation(members)
            fresh = fresh[~np.isin(fresh, tail)]
            self._cycles[class_code] = cycle = np.concatenate([tail, fresh])
            position = 0
        self._positions[class_code] = position + count
        return cycle[position : position + count]

    def batches(self, n_batches):
        """Index arrays of ``n_batches`` batches."""
        n_chosen = min(self.classes_per_batch, self.n_classes)
        for _ in range(n_batches):
            if n_chosen == self.n_classes:
                chosen = np.arange(self.n_classes)
            else:
                chosen = np.sort(
                    self.random_state.choice(self.n_classes, n_chosen, replace=False)
                )
            yield np.concatenate([self._take(code) for code in chosen])
