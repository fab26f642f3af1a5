"""The torch networks the estimator trains.

Each network describes itself (``architecture()``, a JSON-able dict) and
``build_network`` rebuilds it from that description, which is what model
files store.
"""

import contextlib
import copy
import itertools
import math
import threading
from numbers import Integral

import numpy as np
import scipy.sparse as sp
import torch

from ._blocks import by_column_blocks
from ._wording import choice, parameter, setting

ACTIVATIONS = {
    "identity": torch.nn.Identity,
    "logistic": torch.nn.Sigmoid,
    "tanh": torch.nn.Tanh,
    "relu": torch.nn.ReLU,
}


# From this many inputs on, ``SparseInputLinear`` trains on sparse CPU
# batches through ``_SparseRowsProduct``: on 2 cores, a training step of the
# default MLP on 256 rows of 100 stored values takes 0.37x to 0.56x the time
# of torch's own product from 4,096 to 2^18 inputs, 0.98x at 2,500
# (benchmarks/bench_sparse_layout.py)
SPARSE_PRODUCT_FEATURES = 4096


class _SparseRowsProduct(torch.autograd.Function):
    """``inputs @ weight.T`` of a sparse COO batch on the CPU, and the
    gradient of ``weight``, without reading ``weight`` column by column.

    torch keeps the weight output-major, so ``torch.sparse.mm(inputs,
    weight.T)`` reads a column strided by ``in_features`` for each stored
    value, and its backward forms the weight's gradient input-major and
    transposes it: a strided copy of the whole weight at every step. Here the
    forward multiplies ``weight`` by the batch's transpose, coalesced, and the
    backward forms the gradient on the columns that the batch holds alone
    (``grad.T @ inputs`` on those columns), scattered into zeros laid out
    as the weight. Both sum the batch's values coalesced, in sorted order:
    torch's values to the bit for rows whose indices are sorted and
    distinct (a canonical CSR matrix's), to float32 rounding otherwise. The
    inputs get no gradient.
    """

    @staticmethod
    def forward(ctx, inputs, weight):
        inputs = inputs.coalesce()
        rows, columns = inputs.indices()
        used, position = torch.unique(columns, return_inverse=True)
        held = torch.sparse_coo_tensor(
            torch.stack([rows, position]),
            inputs.values(),
            (inputs.shape[0], len(used)),
            check_invariants=False,  # reindexed from a valid tensor
        )
        ctx.save_for_backward(held, used)
        ctx.n_features = weight.shape[1]
        return (weight @ inputs.t().coalesce()).t().contiguous()

    @staticmethod
    def backward(ctx, grad):
        held, used = ctx.saved_tensors
        grad_weight = grad.new_zeros((grad.shape[1], ctx.n_features))
        grad_weight[:, used] = grad.t() @ held
        return None, grad_weight


def is_one(factor):
    """Whether the 0-d tensor ``factor`` is 1, where reading it costs no
    synchronisation: on the CPU (on a GPU, ``False``)."""
    return factor.device.type == "cpu" and factor.item() == 1.0


def scaled(inputs, factor):
    """``inputs * factor`` (a 0-d tensor); ``inputs`` themselves where
    ``factor`` is 1 (``is_one``), as the anchor's input scale always is and
    its weight mostly is, rather than a copy of the batch made for
    nothing."""
    return inputs if is_one(factor) else inputs * factor


class SparseInputLinear(torch.nn.Linear):
    """A linear layer that also accepts a sparse COO input batch.

    A sparse batch is multiplied by ``torch.sparse.mm`` so it is never
    densified; gradients flow to the weight as usual (on the CPU, from
    ``SPARSE_PRODUCT_FEATURES`` inputs on, through ``_SparseRowsProduct``,
    which computes the same values faster). The inputs are first multiplied
    by the buffer ``input_scale`` (1 unless set), which the estimator sets
    so that the network sees inputs of unit variance per feature on average,
    whatever their units: training is then the same for ``X`` and
    ``1e20 * X``.
    """

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__(in_features, out_features, bias, device, dtype)
        self.register_buffer("input_scale", torch.ones((), device=device, dtype=dtype))
        self._transposed = None  # see sparse_inference

    def forward(self, inputs):
        inputs = scaled(inputs, self.input_scale)
        if not inputs.is_sparse:
            return super().forward(inputs)
        if self._trains_on_sparse_rows(inputs):
            outputs = _SparseRowsProduct.apply(inputs, self.weight)
        else:
            outputs = torch.sparse.mm(inputs, self._transposed_weight())
        return outputs if self.bias is None else outputs + self.bias

    def _trains_on_sparse_rows(self, inputs):
        """Whether the weight's gradient of the sparse batch ``inputs`` is
        asked for where ``_SparseRowsProduct`` computes it faster."""
        return (
            self.in_features >= SPARSE_PRODUCT_FEATURES
            and inputs.device.type == "cpu"
            and torch.is_grad_enabled()
            and self.weight.requires_grad
            and not inputs.requires_grad
        )

    def _transposed_weight(self):
        """``weight.T``: the contiguous copy that ``sparse_inference`` made,
        where it is still the weight's and no gradient is asked for, else the
        strided view. (Read once: another thread's block may end meanwhile.)"""
        copy = self._transposed
        if copy is not None and not torch.is_grad_enabled():
            source, version, transposed = copy
            if source is self.weight and source._version == version:
                return transposed
        return self.weight.T


