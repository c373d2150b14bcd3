"""What the layer families share: the palette categories and small shape helpers."""

from __future__ import annotations

import operator
from functools import reduce
from typing import Any

from builder.catalog.spec import P, Shape, Shapes, fail

IO, DENSE, CONV, POOL, SHAPE, NORM, REG, MERGE, SEQ, ATTN, ACT, GEN = (
    "Input / output",
    "Dense",
    "Convolution",
    "Pooling",
    "Reshaping",
    "Normalisation",
    "Regularisation",
    "Merge",
    "Recurrent",
    "Attention",
    "Activation",
    "Generative",
)


def torch_cat() -> Any:
    """``torch.cat``, imported on first use: declaring the catalog must not load torch, so
    the editor can show its window while torch loads in the background."""
    import torch

    return torch.cat


def prod(values: Any) -> int:
    """The product of ``values`` (1 for none)."""
    return reduce(operator.mul, values, 1)


def one_input(ins: Shapes) -> Shape:
    """The shape on port ``in`` of a one-input layer."""
    return ins["in"]


def flat_features(ins: Any, what: str) -> int:
    """The values in one sample of a layer's one input, which it flattens (an RBF's, an
    RBM's): real values, at least (N, features); ``what`` says what the layer does with
    them, for the message about token ids."""
    x = one_input(ins)
    if x.dtype != "float32":
        raise fail(
            f"{what} but receives {x.dtype} token ids",
            "set the Input's dtype to float32, or add an Embedding (and a Flatten) before it",
        )
    if len(x) < 2:
        raise fail(f"expects (N, features) or any (N, ...) it can flatten but receives {x}", "")
    return prod(x.features)


def float_input(type_id: str, x: Shape) -> None:
    """Refuse token ids where a layer needs real values."""
    if x.dtype != "float32":
        raise fail(
            f"expects real-valued inputs but receives {x.dtype} token ids",
            "add an Embedding before it to turn ids into vectors",
        )


def check_rank(x: Shape, ranks: tuple[int, ...], layout: str, hint: str) -> None:
    """Refuse an input whose number of dims is not one of ``ranks``."""
    if len(x) not in ranks:
        raise fail(f"expects {layout} but receives {x}", hint)


def if_bias(n: int, bias: bool) -> int:
    """``n`` parameters when the layer has a bias, else none."""
    return n if bias else 0


def elementwise(p: P, ins: Shapes) -> dict[str, Shape]:
    """The shape rule of a layer that keeps its (real-valued) input's shape."""
    x = one_input(ins)
    float_input("activation", x)
    return {"out": x}
