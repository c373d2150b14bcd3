"""Convolutions (1-D, 2-D, transposed) and pooling."""

from __future__ import annotations

from builder.catalog.layers.common import (
    CONV,
    POOL,
    check_rank,
    float_input,
    if_bias,
    one_input,
    prod,
)
from builder.catalog.params import BOOL, INIT, INT, INTS, SIZE, Param, as_tuple
from builder.catalog.spec import BATCH, Ctor, LayerSpec, P, Shape, Shapes, fail

SPECS: list[LayerSpec] = []
add = SPECS.append

# ----------------------------------------------------------------------------- convolution


def _conv_out(size: int, k: int, s: int, pad: int, d: int) -> int:
    return (size + 2 * pad - d * (k - 1) - 1) // s + 1


def _conv_params(dims: int, transposed: bool = False) -> tuple[Param, ...]:
    out = [
        Param("out_channels", INT, 16, "Number of filters (output channels).", min=1, max=100_000),
        Param(
            "kernel_size",
            SIZE,
            3,
            "Filter size: one integer or one per dimension.",
            min=1,
            max=1024,
            length=dims,
        ),
        Param("stride", SIZE, 1, "Step between filter positions.", min=1, max=1024, length=dims),
        Param("padding", SIZE, 0, "Zeros added on each side.", min=0, max=1024, length=dims),
    ]
    if transposed:
        out.append(
            Param(
                "output_padding",
                SIZE,
                0,
                "Extra size on one side of the output (less than stride).",
                min=0,
                max=1024,
                length=dims,
            )
        )
    out.append(
        Param(
            "dilation",
            SIZE,
            1,
            "Spacing between filter taps (a TCN grows it per layer).",
            min=1,
            max=1024,
            length=dims,
        )
    )
    out.append(
        Param(
            "groups",
            INT,
            1,
            "Split the channels into this many groups, each filtered on its own (grouped"
            " convolution: ResNeXt, ShuffleNet); 0: depthwise, one group per input channel"
            " (MobileNet). Input and output channels must both divide by it.",
            min=0,
            max=100_000,
        )
    )
    out += [Param("bias", BOOL, True, "Add a learned bias per filter."), INIT]
    return tuple(out)


def conv_groups(p: P, ins: Shapes) -> int:
    """The groups a convolution splits its channels into (0: depthwise: the input's)."""
    return one_input(ins)[1] if p["groups"] == 0 else p["groups"]


def _conv_infer(dims: int, transposed: bool = False):
    names = {1: ("length",), 2: ("height", "width"), 3: ("depth", "height", "width")}[dims]
    layout = "(N, channels, " + ", ".join(names) + ")"
    hint = {
        1: "add a Reshape before it (e.g. to (1, steps) for one channel)",
        2: "add a Reshape before it (e.g. to (1, 8, 8) for an 8×8 grey image)",
        3: "add a Reshape before it (e.g. to (1, 4, 8, 8) for a 4-slice 8×8 volume)",
    }[dims]

    def infer(p: P, ins: Shapes) -> dict[str, Shape]:
        x = one_input(ins)
        float_input("Conv", x)
        check_rank(x, (dims + 2,), layout, hint)
        k, s, pad, d = (
            as_tuple(p[n], dims) for n in ("kernel_size", "stride", "padding", "dilation")
        )
        groups = conv_groups(p, ins)
        if x[1] % groups or p["out_channels"] % groups:
            raise fail(
                f"splits {x[1]} input and {p['out_channels']} output channels into {groups}"
                " groups, but both must divide by it",
                "choose groups that divides both (0: depthwise, with out_channels a multiple"
                " of the input channels)",
            )
        spatial = []
        for i in range(dims):
            if transposed:
                op = as_tuple(p["output_padding"], dims)[i]
                if op >= max(s[i], d[i]):
                    raise fail(
                        f"has output_padding {op}, which must be smaller than stride or dilation",
                        "lower output_padding",
                    )
                size = (x[2 + i] - 1) * s[i] - 2 * pad[i] + d[i] * (k[i] - 1) + op + 1
            else:
                size = _conv_out(x[2 + i], k[i], s[i], pad[i], d[i])
            if size < 1:
                got = "×".join(str(v) for v in x[2:])
                raise fail(
                    f"has a kernel ({'×'.join(map(str, k))}) larger than its padded input ({got})",
                    "use a smaller kernel_size, add padding or remove a pooling layer before it",
                )
            spatial.append(size)
        return {"out": Shape((BATCH, p["out_channels"], *spatial))}

    return infer