@contextlib.contextmanager
def sparse_inference(module):
    """Within the block, each ``SparseInputLinear`` of ``module`` multiplies
    sparse rows without gradients by a contiguous copy of ``weight.T``, made
    on entry and dropped on exit.

    torch keeps a linear layer's weight output-major (``out x in``), so that
    ``weight.T`` reads, for each stored value of a sparse row, a column
    strided by ``in_features``: on 2 CPU cores the copy makes embedding
    rows of 30,000 to 2^18 columns five or six times faster, for the same
    outputs (``benchmarks/bench_sparse_layout.py``). Training keeps torch's
    layout: its fused AdamW step is five times slower on the transposed
    one, and dense rows would move by float32 rounding (BLAS sums in
    another order). The copy costs the memory of the weights while the
    block runs; a weight changed in the meantime (in place, or replaced)
    is read as it is.
    """
    layers = [
        layer for layer in module.modules() if isinstance(layer, SparseInputLinear)
    ]
    try:
        for layer in layers:
            weight = layer.weight
            transposed = weight.detach().T.contiguous()
            layer._transposed = (weight, weight._version, transposed)
        yield module
    finally:
        for layer in layers:
            layer._transposed = None


# torch's generators are the process's, shared by its threads: the blocks
# that seed them run one at a time, or fits in threads (joblib's threading
# backend) would draw from each other's seeds and lose their random_state
_SEEDED_BLOCK = threading.RLock()


@contextlib.contextmanager
def private_seed(seed, device=None):
    """Inside the block, torch draws from generators seeded with ``seed``.

    The CPU generator is seeded, and that of ``device`` when it is a CUDA
    device; both are put back as they were afterwards. Unlike
    ``torch.manual_seed``, no other device's generator is touched. Such
    blocks of different threads run one after the other (a block may
    nest in its own thread's).
    """
    cuda = [device] if device is not None and device.type == "cuda" else []
    with _SEEDED_BLOCK, torch.random.fork_rng(devices=cuda):
        torch.default_generator.manual_seed(seed)
        for index in cuda:
            with torch.cuda.device(index):
                torch.cuda.manual_seed(seed)
        yield


class L2Normalize(torch.nn.Module):
    """Each row divided by its Euclidean norm (an all-zero row stays zero):
    the last layer of a network that ``normalize_embeddings`` asks for."""

    def forward(self, inputs):
        return torch.nn.functional.normalize(inputs, dim=1)


class MLP(torch.nn.Sequential):
    """A multi-layer perceptron ``n_features -> hidden... -> n_components``.

    With no hidden layer it is a single linear map (a linear metric). Every
    hidden activation is followed by ``torch.nn.Dropout(dropout)`` when
    ``dropout > 0``; with ``normalize``, an ``L2Normalize`` layer ends it.
    The first layer is a ``SparseInputLinear``. The weights
    use torch's default initialisation, from torch's global generator (see
    ``build_mlp`` for a private seed).
    """

    def __init__(
        self,
        n_features,
        hidden_layer_sizes,
        n_components,
        activation,
        dropout=0.0,
        normalize=False,
    ):
        sizes = [n_features, *hidden_layer_sizes, n_components]
        layers = []
        for index, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
            linear = SparseInputLinear if index == 0 else torch.nn.Linear
            layers.append(linear(fan_in, fan_out))
            if index < len(sizes) - 2:
                layers.append(ACTIVATIONS[activation]())
                if dropout > 0:
                    layers.append(torch.nn.Dropout(dropout))
        if normalize:
            layers.append(L2Normalize())
        super().__init__(*layers)
        self.layer_sizes = sizes
        self.activation = activation
        self.dropout = float(dropout)
        self.normalize = bool(normalize)

    @property
    def n_features(self):
        return self.layer_sizes[0]

    def architecture(self):
        """What ``build_network`` needs to rebuild this network."""
        return {
            "kind": "mlp",
            "layer_sizes": list(self.layer_sizes),
            "activation": self.activation if len(self.layer_sizes) > 2 else "identity",
            "dropout": self.dropout,
            "normalize": self.normalize,
        }


