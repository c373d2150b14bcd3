"""Shape operations: Flatten and Reshape."""

from __future__ import annotations

from typing import Any

from builder.catalog.layers.common import (
    SHAPE,
    float_input,
    one_input,
    prod,
)
from builder.catalog.params import BOOL, CHOICE, FLOAT, INT, INTS, Param
from builder.catalog.spec import BATCH, Ctor, LayerSpec, P, Shape, Shapes, fail

SPECS: list[LayerSpec] = []
add = SPECS.append

# ----------------------------------------------------------------------------- reshaping


def _flatten_infer(p: P, ins: Shapes) -> dict[str, Shape]:
    x = one_input(ins)
    rank = len(x)
    start, end = p["start_dim"], p["end_dim"] if p["end_dim"] >= 0 else rank + p["end_dim"]
    if not start <= end < rank:
        raise fail(
            f"flattens dims {p['start_dim']} to {p['end_dim']} of {x}, which has {rank} dims",
            f"use start_dim from 1 to {rank - 1} and an end_dim after it (-1: the last)",
        )
    dims = (*x[:start], prod(x[start : end + 1]), *x[end + 1 :])
    return {"out": Shape(dims, x.dtype)}


add(
    LayerSpec(
        "Flatten",
        SHAPE,
        "Flattens each sample to one vector: (N, C, H, W) becomes (N, C·H·W). Put it between"
        " convolutions and Linear layers. start_dim / end_dim flatten only those dims (ViT:"
        " (N, C, H, W) to (N, C, H·W) with start_dim 2).",
        params=(
            Param("start_dim", INT, 1, "The first dim flattened (0 is the batch).", min=1, max=8),
            Param("end_dim", INT, -1, "The last dim flattened (-1: the last).", min=-8, max=8),
        ),
        infer=_flatten_infer,
        ctor=lambda p, ins: Ctor(
            "torch.nn.Flatten",
            {}
            if (p["start_dim"], p["end_dim"]) == (1, -1)
            else {"start_dim": p["start_dim"], "end_dim": p["end_dim"]},
        ),
        default_name="flatten",
    )
)


def _reshape_infer(p: P, ins: Shapes) -> dict[str, Shape]:
    x = one_input(ins)
    target = list(p["shape"])
    size = prod(x[1:])
    if target.count(-1) > 1 or any(t == 0 or t < -1 for t in target):
        raise fail(f"has shape {tuple(target)}", "use positive sizes, with at most one -1")
    if -1 in target:
        known = prod(t for t in target if t != -1)
        if size % known:
            raise fail(
                f"cannot reshape {x} to (N, {', '.join(map(str, target))})",
                f"{size} values per sample do not divide by {known}",
            )
        target[target.index(-1)] = size // known
    if prod(target) != size:
        raise fail(
            f"cannot reshape {x} ({size} values per sample) to (N, {', '.join(map(str, target))})"
            f" ({prod(target)} values)",
            "make the sizes multiply to the same number",
        )
    return {"out": Shape((BATCH, *target), x.dtype)}


def _reshape_emit(
    e: Any, p: P, xs: dict[str, Any], shapes: Shapes, wanted: set[str]
) -> dict[str, Any]:
    # The batch dim is the -1 here, so a -1 in the user's shape is replaced by its inferred size.
    target = _reshape_infer(p, shapes)["out"][1:]
    return {"out": e.method("reshape", xs["in"], -1, *target)}


add(
    LayerSpec(
        "Reshape",
        SHAPE,
        "Gives each sample a new shape with the same number of values, e.g. (64,) to (1, 8, 8)."
        " One size may be -1 (worked out from the others).",
        params=(
            Param(
                "shape",
                INTS,
                (1, 8, 8),
                "New shape of one sample, without the batch dimension.",
                min=-1,
                max=10_000_000,
                max_len=5,
            ),
        ),
        infer=_reshape_infer,
        emit=_reshape_emit,
        default_name="reshape",
    )
)


def _permute_infer(p: P, ins: Shapes) -> dict[str, Shape]:
    x = one_input(ins)
    dims = list(p["dims"])
    if sorted(dims) != list(range(len(x) - 1)):
        raise fail(
            f"orders dims {tuple(dims)} but a sample of {x} has {len(x) - 1} dims",
            f"give each of 0 to {len(x) - 2} once, in the new order",
        )
    return {"out": Shape((BATCH, *(x[d + 1] for d in dims)), x.dtype)}


