"""The networks: building, describing, rebuilding, input scale."""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.datasets import load_digits

from sklearn_dsc import (
    DeepSpectralClusteringEmbedder,
    _networks,
    load,
    save,
    spectral_clustering_loss,
)
from sklearn_dsc._data import sparse_rows
from sklearn_dsc._networks import (
    MLP,
    AnchoredEmbedding,
    ConvNet,
    build_anchored,
    build_mlp,
    build_network,
    build_trained,
    check_network,
    describe,
    input_scale,
    input_spread,
    scale_inputs,
    scaled,
    sparse_inference,
)

from helpers import run_fresh


def test_mlp_layers_follow_the_sizes():
    module = build_mlp(5, (8, 4), 3, "tanh", seed=0, dropout=0.2)
    kinds = [type(layer).__name__ for layer in module]
    assert kinds == [
        "SparseInputLinear",
        "Tanh",
        "Dropout",
        "Linear",
        "Tanh",
        "Dropout",
        "Linear",
    ]
    assert module(torch.zeros(2, 5)).shape == (2, 3)


def test_build_mlp_is_seeded_and_leaves_the_global_generator_alone():
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    first = build_mlp(6, (7,), 2, "relu", seed=4)
    assert torch.equal(torch.random.get_rng_state(), before)
    second = build_mlp(6, (7,), 2, "relu", seed=4)
    other = build_mlp(6, (7,), 2, "relu", seed=5)
    for a, b in zip(first.parameters(), second.parameters(), strict=True):
        assert torch.equal(a, b)
    assert not torch.equal(first[0].weight, other[0].weight)


@pytest.mark.parametrize(
    "module",
    [
        build_mlp(4, (), 2, "relu", seed=0),
        build_mlp(4, (6, 5), 3, "logistic", seed=0, dropout=0.1),
        build_mlp(4, (6,), 3, "relu", seed=0, normalize=True),
        build_anchored(np.ones((3, 4)), np.zeros(3), build_mlp(4, (6,), 2, "tanh", 0)),
    ],
    ids=["linear", "mlp", "normalized", "anchored"],
)
def test_networks_are_rebuilt_from_their_description(module):
    if isinstance(module, AnchoredEmbedding):
        module.head_scale.fill_(0.5)
    assert_rebuilt(module, n_features=4)


def assert_rebuilt(module, n_features):
    """``build_network(describe(module))`` with its weights is ``module``."""
    architecture = describe(module)
    rebuilt = build_network(architecture)
    assert describe(rebuilt) == architecture
    rebuilt.load_state_dict(module.state_dict())
    X = torch.randn(5, n_features)
    module.eval()
    rebuilt.eval()
    torch.testing.assert_close(rebuilt(X), module(X))
    with torch.device("meta"):  # the shapes, without allocating
        assert build_network(architecture).n_features == n_features


def test_a_linear_map_is_described_without_an_activation():
    assert describe(build_mlp(4, (), 2, "tanh", seed=0))["activation"] == "identity"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "transformer"}, "unknown network kind"),
        ({"activation": "os.system"}, "unknown activation"),
        ({"layer_sizes": [4]}, "invalid layer sizes"),
        ({"layer_sizes": [4, 0, 2]}, "invalid layer sizes"),
        ({"layer_sizes": [4, 2.5, 2]}, "invalid layer sizes"),
        ({"layer_sizes": [4, True, 2]}, "invalid layer sizes"),
        ({"dropout": 1.0}, "invalid dropout"),
        ({"normalize": "yes"}, "invalid normalize"),
        ({"kind": "anchored", "anchor_width": -1}, "invalid anchor_width"),
    ],
)
def test_invalid_descriptions_are_refused(change, message):
    architecture = {**describe(build_mlp(4, (3,), 2, "relu", seed=0)), **change}
    with pytest.raises(ValueError, match=message):
        build_network(architecture)


@pytest.mark.parametrize(
    "network",
    ["mlp", "conv", torch.nn.Linear(64, 4), lambda n, k: torch.nn.Linear(n, k)],
    ids=["mlp", "conv", "module", "callable"],
)
def test_normalized_networks_give_unit_rows(network):
    plain = build_trained(network, 64, 4, seed=0, input_shape=(8, 8))
    unit = build_trained(network, 64, 4, seed=0, input_shape=(8, 8), normalize=True)
    X = torch.randn(6, 64)
    X[0] = 0.0  # an all-zero row of inputs: any output row, still finite
    outputs = unit(X)
    torch.testing.assert_close(outputs.norm(dim=1), torch.ones(6))
    torch.testing.assert_close(
        outputs, torch.nn.functional.normalize(plain(X), dim=1)
    )  # the same weights: only the rows' norms differ


