"""Input, Output and the dense (fully connected) layer."""

from __future__ import annotations

from builder.catalog.layers.common import (
    DENSE,
    IO,
    check_rank,
    float_input,
    if_bias,
    one_input,
)
from builder.catalog.params import BOOL, CHOICE, INIT, INT, INTS, Param
from builder.catalog.spec import BATCH, Ctor, LayerSpec, P, Shape, Shapes

SPECS: list[LayerSpec] = []
MAX_DIM = 1_000_000_000  # one dim of an Input's shape; the whole sample: see builder.shapes
add = SPECS.append

# ----------------------------------------------------------------------------- input / output


def _input_infer(p: P, ins: Shapes) -> dict[str, Shape]:
    return {"out": Shape((BATCH, *p["shape"]), p["dtype"])}


add(
    LayerSpec(
        "Input",
        IO,
        "Where data enters the network. `shape` is one sample's shape, without the batch"
        " dimension: (2,) for XOR, (1, 8, 8) for an 8×8 grey image, (steps, features) for a"
        " sequence. Use dtype int64 for token ids fed to an Embedding.",
        params=(
            Param(
                "shape",
                INTS,
                (2,),
                "One sample's shape, without the batch dimension.",
                min=1,
                max=MAX_DIM,
                max_len=5,
            ),
            Param(
                "dtype",
                CHOICE,
                "float32",
                "float32 for values, int64 for token ids.",
                choices=("float32", "int64"),
            ),
        ),
        inputs=(),
        infer=_input_infer,
        default_name="input",
    )
)

add(
    LayerSpec(
        "Output",
        IO,
        "Marks a result of the network. The loss compares it with the target.",
        outputs=(),
        infer=lambda p, ins: {},
        default_name="output",
    )
)

# ----------------------------------------------------------------------------- dense


def _linear_infer(p: P, ins: Shapes) -> dict[str, Shape]:
    x = one_input(ins)
    float_input("Linear", x)
    # (N, steps, features) is allowed too: the layer then applies at every step; any rank
    # with any_rank (channels-last images), as torch's nn.Linear
    if not p["any_rank"]:
        check_rank(x, (2, 3), "(N, features)", "add a Flatten before it")
    return {"out": Shape((*x[:-1], p["out_features"]))}


add(
    LayerSpec(
        "Linear",
        DENSE,
        "Fully connected layer: y = x·Wᵀ + b on the last dimension. in_features comes from"
        " the layer before it; on (N, steps, features) it is applied at every step"
        " (time-distributed dense).",
        params=(
            Param("out_features", INT, 8, "Number of output units.", min=1, max=1_000_000),
            Param("bias", BOOL, True, "Add a learned bias."),
            Param(
                "any_rank",
                BOOL,
                False,
                "Apply on the last dim of an input of any rank, as torch's nn.Linear: the"
                " channels of channels-last images (N, H, W, C), as ConvNeXt does. Off, an"
                " image needs a Flatten first.",
            ),
            INIT,
        ),
        infer=_linear_infer,
        ctor=lambda p, ins: Ctor(
            "torch.nn.Linear",
            {
                "in_features": one_input(ins)[-1],
                "out_features": p["out_features"],
                "bias": p["bias"],
            },
        ),
        count=lambda p, ins: (
            one_input(ins)[-1] * p["out_features"] + if_bias(p["out_features"], p["bias"])
        ),
        inferred=("in_features",),
        default_name="fc",
    )
)


def _maxout_infer(p: P, ins: Shapes) -> dict[str, Shape]:
    x = one_input(ins)
    float_input("Maxout", x)
    check_rank(x, (2, 3), "(N, features)", "add a Flatten before it")
    return {"out": Shape((*x[:-1], p["out_features"]))}


add(
    LayerSpec(
        "Maxout",
        DENSE,
        "Maxout units (Goodfellow et al.): each of out_features units computes several"
        " (pieces) linear functions of the input and outputs the largest, y_j = max_k (x·W_jkᵀ"
        " + b_jk): a learned piecewise-linear activation (two pieces can learn ReLU or |x|).",
        params=(
            Param("out_features", INT, 8, "Number of output units.", min=1, max=1_000_000),
            Param("pieces", INT, 2, "Linear pieces per unit.", min=1, max=64),
            Param("bias", BOOL, True, "Add a learned bias to each piece."),
            INIT,
        ),
        infer=_maxout_infer,
        ctor=lambda p, ins: Ctor(
            "builder.catalog.modules.Maxout",
            {
                "in_features": one_input(ins)[-1],
                "out_features": p["out_features"],
                "pieces": p["pieces"],
                "bias": p["bias"],
            },
        ),
        count=lambda p, ins: (
            one_input(ins)[-1] * p["out_features"] * p["pieces"]
            + if_bias(p["out_features"] * p["pieces"], p["bias"])
        ),
        inferred=("in_features",),
        default_name="maxout",
    )
)
