"""Merges of several inputs: Add, Multiply, Concat."""

from __future__ import annotations

import operator
from typing import Any

from builder.catalog.layers.common import (
    MERGE,
    torch_cat,
)
from builder.catalog.params import INT, Param
from builder.catalog.spec import LayerSpec, P, Shape, Shapes, fail

SPECS: list[LayerSpec] = []
add = SPECS.append

# ----------------------------------------------------------------------------- merges


def _merge_ports(p: P) -> list[str]:
    return [f"in{i}" for i in range(1, p["num_inputs"] + 1)]


MAX_INPUTS = 128  # a DenseNet block joins up to 49 feature maps
_NUM_INPUTS = Param("num_inputs", INT, 2, "Number of inputs.", min=2, max=MAX_INPUTS)


def _same_dtype(p: P, ins: Shapes) -> None:
    ports = _merge_ports(p)
    first = ins[ports[0]]
    for port in ports[1:]:
        if ins[port].dtype != first.dtype:
            raise fail(
                f"mixes {first.dtype} on '{ports[0]}' with {ins[port].dtype} on '{port}'",
                "feed token ids through an Embedding first",
            )


def _same_shape_infer(p: P, ins: Shapes) -> dict[str, Shape]:
    _same_dtype(p, ins)
    ports = _merge_ports(p)
    first = ins[ports[0]]
    for port in ports[1:]:
        if tuple(ins[port]) != tuple(first):
            raise fail(
                f"needs equal shapes but receives {first} on '{ports[0]}' and {ins[port]} on '{port}'",
                "add a Linear or a 1×1 Conv2d on one branch so the shapes match",
            )
    return {"out": first}


def _broadcast_infer(p: P, ins: Shapes) -> dict[str, Shape]:
    """Equal ranks; each dim equal or 1 in one of them (a gate of (N, C, 1, 1) on
    (N, C, H, W): squeeze-and-excitation); the result has the larger of each."""
    _same_dtype(p, ins)
    ports = _merge_ports(p)
    out = list(ins[ports[0]])
    for port in ports[1:]:
        x = ins[port]
        fits = len(x) == len(out) and all(a == b or 1 in (a, b) for a, b in zip(out[1:], x[1:]))
        if not fits:
            raise fail(
                f"multiplies {Shape(tuple(out))} on '{ports[0]}' with {x} on '{port}': each"
                " dim must be equal, or 1 in one of them (a gate)",
                "reshape one branch, or give both the same shape",
            )
        out = [out[0]] + [max(a, b) for a, b in zip(out[1:], x[1:])]
    return {"out": Shape(tuple(out), ins[ports[0]].dtype)}


def _fold_emit(op: Any):
    def emit(e: Any, p: P, xs: dict[str, Any], shapes: Shapes, wanted: set[str]) -> dict[str, Any]:
        values = [xs[port] for port in _merge_ports(p)]
        out = values[0]
        for v in values[1:]:
            out = e.fn(op, out, v)
        return {"out": out}

    return emit


for _tid, _op, _help in (
    (
        "Add",
        operator.add,
        "Adds its inputs element-wise: the skip connection of a residual (ResNet) block.",
    ),
    (
        "Multiply",
        operator.mul,
        "Multiplies its inputs element-wise: gating. A dim of 1 on one input stretches over the"
        " other's (broadcasting: a squeeze-and-excitation gate of (N, C, 1, 1) scales every"
        " position of (N, C, H, W)).",
    ),
):
    add(
        LayerSpec(
            _tid,
            MERGE,
            _help,
            params=(_NUM_INPUTS,),
            inputs=_merge_ports,
            infer=_broadcast_infer if _tid == "Multiply" else _same_shape_infer,
            emit=_fold_emit(_op),
            default_name=_tid.lower(),
        )
    )


def _concat_infer(p: P, ins: Shapes) -> dict[str, Shape]:
    _same_dtype(p, ins)
    ports = _merge_ports(p)
    first = ins[ports[0]]
    rank = len(first)
    dim = p["dim"] if p["dim"] >= 0 else rank + p["dim"]
    if not 1 <= dim < rank:
        raise fail(
            f"joins along dim {p['dim']} but its inputs have {rank} dims (dim 0 is the batch)",
            f"use a dim from 1 to {rank - 1}",
        )
    total = 0
    for port in ports:
        x = ins[port]
        if len(x) != rank or any(
            a != b for i, (a, b) in enumerate(zip(x, first, strict=True)) if i != dim
        ):
            raise fail(
                f"needs shapes that differ only in dim {p['dim']} but receives {first} on '{ports[0]}' and {x} on '{port}'",
                "make the other dims match (e.g. same image size)",
            )
        total += x[dim]
    return {"out": Shape((*first[:dim], total, *first[dim + 1 :]), first.dtype)}


def _concat_emit(
    e: Any, p: P, xs: dict[str, Any], shapes: Shapes, wanted: set[str]
) -> dict[str, Any]:
    return {"out": e.fn(torch_cat(), [xs[port] for port in _merge_ports(p)], dim=p["dim"])}


add(
    LayerSpec(
        "Concat",
        MERGE,
        "Joins its inputs along one dim (1 = channels or features): the branches of an"
        " Inception block.",
        params=(
            _NUM_INPUTS,
            Param(
                "dim",
                INT,
                1,
                "The dim to join along (1 = channels / features; -1 = last).",
                min=-5,
                max=5,
            ),
        ),
        inputs=_merge_ports,
        infer=_concat_infer,
        emit=_concat_emit,
        default_name="concat",
    )
)
