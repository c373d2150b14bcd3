"""Several named Outputs (a VAE's "recon", "mean", "log_var") through shape inference,
compilation, the exported model class and the importer; and the Sample layer."""

from __future__ import annotations

import pytest
import torch

import builder
import graph
from builder.catalog.modules import Sample
from builder.compile import named_outputs, output_index, output_names
from builder.errors import GraphInvalidError, OutputNotFoundError
from builder.export.script import export
from builder.importer import convert_module, import_module
from builder.shapes import ShapeChecker, check_compilable
from tests.builder.test_export import check_model, import_script

NAMES = ["recon", "mean", "log_var"]


def vae(latent: int = 3) -> tuple[graph.Project, graph.Network, dict[str, str]]:
    """Input -> Linear -> two Linear heads -> Sample -> Linear -> Output "recon", plus the
    heads' Outputs "mean" and "log_var" (node names are unique, so the heads are to_*)."""
    project = graph.Project(builder.CATALOG, name="vae")
    net = project.add_network("main")
    ids = {
        "x": net.add_node("Input", name="x", params={"shape": (6,)}),
        "encoder": net.add_node("Linear", name="encoder", params={"out_features": 8}),
        "to_mean": net.add_node("Linear", name="to_mean", params={"out_features": latent}),
        "to_log_var": net.add_node("Linear", name="to_log_var", params={"out_features": latent}),
        "z": net.add_node("Sample", name="z"),
        "decoder": net.add_node("Linear", name="decoder", params={"out_features": 6}),
    }
    net.connect(ids["x"], ids["encoder"])
    net.connect(ids["encoder"], ids["to_mean"])
    net.connect(ids["encoder"], ids["to_log_var"])
    net.connect(ids["to_mean"], ids["z"], "out", "mean")
    net.connect(ids["to_log_var"], ids["z"], "out", "log_var")
    net.connect(ids["z"], ids["decoder"])
    for name, src in zip(NAMES, ("decoder", "to_mean", "to_log_var")):
        ids[name] = net.add_node("Output", name=name)
        net.connect(ids[src], ids[name])
    return project, net, ids


# ----------------------------------------------------------------------------- compile


def test_vae_compiles_and_names_its_outputs():
    _, net, ids = vae()
    results = check_compilable(net)
    assert all(info.ok for info in results.values())
    assert results[ids["z"]].outputs["out"] == builder.Shape.of(3)
    model = builder.compile_network(net, seed=0)
    ports = model.meta["outputs"]
    assert [p.node_name for p in ports] == NAMES
    assert [p.node_id for p in ports] == [ids[n] for n in NAMES]
    assert [tuple(p.shape) for p in ports] == [("N", 6), ("N", 3), ("N", 3)]
    assert model.OUTPUTS == tuple(NAMES) == output_names(model)
    assert [output_index(model, n) for n in NAMES] == [0, 1, 2]

    x = torch.randn(4, 6)
    model.eval()
    with torch.no_grad():
        out = named_outputs(model, model(x))
        assert list(out) == NAMES
        mean = model.to_mean(model.encoder(x))
        assert torch.equal(out["mean"], mean)
        assert torch.equal(out["log_var"], model.to_log_var(model.encoder(x)))
        assert torch.equal(out["recon"], model.decoder(mean))  # eval: z is the mean
        model.train()
        torch.manual_seed(1)
        drawn = named_outputs(model, model(x))
        assert not torch.equal(drawn["recon"], out["recon"])
        torch.manual_seed(1)
        assert torch.equal(named_outputs(model, model(x))["recon"], drawn["recon"])


def test_single_output_is_found_by_name_too():
    project = graph.Project(builder.CATALOG)
    net = project.add_network("main")
    inp = net.add_node("Input", params={"shape": (2,)})
    out = net.add_node("Output", name="logits")
    net.connect(inp, out)
    model = builder.compile_network(net)
    assert model.OUTPUTS == ("logits",) and output_index(model, "logits") == 0
    x = torch.randn(2, 2)
    assert torch.equal(named_outputs(model, model(x))["logits"], x)


def test_missing_output_name_says_what_to_do():
    _, net, _ = vae()
    model = builder.compile_network(net)
    with pytest.raises(OutputNotFoundError) as info:
        output_index(model, "z")
    text = str(info.value)
    assert "'z'" in text and "'recon', 'mean', 'log_var'" in text and "add an Output" in text
    with pytest.raises(OutputNotFoundError, match="names no Outputs"):
        output_names(torch.nn.Linear(2, 2))


# ----------------------------------------------------------------------------- unique names


def test_clashing_output_names_are_a_problem_on_the_later_output():
    _, net, ids = vae()
    checker = ShapeChecker(net)
    assert not checker.problems()
    net.rename(ids["log_var"], "Mean")  # the same as "mean" but for case
    problems = dict(checker.problems())
    assert list(problems) == [ids["log_var"]]
    message = problems[ids["log_var"]]
    assert "Output 'Mean' has the same name as Output 'mean'" in message
    assert "rename one of them" in message
    with pytest.raises(GraphInvalidError, match="same name as Output 'mean'"):
        builder.compile_network(net)
    net.rename(ids["log_var"], "log var")
    assert not checker.problems()
    # A new Output that clashes, then the removal of the first one: the second is fine again.
    extra = net.add_node("Output", name="Log_Var")
    net.connect(ids["to_log_var"], extra)
    assert [n for n, _ in checker.problems()] == [extra]
    net.remove_node(ids["log_var"])
    assert not checker.problems()
    assert checker.check() == builder.infer(net)
    checker.close()