def hidden_layers(sizes):
    """``hidden_layer_sizes`` as a tuple: an int is one hidden layer, as
    scikit-learn's ``MLPClassifier`` reads it."""
    return (sizes,) if isinstance(sizes, Integral) else tuple(sizes)


def build_mlp(
    n_features,
    hidden_layer_sizes,
    n_components,
    activation,
    seed,
    dropout=0.0,
    normalize=False,
):
    """An ``MLP`` whose initial weights are drawn from a generator seeded with
    ``seed``, without touching torch's global random state."""
    # Layers draw their initial weights when built: build them under a
    # private seed so that torch's global random state is left as it was.
    with private_seed(seed):
        return MLP(
            n_features, hidden_layer_sizes, n_components, activation, dropout, normalize
        )


class ConvNet(torch.nn.Module):
    """A small convolutional network for images given as flat rows.

    Each row is reshaped to ``input_shape`` (``(height, width)`` or
    ``(channels, height, width)``) and passes through one block per entry of
    ``channels`` (a 3x3 convolution, the activation and a 2x2 max-pooling
    while the image is at least 2 pixels high and wide), then a linear layer
    to ``n_components`` (after dropout when ``dropout > 0``), whose rows are
    L2-normalised with ``normalize``. Inputs are first multiplied by the
    buffer ``input_scale``, as in ``MLP``; sparse rows are made dense.
    """

    CHANNELS = (32, 64, 64)

    def __init__(
        self,
        n_features,
        input_shape,
        n_components,
        activation="relu",
        dropout=0.0,
        channels=CHANNELS,
        normalize=False,
    ):
        super().__init__()
        shape = tuple(int(n) for n in input_shape)
        if len(shape) == 2:
            shape = (1, *shape)
        if len(shape) != 3 or min(shape) < 1 or math.prod(shape) != n_features:
            raise ValueError(
                f"{setting('input_shape', tuple(input_shape))} does not fit rows of "
                f"{n_features} features: give (height, width) or (channels, "
                "height, width) whose product is the number of features."
            )
        self.input_shape = shape
        self.channels = [int(c) for c in channels]
        self.activation = activation
        self.dropout = float(dropout)
        self.n_components = n_components
        layers, (depth, height, width) = [], shape
        for n_channels in self.channels:
            layers += [
                torch.nn.Conv2d(depth, n_channels, 3, padding=1),
                ACTIVATIONS[activation](),
            ]
            if min(height, width) >= 2:
                layers.append(torch.nn.MaxPool2d(2))
                height, width = height // 2, width // 2
            depth = n_channels
        # the convolutions' weights channels last: oneDNN's CPU kernels then
        # keep the activations so: on 2 cores a training step on 256 images
        # of 32x32 took 0.67x the time, embedding them 0.44x
        # (benchmarks/bench_conv_layout.py)
        self.features = torch.nn.Sequential(*layers).to(
            memory_format=torch.channels_last
        )
        self.drop = torch.nn.Dropout(dropout) if dropout > 0 else torch.nn.Identity()
        self.output = torch.nn.Linear(depth * height * width, n_components)
        self.normalize = bool(normalize)
        self.unit_rows = L2Normalize() if normalize else torch.nn.Identity()
        self.register_buffer("input_scale", torch.ones(()))

    @property
    def n_features(self):
        return math.prod(self.input_shape)

    def forward(self, inputs):
        if inputs.is_sparse:
            inputs = inputs.to_dense()
        images = scaled(inputs, self.input_scale).reshape(-1, *self.input_shape)
        features = self.features(images).flatten(start_dim=1)
        return self.unit_rows(self.output(self.drop(features)))

    def architecture(self):
        """What ``build_network`` needs to rebuild this network."""
        return {
            "kind": "conv",
            "n_features": self.n_features,
            "input_shape": list(self.input_shape),
            "channels": list(self.channels),
            "n_components": self.n_components,
            "activation": self.activation,
            "dropout": self.dropout,
            "normalize": self.normalize,
        }


