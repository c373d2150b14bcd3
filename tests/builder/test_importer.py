"""Importing an nn.Module back into a project (builder.importer): round trips of every
example and every catalog layer through compile -> import -> compile, hand-written modules,
the script exporter's classes, clear refusals, ``import_file`` and ``neuralcanvas import``."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
import textwrap
import types
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import assets
from builder import CATALOG, compile_network
from builder.catalog.modules import Step
from builder.compile import example_inputs
from builder.importer import ModelImportError, convert_module, import_file, import_module
from builder.importer.readers import READERS, module_types
from graph import project_file
from widgets.cli import main

EXAMPLES = assets.example_paths()
NETWORKS = [(path, name) for path in EXAMPLES for name in project_file.load(path, CATALOG).networks]
RECURRENT = ("RNN", "LSTM", "GRU")
# What a module cannot tell: how its weights started.
NOT_RECOVERABLE = {"init"}


# ----------------------------------------------------------------------------- helpers


def canonical(project: Any, network: str | None = None) -> dict[str, Any]:
    """A network of ``project_file.to_dict`` without ids and positions.

    Nodes that own a torch module (and Inputs / Outputs) are identified by name. The others
    (Add, Multiply, Concat, Reshape) leave no name in a compiled module, so they are
    identified by their type, params and inputs.
    """
    net = project.network(network)
    model = project_file.to_dict(project)["models"][net.name]
    nodes = {n["id"]: n for n in model["nodes"]}
    incoming: dict[str, list[dict[str, Any]]] = {n: [] for n in nodes}
    for e in model["edges"]:
        incoming[e["to"]].append(e)
    memo: dict[str, Any] = {}

    def params(node: dict[str, Any]) -> tuple:
        return tuple(
            sorted((k, _freeze(v)) for k, v in node["params"].items() if k not in NOT_RECOVERABLE)
        )

    def key(node_id: str) -> Any:
        if node_id not in memo:
            node = nodes[node_id]
            spec = CATALOG[node["type"]]
            if spec.ctor is not None or node["type"] in ("Input", "Output"):
                memo[node_id] = node["name"]
            else:
                ins = sorted(
                    (e["to_port"], key(e["from"]), e["from_port"]) for e in incoming[node_id]
                )
                memo[node_id] = (node["type"], params(node), tuple(ins))
        return memo[node_id]

    return {
        "nodes": sorted((repr(key(n)), nodes[n]["type"], params(nodes[n])) for n in nodes),
        "edges": sorted(
            (repr(key(e["from"])), e["from_port"], repr(key(e["to"])), e["to_port"])
            for e in model["edges"]
        ),
    }


def _freeze(value: Any) -> Any:
    return tuple(_freeze(v) for v in value) if isinstance(value, list) else value


def outputs(module: nn.Module, inputs: list[torch.Tensor]) -> tuple[torch.Tensor, ...]:
    module.eval()
    with torch.no_grad():
        result = module(*inputs)
    return result if isinstance(result, tuple) else (result,)


def assert_same_outputs(a: nn.Module, b: nn.Module, inputs: list[torch.Tensor]) -> None:
    got, want = outputs(b, inputs), outputs(a, inputs)
    assert len(got) == len(want)
    for x, y in zip(got, want):
        assert torch.equal(x, y), float((x - y).abs().max())


def round_trip(module: nn.Module, net: Any = None, **kwargs: Any):
    """Import a compiled ``module`` back, recompile it with the original weights; returns
    ``(imported project, recompiled module)`` after checking outputs are equal."""
    shapes = [p.shape[1:] for p in module.meta["inputs"]]
    dtypes = [p.shape.dtype for p in module.meta["inputs"]]
    project = import_module(module, shapes, input_dtypes=dtypes, **kwargs)
    again = compile_network(project.network())
    again.load_state_dict(module.state_dict())  # same attribute names: loads as is
    inputs = example_inputs(module, batch=3, net=net)
    assert_same_outputs(module, again, inputs)
    return project, again


def single_network(project: Any, name: str) -> Any:
    """``project`` with only network ``name`` (a GAN project has two)."""
    data = project_file.to_dict(project)
    data["models"] = {name: data["models"][name]}
    return project_file.from_dict(data, CATALOG)


# ----------------------------------------------------------------------------- examples


@pytest.mark.parametrize(("path", "network"), NETWORKS, ids=[f"{p.stem}-{n}" for p, n in NETWORKS])
def test_example_round_trips_through_compile(path, network):
    original = project_file.load(path, CATALOG)
    net = original.network(network)
    module = compile_network(net, seed=0)
    project, _ = round_trip(module, net)
    assert canonical(project) == canonical(single_network(original, network), network)
    # Every node is placed by the layered layout: distinct positions, left to right.
    imported = project.network()
    positions = {imported.pos_of(n) for n in imported.nodes}
    assert len(positions) == len(imported.nodes)
    # And the imported project is a valid project file.
    text = project_file.dumps(project)
    assert project_file.to_dict(project_file.loads(text, CATALOG)) == project_file.to_dict(project)


def _exporter() -> Any:
    """builder.export.script when it exists (written alongside this importer)."""
    if importlib.util.find_spec("builder.export.script") is None:
        return None
    return importlib.import_module("builder.export.script")


def _script_class(export: Any, net: Any, project: Any) -> type:
    """Exec the exported script (our own output, without its ``__main__`` part) and return
    its model class."""
    fn = getattr(export, "export_script", None)
    if fn is None:
        pytest.skip("builder.export.script has no export_script yet")
    first = next(iter(inspect.signature(fn).parameters), "")
    source = fn(net) if first in ("net", "network") else fn(project, net.name)
    source = source if isinstance(source, str) else getattr(source, "source", str(source))
    module = types.ModuleType("neuralcanvas_exported")
    sys.modules[module.__name__] = module  # the script's dataclasses look their module up here
    try:
        exec(compile(source, "<exported script>", "exec"), module.__dict__)
    finally:
        sys.modules.pop(module.__name__, None)
    namespace: dict[str, Any] = module.__dict__
    wanted = getattr(export, "class_name_for", None)
    if wanted is not None and wanted(project, net) in namespace:
        return namespace[wanted(project, net)]
    classes = [
        v
        for v in namespace.values()
        if isinstance(v, type)
        and issubclass(v, nn.Module)
        and v.__module__ == "neuralcanvas_exported"
        and v.__name__ != "Step"
    ]
    assert len(classes) == 1, [c.__name__ for c in classes]
    return classes[0]


@pytest.mark.parametrize(("path", "network"), NETWORKS, ids=[f"{p.stem}-{n}" for p, n in NETWORKS])
def test_exported_script_class_imports_as_the_same_graph(path, network):
    export = _exporter()
    if export is None:
        pytest.skip("builder.export.script does not exist yet")
    original = project_file.load(path, CATALOG)
    net = original.network(network)
    compiled = compile_network(net, seed=0)
    scripted = _script_class(export, net, original)()
    scripted.load_state_dict(compiled.state_dict())  # the same attribute names
    shapes = [p.shape[1:] for p in compiled.meta["inputs"]]
    dtypes = [p.shape.dtype for p in compiled.meta["inputs"]]
    names = [p.name for p in compiled.meta["outputs"]]  # a script's return names nothing
    project = import_module(scripted, shapes, input_dtypes=dtypes, output_names=names)
    assert canonical(project) == canonical(single_network(original, network), network)
    again = compile_network(project.network())
    again.load_state_dict(scripted.state_dict())
    assert_same_outputs(scripted, again, example_inputs(compiled, batch=3, net=net))


# ----------------------------------------------------------------------------- every layer


def _catalog_table() -> dict[str, list]:
    from tests.builder.test_catalog_generic import TABLE

    return TABLE


def test_every_catalog_module_has_a_reader():
    types = module_types()
    layers_with_modules = {s.type_id for s in CATALOG if s.ctor is not None}
    assert set(types.values()) == layers_with_modules
    assert set(READERS) == layers_with_modules
    assert types[nn.Linear] == "Linear" and types[Step] == "Step"


@pytest.mark.parametrize("type_id", [t for t in CATALOG.type_ids() if t not in ("Input", "Output")])
def test_every_catalog_layer_round_trips(type_id):
    for params, ins in _catalog_table()[type_id]:
        project, net = _layer_net(type_id, params, ins)
        module = compile_network(net, seed=0)
        imported, _ = round_trip(module, net)
        # Equivalent rewrites: a Reshape's -1 is compiled as the size it stands for, and a
        # recurrent layer's final state on both ports is one value in the module.
        rewritten = (type_id == "Reshape" and -1 in params["shape"]) or (
            type_id in RECURRENT and params.get("output", "last") == "last"
        )
        if not rewritten:
            assert canonical(imported) == canonical(project), params


def _layer_net(type_id: str, params: dict[str, Any], ins: dict[str, Any]):
    from graph import Project

    project = Project(CATALOG)
    net = project.add_network("main")
    layer = None
    sources = {}
    for port, (dims, dtype) in ins.items():
        sources[port] = net.add_node("Input", f"x_{port}", {"shape": dims, "dtype": dtype})
    layer = net.add_node(type_id, "layer", params)
    for port, node in sources.items():
        net.connect(node, layer, "out", port)
    for port in net.output_ports(layer):
        out = net.add_node("Output", f"y_{port}")
        net.connect(layer, out, port, "in")
    return project, net


# ----------------------------------------------------------------------------- hand-written


class ResidualBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(x + y)


class ResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 8, kernel_size=(3, 3), padding=(1, 1))
        self.block1 = ResidualBlock(8)
        self.block2 = ResidualBlock(8)
        self.pool = nn.AdaptiveAvgPool2d((1, 1))
        self.head = nn.Linear(8, 10)

    def forward(self, x):
        x = self.block2(self.block1(torch.relu(self.stem(x))))
        return self.head(torch.flatten(self.pool(x), 1))


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.fc = nn.Linear(16 * 2 * 2, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.view(x.size(0), -1)
        return F.log_softmax(self.fc(x), dim=1)


class SeqModel(nn.Module):
    """The usual ways of taking an RNN's final state or output."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(3, 8, batch_first=True)
        self.gru = nn.GRU(3, 4, num_layers=2, batch_first=True, bidirectional=True)
        self.rnn = nn.RNN(3, 5, batch_first=True)
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
        self.head = nn.Linear(8 + 8 + 5 + 6 * 8, 2)

    def forward(self, x):
        seq, (h, _) = self.lstm(x)
        _, h_gru = self.gru(x)
        out, _ = self.rnn(x)
        att, _ = self.attn(seq, seq, seq)
        gru_last = torch.cat((h_gru[-2], h_gru[-1]), dim=1)
        features = torch.cat([h[-1], gru_last, out[:, -1], att.reshape(-1, 48)], dim=1)
        return self.head(features)


