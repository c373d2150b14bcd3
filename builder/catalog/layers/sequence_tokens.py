"""Layers of transformers over token sequences (N, L, D): the class token, the positional
encoding and the transformer encoder layer."""

from __future__ import annotations

from typing import Any

from builder.catalog.layers.common import ATTN, float_input, one_input
from builder.catalog.params import BOOL, CHOICE, FLOAT, INT, Param
from builder.catalog.spec import BATCH, Ctor, LayerSpec, P, Shape, Shapes, fail

MAX_LEN = 100_000

SPECS: list[LayerSpec] = []
add = SPECS.append


def _sequence(ins: Shapes, what: str) -> Shape:
    x = one_input(ins)
    float_input(what, x)
    if len(x) != 3:
        raise fail(
            f"expects a sequence of vectors (N, length, features) but receives {x}",
            "add a Reshape or a Permute before it (a ViT's patches: conv, Flatten(start_dim"
            " 2), Permute (1, 0))",
        )
    return x


def _token_infer(p: P, ins: Shapes) -> dict[str, Shape]:
    x = _sequence(ins, "ClassToken")
    return {"out": Shape((BATCH, x[1] + 1, x[2]), x.dtype)}


add(
    LayerSpec(
        "ClassToken",
        ATTN,
        "Puts a learned vector before each sequence (a vision transformer's class token):"
        " (N, L, D) becomes (N, L + 1, D); a classifier reads position 0 after the encoder.",
        infer=_token_infer,
        ctor=lambda p, ins: Ctor("builder.catalog.modules.ClassToken", {"dim": one_input(ins)[2]}),
        count=lambda p, ins: one_input(ins)[2],
        inferred=("dim",),
        default_name="class_token",
    )
)


def _positions_infer(p: P, ins: Shapes) -> dict[str, Shape]:
    x = _sequence(ins, "PositionalEncoding")
    if x[1] > p["max_len"]:
        raise fail(
            f"encodes up to {p['max_len']} positions but the sequence has {x[1]}",
            f"raise max_len to at least {x[1]}",
        )
    if p["kind"] == "sinusoidal" and x[2] % 2:
        raise fail(
            f"(sinusoidal) pairs sines and cosines but the vectors have {x[2]} features",
            "use an even number of features, or kind learned",
        )
    return {"out": x}


add(
    LayerSpec(
        "PositionalEncoding",
        ATTN,
        "Adds each position's vector to a sequence (N, L, D), so attention can tell positions"
        " apart: sinusoidal (fixed, base 10000, as the original transformer) or learned (as"
        " ViT and BERT).",
        params=(
            Param(
                "kind",
                CHOICE,
                "sinusoidal",
                "sinusoidal: fixed sines and cosines; learned: a vector per position, trained.",
                choices=("sinusoidal", "learned"),
            ),
            Param("max_len", INT, 512, "The longest sequence it encodes.", min=1, max=MAX_LEN),
        ),
        infer=_positions_infer,
        ctor=lambda p, ins: Ctor(
            "builder.catalog.modules.PositionalEncoding",
            {"dim": one_input(ins)[2], "max_len": p["max_len"], "kind": p["kind"]},
        ),
        count=lambda p, ins: p["max_len"] * one_input(ins)[2] if p["kind"] == "learned" else 0,
        inferred=("dim",),
        default_name="positions",
    )
)


def _encoder_infer(p: P, ins: Shapes) -> dict[str, Shape]:
    x = _sequence({"in": ins["in"]}, "TransformerEncoderLayer")
    if x[2] % p["num_heads"]:
        raise fail(
            f"has {p['num_heads']} heads, which do not divide its {x[2]} features",
            f"use a num_heads that divides {x[2]}",
        )
    mask = ins.get("padding_mask")
    if mask is not None and tuple(mask) != (BATCH, x[1]):
        raise fail(
            f"takes a padding mask of (N, {x[1]}) (1: a padded step) but receives {mask}",
            "feed one value per step of the sequence",
        )
    return {"out": x}


def _encoder_ctor(p: P, ins: Shapes) -> Ctor:
    return Ctor(
        "builder.catalog.modules.EncoderLayer",
        {
            "d_model": ins["in"][2],
            "nhead": p["num_heads"],
            "dim_feedforward": p["dim_feedforward"],
            "dropout": p["dropout"],
            "activation": p["activation"],
            "layer_norm_eps": p["layer_norm_eps"],
            "norm_first": p["norm_first"],
            "bias": p["bias"],
            "causal": p["causal"],
        },
    )


def _encoder_count(p: P, ins: Shapes) -> int:
    d, f, b = ins["in"][2], p["dim_feedforward"], p["bias"]
    attention = 4 * d * d + (4 * d if b else 0)
    feedforward = 2 * d * f + ((f + d) if b else 0)
    return attention + feedforward + (4 * d if b else 2 * d)


def _encoder_emit(
    e: Any, p: P, xs: dict[str, Any], shapes: Shapes, wanted: set[str]
) -> dict[str, Any]:
    if "padding_mask" in xs:
        return {"out": e.call(xs["in"], xs["padding_mask"])}
    return {"out": e.call(xs["in"])}


add(
    LayerSpec(
        "TransformerEncoderLayer",
        ATTN,
        "One transformer encoder block on (N, L, D): self-attention and a feed-forward"
        " network, each with a residual connection and a LayerNorm (after each, or before"
        " with norm_first, as ViT). causal: each step attends only to itself and earlier"
        " steps; an optional padding mask (N, L) marks padded steps (1) that no step attends"
        " to. torch's nn.TransformerEncoderLayer (batch_first) and nn.TransformerEncoder, a"
        " stack of them, import as it.",
        params=(
            Param(
                "num_heads", INT, 2, "Attention heads (must divide the features).", min=1, max=1024
            ),
            Param(
                "dim_feedforward",
                INT,
                64,
                "Width of the feed-forward network.",
                min=1,
                max=1_000_000,
            ),
            Param(
                "dropout",
                FLOAT,
                0.1,
                "Dropout in attention and after each sub-block.",
                min=0.0,
                max=1.0,
                exclusive_max=True,
            ),
            Param(
                "activation",
                CHOICE,
                "relu",
                "The feed-forward's activation.",
                choices=("relu", "gelu"),
            ),
            Param(
                "norm_first",
                BOOL,
                False,
                "LayerNorm before each sub-block (pre-norm) instead of after.",
            ),
            Param("causal", BOOL, False, "Each step attends only to itself and earlier steps."),
            Param("bias", BOOL, True, "Learn biases in the projections and norms."),
            Param(
                "layer_norm_eps",
                FLOAT,
                1e-5,
                "Added to the variance in the norms.",
                min=1e-12,
                max=1.0,
            ),
        ),
        inputs=("in", "padding_mask"),
        optional_inputs=("padding_mask",),
        infer=_encoder_infer,
        ctor=_encoder_ctor,
        emit=_encoder_emit,
        count=_encoder_count,
        inferred=("d_model",),
        default_name="encoder",
    )
)
