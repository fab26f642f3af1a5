"""The torch networks the estimator trains."""

import contextlib
import itertools

import torch

ACTIVATIONS = {
    "identity": torch.nn.Identity,
    "logistic": torch.nn.Sigmoid,
    "tanh": torch.nn.Tanh,
    "relu": torch.nn.ReLU,
}


class SparseInputLinear(torch.nn.Linear):
    """A linear layer that also accepts a sparse COO input batch.

    A sparse batch is multiplied by ``torch.sparse.mm`` so it is never
    densified; gradients flow to the weight as usual. The inputs are first
    multiplied by the buffer ``input_scale`` (1 unless set), which the
    estimator sets so that the network sees inputs of unit variance per
    feature on average, whatever their units: training is then the same for
    ``X`` and ``1e20 * X``.
    """

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__(in_features, out_features, bias, device, dtype)
        self.register_buffer("input_scale", torch.ones((), device=device, dtype=dtype))

    def forward(self, inputs):
        inputs = inputs * self.input_scale
        if inputs.is_sparse:
            outputs = torch.sparse.mm(inputs, self.weight.T)
            return outputs if self.bias is None else outputs + self.bias
        return super().forward(inputs)


@contextlib.contextmanager
def private_seed(seed, device=None):
    """Inside the block, torch draws from generators seeded with ``seed``.

    The CPU generator is seeded, and that of ``device`` when it is a CUDA
    device; both are put back as they were afterwards. Unlike
    ``torch.manual_seed``, no other device's generator is touched.
    """
    cuda = [device] if device is not None and device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        torch.default_generator.manual_seed(seed)
        for index in cuda:
            with torch.cuda.device(index):
                torch.cuda.manual_seed(seed)
        yield


def build_mlp(
    n_features, hidden_layer_sizes, n_components, activation, seed, dropout=0.0
):
    """A multi-layer perceptron ``n_features -> hidden... -> n_components``.

    With no hidden layer it is a single linear map (a linear metric). Every
    hidden activation is followed by ``torch.nn.Dropout(dropout)`` when
    ``dropout > 0``. The weights use torch's default initialisation drawn from
    a generator seeded with ``seed``, without touching torch's global random
    state.
    """
    sizes = [n_features, *hidden_layer_sizes, n_components]
    layers = []
    # Layers draw their initial weights when built: build them under a
    # private seed so that torch's global random state is left as it was.
    with private_seed(seed):
        for index, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
            linear = SparseInputLinear if index == 0 else torch.nn.Linear
            layers.append(linear(fan_in, fan_out))
            if index < len(sizes) - 2:
                layers.append(ACTIVATIONS[activation]())
                if dropout > 0:
                    layers.append(torch.nn.Dropout(dropout))
    return torch.nn.Sequential(*layers)


class AnchoredEmbedding(torch.nn.Module):
    """``[anchor_weight * anchor(x), head_scale * head(x)]``.

    A fixed linear *anchor* (the PCA projection of the inputs or the
    closed-form linear solution, at unit spread on the training data) beside a
    *head* (an MLP or a linear map) trained with the spectral clustering loss
    on its own output. Training the loss on the training classes makes the
    head discriminative but loses structure that other classes need; the
    anchor keeps it. The two weights are buffers, set after training: with
    ``head_scale = 0`` (a head not trained, or not kept) the embedding is the
    anchor alone, without the head's columns.
    """

    def __init__(self, anchor, head):
        super().__init__()
        self.anchor = anchor.requires_grad_(False)
        self.head = head
        self.register_buffer("anchor_weight", torch.tensor(1.0))
        self.register_buffer("head_scale", torch.tensor(0.0))

    def forward(self, inputs):
        anchor = self.anchor_weight * self.anchor(inputs)
        if not self.head_scale:
            return anchor
        return torch.cat([anchor, self.head_scale * self.head(inputs)], dim=1)


def build_anchored(
    weight, bias, hidden_layer_sizes, n_components, activation, seed, dropout=0.0
):
    """An ``AnchoredEmbedding`` with anchor ``(weight, bias)`` and a fresh head."""
    n_anchor, n_features = weight.shape
    anchor = torch.nn.utils.skip_init(SparseInputLinear, n_features, n_anchor)
    with torch.no_grad():
        anchor.weight.copy_(torch.as_tensor(weight, dtype=torch.float32))
        anchor.bias.copy_(torch.as_tensor(bias, dtype=torch.float32))
        anchor.input_scale.fill_(1.0)  # skip_init leaves buffers unset
    head = build_mlp(
        n_features, hidden_layer_sizes, n_components, activation, seed, dropout
    )
    return AnchoredEmbedding(anchor, head)