def test_older_descriptions_without_normalize_rebuild_plain_networks():
    architecture = describe(build_mlp(4, (3,), 2, "relu", seed=0))
    del architecture["normalize"]
    assert not build_network(architecture).normalize


def test_foreign_modules_cannot_be_described():
    with pytest.raises(TypeError, match="pickle"):
        describe(torch.nn.Linear(2, 2))
    # nor an anchor beside one (the anchored network describes its head)
    anchored = build_anchored(np.eye(3, 2).T, np.zeros(2), torch.nn.Linear(3, 2))
    with pytest.raises(TypeError, match="pickle"):
        describe(anchored)
    ours = build_anchored(np.eye(3, 2).T, np.zeros(2), build_mlp(3, (3,), 2, "relu", 0))
    assert describe(ours)["kind"] == "anchored"


def test_anchored_embedding_leaves_an_unused_head_out():
    module = build_anchored(np.eye(3), np.zeros(3), build_mlp(3, (4,), 2, "relu", 0))
    X = torch.randn(6, 3)
    torch.testing.assert_close(module(X), X)  # head_scale 0: the anchor alone
    module.head_scale.fill_(2.0)
    module.anchor_weight.fill_(3.0)
    out = module(X)
    assert out.shape == (6, 5)
    torch.testing.assert_close(out[:, :3], 3 * X)
    torch.testing.assert_close(out[:, 3:], 2 * module.head(X))
    assert not module.anchor.weight.requires_grad
    module.anchor_weight.fill_(0.0)  # the head alone, without the anchor's columns
    torch.testing.assert_close(module(X), 2 * module.head(X))


def test_the_anchor_holds_float32_copies_and_draws_nothing():
    weight = np.asfortranarray(np.arange(12.0).reshape(3, 4))
    bias = np.arange(3, dtype=np.float32)
    state = torch.random.get_rng_state()
    module = build_anchored(weight, bias, build_mlp(4, (), 2, "relu", 0))
    assert torch.equal(torch.random.get_rng_state(), state)
    anchor = module.anchor
    assert anchor.weight.dtype == anchor.bias.dtype == torch.float32
    assert anchor.weight.is_contiguous()
    assert anchor.weight.device.type == "cpu"
    np.testing.assert_array_equal(anchor.weight.detach().numpy(), weight)
    bias[0] = 7.0  # the caller's arrays are copied, not shared
    assert anchor.bias[0].item() == 0.0
    assert anchor.input_scale.item() == 1.0
    torch.testing.assert_close(module(torch.ones(1, 4)), torch.tensor([[6.0, 23, 40]]))


def test_building_an_anchor_imports_no_symbolic_maths():
    # torch.nn.utils.skip_init's to_empty imports sympy on its first call
    script = (
        "import sys, numpy as np, torch\n"
        "from sklearn_dsc._networks import build_anchored, build_mlp\n"
        "before = 'sympy' in sys.modules\n"
        "build_anchored(np.eye(3), np.zeros(3), build_mlp(3, (), 2, 'relu', 0))\n"
        "print(before, 'sympy' in sys.modules)\n"
    )
    before, after = run_fresh(script).stdout.split()
    if before == "True":
        pytest.skip("this torch imports sympy when it is imported")
    # torch 2.2's meta kernels import it
    if run_fresh(META_LAYER_IMPORTS_SYMPY).stdout.strip() == "True":
        pytest.skip("this torch imports sympy to build a layer on the meta device")
    assert after == "False"


META_LAYER_IMPORTS_SYMPY = (
    "import sys, torch\n"
    "torch.nn.Linear(3, 2, device='meta')\n"
    "print('sympy' in sys.modules)\n"
)


def test_input_scale_gives_unit_variance_per_feature():
    rng = np.random.RandomState(0)
    X = rng.normal(scale=50.0, size=(500, 8)) + 3.0
    scaled = X * input_scale(X)
    assert np.mean(scaled.var(axis=0)) == pytest.approx(1.0)
    assert input_spread(sp.csr_matrix(X)) == pytest.approx(input_spread(X))
    assert input_scale(np.ones((4, 3))) == 1.0


