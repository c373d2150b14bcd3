"""Regularisation (Dropout, StochasticDepth) and normalisation (batch, layer and group norm)."""

from __future__ import annotations

from builder.catalog.layers.common import (
    NORM,
    REG,
    check_rank,
    elementwise,
    float_input,
    one_input,
    prod,
)
from builder.catalog.params import BOOL, CHOICE, FLOAT, INT, INTS, Param
from builder.catalog.spec import Ctor, LayerSpec, P, Shape, Shapes, fail

SPECS: list[LayerSpec] = []
add = SPECS.append

# ----------------------------------------------------------------------------- regularisation / normalisation

add(
    LayerSpec(
        "Dropout",
        REG,
        "During training, zeroes each value with probability p (and scales the rest by"
        " 1/(1-p)); does nothing in evaluation.",
        params=(
            Param(
                "p",
                FLOAT,
                0.5,
                "Probability of dropping a value.",
                min=0.0,
                max=1.0,
                exclusive_max=True,
            ),
        ),
        infer=lambda p, ins: elementwise(p, ins),
        ctor=lambda p, ins: Ctor("torch.nn.Dropout", {"p": p["p"]}),
        default_name="dropout",
    )
)

add(
    LayerSpec(
        "StochasticDepth",
        REG,
        "Drop path (Huang et al.): during training, zeroes a residual branch's whole output"
        " for each sample (mode row) or the whole batch (mode batch) with probability p, and"
        " scales what is kept by 1/(1-p); does nothing in evaluation. Put it at the end of a"
        " branch, before the Add (EfficientNet, ConvNeXt); torchvision's StochasticDepth"
        " imports as it.",
        params=(
            Param(
                "p",
                FLOAT,
                0.1,
                "Probability of dropping the branch.",
                min=0.0,
                max=1.0,
                exclusive_max=True,
            ),
            Param(
                "mode",
                CHOICE,
                "row",
                "row: per sample; batch: all or none.",
                choices=("row", "batch"),
            ),
        ),
        infer=lambda p, ins: elementwise(p, ins),
        ctor=lambda p, ins: Ctor(
            "builder.catalog.modules.StochasticDepth", {"p": p["p"], "mode": p["mode"]}
        ),
        default_name="drop_path",
    )
)

_NORM_PARAMS = (
    Param("eps", FLOAT, 1e-5, "Added to the variance for stability.", min=1e-12, max=1.0),
    Param(
        "momentum",
        FLOAT,
        0.1,
        "Weight of the newest batch in the running statistics.",
        min=0.0,
        max=1.0,
    ),
    Param("affine", BOOL, True, "Learn a scale and shift per channel."),
)


def _bn_infer(ranks: tuple[int, ...], layout: str):
    def infer(p: P, ins: Shapes) -> dict[str, Shape]:
        x = one_input(ins)
        float_input("BatchNorm", x)
        check_rank(x, ranks, layout, "use the BatchNorm that matches the input (1d or 2d)")
        return {"out": x}

    return infer


for _tid, _ranks, _layout in (
    ("BatchNorm1d", (2, 3), "(N, features) or (N, channels, length)"),
    ("BatchNorm2d", (4,), "(N, channels, height, width)"),
):
    add(
        LayerSpec(
            _tid,
            NORM,
            "Normalises each channel over the batch, then scales and shifts it; speeds up and"
            " stabilises training of deep networks.",
            params=_NORM_PARAMS,
            infer=_bn_infer(_ranks, _layout),
            ctor=(
                lambda target: (
                    lambda p, ins: Ctor(
                        target,
                        {
                            "num_features": one_input(ins)[1],
                            "eps": p["eps"],
                            "momentum": p["momentum"],
                            "affine": p["affine"],
                        },
                    )
                )
            )(f"torch.nn.{_tid}"),
            count=lambda p, ins: 2 * one_input(ins)[1] if p["affine"] else 0,
            inferred=("num_features",),
            default_name="bn",
        )
    )


def _ln_infer(p: P, ins: Shapes) -> dict[str, Shape]:
    x = one_input(ins)
    float_input("LayerNorm", x)
    if p["dims"] > len(x) - 1:
        raise fail(
            f"normalises the last {p['dims']} dims but receives {x}",
            f"set dims to at most {len(x) - 1}",
        )
    return {"out": x}


