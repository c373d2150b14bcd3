"""The architectures that ship with torchvision, built by torchvision's own code, import
exactly: the imported project compiles to a network with torch's parameter count whose
outputs, with the original weights, are identical (``torch.equal``) to the original's in eval
mode, and its exported script loads the same weights with ``strict=True`` and gives the same
outputs. Inputs are small where the architecture allows (the layers are what is checked);
depths are cut where torchvision's constructor takes them (ResNets of bottleneck blocks, one
a stage, run the same code as resnet50, wide_resnet50_2 and resnext50_32x4d). One member a
family, to keep the suite short: resnet50, mobilenet_v3_large, regnet_x_400mf,
efficientnet_v2_s, inception_v3 at 299, vit_b_16 and convnext_tiny were checked the same way
in full size (bench/bench_import.py imports resnet50, densenet121 and vit_b_16)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn

from builder.compile import compile_network
from builder.importer import convert_module
from tests.builder.test_importer import _exporter, _script_class
from tests.builder.torchvision_models import models


def _resnet(**kwargs: Any) -> nn.Module:
    tv = models()
    return tv.resnet.ResNet(tv.resnet.Bottleneck, [1, 1, 1, 1], **kwargs)


# name: (builder, input side)
FAMILIES: dict[str, tuple[Callable[[], nn.Module], int]] = {
    "resnet18": (lambda: models().resnet18(), 32),
    "resnet (bottleneck blocks, resnet50's)": (lambda: _resnet(), 32),
    "wide_resnet (width 128)": (lambda: _resnet(width_per_group=128), 32),
    "resnext (32x4d)": (lambda: _resnet(groups=32, width_per_group=4), 32),
    "googlenet": (lambda: models().googlenet(aux_logits=False, init_weights=False), 32),
    "inception_v3": (lambda: models().inception_v3(aux_logits=False, init_weights=False), 75),
    "mobilenet_v2": (lambda: models().mobilenet_v2(), 32),
    "mobilenet_v3_small": (lambda: models().mobilenet_v3_small(), 32),
    "squeezenet1_0": (lambda: models().squeezenet1_0(), 48),
    "squeezenet1_1": (lambda: models().squeezenet1_1(), 48),
    "densenet121": (lambda: models().densenet121(), 32),
    "regnet_y_400mf": (lambda: models().regnet_y_400mf(), 32),
    "mnasnet0_5": (lambda: models().mnasnet0_5(), 32),
    "shufflenet_v2_x0_5": (lambda: models().shufflenet_v2_x0_5(), 32),
    "efficientnet_b0": (lambda: models().efficientnet_b0(), 32),
    # torchvision's ConvNeXt (convnext_tiny's class, blocks and LayerNorm2d) with two stages
    "convnext (ConvNeXt)": (
        lambda: models().convnext.ConvNeXt(
            [
                models().convnext.CNBlockConfig(16, 32, 2),
                models().convnext.CNBlockConfig(32, None, 1),
            ],
            stochastic_depth_prob=0.1,
        ),
        32,
    ),
    # torchvision's VisionTransformer (vit_b_16's class) at a small size: patches, class
    # token, learned positions, encoder blocks, the head on x[:, 0]
    "vit (VisionTransformer)": (
        lambda: models().vision_transformer.VisionTransformer(
            image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=16, mlp_dim=32
        ),
        32,
    ),
}


@pytest.mark.parametrize("family", list(FAMILIES))
def test_torchvision_family_imports_exactly(family):
    build, side = FAMILIES[family]
    torch.manual_seed(0)
    original = build().eval()
    imported = convert_module(original, [(3, side, side)])
    net = imported.project.network()
    again = compile_network(net).eval()
    again.load_state_dict(imported.state_dict, strict=True)
    count = sum(p.numel() for p in original.parameters())
    assert sum(p.numel() for p in again.parameters()) == count
    x = torch.randn(2, 3, side, side, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want = original(x)
        assert torch.equal(again(x), want)
        script = _script_class(_exporter(), net, imported.project)().eval()
        script.load_state_dict(imported.state_dict, strict=True)
        assert torch.equal(script(x), want)


@pytest.mark.parametrize("mode", ["row", "batch"])
def test_stochastic_depth_drops_as_torchvision_does_in_training(mode):
    from builder.catalog.modules import StochasticDepth

    models()  # torchvision entered without its compiled operators, then its drop path
    from torchvision.ops.stochastic_depth import stochastic_depth

    x = torch.randn(64, 3, 4, 4)
    layer = StochasticDepth(0.3, mode).train()
    torch.manual_seed(5)
    ours = layer(x)
    torch.manual_seed(5)
    assert torch.equal(ours, stochastic_depth(x, 0.3, mode, True))
    kept = (ours.flatten(1) != 0).any(1)
    if mode == "row":  # whole samples dropped, the rest scaled by 1 / (1 - p)
        assert 0 < int(kept.sum()) < 64
        assert torch.allclose(ours[kept], x[kept] / 0.7)
    assert torch.equal(layer.eval()(x), x)
