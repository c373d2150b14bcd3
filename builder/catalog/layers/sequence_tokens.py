"""Layers of transformers over token sequences (N, L, D): the class token and the
positional encoding."""

from __future__ import annotations

from builder.catalog.layers.common import ATTN, float_input, one_input
from builder.catalog.params import CHOICE, INT, Param
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