class AnchoredEmbedding(torch.nn.Module):
    """``[anchor_weight * anchor(x), head_scale * head(x)]``.

    A fixed linear *anchor* (the PCA projection of the inputs or the
    closed-form linear solution, at unit spread on the training data) beside a
    *head* (an MLP or a linear map) trained with the spectral clustering loss
    on its own output. Training the loss on the training classes makes the
    head discriminative but loses structure that other classes need; the
    anchor keeps it. The two weights are buffers, set after training: with
    ``head_scale = 0`` (a head not trained, or not kept) the embedding is the
    anchor alone, without the head's columns; with ``anchor_weight = 0`` (a
    head that clusters held-out classes best alone) it is the head alone.
    """

    def __init__(self, anchor, head):
        super().__init__()
        self.anchor = anchor.requires_grad_(False)
        self.head = head
        self.register_buffer("anchor_weight", torch.tensor(1.0))
        self.register_buffer("head_scale", torch.tensor(0.0))

    @property
    def n_features(self):
        return self.anchor.in_features

    def architecture(self):
        """What ``build_network`` needs to rebuild this network: the head's
        description, its kind under ``"head"``."""
        head = self.head.architecture()
        return {
            **head,
            "kind": "anchored",
            "head": head["kind"],
            "anchor_width": self.anchor.out_features,
        }

    def forward(self, inputs):
        if not self.head_scale:
            return scaled(self.anchor(inputs), self.anchor_weight)
        head = self.head_scale * self.head(inputs)
        if not self.anchor_weight:  # the head alone was chosen
            return head
        return torch.cat([scaled(self.anchor(inputs), self.anchor_weight), head], dim=1)


def build_anchored(weight, bias, head):
    """An ``AnchoredEmbedding`` with anchor ``(weight, bias)`` beside ``head``.

    The anchor layer is built on the meta device, which draws no random
    numbers and allocates nothing, and then given float32 copies of
    ``weight`` and ``bias``. (``torch.nn.utils.skip_init`` does the same but
    materialises the layer through ``Module.to_empty``, whose first call in
    a process imports sympy: a third of a second, a quarter of a default fit
    on the digits that keeps an anchor alone and so builds no optimizer,
    which imports it too.)
    """
    n_anchor, n_features = weight.shape
    anchor = SparseInputLinear(n_features, n_anchor, device="meta")
    anchor.weight = _float32_parameter(weight)
    anchor.bias = _float32_parameter(bias)
    anchor.input_scale = torch.ones(())
    return AnchoredEmbedding(anchor, head)


def _float32_parameter(values):
    """A parameter holding a contiguous float32 copy of the array ``values``."""
    values = np.ascontiguousarray(values)
    return torch.nn.Parameter(torch.tensor(values, dtype=torch.float32))


def build_trained(
    network,
    n_features,
    n_components,
    seed,
    hidden_layer_sizes=(),
    activation="relu",
    dropout=0.0,
    input_shape=None,
    normalize=False,
):
    """The network the loss trains, weights drawn from a generator seeded with
    ``seed``: ``"mlp"``, ``"conv"``, a copy of a ``torch.nn.Module``, or a
    copy of what a callable ``network(n_features, n_components)`` returns; with
    ``normalize``, its output rows L2-normalised (a network of the user's is
    followed by ``L2Normalize``)."""
    if isinstance(network, str) and network == "mlp":
        return build_mlp(
            n_features,
            hidden_layer_sizes,
            n_components,
            activation,
            seed,
            dropout,
            normalize,
        )
    with private_seed(seed):
        if isinstance(network, str) and network == "conv":
            if input_shape is None:
                raise ValueError(
                    f"{setting('network', 'conv')} needs "
                    f"{parameter('input_shape')}, the shape of one sample such as "
                    f"{choice((28, 28))} or {choice((3, 32, 32))}."
                )
            return ConvNet(
                n_features,
                input_shape,
                n_components,
                activation,
                dropout,
                normalize=normalize,
            )
        module = network
        if not isinstance(network, torch.nn.Module):
            module = _built(network, n_features, n_components)
        if not isinstance(module, torch.nn.Module):
            raise TypeError(
                f"network(n_features, n_components) must return a "
                f"torch.nn.Module, not {type(module).__name__}."
            )
        # Fit never changes a parameter of the user's module, nor of one that
        # a callable returns and may keep (a pretrained backbone), which one
        # fit would otherwise train for the next.
        module = copy.deepcopy(module)
    return torch.nn.Sequential(module, L2Normalize()) if normalize else module