def _conv_ctor(target: str, dims: int, transposed: bool = False):
    def ctor(p: P, ins: Shapes) -> Ctor:
        kw = {"in_channels": one_input(ins)[1], "out_channels": p["out_channels"]}
        names = ["kernel_size", "stride", "padding"]
        if transposed:
            names.append("output_padding")
        names += ["dilation", "bias"]
        kw.update({n: p[n] for n in names})
        groups = conv_groups(p, ins)
        if groups != 1:
            kw["groups"] = groups
        return Ctor(target, kw)

    return ctor


def _conv_count(dims: int):
    def count(p: P, ins: Shapes) -> int:
        k = prod(as_tuple(p["kernel_size"], dims))
        per_group = one_input(ins)[1] // conv_groups(p, ins)
        return per_group * p["out_channels"] * k + if_bias(p["out_channels"], p["bias"])

    return count


for _dims, _tid, _help in (
    (
        1,
        "Conv1d",
        "1-D convolution over (N, channels, length): sequences, signals, TCN blocks (with dilation).",
    ),
    (
        2,
        "Conv2d",
        "2-D convolution over (N, channels, height, width) images. in_channels comes from the layer before it.",
    ),
    (
        3,
        "Conv3d",
        "3-D convolution over (N, channels, depth, height, width): volumes (scans) and video clips.",
    ),
):
    add(
        LayerSpec(
            _tid,
            CONV,
            _help,
            params=_conv_params(_dims),
            infer=_conv_infer(_dims),
            ctor=_conv_ctor(f"torch.nn.{_tid}", _dims),
            count=_conv_count(_dims),
            inferred=("in_channels",),
            default_name="conv",
        )
    )

add(
    LayerSpec(
        "ConvTranspose2d",
        CONV,
        'Transposed 2-D convolution ("deconvolution"): grows an image, as in a DCGAN generator'
        " or an autoencoder's decoder.",
        params=_conv_params(2, transposed=True),
        infer=_conv_infer(2, transposed=True),
        ctor=_conv_ctor("torch.nn.ConvTranspose2d", 2, transposed=True),
        count=_conv_count(2),
        inferred=("in_channels",),
        default_name="deconv",
    )
)

# ----------------------------------------------------------------------------- pooling


def _pool_params() -> tuple[Param, ...]:
    return (
        Param("kernel_size", SIZE, 2, "Window size.", min=1, max=1024, length=2),
        Param(
            "stride",
            SIZE,
            None,
            "Step between windows; empty means the window size.",
            min=1,
            max=1024,
            length=2,
            optional=True,
        ),
        Param(
            "padding",
            SIZE,
            0,
            "Padding on each side (at most half the window).",
            min=0,
            max=512,
            length=2,
        ),
        Param(
            "ceil_mode",
            BOOL,
            False,
            "Round the output size up, keeping a last partial window (GoogLeNet, SqueezeNet);"
            " off: down.",
        ),
    )


def _pool_params_1d(dims: int = 1) -> tuple[Param, ...]:
    """The pooling parameters for ``dims`` spatial dims (the 2-D ones' sizes, re-lengthened)."""
    return tuple(
        Param(p.name, p.kind, p.default, p.doc, p.min, p.max, length=dims, optional=p.optional)
        if p.kind == SIZE
        else p
        for p in _pool_params()
    )


