"""The torch networks the estimator trains."""

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
    densified; gradients flow to the weight as usual.
    """

    def forward(self, inputs):
        if inputs.is_sparse:
            outputs = torch.sparse.mm(inputs, self.weight.T)
            return outputs if self.bias is None else outputs + self.bias
        return super().forward(inputs)


def build_mlp(n_features, hidden_layer_sizes, n_components, activation, seed):
    """A multi-layer perceptron ``n_features -> hidden... -> n_components``.

    With no hidden layer it is a single linear map (a linear metric). The
    weights use torch's default initialisation drawn from a generator seeded
    with ``seed``, without touching torch's global random state.
    """
    sizes = [n_features, *hidden_layer_sizes, n_components]
    layers = []
    # Layers draw their initial weights when built: build them under a
    # private seed so that torch's global random state is left as it was.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for index, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
            linear = SparseInputLinear if index == 0 else torch.nn.Linear
            layers.append(linear(fan_in, fan_out))
            if index < len(sizes) - 2:
                layers.append(ACTIVATIONS[activation]())
    return torch.nn.Sequential(*layers)


class ResidualEmbedding(torch.nn.Module):
    """``linear(x) + mlp(x)``: a linear path and an optional residual MLP.

    For the directions its linear path provides, the MLP's output starts at
    zero, so the untrained network is exactly that linear start (for example
    a PCA projection or the closed-form linear solution) and training adds
    non-linear corrections.
    """

    def __init__(self, linear, mlp=None):
        super().__init__()
        self.linear = linear
        self.mlp = mlp

    def forward(self, inputs):
        outputs = self.linear(inputs)
        return outputs if self.mlp is None else outputs + self.mlp(inputs)


def build_residual(weight, bias, hidden_layer_sizes, activation, seed):
    """A ``ResidualEmbedding`` whose linear path starts at ``(weight, bias)``.

    Rows of ``weight`` that are all zero mark directions the linear start does
    not provide: there the MLP keeps its random initial output. A direction
    that is exactly zero on every sample would never move, since the loss's
    gradient is blind to directions outside the embedding's column space.
    """
    n_components, n_features = weight.shape
    weight = torch.as_tensor(weight, dtype=torch.float32)
    linear = torch.nn.utils.skip_init(SparseInputLinear, n_features, n_components)
    with torch.no_grad():
        linear.weight.copy_(weight)
        linear.bias.copy_(torch.as_tensor(bias, dtype=torch.float32))
    mlp = None
    if hidden_layer_sizes:
        mlp = build_mlp(n_features, hidden_layer_sizes, n_components, activation, seed)
        provided = weight.abs().sum(dim=1) > 0
        with torch.no_grad():
            mlp[-1].weight[provided] = 0.0
            mlp[-1].bias[provided] = 0.0
    return ResidualEmbedding(linear, mlp)