def _built(builder, n_features, n_components):
    """``builder(n_features, n_components)``, a TypeError of the call said as
    one of ``network=`` (a module class passed instead of a module, say)."""
    try:
        return builder(n_features, n_components)
    except TypeError as error:
        raise TypeError(
            f"network={getattr(builder, '__name__', builder)!s} is called as "
            f"network(n_features={n_features}, n_components={n_components}) to "
            f"build the network, and that failed: {error}. Pass a module (an "
            "instance), or a callable of those two arguments."
        ) from error


# The rows of X on which a network of the user's is tried before training.
PROBE_ROWS = 2


def evaluated(module, batch):
    """``module``'s output for ``batch``, in evaluation mode and without
    gradients: neither its weights nor its running statistics change, and
    no random numbers are drawn. Each part's own mode is put back after (a
    part set to evaluation mode, a frozen backbone's batch norm say, stays
    so)."""
    modes = [(part, part.training) for part in module.modules()]
    module.eval()
    try:
        with torch.no_grad():
            return module(batch)
    finally:
        for part, mode in modes:
            part.training = mode


def check_network(module, X):
    """Raise a clear error unless ``module``, a network of the user's, maps
    the first rows of ``X`` (float32, on the device of its parameters) to
    one finite floating-point tensor ``(n, width)``.

    The rows pass once, in evaluation mode and without gradients, so that
    neither its weights nor its running statistics change; a network that
    does not fit the data fails here, with a message that names it, and not
    deep inside torch during training (or never, where ``init="auto"``
    keeps an anchor alone).
    """
    name = f"network={type(module).__name__}"
    parameters = list(module.parameters())
    if not any(parameter.requires_grad for parameter in parameters):
        raise ValueError(
            f"{name} has no parameters to train (none, or none that requires "
            "a gradient); give a network with trainable weights."
        )
    if any(tensor.is_meta for tensor in (*parameters, *module.buffers())):
        raise ValueError(
            f"{name} has tensors on the 'meta' device, which hold shapes but no "
            "values: create its weights first (network.to_empty(device='cpu'), "
            "then initialise them, or build it without device='meta')."
        )
    other = {p.dtype for p in parameters if p.is_floating_point()} - {torch.float32}
    if other:
        raise ValueError(
            f"{name} has parameters of {', '.join(map(str, sorted(other, key=str)))}; "
            "training runs in float32: pass the network as network.float()."
        )
    rows = X[:PROBE_ROWS]
    rows = rows.toarray() if sp.issparse(rows) else np.asarray(rows)
    batch = torch.as_tensor(rows, dtype=torch.float32, device=parameters[0].device)
    try:
        output = evaluated(module, batch)
    except Exception as error:
        raise ValueError(
            f"{name} failed on a float32 batch of shape {tuple(batch.shape)}, "
            f"rows of X as training gives them: {type(error).__name__}: {error}"
        ) from error
    if not isinstance(output, torch.Tensor):
        raise TypeError(
            f"{name} returned a {type(output).__name__}; it must return one "
            "tensor of embeddings (wrap a module that returns several, such as "
            "an LSTM, in one that returns the tensor to embed)."
        )
    if not output.is_floating_point():
        raise TypeError(
            f"{name} returned a tensor of {output.dtype}; embeddings must be "
            "floating point, for the loss's gradient to reach the weights."
        )
    if output.ndim != 2 or len(output) != len(batch):
        raise ValueError(
            f"{name} maps a batch of shape {tuple(batch.shape)} to "
            f"{tuple(output.shape)}; it must return one row per input row, "
            "(n, width): flatten its output, for example with torch.nn.Flatten()."
        )
    if not torch.isfinite(output).all():
        raise ValueError(
            f"{name} returned non-finite values for the first rows of X, "
            "before any training: check its weights, or scale X."
        )


def scale_inputs(module, scale):
    """Set the factor by which a network of this package multiplies its
    inputs (of the head, for an anchored one); other modules keep theirs."""
    target = module.head if isinstance(module, AnchoredEmbedding) else module
    if isinstance(target, MLP):
        target[0].input_scale.fill_(scale)
    elif isinstance(target, ConvNet):
        target.input_scale.fill_(scale)


