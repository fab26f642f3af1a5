"""Torch data: devices, rows served to training, staging, batched inference."""

import threading
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.datasets import load_digits

from sklearn_dsc import DeepSpectralClusteringEmbedder, _data

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")


def test_resolve_device():
    assert _data.resolve_device("cpu") == torch.device("cpu")
    assert _data.resolve_device(torch.device("cpu")) == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert _data.resolve_device("auto").type == expected
    with pytest.raises(ValueError, match="not a valid torch device"):
        _data.resolve_device("gpu-please")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            _data.resolve_device("cuda")
        with pytest.warns(UserWarning, match="embedding on the CPU instead"):
            assert _data.resolve_device("cuda", for_inference=True).type == "cpu"


@pytest.mark.skipif(
    torch.backends.mps.is_available(), reason="this machine has an MPS device"
)
def test_a_device_type_torch_lacks_is_named():
    with pytest.raises(ValueError, match="torch cannot use 'mps' devices"):
        _data.resolve_device("mps")


def test_the_meta_device_is_refused():
    # torch makes tensors there, shapes without values: nothing trains or embeds
    with pytest.raises(ValueError, match="device='meta' was requested but tensors"):
        _data.resolve_device("meta")
    with pytest.warns(UserWarning, match="no values; embedding on the CPU instead"):
        assert _data.resolve_device("meta", for_inference=True).type == "cpu"


@pytest.mark.parametrize("sparse", [False, True])
def test_tensor_data_serves_the_rows_asked_for(sparse):
    X = np.arange(60, dtype=np.float64).reshape(12, 5)
    data = _data.TensorData(sp.csr_matrix(X) if sparse else X, torch.device("cpu"))
    assert len(data) == 12
    rows = data.rows(np.array([7, 2, 7]))
    assert rows.is_sparse == sparse
    assert rows.dtype == torch.float32
    np.testing.assert_array_equal(rows.to_dense().numpy(), X[[7, 2, 7]])


def test_tensor_data_copies_read_only_inputs():
    X = np.ones((4, 3))
    X.setflags(write=False)
    data = _data.TensorData(X, torch.device("cpu"))
    data.X += 1  # the tensor is its own copy
    np.testing.assert_array_equal(X, 1)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_embed_in_batches_matches_one_pass(sparse, dtype):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(23, 4))
    module = torch.nn.Linear(4, 3).to(dtype)
    with torch.no_grad():
        expected = module(torch.tensor(X, dtype=dtype)).numpy()
    inputs = sp.csr_matrix(X) if sparse else X
    if sparse:  # a plain Linear cannot take a sparse batch
        module = sparse_linear(module)
    found = _data.embed(module, inputs, torch.device("cpu"), batch_size=5, dtype=dtype)
    assert found.dtype == expected.dtype
    np.testing.assert_allclose(found, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    ("rows", "copied"),
    [
        (np.abs(np.random.RandomState(0).normal(size=(9, 8))), False),  # dense
        (sp.csr_matrix(np.abs(np.random.RandomState(0).normal(size=(9, 8)))), True),
        # 3 stored values in 9 rows of 8 columns: too few to pay for the copy
        (sp.csr_matrix(np.eye(9, 8) * (np.arange(9) % 3 == 1)[:, None]), False),
    ],
    ids=["dense", "sparse", "sparse, nearly empty"],
)
def test_embed_reads_sparse_rows_through_a_copy_of_the_weight(rows, copied):
    """Sparse rows that hold enough stored values are embedded through the
    contiguous copy of ``weight.T`` that ``sparse_inference`` makes; others
    through the weight. No copy outlives the call; the outputs are the same."""
    module = sparse_linear(torch.nn.Linear(8, 3))
    seen = []
    module.register_forward_hook(lambda m, i, o: seen.append(m._transposed))
    found = _data.embed(module, rows, torch.device("cpu"), 4)
    assert len(seen) == 3
    assert all((copy is not None) == copied for copy in seen)
    assert module._transposed is None
    dense = rows.toarray() if sp.issparse(rows) else rows
    expected = _data.embed(module, dense, torch.device("cpu"))
    np.testing.assert_allclose(found, expected, rtol=1e-6, atol=1e-6)


def test_embed_passes_the_rows_themselves_to_the_package_networks_alone():
    """Rows as a network of this package takes them (float32, writeable)
    reach it without a copy: none of its layers writes to its inputs. A
    network of the user's own, which may, gets a copy, as do read-only rows
    (memory-mapped), which torch would warn about."""
    X = np.random.RandomState(0).normal(size=(10, 4)).astype(np.float32)
    ours, seen = sparse_linear(torch.nn.Linear(4, 3)), []
    ours.register_forward_pre_hook(lambda module, inputs: seen.append(inputs[0]))
    expected = _data.embed(ours, X.copy(), torch.device("cpu"), batch_size=5)
    assert len(seen) == 2
    seen.clear()
    found = _data.embed(ours, X, torch.device("cpu"), batch_size=5)
    assert all(np.shares_memory(batch.numpy(), X) for batch in seen)
    np.testing.assert_array_equal(found, expected)

    class WritesToItsInputs(torch.nn.Module):
        def forward(self, inputs):
            return inputs.mul_(2.0)[:, :3]

    before = X.copy()
    found = _data.embed(WritesToItsInputs(), X, torch.device("cpu"), batch_size=5)
    np.testing.assert_array_equal(X, before)
    np.testing.assert_array_equal(found, 2 * X[:, :3])

    read_only, seen[:] = X.copy(), []
    read_only.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        found = _data.embed(ours, read_only, torch.device("cpu"), batch_size=5)
    assert not any(np.shares_memory(batch.numpy(), read_only) for batch in seen)
    np.testing.assert_array_equal(found, expected)