add(
    LayerSpec(
        "LayerNorm",
        NORM,
        "Normalises each sample over its last dims (features), then scales and shifts; the"
        " normalisation of transformers and RNNs.",
        params=(
            Param("dims", INT, 1, "How many trailing dims to normalise over.", min=1, max=4),
            Param("eps", FLOAT, 1e-5, "Added to the variance for stability.", min=1e-12, max=1.0),
            Param("affine", BOOL, True, "Learn a scale and shift per feature."),
        ),
        infer=_ln_infer,
        ctor=lambda p, ins: Ctor(
            "torch.nn.LayerNorm",
            {
                "normalized_shape": tuple(one_input(ins)[-p["dims"] :]),
                "eps": p["eps"],
                "elementwise_affine": p["affine"],
            },
        ),
        count=lambda p, ins: 2 * prod(one_input(ins)[-p["dims"] :]) if p["affine"] else 0,
        inferred=("normalized_shape",),
        default_name="ln",
    )
)


def _gn_infer(p: P, ins: Shapes) -> dict[str, Shape]:
    x = one_input(ins)
    float_input("GroupNorm", x)
    if len(x) < 2:
        raise fail(f"normalises channels but receives {x}", "feed it (N, channels, ...)")
    if x[1] % p["groups"]:
        raise fail(
            f"splits {x[1]} channels into {p['groups']} groups, which does not divide them",
            "choose groups that divides the channels (1: LayerNorm over channels and space)",
        )
    return {"out": x}


add(
    LayerSpec(
        "GroupNorm",
        NORM,
        "Normalises each sample over groups of channels (and the space), then scales and shifts"
        " each channel: works with batches of any size (ResNeXt, detection and diffusion models).",
        params=(
            Param(
                "groups", INT, 2, "How many groups the channels are split into.", min=1, max=100_000
            ),
            Param("eps", FLOAT, 1e-5, "Added to the variance for stability.", min=1e-12, max=1.0),
            Param("affine", BOOL, True, "Learn a scale and shift per channel."),
        ),
        infer=_gn_infer,
        ctor=lambda p, ins: Ctor(
            "torch.nn.GroupNorm",
            {
                "num_groups": p["groups"],
                "num_channels": one_input(ins)[1],
                "eps": p["eps"],
                "affine": p["affine"],
            },
        ),
        count=lambda p, ins: 2 * one_input(ins)[1] if p["affine"] else 0,
        inferred=("num_channels",),
        default_name="gn",
    )
)


def _scale_infer(p: P, ins: Shapes) -> dict[str, Shape]:
    x = one_input(ins)
    float_input("Scale", x)
    shape, sample = tuple(p["shape"]), tuple(x[1:])
    fits = len(shape) <= len(sample) and all(
        s in (1, v) for s, v in zip(reversed(shape), reversed(sample))
    )
    if not fits:
        raise fail(
            f"multiplies by a scale of shape {shape}, which does not broadcast over a sample"
            f" of {sample}",
            "give each size of the sample or 1, e.g. (channels, 1, 1) for images",
        )
    return {"out": x}


add(
    LayerSpec(
        "Scale",
        NORM,
        "Multiplies by a learned tensor that broadcasts over each sample: shape (C, 1, 1) with"
        " a small init is ConvNeXt's layer scale, shape (D,) a per-feature gain; a parameter"
        " multiplied in a model's forward (self.layer_scale * x) imports as it.",
        params=(
            Param(
                "shape",
                INTS,
                (1,),
                "The scale's shape (the sample's sizes or 1, right-aligned).",
                min=1,
                max=1_000_000,
                max_len=7,
            ),
            Param(
                "start", FLOAT, 1.0, "Every value's start (1e-6: ConvNeXt's).", min=-1e6, max=1e6
            ),
        ),
        infer=_scale_infer,
        count=lambda p, ins: prod(p["shape"]),
        ctor=lambda p, ins: Ctor(
            "builder.catalog.modules.Scale", {"shape": tuple(p["shape"]), "start": p["start"]}
        ),
        default_name="scale",
    )
)