# ----------------------------------------------------------------------------- Sample


def test_sample_refuses_mean_and_log_var_of_different_shapes():
    _, net, ids = vae()
    net.set_param(ids["to_log_var"], "out_features", 4)
    info = builder.infer(net)[ids["z"]]
    assert info.status == "error"
    assert info.message.startswith(
        "Sample 'z' needs mean and log_var of the same shape but receives (N, 3) on 'mean'"
        " and (N, 4) on 'log_var'"
    )
    assert "same out_features" in info.message


def test_sample_is_the_reparameterisation():
    mean, log_var = torch.randn(5, 3), torch.randn(5, 3)
    layer = Sample()
    torch.manual_seed(7)
    got = layer(mean, log_var)
    torch.manual_seed(7)
    assert torch.equal(got, mean + torch.exp(0.5 * log_var) * torch.randn_like(mean))
    assert torch.equal(layer.eval()(mean, log_var), mean)


# ----------------------------------------------------------------------------- export


def test_vae_exports_a_model_class_that_names_its_outputs(tmp_path):
    project, net, _ = vae()
    result = export(project)
    assert '    OUTPUTS = ("recon", "mean", "log_var")\n' in result.code
    assert "class Sample(nn.Module):" in result.code
    assert "        x = self.z(to_mean, to_log_var)\n" in result.code
    assert "        return x, to_mean, to_log_var\n" in result.code
    module = import_script(result.code, tmp_path)
    cls = getattr(module, result.class_name)
    assert cls.OUTPUTS == tuple(NAMES) and output_names(cls()) == tuple(NAMES)
    check_model(net, module, result.class_name, 0)  # state_dict loads; identical outputs
    # The script's Sample is builder.catalog.modules.Sample.
    mean, log_var = torch.randn(4, 3), torch.randn(4, 3)
    torch.manual_seed(2)
    mine = module.Sample()(mean, log_var)
    torch.manual_seed(2)
    assert torch.equal(mine, Sample()(mean, log_var))
    assert torch.equal(module.Sample().eval()(mean, log_var), mean)


# ----------------------------------------------------------------------------- import


def _same_outputs(a: torch.nn.Module, b: torch.nn.Module, x: torch.Tensor) -> None:
    a.eval()
    b.eval()
    with torch.no_grad():
        got, want = a(x), b(x)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert torch.equal(g, w)


def _check_imported_vae(project: graph.Project) -> torch.nn.Module:
    net = project.network()
    outputs = [n for n in net.nodes if net.type_of(n) == "Output"]
    assert [net.name_of(n) for n in outputs] == NAMES
    (sample,) = [n for n in net.nodes if net.type_of(n) == "Sample"]
    ports = {e.dst_port: net.name_of(e.src) for e in net.in_edges(sample)}
    assert ports == {"mean": "to_mean", "log_var": "to_log_var"}
    again = builder.compile_network(net)
    assert again.OUTPUTS == tuple(NAMES)
    return again


def test_vae_imports_back_with_its_output_names():
    _, net, _ = vae()
    model = builder.compile_network(net, seed=0)
    again = _check_imported_vae(import_module(model, [(6,)]))
    again.load_state_dict(model.state_dict())
    _same_outputs(model, again, torch.randn(5, 6))


def test_exported_vae_class_imports_back(tmp_path):
    project, net, _ = vae()
    result = export(project)
    scripted = getattr(import_script(result.code, tmp_path), result.class_name)()
    compiled = builder.compile_network(net, seed=3)
    scripted.load_state_dict(compiled.state_dict())
    again = _check_imported_vae(import_module(scripted, [(6,)]))  # names from its OUTPUTS
    again.load_state_dict(scripted.state_dict())
    _same_outputs(scripted, again, torch.randn(5, 6))


class HandWrittenVae(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = torch.nn.Linear(6, 8)
        self.mean = torch.nn.Linear(8, 2)
        self.log_var = torch.nn.Linear(8, 2)
        self.sample = Sample()
        self.decoder = torch.nn.Linear(2, 6)

    def forward(self, x):
        h = torch.relu(self.encoder(x))
        mean, log_var = self.mean(h), self.log_var(h)
        return self.decoder(self.sample(mean, log_var=log_var)), mean, log_var


def test_a_module_returning_a_tuple_imports_as_several_outputs():
    module = HandWrittenVae()
    net = import_module(module, [(6,)]).network()
    outputs = [n for n in net.nodes if net.type_of(n) == "Output"]
    assert [net.name_of(n) for n in outputs] == ["output_1", "output_2", "output_3"]
    # Named, the Outputs take their names and the layers called so make way (mean -> mean_2);
    # the weights follow the layers.
    imported = convert_module(module, [(6,)], output_names=NAMES)
    named = imported.project.network()
    layers = {named.name_of(n) for n in named.nodes if named.type_of(n) == "Linear"}
    assert layers == {"encoder", "mean_2", "log_var_2", "decoder"}
    assert imported.sources["mean_2"] == "mean"
    again = builder.compile_network(named)
    assert again.OUTPUTS == tuple(NAMES)
    again.load_state_dict(imported.state_dict)
    _same_outputs(module, again, torch.randn(4, 6))