class Gated(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 3)
        self.b = nn.Linear(6, 3)
        self.gate = nn.Sigmoid()
        self.drop = nn.Dropout(0.2)

    def forward(self, x, y):
        h = self.a(x) * self.gate(self.b(y))
        return self.drop(h), torch.tanh(h).reshape(-1, 3, 1)


class Tokens(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(50, 8)
        self.norm = nn.LayerNorm(8)
        self.out = nn.Linear(8 * 5, 2)

    def forward(self, ids):
        x = self.norm(self.embed(ids))
        return self.out(x.reshape(-1, 40)).softmax(-1)


class ScriptStep(nn.Module):
    """The exported script's own copy of builder.catalog.modules.Step."""

    def __init__(self, threshold: float = 0.0):
        super().__init__()
        self.threshold = float(threshold)

    def forward(self, x):
        return (x >= self.threshold).to(x.dtype)


class Perceptrons(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)
        self.unit = ScriptStep(0.25)
        self.theirs = Step(-0.5)

    def forward(self, x):
        y = self.fc(x)
        return self.unit(y), (y >= 0.0).float(), self.theirs(y)


class BasicBlock(nn.Module):
    """torchvision's ResNet BasicBlock: one ReLU module called twice, an in-place add."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(4)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(4, 3, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(3)

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.relu(out)


class DepthwiseSeparable(nn.Module):
    """MobileNet's block: a depthwise 3×3 convolution, then a pointwise 1×1; a grouped
    convolution as ResNeXt's."""

    def __init__(self):
        super().__init__()
        self.depthwise = nn.Conv2d(4, 4, 3, padding=1, groups=4, bias=False)
        self.bn = nn.BatchNorm2d(4)
        self.act = nn.ReLU6()
        self.pointwise = nn.Conv2d(4, 8, 1)
        self.grouped = nn.Conv2d(8, 6, 3, groups=2)

    def forward(self, x):
        return self.grouped(self.pointwise(self.act(self.bn(self.depthwise(x)))))


class DenseBlock(nn.Module):
    """torchvision's DenseNet block: each layer sees torch.cat of every earlier feature map
    (the first of one tensor alone)."""

    def __init__(self):
        super().__init__()
        self.layer1 = nn.Conv2d(2, 2, 3, padding=1)
        self.layer2 = nn.Conv2d(4, 2, 3, padding=1)

    def forward(self, x):
        features = [x]
        features.append(self.layer1(torch.cat(features, 1)))
        features.append(self.layer2(torch.cat(features, 1)))
        return torch.cat(features, 1)


class Patches(nn.Module):
    """A vision transformer's patch embedding: conv, flatten the grid, put patches first."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Conv2d(1, 4, 2, stride=2)
        self.norm = nn.LayerNorm(4)

    def forward(self, x):
        return self.norm(self.embed(x).flatten(2).permute(0, 2, 1))


class SqueezeExcitation(nn.Module):
    """MobileNetV3's / EfficientNet's gate: global pool, a small MLP of 1×1 convolutions, a
    hard sigmoid, and the input scaled channel by channel (broadcast multiply)."""

    def __init__(self):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(8, 2, 1)
        self.relu = nn.ReLU()
        self.fc2 = nn.Conv2d(2, 8, 1)
        self.gate = nn.Hardsigmoid()

    def forward(self, x):
        scale = self.gate(self.fc2(self.relu(self.fc1(self.pool(x)))))
        return scale * x


HAND_WRITTEN = {
    "reused-relu": (BasicBlock, [(3, 8, 8)]),
    "squeeze-excitation": (SqueezeExcitation, [(8, 5, 5)]),
    "upsampling": (
        lambda: nn.Sequential(
            nn.Conv2d(2, 3, 3, padding=1),
            nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
            nn.Upsample(scale_factor=2),
        ),
        [(2, 4, 5)],
    ),
    "vit-patches": (Patches, [(1, 8, 8)]),
    "dense-block": (DenseBlock, [(2, 6, 6)]),
    "depthwise-and-grouped": (DepthwiseSeparable, [(4, 7, 7)]),
    "ceil-mode-pooling": (  # GoogLeNet's and SqueezeNet's pooling
        lambda: nn.Sequential(
            nn.Conv2d(1, 2, 3), nn.MaxPool2d(3, 2, ceil_mode=True), nn.AvgPool2d(2, ceil_mode=True)
        ),
        [(1, 10, 10)],
    ),
    "sequential-mlp": (
        lambda: nn.Sequential(
            nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 3), nn.Softmax(dim=1)
        ),
        [(4,)],
    ),
    "cnn": (SmallCNN, [(1, 8, 8)]),
    "resnet": (ResNet, [(1, 8, 8)]),
    "sequences": (SeqModel, [(6, 3)]),
    "two-inputs-two-outputs": (Gated, [(4,), (6,)]),
    "tokens": (Tokens, [(5,)]),
    "threshold-units": (Perceptrons, [(3,)]),
}


@pytest.mark.parametrize("case", sorted(HAND_WRITTEN))
def test_hand_written_module_imports_and_computes_the_same(case):
    make, shapes = HAND_WRITTEN[case]
    torch.manual_seed(0)
    module = make().eval()
    result = convert_module(module, shapes)
    net = result.project.network()
    compiled = compile_network(net)
    compiled.load_state_dict(result.state_dict)  # strict: every weight found its layer
    inputs = example_inputs(compiled, batch=3, net=net)
    assert_same_outputs(module, compiled, inputs)


def test_hand_written_names_types_and_weights():
    result = convert_module(ResNet(), [(1, 8, 8)])
    net = result.project.network()
    names = {net.name_of(n): net.type_of(n) for n in net.nodes}
    assert names["x"] == "Input" and names["output"] == "Output"
    assert names["stem"] == "Conv2d" and names["block1.conv1"] == "Conv2d"
    assert names["block2.bn2"] == "BatchNorm2d" and names["head"] == "Linear"
    # Operations inside a submodule are named after it.
    assert names["block1.add"] == names["block2.add"] == "Add"
    assert names["block1.relu"] == names["block1.relu_2"] == "ReLU"
    assert net.params_of(net.find("stem"))["kernel_size"] == 3  # (3, 3) reads as 3
    assert net.params_of(net.find("pool"))["output_size"] == 1
    assert result.sources["block1.conv1"] == "block1.conv1"
    assert "block1_conv1.weight" in result.state_dict
    assert "block1_bn1.running_mean" in result.state_dict
    assert result.project.name == "Imported"


def test_recurrent_patterns_pick_the_right_ports():
    net = import_module(SeqModel(), [(6, 3)]).network()
    lstm, gru, rnn = (net.find(n) for n in ("lstm", "gru", "rnn"))
    assert net.params_of(lstm)["output"] == "sequence"  # its sequence feeds attention
    assert {e.src_port for e in net.out_edges(lstm)} == {"out", "state"}
    assert net.params_of(gru)["output"] == "last"
    assert net.params_of(gru)["bidirectional"] and net.params_of(gru)["num_layers"] == 2
    assert net.params_of(rnn)["output"] == "last"  # out[:, -1] is its final state
    attention = net.find("attn")
    assert [e.dst_port for e in net.in_edges(attention)] == ["query"]  # self-attention


def test_threshold_patterns_are_step_layers():
    net = import_module(Perceptrons(), [(3,)]).network()
    steps = {net.name_of(n): net.params_of(n) for n in net.nodes if net.type_of(n) == "Step"}
    assert steps == {
        "unit": {"threshold": 0.25},
        "float_1": {"threshold": 0.0},
        "theirs": {"threshold": -0.5},
    }


def test_merges_fold_like_the_compiler():
    class Sum3(nn.Module):
        def forward(self, a, b, c):
            return a + b + c, torch.cat([a, b, c], dim=-1)

    net = import_module(Sum3(), [(4,), (4,), (4,)]).network()
    adds = [n for n in net.nodes if net.type_of(n) == "Add"]
    assert len(adds) == 1 and net.params_of(adds[0])["num_inputs"] == 3
    (cat,) = [n for n in net.nodes if net.type_of(n) == "Concat"]
    assert net.params_of(cat) == {"num_inputs": 3, "dim": -1}


def test_input_dtype_defaults_to_int64_before_an_embedding():
    net = import_module(Tokens(), [(5,)]).network()
    assert net.params_of(net.find("ids"))["dtype"] == "int64"
    net = import_module(nn.Linear(3, 2), [(3,)]).network()
    assert net.params_of(net.find("x"))["dtype"] == "float32"


# ----------------------------------------------------------------------------- refusals


class Custom(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.scale = nn.Parameter(torch.ones(4))

    def forward(self, x):
        return torch.exp(self.fc(x)) + x.pow(2) + self.scale.sum()


def test_unsupported_operations_are_listed_together():
    with pytest.raises(ModelImportError) as info:
        import_module(Custom(), [(4,)])
    text = str(info.value)
    assert text.startswith("Cannot import Custom: 3 operations have no NeuralCanvas layer")
    assert "call_function 'exp' (torch.exp): no layer computes it" in text
    assert "call_method '.pow()'" in text
    assert "call_method '.sum()'" in text  # on a parameter read directly
    assert "rewrite the parts listed" in text.lower()
    assert len(info.value.problems) == 3


def test_transformer_is_refused_clearly():
    class WithTransformer(nn.Module):
        def __init__(self):
            super().__init__()
            self.transformer = nn.Transformer(
                d_model=8,
                nhead=2,
                num_encoder_layers=1,
                num_decoder_layers=1,
                dim_feedforward=16,
                batch_first=True,
            )

        def forward(self, src, tgt):
            return self.transformer(src, tgt)

    with pytest.raises(ModelImportError) as info:
        import_module(WithTransformer(), [(5, 8), (4, 8)])
    assert (
        "call_module 'transformer' (torch.nn.modules.transformer.Transformer):"
        " Transformer is not a layer of the catalog"
    ) in str(info.value)


@pytest.mark.parametrize(
    ("module", "shapes", "expected"),
    [
        (nn.LSTM(3, 4), [(5, 3)], "has batch_first=False"),
        (nn.Conv2d(1, 4, 3, padding="same"), [(1, 8, 8)], "padding='same'"),
        (nn.Embedding(10, 4, padding_idx=0), [(3,)], "padding_idx=0"),
        (nn.Softmax(), [(3,)], "give dim"),
    ],
)
def test_unsupported_settings_are_named(module, shapes, expected):
    with pytest.raises(ModelImportError, match="no NeuralCanvas layer") as info:
        import_module(module, shapes)
    assert expected in str(info.value)


def test_layers_that_do_not_fit_the_input_shape_are_named():
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(10, 2))
    with pytest.raises(ModelImportError) as info:
        import_module(model, [(8,)])
    text = str(info.value)
    assert (
        "Linear '2' has in_features=10 but the size of the last dim of its input gives 16" in text
    )
    with pytest.raises(ModelImportError, match="the network does not check") as info:
        import_module(nn.Conv2d(1, 2, 3), [(8,)])  # a vector into a Conv2d
    assert "Conv2d 'conv' expects (N, channels, height, width) but receives (N, 8)" in str(
        info.value
    )


def test_shared_modules_data_dependent_code_and_bad_shapes_are_refused():
    class Shared(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            return self.fc(self.fc(x))

    with pytest.raises(ModelImportError, match="called a second time"):
        import_module(Shared(), [(4,)])
    # a module without weights called twice is two layers (torchvision's ResNet's relu)
    net = import_module(BasicBlock(), [(3, 8, 8)]).network()
    assert [net.name_of(n) for n in net.nodes if net.type_of(n) == "ReLU"] == ["relu", "relu_2"]
    net = import_module(DepthwiseSeparable(), [(4, 7, 7)]).network()
    groups = {
        net.name_of(n): net.params_of(n)["groups"]
        for n in net.nodes
        if "groups" in net.params_of(n)
    }
    assert groups == {"depthwise": 0, "pointwise": 1, "grouped": 2}  # 0: depthwise

    class Branchy(nn.Module):
        def forward(self, x):
            return x if x.sum() > 0 else -x

    with pytest.raises(ModelImportError, match="torch.fx cannot trace its forward"):
        import_module(Branchy(), [(4,)])
    with pytest.raises(ModelImportError, match="forward takes 1 inputs"):
        import_module(nn.Linear(4, 2), [(4,), (4,)])
    with pytest.raises(ModelImportError, match="Input shape 1"):
        import_module(nn.Linear(4, 2), [(0,)])


# ----------------------------------------------------------------------------- files and CLI

MODEL_FILE = """
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, hidden=8):
        super().__init__()
        self.fc1 = nn.Linear(4, hidden)
        self.fc2 = nn.Linear(hidden, 3)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


