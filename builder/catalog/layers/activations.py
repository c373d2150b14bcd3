"""Activation functions (Step to Softmax, and Identity, the linear one)."""

from __future__ import annotations

from typing import Any

from builder.catalog.layers.common import (
    ACT,
    elementwise,
    float_input,
    one_input,
)
from builder.catalog.params import BOOL, CHOICE, FLOAT, INT, Param
from builder.catalog.spec import Ctor, LayerSpec, P, Shape, Shapes, fail

SPECS: list[LayerSpec] = []
add = SPECS.append

# ----------------------------------------------------------------------------- activations


def _hardtanh_infer(p: P, ins: Shapes) -> dict[str, Shape]:
    if not p["min_val"] < p["max_val"]:
        raise fail(f"has min_val {p['min_val']} not below max_val {p['max_val']}", "raise max_val")
    return elementwise(p, ins)


def _activation(
    tid: str, target: str, help_text: str, params: tuple[Param, ...] = (), kw=None, **extra: Any
) -> None:
    add(
        LayerSpec(
            tid,
            ACT,
            help_text,
            params=params,
            infer=extra.pop("infer", elementwise),
            ctor=lambda p, ins: Ctor(target, kw(p, ins) if kw else {}),
            default_name=extra.pop("default_name", tid.lower()),
            **extra,
        )
    )


_activation(
    "Step",
    "builder.catalog.modules.Step",
    "Threshold unit (McCulloch–Pitts): 1 if x >= threshold, else 0. Its gradient is zero,"
    " so train it with the perceptron rule, not backprop.",
    (Param("threshold", FLOAT, 0.0, "Fires at or above this value."),),
    kw=lambda p, ins: {"threshold": p["threshold"]},
)
_activation(
    "Sigmoid",
    "torch.nn.Sigmoid",
    "σ(x) = 1 / (1 + e^-x), in (0, 1). Saturates: deep stacks of it show vanishing gradients.",
)
_activation("Tanh", "torch.nn.Tanh", "tanh(x), in (-1, 1): a zero-centred sigmoid.")
_activation(
    "ReLU",
    "torch.nn.ReLU",
    "max(0, x): the default hidden activation; does not saturate for x > 0.",
)
_activation(
    "LeakyReLU",
    "torch.nn.LeakyReLU",
    "x for x > 0, negative_slope·x otherwise: keeps a gradient for negative inputs.",
    (Param("negative_slope", FLOAT, 0.01, "Slope for x < 0.", min=0.0, max=1.0),),
    kw=lambda p, ins: {"negative_slope": p["negative_slope"]},
)


def _prelu_count(p: P, ins: Shapes) -> int:
    return one_input(ins)[1] if p["per_channel"] else 1


def _prelu_infer(p: P, ins: Shapes) -> dict[str, Shape]:
    x = one_input(ins)
    float_input("PReLU", x)
    return {"out": x}


_activation(
    "PReLU",
    "torch.nn.PReLU",
    "Leaky ReLU whose negative slope is learned (one, or one per channel).",
    (
        Param(
            "per_channel", BOOL, False, "Learn one slope per channel (dim 1) instead of one in all."
        ),
        Param("init_slope", FLOAT, 0.25, "Starting slope.", min=0.0, max=1.0),
    ),
    kw=lambda p, ins: {"num_parameters": _prelu_count(p, ins), "init": p["init_slope"]},
    infer=_prelu_infer,
    count=_prelu_count,
    inferred=("num_parameters",),
)
_activation("ReLU6", "torch.nn.ReLU6", "min(max(0, x), 6): ReLU capped at 6 (mobile networks).")
_activation(
    "ELU",
    "torch.nn.ELU",
    "x for x > 0, alpha·(e^x - 1) otherwise: smooth, with negative outputs.",
    (
        Param(
            "alpha",
            FLOAT,
            1.0,
            "Value approached for very negative x (as -alpha).",
            min=0.0,
            max=100.0,
        ),
    ),
    kw=lambda p, ins: {"alpha": p["alpha"]},
)
_activation(
    "GELU",
    "torch.nn.GELU",
    "x·Φ(x): the smooth ReLU of transformers.",
    (
        Param(
            "approximate",
            CHOICE,
            "none",
            "'tanh' uses the faster tanh approximation.",
            choices=("none", "tanh"),
        ),
    ),
    kw=lambda p, ins: {"approximate": p["approximate"]},
)
_activation("SiLU", "torch.nn.SiLU", "Swish: x·σ(x).", default_name="silu")
_activation("Hardswish", "torch.nn.Hardswish", "x·ReLU6(x+3)/6: a cheap swish (MobileNetV3).")
_activation(
    "Hardsigmoid",
    "torch.nn.Hardsigmoid",
    "ReLU6(x+3)/6, in [0, 1]: a cheap sigmoid (MobileNetV3's squeeze-and-excitation gate).",
)
_activation(
    "Hardtanh",
    "torch.nn.Hardtanh",
    "x clipped to [min_val, max_val] (ReLU6 is Hardtanh(0, 6)).",
    (
        Param("min_val", FLOAT, -1.0, "The lower limit.", min=-1e6, max=1e6),
        Param("max_val", FLOAT, 1.0, "The upper limit (above min_val).", min=-1e6, max=1e6),
    ),
    kw=lambda p, ins: {"min_val": p["min_val"], "max_val": p["max_val"]},
    infer=lambda p, ins: _hardtanh_infer(p, ins),
)


def _softmax_infer(p: P, ins: Shapes) -> dict[str, Shape]:
    x = one_input(ins)
    float_input("Softmax", x)
    rank = len(x)
    dim = p["dim"] if p["dim"] >= 0 else rank + p["dim"]
    if not 1 <= dim < rank:
        raise fail(
            f"normalises over dim {p['dim']} but its input {x} has no such feature dim (dim 0 is the batch)",
            "use dim -1 (the last)",
        )
    return {"out": x}


for _tid, _help in (
    (
        "Softmax",
        "Turns scores into probabilities that sum to 1 along dim. With CrossEntropy loss, leave it out (the loss includes it).",
    ),
    ("LogSoftmax", "log(softmax(x)) along dim, computed stably; pair it with NLL loss."),
):
    _activation(
        _tid,
        f"torch.nn.{_tid}",
        _help,
        (Param("dim", INT, -1, "The dim that sums to 1 (-1 = last).", min=-5, max=5),),
        kw=lambda p, ins: {"dim": p["dim"]},
        infer=_softmax_infer,
    )

add(
    LayerSpec(
        "Identity",
        ACT,
        "Passes its input through unchanged: the linear activation.",
        ctor=lambda p, ins: Ctor("torch.nn.Identity", {}),
        default_name="identity",
    )
)
