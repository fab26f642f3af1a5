import numpy as np
import pytest

from sklearn_dsc._sampling import ClassBalancedSampler


def codes_with_sizes(sizes):
    return np.repeat(np.arange(len(sizes)), sizes)


@pytest.mark.parametrize(
    ("samples_per_class", "classes_per_batch"), [(4, 3), (2, 2), (50, 8)]
)
def test_batches_hold_several_classes_with_several_samples(
    samples_per_class, classes_per_batch
):
    codes = codes_with_sizes([30, 7, 12, 1, 25, 9])
    sampler = ClassBalancedSampler(
        codes, samples_per_class, classes_per_batch, np.random.RandomState(0)
    )
    for batch in sampler.batches(20):
        classes, counts = np.unique(codes[batch], return_counts=True)
        assert len(classes) == min(classes_per_batch, 6) >= 2
        sizes = np.bincount(codes)[classes]
        np.testing.assert_array_equal(counts, np.minimum(samples_per_class, sizes))
        assert len(np.unique(batch)) == len(batch)  # no sample twice in a batch


@pytest.mark.parametrize(
    ("samples_per_class", "classes_per_batch"), [(4, 3), (2, 2), (50, 8), (10, 2)]
)
def test_largest_batch_is_the_most_rows_a_batch_holds(
    samples_per_class, classes_per_batch
):
    codes = codes_with_sizes([30, 7, 12, 1, 25, 9])
    sampler = ClassBalancedSampler(
        codes, samples_per_class, classes_per_batch, np.random.RandomState(0)
    )
    sizes = [len(batch) for batch in sampler.batches(200)]
    assert max(sizes) == sampler.largest_batch()


def test_every_sample_of_a_class_comes_before_any_repeats():
    codes = codes_with_sizes([10, 10])
    sampler = ClassBalancedSampler(codes, 3, 2, np.random.RandomState(1))
    seen = np.concatenate(list(sampler.batches(6)))
    for code in (0, 1):
        stream = seen[codes[seen] == code]
        assert len(set(stream[:10])) == 10  # the first 10 draws cover the class
        assert set(stream) == set(np.flatnonzero(codes == code))


def test_same_random_state_same_batches():
    codes = codes_with_sizes([15, 8, 20])

    def draw(seed):
        sampler = ClassBalancedSampler(codes, 4, 2, np.random.RandomState(seed))
        return [batch.tolist() for batch in sampler.batches(10)]

    assert draw(3) == draw(3)
    assert draw(3) != draw(4)