def _pool_out(size: int, k: int, s: int, pad: int, ceil: bool) -> int:
    """torch's pooled size: rounded down, or up (ceil_mode) as long as the last window starts
    inside the input or its left padding."""
    span = size + 2 * pad - k
    out = (-(-span // s) if ceil else span // s) + 1
    if ceil and (out - 1) * s >= size + pad:
        out -= 1
    return out


def _pool_infer(dims: int):
    layout = {
        1: "(N, channels, length)",
        2: "(N, channels, height, width)",
        3: "(N, channels, depth, height, width)",
    }[dims]

    def infer(p: P, ins: Shapes) -> dict[str, Shape]:
        x = one_input(ins)
        float_input("Pool", x)
        check_rank(x, (dims + 2,), layout, "add a Reshape before it")
        k = as_tuple(p["kernel_size"], dims)
        s = as_tuple(p["stride"] if p["stride"] is not None else p["kernel_size"], dims)
        pad = as_tuple(p["padding"], dims)
        spatial = []
        for i in range(dims):
            if pad[i] * 2 > k[i]:
                raise fail(
                    f"has padding {pad[i]} larger than half its window {k[i]}", "lower padding"
                )
            size = _pool_out(x[2 + i], k[i], s[i], pad[i], p["ceil_mode"])
            if size < 1:
                raise fail(
                    f"has a window ({'×'.join(map(str, k))}) larger than its input"
                    f" ({'×'.join(str(v) for v in x[2:])})",
                    "use a smaller kernel_size or remove a pooling layer before it",
                )
            spatial.append(size)
        return {"out": Shape((BATCH, x[1], *spatial))}

    return infer


def _pool_ctor(target: str):
    def ctor(p: P, ins: Shapes) -> Ctor:
        kw = {"kernel_size": p["kernel_size"], "stride": p["stride"], "padding": p["padding"]}
        if p["ceil_mode"]:
            kw["ceil_mode"] = True
        return Ctor(target, kw)

    return ctor


for _dims, _kind in ((1, "Max"), (2, "Max"), (1, "Avg"), (2, "Avg"), (3, "Max"), (3, "Avg")):
    _tid = f"{_kind}Pool{_dims}d"
    _what = {1: "length", 2: "image", 3: "volume (or clip)"}[_dims]
    add(
        LayerSpec(
            _tid,
            POOL,
            f"{'Maximum' if _kind == 'Max' else 'Average'} over each window: shrinks the"
            f" {_what} and adds some translation invariance.",
            params=_pool_params() if _dims == 2 else _pool_params_1d(_dims),
            infer=_pool_infer(_dims),
            ctor=_pool_ctor(f"torch.nn.{_tid}"),
            default_name="pool",
        )
    )


def _adaptive_infer(p: P, ins: Shapes) -> dict[str, Shape]:
    x = one_input(ins)
    float_input("AdaptiveAvgPool2d", x)
    check_rank(x, (4,), "(N, channels, height, width)", "add a Reshape before it")
    return {"out": Shape((BATCH, x[1], *as_tuple(p["output_size"], 2)))}


add(
    LayerSpec(
        "AdaptiveAvgPool2d",
        POOL,
        "Averages each channel down to a fixed output size whatever the input size;"
        " output_size 1 is global average pooling (as at the end of a ResNet).",
        params=(
            Param("output_size", SIZE, 1, "Output height and width.", min=1, max=4096, length=2),
        ),
        infer=_adaptive_infer,
        ctor=lambda p, ins: Ctor("torch.nn.AdaptiveAvgPool2d", {"output_size": p["output_size"]}),
        default_name="gap",
    )
)


def _mean_infer(p: P, ins: Shapes) -> dict[str, Shape]:
    x = one_input(ins)
    float_input("Mean", x)
    dims = [int(d) for d in p["dims"]]
    rank = len(x)
    if any(d < 1 or d >= rank for d in dims) or len(set(dims)) != len(dims):
        raise fail(
            f"averages over dims {tuple(dims)} but receives {x} (dims 1 to {rank - 1}; 0 is"
            " the batch)",
            f"give each dim once, from 1 to {rank - 1}",
        )
    if p["keepdim"]:
        return {"out": Shape(tuple(1 if i in dims else v for i, v in enumerate(x)), x.dtype)}
    return {"out": Shape(tuple(v for i, v in enumerate(x) if i not in dims), x.dtype)}


add(
    LayerSpec(
        "Mean",
        POOL,
        "Averages over the dims given, counted as torch counts them (0 is the batch and"
        " stays): dims (2, 3) of (N, C, H, W) is global average pooling to (N, C), as"
        " x.mean([2, 3]) (MNASNet), which imports as it.",
        params=(
            Param(
                "dims",
                INTS,
                (2, 3),
                "The dims averaged (1 and up).",
                min=1,
                max=7,
                min_len=1,
                max_len=7,
            ),
            Param("keepdim", BOOL, False, "Keep each averaged dim, as size 1."),
        ),
        infer=_mean_infer,
        ctor=lambda p, ins: Ctor(
            "builder.catalog.modules.Mean", {"dims": tuple(p["dims"]), "keepdim": p["keepdim"]}
        ),
        default_name="mean",
    )
)