def keeps_its_inputs(module):
    """Whether ``module`` is a network of this package, none of whose layers
    writes to its inputs, so that ``_data.embed`` may pass it the caller's
    rows without a copy (a network of the user's own may write to them)."""
    if isinstance(module, AnchoredEmbedding):
        return keeps_its_inputs(module.anchor) and keeps_its_inputs(module.head)
    return isinstance(module, SparseInputLinear | MLP | ConvNet)


def describable(module):
    """Whether ``describe`` can describe ``module``: a network this package
    builds, anchored or not (an anchor beside a network of the user's own is
    not)."""
    if isinstance(module, AnchoredEmbedding):
        return describable(module.head)
    return hasattr(module, "architecture")


def describe(module):
    """``module.architecture()``, for the networks this package builds."""
    if not describable(module):
        raise TypeError(
            f"a network of type {type(module).__name__} cannot be described in a "
            "model file; save the estimator with pickle or joblib instead."
        )
    return module.architecture()


def build_network(architecture):
    """The network that ``architecture`` (from ``describe``) describes, with
    placeholder weights to be loaded.

    Built under ``torch.device("meta")`` it allocates nothing, which gives
    the shapes of its weights before any memory is committed to them.

    Raises ``ValueError`` for a description that no network of this package
    has (unknown kind or activation, sizes that are not positive integers,
    dropout outside ``[0, 1)``).
    """
    kind = architecture["kind"]
    activation = architecture["activation"]
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}")
    dropout = architecture.get("dropout", 0.0)
    if not (isinstance(dropout, float) and 0 <= dropout < 1):
        raise ValueError(f"invalid dropout {dropout!r}")
    normalize = architecture.get("normalize", False)  # absent from older files
    if not isinstance(normalize, bool):
        raise ValueError(f"invalid normalize {normalize!r}")
    sizes = architecture.get("layer_sizes", [1, 1])  # MLPs only
    if not (_positive_integers(sizes) and len(sizes) >= 2):
        raise ValueError(f"invalid layer sizes {sizes!r}")
    if kind not in ("mlp", "conv", "anchored"):
        raise ValueError(f"unknown network kind {kind!r}")
    head_kind = architecture.get("head", "mlp") if kind == "anchored" else kind
    width = architecture.get("anchor_width") if kind == "anchored" else 1
    if not _positive_integers([width]):
        raise ValueError(f"invalid anchor_width {width!r}")
    # weights are placeholders: draw them without touching torch's global state
    with private_seed(0):
        if head_kind == "mlp":
            head = MLP(sizes[0], sizes[1:-1], sizes[-1], activation, dropout, normalize)
        elif head_kind == "conv":
            head = _conv_from(architecture, activation, dropout, normalize)
        else:
            raise ValueError(f"unknown head kind {head_kind!r}")
        if kind != "anchored":
            return head
        return AnchoredEmbedding(SparseInputLinear(head.n_features, width), head)


def is_width(value):
    """Whether ``value`` is a layer's width: a positive integer, not a bool."""
    return isinstance(value, Integral) and not isinstance(value, bool) and value >= 1


def _positive_integers(values):
    return isinstance(values, list) and all(is_width(n) for n in values)


def _conv_from(architecture, activation, dropout, normalize):
    shape, channels = architecture["input_shape"], architecture["channels"]
    n_features, n_components = architecture["n_features"], architecture["n_components"]
    if not (
        _positive_integers(shape)
        and _positive_integers(channels)
        and _positive_integers([n_features, n_components])
    ):
        raise ValueError(
            f"invalid convolutional network: input_shape {shape!r}, channels "
            f"{channels!r}, n_features {n_features!r}, n_components {n_components!r}"
        )
    return ConvNet(
        n_features, shape, n_components, activation, dropout, channels, normalize
    )


def input_spread(X):
    """Root-mean-square distance of the rows of ``X`` to their mean, in float64."""
    if sp.issparse(X):
        X = X.astype(np.float64)
        mean = np.asarray(X.mean(axis=0)).ravel()
        mean_square = np.asarray(X.multiply(X).mean(axis=0)).ravel()
        return float(np.sqrt(max(np.sum(mean_square - mean**2), 0.0)))
    variances = by_column_blocks(
        lambda block: np.var(block, axis=0, dtype=np.float64), X
    )
    return float(np.sqrt(np.sum(variances)))


def input_scale(X):
    """The factor that gives the rows of ``X`` unit variance per feature on
    average, the scale torch's default initialisation is made for (1 for
    constant ``X``)."""
    spread = input_spread(X)
    return math.sqrt(X.shape[1]) / spread if spread > 0 else 1.0