def sparse_linear(linear):
    from sklearn_dsc._networks import SparseInputLinear

    sparse = SparseInputLinear(linear.in_features, linear.out_features)
    sparse = sparse.to(linear.weight.dtype)
    sparse.load_state_dict(linear.state_dict(), strict=False)
    return sparse


def test_a_convolutional_network_embeds_small_batches_on_the_cpu():
    from sklearn_dsc._networks import ConvNet, build_anchored

    conv = ConvNet(64, (8, 8), 3)
    anchored = build_anchored(np.eye(64)[:5], np.zeros(5), conv)
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    for module in (conv, anchored, torch.nn.Sequential(conv)):
        assert _data.inference_batch_size(module, cpu) == 64
        assert _data.inference_batch_size(module, cuda) == 4096
    mlp = torch.nn.Sequential(torch.nn.Linear(64, 3))
    assert _data.inference_batch_size(mlp, cpu) == 4096
    # one pass over every row, to float32 rounding: the same bits on a Xeon
    # with AVX-512, 1.5e-8 apart with MKL held to AVX2, whose kernels then
    # depend on the number of rows
    X = np.random.default_rng(0).random((300, 64), dtype=np.float32)
    with _data.exact_float32():
        in_batches = _data.embed(conv, X, cpu)
        whole = _data.embed(conv, X, cpu, batch_size=len(X))
    np.testing.assert_allclose(in_batches, whole, rtol=1e-5, atol=1e-6)


def test_embed_leaves_training_mode_off():
    module = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Dropout(0.5))
    X = np.ones((6, 3))
    first = _data.embed(module, X, torch.device("cpu"))
    np.testing.assert_array_equal(first, _data.embed(module, X, torch.device("cpu")))
    assert not module.training


def fit_digits(device="cpu", **params):
    X, y = load_digits(return_X_y=True)
    estimator = DeepSpectralClusteringEmbedder(
        hidden_layer_sizes=(16,),
        max_iter=2,
        early_stopping=False,
        random_state=0,
        device=device,
        **params,
    )
    return estimator.fit(X / 16, y), X / 16


def test_data_that_does_not_fit_the_device_is_staged(monkeypatch):
    """Batches gathered on the host and copied give the same model as data
    held on the device."""
    resident, X = fit_digits()
    staged_batches = []
    original = _data.StagedRows.copy

    def copy(self, X, indices):
        staged_batches.append(len(indices))
        return original(self, X, indices)

    monkeypatch.setattr(_data, "fits_on_device", lambda n_bytes, device: False)
    monkeypatch.setattr(_data.StagedRows, "copy", copy)
    staged, _ = fit_digits()
    assert staged_batches  # the staged path ran
    np.testing.assert_array_equal(staged.transform(X), resident.transform(X))


def test_staged_rows_reuse_one_buffer_and_cast():
    X = np.arange(40, dtype=np.float64).reshape(10, 4)
    staging = _data.StagedRows(4, torch.device("cpu"))
    first = staging.copy(X, [3, 1])
    buffer = staging.buffer
    second = staging.copy(X, np.array([0]))
    assert staging.buffer is buffer
    assert first.dtype == torch.float32
    np.testing.assert_array_equal(first.numpy(), X[[3, 1]])
    np.testing.assert_array_equal(second.numpy(), X[[0]])
    staging.copy(X, np.arange(10))  # a larger batch grows the buffer
    assert len(staging.buffer) == 10


@CUDA
def test_cuda_staged_matches_resident(monkeypatch):
    resident, X = fit_digits("cuda")
    monkeypatch.setattr(_data, "fits_on_device", lambda n_bytes, device: False)
    staged, _ = fit_digits("cuda")
    np.testing.assert_allclose(
        staged.transform(X), resident.transform(X), rtol=1e-5, atol=1e-6
    )


@CUDA
def test_cuda_data_is_kept_on_the_device_when_it_fits():
    data = _data.TensorData(np.ones((100, 4)), torch.device("cuda"))
    assert data.staging is None
    assert data.X.is_cuda


float32_settings = _data._float32_settings


class RecordsSettings(torch.nn.Module):
    """A network that records torch's float32 settings when it runs."""

    def __init__(self, n_features=64, n_outputs=4):
        super().__init__()
        self.linear = torch.nn.Linear(n_features, n_outputs)
        self.seen = set()

    def forward(self, inputs):
        self.seen.add(float32_settings())
        return self.linear(inputs)


EXACT = ("highest", False, True, False, torch.float32)


def test_fit_and_transform_run_in_exact_float32_and_put_settings_back():
    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)  # transform runs module_ itself
    estimator = DeepSpectralClusteringEmbedder(
        network=RecordsSettings(), init="random", max_iter=1, early_stopping=False
    )
    before = float32_settings()
    torch.set_float32_matmul_precision("high")
    torch.backends.cudnn.benchmark = True
    try:
        users = float32_settings()
        estimator.fit(X, y)
        assert estimator.module_.seen == {EXACT}
        assert float32_settings() == users
        estimator.module_.seen.clear()
        estimator.transform(X[:10])
        assert estimator.module_.seen == {EXACT}
        assert float32_settings() == users
    finally:
        _data._set_float32_settings(*before)


def test_exact_float32_holds_until_the_last_thread_leaves():
    before = float32_settings()
    first_in, second_in, first_out = (threading.Event() for _ in range(3))
    seen = {}

    def first():
        with _data.exact_float32():
            first_in.set()
            second_in.wait(5)
        first_out.set()

    def second():
        first_in.wait(5)
        with _data.exact_float32():
            second_in.set()
            first_out.wait(5)
            seen["after the first left"] = float32_settings()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert seen["after the first left"] == EXACT
    assert float32_settings() == before
