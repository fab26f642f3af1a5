import math

import pytest
import torch

from sklearn_dsc._loss_algebra import (
    autocast_enabled,
    cholesky_inverse,
    full_precision,
    indicator_sums,
    is_pseudo_inverse,
    pseudo_inverse_psd,
)


@pytest.mark.parametrize("condition", [1.0, 1e3, 1e9, 1e20])
def test_cholesky_and_eigendecomposition_paths_agree(condition):
    generator = torch.Generator().manual_seed(20)
    q, _ = torch.linalg.qr(torch.randn(6, 6, generator=generator, dtype=torch.float64))
    eigenvalues = torch.logspace(0, -math.log10(condition), 6, dtype=torch.float64)
    gram = (q * eigenvalues) @ q.T
    rtol = 1e-12
    pinv, rank = pseudo_inverse_psd(gram, rtol)
    kept = eigenvalues > rtol * eigenvalues.max()
    expected = (q[:, kept] / eigenvalues[kept]) @ q[:, kept].T
    assert int(rank) == kept.sum().item()
    # The Cholesky factorisation (rank as an int) serves every well-conditioned
    # case; only the near-singular one needs the eigendecomposition.
    assert isinstance(rank, int) == (condition < 1e12)
    torch.testing.assert_close(
        pinv, expected, rtol=1e-6, atol=1e-6 * expected.abs().max()
    )


@pytest.mark.parametrize(
    ("eigenvalues", "accepted"),
    [
        ([4.0, 2.0, 1.0], True),
        ([1.0, 0.5, 1e-3], True),
        ([1.0, 1.0, 1e-8], False),  # below rtol * largest: dropped
        ([1.0, 1.0, 0.0], False),  # singular
        ([1.0, 1.0, -1e-3], False),  # not positive semi-definite
    ],
)
def test_the_cholesky_inverse_is_taken_only_where_nothing_is_dropped(
    eigenvalues, accepted
):
    """Where the test accepts it, the Cholesky inverse is the pseudo-inverse
    (every eigenvalue above the cutoff); where any is at or below the cutoff
    the test refuses it, and the eigendecomposition decides."""
    generator = torch.Generator().manual_seed(3)
    q, _ = torch.linalg.qr(torch.randn(3, 3, generator=generator, dtype=torch.float64))
    values = torch.tensor(eigenvalues, dtype=torch.float64)
    gram = (q * values) @ q.T
    rtol = 1e-6
    inverse, info, spread = cholesky_inverse(gram)
    assert is_pseudo_inverse(int(info), float(spread), rtol) == accepted
    if accepted:
        torch.testing.assert_close(inverse, (q / values) @ q.T)
        assert (values > rtol * values.max()).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_indicator_sums_are_the_class_sums(dtype):
    """The product by the indicator that a GPU uses for small class tables
    adds the rows of each class, like ``index_add_``, and leaves empty rows
    at zero."""
    generator = torch.Generator().manual_seed(4)
    scaled = torch.randn(500, 7, generator=generator, dtype=dtype)
    codes = torch.randint(0, 9, (500,), generator=generator) * 2  # odd rows empty
    expected = torch.zeros(18, 7, dtype=dtype).index_add_(0, codes, scaled)
    sums = indicator_sums(scaled, codes, 18)
    torch.testing.assert_close(sums, expected)
    assert not sums[1::2].any()
    whole = torch.randint(-8, 8, (500, 7), generator=generator).to(dtype)
    assert torch.equal(
        indicator_sums(whole, codes, 18),
        torch.zeros(18, 7, dtype=dtype).index_add_(0, codes, whole),
    )


def _lowered(device):
    """Whether a product on ``device`` runs below float32 in this context."""
    ones = torch.ones(2, 2, device=device)
    return (ones @ ones).dtype != torch.float32


def test_full_precision_turns_autocast_off_where_it_is_on():
    cpu = torch.device("cpu")
    with full_precision(cpu):
        assert not _lowered(cpu)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert _lowered(cpu)
        with full_precision(cpu):
            assert not _lowered(cpu)
        assert _lowered(cpu)
    # a device type that autocast does not know is left as it is
    meta = torch.ones(2, 2, device="meta")
    with full_precision(meta.device):
        assert (meta @ meta).shape == (2, 2)


@pytest.mark.filterwarnings("ignore:torch.is_autocast_cpu_enabled:DeprecationWarning")
@pytest.mark.parametrize("enabled", [False, True])
def test_autocast_query_of_torch_before_2_4(monkeypatch, enabled):
    """Before torch 2.4, ``torch.is_autocast_enabled()`` took no device and
    answered for CUDA; the CPU had a query of its own."""
    asked = torch.is_autocast_enabled
    try:
        asked("cpu")
    except TypeError:  # this torch asks the old way itself: nothing to patch
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=enabled):
            assert autocast_enabled("cpu") is enabled
            assert autocast_enabled("cuda") is False
            assert autocast_enabled("meta") is False
        return
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=enabled):
        # patched inside the context: torch's own autocast asks the new way
        monkeypatch.setattr(torch, "is_autocast_enabled", lambda: asked("cuda"))
        try:
            assert autocast_enabled("cpu") is enabled
            assert autocast_enabled("cuda") is False
            assert autocast_enabled("meta") is False
        finally:
            monkeypatch.undo()