class NeedsArgs(nn.Module):
    def __init__(self, width):
        super().__init__()


class Weird(nn.Module):
    def forward(self, x):
        return torch.exp(x)
"""


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "models.py"
    path.write_text(textwrap.dedent(MODEL_FILE), encoding="utf-8")
    return path


def test_import_file(model_file):
    project = import_file(f"{model_file}:Net", [(4,)])
    net = project.network()
    assert project.name == "Net"
    assert [net.type_of(n) for n in net.nodes] == ["Input", "Linear", "ReLU", "Linear", "Output"]
    with pytest.raises(ModelImportError, match=r"NeedsArgs\(\) needs arguments \(width\)"):
        import_file(f"{model_file}:NeedsArgs", [(4,)])
    with pytest.raises(ModelImportError, match="has no 'Missing'.*Net, NeedsArgs, Weird"):
        import_file(f"{model_file}:Missing", [(4,)])
    with pytest.raises(ModelImportError, match="name the class"):
        import_file(str(model_file), [(4,)])
    broken = model_file.with_name("broken.py")
    broken.write_text("import torch\n\nraise RuntimeError('no GPU here')\n", encoding="utf-8")
    with pytest.raises(ModelImportError, match="failed at line 3: RuntimeError: no GPU here"):
        import_file(f"{broken}:Net", [(4,)])


def test_cli_import_writes_a_project(model_file, tmp_path, capsys):
    out = tmp_path / "net.json"
    status = main(
        ["import", f"{model_file}:Net", "-o", str(out), "--input-shape", "4", "--name", "MLP"]
    )
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert f"Wrote {out}" in captured.out
    assert "fc1" in captured.out and "Linear" in captured.out
    project = project_file.load(out, CATALOG)
    assert project.name == "MLP"
    module = compile_network(project.network())
    assert module(torch.zeros(2, 4)).shape == (2, 3)


def test_cli_import_errors_exit_2_without_traceback(model_file, tmp_path, capsys):
    out = tmp_path / "weird.json"
    status = main(["import", f"{model_file}:Weird", "-o", str(out), "--input-shape", "4"])
    captured = capsys.readouterr()
    assert status == 2
    assert captured.err.startswith("neuralcanvas: error: Cannot import Weird: 1 operation")
    assert "torch.exp" in captured.err and "Traceback" not in captured.err
    assert not out.exists()
    status = main(["import", f"{model_file}:Net", "-o", str(out), "--input-shape", "4,a"])
    assert status == 2
    status = main(["import", "nowhere.py:Net", "-o", str(out), "--input-shape", "4"])
    assert status == 2
    assert "is not a file" in capsys.readouterr().err
