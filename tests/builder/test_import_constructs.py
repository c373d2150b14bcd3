"""The importer's constructs that read sizes as constants (the input shapes are given):
sizes and their arithmetic, torch._assert, transpose, slicing, chunk and narrow, mean over
dims; each imported with identical outputs, and refused with a reason where it cannot be."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from builder.compile import compile_network
from builder.importer import ModelImportError, convert_module


class Shuffle(nn.Module):  # ShuffleNet's channel shuffle, written as torchvision writes it
    def forward(self, x):
        batch, channels, height, width = x.size()
        groups = 2
        x = x.view(batch, groups, channels // groups, height, width)
        x = torch.transpose(x, 1, 2).contiguous()
        return x.view(batch, channels, height, width)


class Halves(nn.Module):  # x1, x2 = x.chunk(2, dim=1), one half through a layer
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)

    def forward(self, x):
        a, b = x.chunk(2, dim=1)
        return torch.cat((a, self.conv(b)), dim=1)


class Token(nn.Module):  # a transformer's class token out of the sequence, and a narrow
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        torch._assert(x.dim() == 3, "expected (N, L, D)")
        n, length, d = x.shape
        torch._assert(d == 4, "expected 4 features")
        return self.fc(x[:, 0]) + x.narrow(2, 1, 2)[:, length - 1]


class Pooled(nn.Module):  # MNASNet's global pooling
    def forward(self, x):
        return x.mean([2, 3]) + x.mean(dim=(2, 3), keepdim=True).flatten(1)


@pytest.mark.parametrize(
    ("module", "shape", "layers"),
    [
        (Shuffle(), (6, 3, 3), {"Reshape", "Permute"}),
        (Halves(), (6, 4, 4), {"Slice", "Conv2d", "Concat"}),
        (Token(), (5, 4), {"Slice", "Linear", "Add"}),
        (Pooled(), (3, 4, 4), {"Mean", "Flatten", "Add"}),
    ],
    ids=["shuffle", "chunk", "token", "mean"],
)
def test_construct_imports_with_identical_outputs(module, shape, layers):
    module.eval()
    imported = convert_module(module, [shape])
    net = imported.project.network()
    assert layers <= {net.type_of(n) for n in net.nodes}
    again = compile_network(net).eval()
    again.load_state_dict(imported.state_dict, strict=True)
    x = torch.randn(3, *shape)
    with torch.no_grad():
        assert torch.equal(again(x), module(x))


def test_an_assert_the_shapes_do_not_meet_is_named():
    with pytest.raises(ModelImportError, match="asserts 'expected 4 features'"):
        convert_module(Token(), [(5, 6)])


class BatchMath(nn.Module):
    def forward(self, x):
        return x.reshape(x.size(0) * 2, -1)


def test_arithmetic_on_the_batch_size_is_refused_with_a_reason():
    with pytest.raises(ModelImportError, match="computes with the batch size"):
        convert_module(BatchMath(), [(4,)])


class TwoDims(nn.Module):
    def forward(self, x):
        return x[:, 0, 1]


def test_indexing_two_dims_at_once_is_refused_with_a_reason():
    with pytest.raises(ModelImportError, match="more than one dim at once"):
        convert_module(TwoDims(), [(3, 4)])


class Tokens(nn.Module):  # a class token and learned positions, as torchvision's ViT writes them
    def __init__(self):
        super().__init__()
        self.class_token = nn.Parameter(torch.randn(1, 1, 4))
        self.pos_embedding = nn.Parameter(torch.randn(1, 6, 4))
        self.layer_scale = nn.Parameter(torch.rand(4) + 0.5)

    def forward(self, x):
        n = x.shape[0]
        x = torch.cat([self.class_token.expand(n, -1, -1), x], dim=1)
        return self.layer_scale * (x + self.pos_embedding)


def test_parameters_read_directly_import_as_their_layers():
    module = Tokens().eval()
    imported = convert_module(module, [(5, 4)])
    net = imported.project.network()
    assert {"ClassToken", "PositionalEncoding", "Scale"} <= {net.type_of(n) for n in net.nodes}
    again = compile_network(net).eval()
    again.load_state_dict(imported.state_dict, strict=True)
    x = torch.randn(3, 5, 4)
    with torch.no_grad():
        assert torch.equal(again(x), module(x))


class Misfit(nn.Module):
    def __init__(self):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(3, 4))

    def forward(self, x):
        return x + self.bias


def test_a_parameter_added_in_another_way_is_refused_by_name():
    with pytest.raises(ModelImportError, match="adds 'bias' of shape \\(3, 4\\)"):
        convert_module(Misfit(), [(2, 4)])


class Encoder(nn.Module):  # nn.TransformerEncoder: fx cannot trace into it
    def __init__(self, norm_first: bool, activation: str):
        super().__init__()
        layer = nn.TransformerEncoderLayer(
            16, 4, 32, activation=activation, batch_first=True, norm_first=norm_first
        )
        self.encoder = nn.TransformerEncoder(
            layer, 2, norm=nn.LayerNorm(16), enable_nested_tensor=False
        )
        self.head = nn.Linear(16, 3)

    def forward(self, x):
        return self.head(self.encoder(x)[:, 0])


@pytest.mark.parametrize(("norm_first", "activation"), [(False, "relu"), (True, "gelu")])
def test_transformer_encoder_imports_as_its_layers(norm_first, activation):
    torch.manual_seed(0)
    module = Encoder(norm_first, activation).eval()
    imported = convert_module(module, [(7, 16)])
    net = imported.project.network()
    types = [net.type_of(n) for n in net.topological_order()]
    assert types.count("TransformerEncoderLayer") == 2 and "LayerNorm" in types
    again = compile_network(net).eval()
    again.load_state_dict(imported.state_dict, strict=True)
    assert sum(p.numel() for p in again.parameters()) == sum(p.numel() for p in module.parameters())
    x = torch.randn(3, 7, 16)
    with torch.no_grad():
        assert torch.equal(again(x), module(x))


def test_encoder_layer_causal_and_padding_mask():
    from builder.catalog.modules import EncoderLayer

    torch.manual_seed(0)
    layer = EncoderLayer(8, 2, 16, 0.0, causal=True).eval()
    x = torch.randn(2, 5, 8)
    later = x.clone()
    later[:, 3:] += 1.0
    with torch.no_grad():  # a step sees only itself and earlier steps
        assert torch.allclose(layer(x)[:, :3], layer(later)[:, :3], atol=1e-6)
        assert not torch.allclose(layer(x)[:, 3:], layer(later)[:, 3:])
        layer.causal = False
        mask = torch.tensor([[0, 0, 0, 1, 1], [0, 0, 0, 0, 0]])  # the first row's last 2: padding
        assert torch.allclose(layer(x, mask)[0, :3], layer(later, mask)[0, :3], atol=1e-6)


def test_an_encoder_that_is_not_batch_first_is_refused_with_what_to_do():
    layer = nn.TransformerEncoderLayer(8, 2, 16)
    with pytest.raises(ModelImportError, match="batch_first=True"):
        convert_module(nn.TransformerEncoder(layer, 1, enable_nested_tensor=False), [(5, 8)])


class Fixed(nn.Module):  # a fixed table (a buffer), not learned positions
    def __init__(self):
        super().__init__()
        self.register_buffer("table", torch.randn(1, 5, 4))

    def forward(self, x):
        return x + self.table


class Odd(nn.Module):
    def __init__(self, how: str):
        super().__init__()
        self.how = how

    def forward(self, x):
        if self.how == "narrow":
            return x.narrow(1, 4, 3)
        if self.how == "ellipsis":
            return x[..., 0]
        return x.mean(-1)


def test_a_buffer_read_directly_is_not_made_a_learned_layer():
    with pytest.raises(
        ModelImportError, match="'table' as learned positions, but it is not a parameter"
    ):
        convert_module(Fixed(), [(5, 4)])


@pytest.mark.parametrize(
    ("how", "message"),
    [("narrow", "narrows 3 from 4 of a dim of 5"), ("ellipsis", "indexes with \\.\\.\\.")],
)
def test_slices_outside_the_tensor_or_with_an_ellipsis_are_refused(how, message):
    with pytest.raises(ModelImportError, match=message):
        convert_module(Odd(how), [(5, 4)])


def test_a_mean_over_dims_counted_from_the_end_imports():
    module = Odd("mean")
    imported = convert_module(module, [(5, 4)])
    net = imported.project.network()
    (mean,) = [n for n in net.nodes if net.type_of(n) == "Mean"]
    assert tuple(net.params_of(mean)["dims"]) == (2,)
    x = torch.randn(3, 5, 4)
    assert torch.equal(compile_network(net)(x), module(x))


def test_an_approximate_gelu_encoder_is_refused():
    layer = nn.TransformerEncoderLayer(
        8, 2, 16, activation=nn.GELU(approximate="tanh"), batch_first=True
    )
    with pytest.raises(ModelImportError, match="tanh approximation of GELU"):
        convert_module(nn.TransformerEncoder(layer, 1, enable_nested_tensor=False), [(5, 8)])