def test_sparse_batches_give_the_dense_result():
    module = build_mlp(5, (4,), 2, "relu", seed=0)
    module[0].input_scale.fill_(0.5)
    X = torch.tensor(np.random.RandomState(0).normal(size=(6, 5)), dtype=torch.float32)
    X[X < 0] = 0
    torch.testing.assert_close(module(X.to_sparse()), module(X))
    assert isinstance(module, MLP)


def _sparse_step(module, X, labels):
    """The outputs of ``module`` on ``X`` and its first weight's gradient."""
    module.zero_grad()
    outputs = module(X)
    spectral_clustering_loss(outputs, labels).backward()
    return outputs.detach(), module[0].weight.grad.clone()


@pytest.mark.parametrize("scale", [1.0, 0.5])
@pytest.mark.parametrize("canonical", [True, False])
def test_wide_sparse_rows_train_to_torchs_values(monkeypatch, scale, canonical):
    """From ``SPARSE_PRODUCT_FEATURES`` inputs on, sparse CPU batches train
    through ``_SparseRowsProduct``: the outputs and the weight's gradient
    of torch's own product, to the bit for the rows of a canonical CSR matrix
    (sorted, distinct indices), to float32 rounding for values out of order
    and a duplicated coordinate; rows without a stored value and columns no
    row holds included."""
    width = _networks.SPARSE_PRODUCT_FEATURES
    module = build_mlp(width, (16,), 4, "relu", seed=0)
    module[0].input_scale.fill_(scale)
    rng = np.random.RandomState(0)
    rows = np.repeat(np.arange(12), 30)
    rows[:30] = 1  # row 0 holds nothing, row 1 twice as much
    columns = rng.randint(0, width // 2, rows.size)
    columns[1] = columns[0]
    values = rng.rand(rows.size).astype(np.float32)
    if canonical:
        matrix = sp.csr_matrix((values, (rows, columns)), (12, width))
        X = sparse_rows(matrix, np.arange(12), torch.device("cpu"))
    else:
        X = torch.sparse_coo_tensor(
            np.vstack([rows, columns]), values, (12, width), check_invariants=True
        )
    labels = torch.arange(12) % 3
    assert module[0]._trains_on_sparse_rows(X)
    ours = _sparse_step(module, X, labels)
    monkeypatch.setattr(_networks, "SPARSE_PRODUCT_FEATURES", width + 1)
    assert not module[0]._trains_on_sparse_rows(X)
    torchs = _sparse_step(module, X, labels)
    for found, expected in zip(ours, torchs, strict=True):
        if canonical:
            assert torch.equal(found, expected)
        else:
            # summed in another order; the loss's gradient amplifies rounding
            scale = float(expected.abs().max())
            torch.testing.assert_close(found, expected, rtol=0, atol=1e-4 * scale)
    assert torch.equal(ours[1][:, width // 2 :], torch.zeros(16, width - width // 2))


def test_sparse_rows_take_torchs_product_where_it_serves():
    """Narrower layers, no gradient, a frozen weight and inputs that ask for
    their own gradient keep ``torch.sparse.mm``."""
    width = _networks.SPARSE_PRODUCT_FEATURES
    X = torch.eye(3, width).to_sparse()
    assert not build_mlp(width - 1, (4,), 2, "relu", seed=0)[0]._trains_on_sparse_rows(
        torch.eye(3, width - 1).to_sparse()
    )
    layer = build_mlp(width, (4,), 2, "relu", seed=0)[0]
    assert layer._trains_on_sparse_rows(X)
    with torch.no_grad():
        assert not layer._trains_on_sparse_rows(X)
    assert not layer._trains_on_sparse_rows(X.clone().requires_grad_())
    layer.weight.requires_grad_(False)
    assert not layer._trains_on_sparse_rows(X)


def test_sparse_inference_reads_a_contiguous_copy_for_the_same_outputs():
    """Within the block, sparse rows read a copy of ``weight.T`` laid out
    input-major, without gradients only; outside it, torch's strided view."""
    module = build_mlp(50, (8,), 3, "relu", seed=0)
    layer = module[0]
    X = torch.relu(torch.randn(20, 50)).to_sparse()
    with torch.no_grad():
        strided = module(X)
    assert not layer._transposed_weight().is_contiguous()
    with sparse_inference(module):
        with torch.no_grad():
            copied = module(X)
            transposed = layer._transposed_weight()
            assert transposed.is_contiguous()
            assert torch.equal(transposed, layer.weight.T)
        # training reads the parameter itself, for its gradient
        assert layer._transposed_weight().grad_fn is not None
    assert torch.equal(copied, strided)
    assert layer._transposed is None  # nothing left to pickle


def test_sparse_inference_never_reads_a_stale_copy():
    module = build_mlp(6, (), 2, "relu", seed=0)
    layer = module[0]
    X = torch.eye(6).to_sparse()
    with sparse_inference(module), torch.no_grad():
        layer.weight.mul_(2.0)  # as an optimizer step changes it
        torch.testing.assert_close(module(X), module(X.to_dense()))
        layer.weight = torch.nn.Parameter(torch.ones(2, 6))  # replaced
        torch.testing.assert_close(module(X), torch.ones(6, 2) + layer.bias)


def test_conv_net_reshapes_rows_into_images():
    module = ConvNet(3 * 8 * 6, (3, 8, 6), 5, dropout=0.1)
    assert module(torch.randn(4, 144)).shape == (4, 5)
    grey = ConvNet(64, (8, 8), 3)
    assert grey.input_shape == (1, 8, 8)
    # sparse rows give the dense result
    X = torch.relu(torch.randn(3, 64))
    grey.eval()
    torch.testing.assert_close(grey(X.to_sparse()), grey(X))
    # tiny images stop pooling once they are one pixel wide
    assert ConvNet(4, (2, 2), 2)(torch.randn(2, 4)).shape == (2, 2)


def _convolution_weights(module):
    return [m.weight for m in module.modules() if isinstance(m, torch.nn.Conv2d)]


def test_conv_weights_are_channels_last_through_fit_and_files(tmp_path):
    """oneDNN's CPU kernels then keep the activations channels last too
    (benchmarks/bench_conv_layout.py); the format must survive training,
    pickling and model files, which rebuild the network."""
    X, y = load_digits(return_X_y=True)
    model = DeepSpectralClusteringEmbedder(
        network="conv",
        input_shape=(8, 8),
        init="random",
        early_stopping=False,
        max_iter=1,
        random_state=0,
    )
    model.fit(X[:200] / 16, y[:200])
    save(model, tmp_path / "model.dsc")
    for fitted in (
        model,
        pickle.loads(pickle.dumps(model)),
        load(tmp_path / "model.dsc"),
    ):
        weights = _convolution_weights(fitted.module_)
        assert [tuple(w.shape[:2]) for w in weights] == [(32, 1), (64, 32), (64, 64)]
        for weight in weights:
            assert weight.is_contiguous(memory_format=torch.channels_last)


def test_conv_net_refuses_a_shape_that_does_not_fit():
    with pytest.raises(
        ValueError, match=r"input_shape=\(7, 7\) does not fit rows of 64"
    ):
        ConvNet(64, (7, 7), 3)


@pytest.mark.parametrize("kind", ["conv", "anchored-conv", "normalized-conv"])
def test_conv_networks_are_rebuilt_from_their_description(kind):
    normalize = kind == "normalized-conv"
    head = build_trained("conv", 64, 4, seed=0, input_shape=(8, 8), normalize=normalize)
    module = (
        build_anchored(np.eye(64)[:5], np.zeros(5), head)
        if kind == "anchored-conv"
        else head
    )
    if kind == "anchored-conv":
        module.head_scale.fill_(1.0)
    assert_rebuilt(module, n_features=64)


def test_build_trained_takes_modules_and_callables():
    mine = torch.nn.Linear(6, 2)
    copy = build_trained(mine, 6, 3, seed=0)
    assert copy is not mine  # fit never trains the parameter itself
    torch.testing.assert_close(copy.weight, mine.weight)
    built = build_trained(lambda n, k: torch.nn.Linear(n, k), 6, 3, seed=1)
    again = build_trained(lambda n, k: torch.nn.Linear(n, k), 6, 3, seed=1)
    assert built.out_features == 3
    torch.testing.assert_close(built.weight, again.weight)  # seeded
    with pytest.raises(TypeError, match=r"must return a torch\.nn\.Module"):
        build_trained(lambda n, k: "not a module", 6, 3, seed=0)
    # said before the module is copied: a generator cannot be copied
    with pytest.raises(TypeError, match=r"torch\.nn\.Module, not generator"):
        build_trained(lambda n, k: (layer for layer in ()), 6, 3, seed=0)
    with pytest.raises(ValueError, match="needs input_shape"):
        build_trained("conv", 64, 3, seed=0)
    with pytest.raises(TypeError, match=r"called as network\(n_features=6, n_comp"):
        build_trained(torch.nn.ReLU, 6, 3, seed=0)  # a class, not a module


class _Returns(torch.nn.Module):
    """A linear map of 3 features to 2 whose output ``change`` alters."""

    def __init__(self, change):
        super().__init__()
        self.linear = torch.nn.Linear(3, 2)
        self.change = change

    def forward(self, inputs):
        return self.change(self.linear(inputs))


@pytest.mark.parametrize(
    ("module", "error", "message"),
    [
        (
            torch.nn.Linear(4, 2),
            ValueError,
            r"failed on a float32 batch of shape \(2, 3\)",
        ),
        (torch.nn.LSTM(3, 2), TypeError, "returned a tuple; it must return one tensor"),
        (_Returns(lambda out: out.long()), TypeError, "tensor of torch.int64"),
        (
            _Returns(lambda out: out[:1]),
            ValueError,
            r"to \(1, 2\); it must return one row",
        ),
        (_Returns(lambda out: out[:, None]), ValueError, r"to \(2, 1, 2\)"),
        (_Returns(lambda out: out / 0), ValueError, "non-finite values"),
        (torch.nn.Linear(3, 2).double(), ValueError, "parameters of torch.float64"),
        (torch.nn.Identity(), ValueError, "no parameters to train"),
        (torch.nn.Linear(3, 2).requires_grad_(False), ValueError, "no parameters"),
        (torch.nn.Linear(3, 2, device="meta"), ValueError, "on the 'meta' device"),
        (torch.nn.BatchNorm1d(3, device="meta"), ValueError, "on the 'meta' device"),
    ],
)
def test_check_network_names_what_does_not_fit(module, error, message):
    X = np.arange(12.0).reshape(4, 3)
    with pytest.raises(error, match=message):
        check_network(module, X)


def test_check_network_changes_nothing():
    module = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    state = {name: value.clone() for name, value in module.state_dict().items()}
    check_network(module, sp.csr_matrix(np.arange(12.0).reshape(4, 3)))
    assert module.training
    for name, value in module.state_dict().items():
        assert torch.equal(value, state[name]), name
    module.eval()
    check_network(module, np.ones((2, 3)))
    assert not module.training
    module.train()
    module[1].eval()  # a part of it frozen in evaluation mode stays so
    check_network(module, np.ones((2, 3)))
    assert [part.training for part in module.modules()] == [True, True, False]


def test_scale_inputs_reaches_the_first_layer():
    mlp = build_mlp(4, (3,), 2, "relu", seed=0)
    conv = ConvNet(4, (2, 2), 2)
    for module, buffer in ((mlp, mlp[0].input_scale), (conv, conv.input_scale)):
        scale_inputs(module, 0.25)
        assert buffer.item() == 0.25
    anchored = build_anchored(np.eye(4), np.zeros(4), build_mlp(4, (), 2, "relu", 0))
    scale_inputs(anchored, 3.0)
    assert anchored.head[0].input_scale.item() == 3.0
    assert anchored.anchor.input_scale.item() == 1.0


def test_a_factor_of_one_is_no_pass_over_the_inputs():
    """The anchor's inputs are never scaled, nor its output weighed where
    its weight is 1: no copy of a batch is made for either."""
    inputs = torch.randn(3, 2)
    assert scaled(inputs, torch.tensor(1.0)) is inputs
    torch.testing.assert_close(scaled(inputs, torch.tensor(2.0)), 2 * inputs)
    anchored = build_anchored(np.eye(2), np.zeros(2), build_mlp(2, (), 2, "relu", 0))
    outputs = []
    anchored.anchor.register_forward_hook(lambda m, i, output: outputs.append(output))
    assert anchored(inputs) is outputs[0]