add(
    LayerSpec(
        "Permute",
        SHAPE,
        "Reorders each sample's dims (the batch stays first): dims (1, 0) turns (N, C, P) into"
        " (N, P, C), as a vision transformer does with its patches; x.permute(0, ...)"
        " imports as it.",
        params=(
            Param(
                "dims",
                INTS,
                (1, 0),
                "The new order of the sample's dims, from 0.",
                min=0,
                max=7,
                min_len=1,
                max_len=8,
            ),
        ),
        infer=_permute_infer,
        ctor=lambda p, ins: Ctor("builder.catalog.modules.Permute", {"dims": tuple(p["dims"])}),
        default_name="permute",
    )
)


def _upsample_infer(p: P, ins: Shapes) -> dict[str, Shape]:
    x = one_input(ins)
    float_input("Upsample", x)
    linear = {"linear": 3, "bilinear": 4}.get(p["mode"])
    if len(x) not in (3, 4) or (linear is not None and len(x) != linear):
        wanted = {
            "nearest": "(N, C, L) or (N, C, H, W)",
            "linear": "(N, C, L)",
            "bilinear": "(N, C, H, W)",
        }
        raise fail(
            f"({p['mode']}) upsamples {wanted[p['mode']]} but receives {x}",
            "use nearest, linear for sequences or bilinear for images",
        )
    spatial = [int(v * p["scale_factor"]) for v in x[2:]]
    if min(spatial) < 1:
        raise fail(f"scales {x} by {p['scale_factor']} to nothing", "raise scale_factor")
    return {"out": Shape((BATCH, x[1], *spatial), x.dtype)}


def _upsample_ctor(p: P, ins: Shapes) -> Ctor:
    kw: dict[str, Any] = {"scale_factor": float(p["scale_factor"]), "mode": p["mode"]}
    if p["mode"] != "nearest":
        kw["align_corners"] = p["align_corners"]
    return Ctor("torch.nn.Upsample", kw)


add(
    LayerSpec(
        "Upsample",
        SHAPE,
        "Grows each image (or sequence) by scale_factor: nearest repeats values, bilinear (images)"
        " and linear (sequences) interpolate. A decoder's or a U-Net's way up.",
        params=(
            Param("scale_factor", FLOAT, 2.0, "How many times larger.", min=0.01, max=1000.0),
            Param(
                "mode",
                CHOICE,
                "nearest",
                "How new values are made.",
                choices=("nearest", "linear", "bilinear"),
            ),
            Param(
                "align_corners",
                BOOL,
                False,
                "linear / bilinear: the corner pixels of input and output line up.",
            ),
        ),
        infer=_upsample_infer,
        ctor=_upsample_ctor,
        default_name="upsample",
    )
)


def _slice_infer(p: P, ins: Shapes) -> dict[str, Shape]:
    x = one_input(ins)
    dim, start, length = p["dim"], p["start"], p["length"]
    if not 1 <= dim < len(x):
        raise fail(
            f"slices dim {dim} but receives {x} (dims 1 to {len(x) - 1}; 0 is the batch)",
            f"choose a dim from 1 to {len(x) - 1}",
        )
    if start + length > x[dim]:
        raise fail(
            f"takes {length} from {start} of dim {dim}, which has {x[dim]}",
            f"keep start + length at most {x[dim]}",
        )
    if p["squeeze"] and length != 1:
        raise fail(f"drops dim {dim} but keeps {length} of it", "set length to 1, or squeeze off")
    sizes = list(x)
    if p["squeeze"]:
        del sizes[dim]
    else:
        sizes[dim] = length
    return {"out": Shape(tuple(sizes), x.dtype)}


add(
    LayerSpec(
        "Slice",
        SHAPE,
        "Keeps length positions of one dim from start (dims as torch counts them: 0 is"
        " the batch and stays); squeeze drops the dim when one position is kept: a vision"
        " transformer's class token x[:, 0], ShuffleNet's halves x.chunk(2, dim=1) and"
        " x.narrow import as it.",
        params=(
            Param("dim", INT, 1, "The dim sliced (1 and up).", min=1, max=7),
            Param("start", INT, 0, "The first position kept.", min=0, max=10_000_000),
            Param("length", INT, 1, "How many positions are kept.", min=1, max=10_000_000),
            Param("squeeze", BOOL, False, "Drop the dim (length 1 only): x[:, 0]."),
        ),
        infer=_slice_infer,
        ctor=lambda p, ins: Ctor(
            "builder.catalog.modules.Slice",
            {"dim": p["dim"], "start": p["start"], "length": p["length"], "squeeze": p["squeeze"]},
        ),
        default_name="slice",
    )
)
