"""Every layer type of the catalog, declared once (see :mod:`builder.catalog.spec`)."""

from __future__ import annotations

import operator
from functools import reduce
from typing import Any

from builder.catalog.params import BOOL, CHOICE, FLOAT, INIT, INT, INTS, SIZE, Param, as_tuple
from builder.catalog.spec import BATCH, Catalog, Ctor, LayerSpec, P, Shape, Shapes, fail

CATALOG = Catalog()
add = CATALOG.register

IO, DENSE, CONV, POOL, SHAPE, NORM, REG, MERGE, SEQ, ATTN, ACT = (
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
)


def _cat() -> Any:
    """``torch.cat``, imported on first use: declaring the catalog must not load torch, so
    the editor can show its window while torch loads in the background."""
    import torch

    return torch.cat


def _prod(values: Any) -> int:
    return reduce(operator.mul, values, 1)


def _one(ins: Shapes) -> Shape:
    return ins["in"]


def _float_input(type_id: str, x: Shape) -> None:
    if x.dtype != "float32":
        raise fail(
            f"expects real-valued inputs but receives {x.dtype} token ids",
            "add an Embedding before it to turn ids into vectors",
        )


def _rank(x: Shape, ranks: tuple[int, ...], layout: str, hint: str) -> None:
    if len(x) not in ranks:
        raise fail(f"expects {layout} but receives {x}", hint)


def _p(n: int, bias: bool) -> int:
    return n if bias else 0


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
    x = _one(ins)
    _float_input("Linear", x)
    # (N, steps, features) is allowed too: the layer then applies at every step.
    _rank(x, (2, 3), "(N, features)", "add a Flatten before it")
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
            INIT,
        ),
        infer=_linear_infer,
        ctor=lambda p, ins: Ctor(
            "torch.nn.Linear",
            {"in_features": _one(ins)[-1], "out_features": p["out_features"], "bias": p["bias"]},
        ),
        count=lambda p, ins: _one(ins)[-1] * p["out_features"] + _p(p["out_features"], p["bias"]),
        inferred=("in_features",),
        default_name="fc",
    )
)

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
    out += [Param("bias", BOOL, True, "Add a learned bias per filter."), INIT]
    return tuple(out)


def _conv_infer(dims: int, transposed: bool = False):
    names = ("length",) if dims == 1 else ("height", "width")
    layout = "(N, channels, " + ", ".join(names) + ")"
    hint = (
        "add a Reshape before it (e.g. to (1, 8, 8) for an 8×8 grey image)"
        if dims == 2
        else "add a Reshape before it (e.g. to (1, steps) for one channel)"
    )

    def infer(p: P, ins: Shapes) -> dict[str, Shape]:
        x = _one(ins)
        _float_input("Conv", x)
        _rank(x, (dims + 2,), layout, hint)
        k, s, pad, d = (
            as_tuple(p[n], dims) for n in ("kernel_size", "stride", "padding", "dilation")
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
        kw = {"in_channels": _one(ins)[1], "out_channels": p["out_channels"]}
        names = ["kernel_size", "stride", "padding"]
        if transposed:
            names.append("output_padding")
        names += ["dilation", "bias"]
        kw.update({n: p[n] for n in names})
        return Ctor(target, kw)

    return ctor


def _conv_count(dims: int):
    def count(p: P, ins: Shapes) -> int:
        k = _prod(as_tuple(p["kernel_size"], dims))
        return _one(ins)[1] * p["out_channels"] * k + _p(p["out_channels"], p["bias"])

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
    )


def _pool_params_1d() -> tuple[Param, ...]:
    return tuple(
        Param(p.name, p.kind, p.default, p.doc, p.min, p.max, length=1, optional=p.optional)
        for p in _pool_params()
    )


def _pool_infer(dims: int):
    layout = "(N, channels, length)" if dims == 1 else "(N, channels, height, width)"

    def infer(p: P, ins: Shapes) -> dict[str, Shape]:
        x = _one(ins)
        _float_input("Pool", x)
        _rank(x, (dims + 2,), layout, "add a Reshape before it")
        k = as_tuple(p["kernel_size"], dims)
        s = as_tuple(p["stride"] if p["stride"] is not None else p["kernel_size"], dims)
        pad = as_tuple(p["padding"], dims)
        spatial = []
        for i in range(dims):
            if pad[i] * 2 > k[i]:
                raise fail(
                    f"has padding {pad[i]} larger than half its window {k[i]}", "lower padding"
                )
            size = _conv_out(x[2 + i], k[i], s[i], pad[i], 1)
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
    return lambda p, ins: Ctor(
        target, {"kernel_size": p["kernel_size"], "stride": p["stride"], "padding": p["padding"]}
    )


for _dims, _kind in ((1, "Max"), (2, "Max"), (1, "Avg"), (2, "Avg")):
    _tid = f"{_kind}Pool{_dims}d"
    add(
        LayerSpec(
            _tid,
            POOL,
            f"{'Maximum' if _kind == 'Max' else 'Average'} over each window: shrinks the"
            f" {'length' if _dims == 1 else 'image'} and adds some translation invariance.",
            params=_pool_params() if _dims == 2 else _pool_params_1d(),
            infer=_pool_infer(_dims),
            ctor=_pool_ctor(f"torch.nn.{_tid}"),
            default_name="pool",
        )
    )


def _adaptive_infer(p: P, ins: Shapes) -> dict[str, Shape]:
    x = _one(ins)
    _float_input("AdaptiveAvgPool2d", x)
    _rank(x, (4,), "(N, channels, height, width)", "add a Reshape before it")
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

# ----------------------------------------------------------------------------- reshaping


add(
    LayerSpec(
        "Flatten",
        SHAPE,
        "Flattens each sample to one vector: (N, C, H, W) becomes (N, C·H·W). Put it between"
        " convolutions and Linear layers.",
        infer=lambda p, ins: {"out": Shape((BATCH, _prod(_one(ins)[1:])), _one(ins).dtype)},
        ctor=lambda p, ins: Ctor("torch.nn.Flatten", {}),
        default_name="flatten",
    )
)


def _reshape_infer(p: P, ins: Shapes) -> dict[str, Shape]:
    x = _one(ins)
    target = list(p["shape"])
    size = _prod(x[1:])
    if target.count(-1) > 1 or any(t == 0 or t < -1 for t in target):
        raise fail(f"has shape {tuple(target)}", "use positive sizes, with at most one -1")
    if -1 in target:
        known = _prod(t for t in target if t != -1)
        if size % known:
            raise fail(
                f"cannot reshape {x} to (N, {', '.join(map(str, target))})",
                f"{size} values per sample do not divide by {known}",
            )
        target[target.index(-1)] = size // known
    if _prod(target) != size:
        raise fail(
            f"cannot reshape {x} ({size} values per sample) to (N, {', '.join(map(str, target))})"
            f" ({_prod(target)} values)",
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
        infer=lambda p, ins: _elementwise(p, ins),
        ctor=lambda p, ins: Ctor("torch.nn.Dropout", {"p": p["p"]}),
        default_name="dropout",
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
        x = _one(ins)
        _float_input("BatchNorm", x)
        _rank(x, ranks, layout, "use the BatchNorm that matches the input (1d or 2d)")
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
                            "num_features": _one(ins)[1],
                            "eps": p["eps"],
                            "momentum": p["momentum"],
                            "affine": p["affine"],
                        },
                    )
                )
            )(f"torch.nn.{_tid}"),
            count=lambda p, ins: 2 * _one(ins)[1] if p["affine"] else 0,
            inferred=("num_features",),
            default_name="bn",
        )
    )


def _ln_infer(p: P, ins: Shapes) -> dict[str, Shape]:
    x = _one(ins)
    _float_input("LayerNorm", x)
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
                "normalized_shape": tuple(_one(ins)[-p["dims"] :]),
                "eps": p["eps"],
                "elementwise_affine": p["affine"],
            },
        ),
        count=lambda p, ins: 2 * _prod(_one(ins)[-p["dims"] :]) if p["affine"] else 0,
        inferred=("normalized_shape",),
        default_name="ln",
    )
)

# ----------------------------------------------------------------------------- embedding / recurrent


def _embedding_infer(p: P, ins: Shapes) -> dict[str, Shape]:
    x = _one(ins)
    if x.dtype != "int64":
        raise fail(
            f"expects integer token ids but receives {x.dtype} values",
            "set the Input's dtype to int64",
        )
    return {"out": Shape((*x, p["embedding_dim"]))}


add(
    LayerSpec(
        "Embedding",
        SEQ,
        "Looks up a learned vector for each integer token id: (N, steps) ids become"
        " (N, steps, embedding_dim).",
        params=(
            Param(
                "num_embeddings",
                INT,
                100,
                "Vocabulary size (ids run from 0 to this - 1).",
                min=1,
                max=10_000_000,
            ),
            Param("embedding_dim", INT, 16, "Length of each vector.", min=1, max=100_000),
            INIT,
        ),
        infer=_embedding_infer,
        ctor=lambda p, ins: Ctor(
            "torch.nn.Embedding",
            {"num_embeddings": p["num_embeddings"], "embedding_dim": p["embedding_dim"]},
        ),
        count=lambda p, ins: p["num_embeddings"] * p["embedding_dim"],
        default_name="embedding",
    )
)

_GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}


def _rnn_infer(p: P, ins: Shapes) -> dict[str, Shape]:
    x = _one(ins)
    _float_input("RNN", x)
    _rank(x, (3,), "(N, steps, features)", "add a Reshape to (steps, features) before it")
    width = p["hidden_size"] * (2 if p["bidirectional"] else 1)
    state = Shape((BATCH, width))
    seq = Shape((BATCH, x[1], width))
    return {"out": seq if p["output"] == "sequence" else state, "state": state}


def _rnn_ctor(tid: str):
    def ctor(p: P, ins: Shapes) -> Ctor:
        kw: dict[str, Any] = {
            "input_size": _one(ins)[-1],
            "hidden_size": p["hidden_size"],
            "num_layers": p["num_layers"],
            "bias": p["bias"],
            "batch_first": True,
            "dropout": p["dropout"] if p["num_layers"] > 1 else 0.0,
            "bidirectional": p["bidirectional"],
        }
        if tid == "RNN":
            kw["nonlinearity"] = p["nonlinearity"]
        return Ctor(f"torch.nn.{tid}", kw)

    return ctor


def _rnn_count(tid: str):
    def count(p: P, ins: Shapes) -> int:
        g, h, d = _GATES[tid], p["hidden_size"], 2 if p["bidirectional"] else 1
        total = 0
        for layer in range(p["num_layers"]):
            n_in = _one(ins)[-1] if layer == 0 else h * d
            total += d * g * (h * n_in + h * h + _p(2 * h, p["bias"]))
        return total

    return count


def _rnn_emit(tid: str):
    def emit(e: Any, p: P, xs: dict[str, Any], shapes: Shapes, wanted: set[str]) -> dict[str, Any]:
        result = e.call(xs["in"])
        seq = e.item(result, 0)
        h_n = e.item(result, 1)
        if tid == "LSTM":
            h_n = e.item(h_n, 0)
        # The final state of the top layer; both directions side by side when bidirectional.
        if p["bidirectional"]:
            state = e.fn(_cat(), [e.item(h_n, -2), e.item(h_n, -1)], dim=1)
        else:
            state = e.item(h_n, -1)
        return {"out": seq if p["output"] == "sequence" else state, "state": state}

    return emit


for _tid, _help in (
    (
        "RNN",
        "Elman recurrent layer: h_t = tanh(W·x_t + U·h_(t-1) + b). Shows vanishing gradients over long sequences.",
    ),
    (
        "LSTM",
        "Long short-term memory: gated cell state that carries information over long sequences.",
    ),
    ("GRU", "Gated recurrent unit: an LSTM with fewer gates and no separate cell state."),
):
    _params = [
        Param("hidden_size", INT, 32, "Units in the hidden state.", min=1, max=100_000),
        Param("num_layers", INT, 1, "Stacked recurrent layers.", min=1, max=16),
        Param("bidirectional", BOOL, False, "Also read the sequence backwards and concatenate."),
        Param(
            "output",
            CHOICE,
            "last",
            "'last': the final state (N, hidden); 'sequence': every step (N, steps, hidden).",
            choices=("last", "sequence"),
        ),
        Param(
            "dropout",
            FLOAT,
            0.0,
            "Dropout between stacked layers (needs num_layers >= 2).",
            min=0.0,
            max=1.0,
            exclusive_max=True,
        ),
        Param("bias", BOOL, True, "Learn biases."),
    ]
    if _tid == "RNN":
        _params.insert(
            1,
            Param(
                "nonlinearity",
                CHOICE,
                "tanh",
                "Activation of the hidden state.",
                choices=("tanh", "relu"),
            ),
        )
    _params.append(INIT)
    add(
        LayerSpec(
            _tid,
            SEQ,
            _help + " Input (N, steps, features); port 'state' gives the final hidden state.",
            params=tuple(_params),
            outputs=("out", "state"),
            infer=_rnn_infer,
            ctor=_rnn_ctor(_tid),
            emit=_rnn_emit(_tid),
            count=_rnn_count(_tid),
            inferred=("input_size",),
            default_name=_tid.lower(),
        )
    )

# ----------------------------------------------------------------------------- attention


def _mha_shapes(ins: Shapes) -> tuple[Shape, Shape, Shape]:
    q = ins["query"]
    return q, ins.get("key", q), ins.get("value", ins.get("key", q))


def _mha_infer(p: P, ins: Shapes) -> dict[str, Shape]:
    q, k, v = _mha_shapes(ins)
    for port, x in (("query", q), ("key", k), ("value", v)):
        _float_input("MultiheadAttention", x)
        if len(x) != 3:
            raise fail(
                f"expects (N, steps, features) on '{port}' but receives {x}",
                "add a Reshape or an Embedding before it",
            )
    if k[1] != v[1]:
        raise fail(
            f"has {k[1]} key steps but {v[1]} value steps",
            "feed key and value from sequences of the same length",
        )
    e = q[-1]
    if e % p["num_heads"]:
        raise fail(
            f"has {p['num_heads']} heads, which do not divide its {e} features",
            f"use a num_heads that divides {e}",
        )
    return {"out": Shape((BATCH, q[1], e)), "weights": Shape((BATCH, q[1], k[1]))}


def _mha_ctor(p: P, ins: Shapes) -> Ctor:
    q, k, v = _mha_shapes(ins)
    kw = {
        "embed_dim": q[-1],
        "num_heads": p["num_heads"],
        "dropout": p["dropout"],
        "bias": p["bias"],
        "batch_first": True,
    }
    if k[-1] != q[-1] or v[-1] != q[-1]:
        kw.update(kdim=k[-1], vdim=v[-1])
    return Ctor("torch.nn.MultiheadAttention", kw)


def _mha_count(p: P, ins: Shapes) -> int:
    q, k, v = _mha_shapes(ins)
    e, kd, vd = q[-1], k[-1], v[-1]
    return e * (e + kd + vd) + e * e + _p(4 * e, p["bias"])


def _mha_emit(e: Any, p: P, xs: dict[str, Any], shapes: Shapes, wanted: set[str]) -> dict[str, Any]:
    q = xs["query"]
    k = xs.get("key", q)
    v = xs.get("value", xs.get("key", q))
    result = e.call(q, k, v, need_weights="weights" in wanted)
    return {"out": e.item(result, 0), "weights": e.item(result, 1)}


add(
    LayerSpec(
        "MultiheadAttention",
        ATTN,
        "Scaled dot-product attention with several heads. Connect only 'query' for"
        " self-attention; key and value default to the query. embed_dim comes from the query.",
        params=(
            Param(
                "num_heads",
                INT,
                2,
                "Parallel attention heads (must divide the features).",
                min=1,
                max=1024,
            ),
            Param(
                "dropout",
                FLOAT,
                0.0,
                "Dropout on the attention weights.",
                min=0.0,
                max=1.0,
                exclusive_max=True,
            ),
            Param("bias", BOOL, True, "Learn biases in the projections."),
            INIT,
        ),
        inputs=("query", "key", "value"),
        outputs=("out", "weights"),
        optional_inputs=("key", "value"),
        infer=_mha_infer,
        ctor=_mha_ctor,
        emit=_mha_emit,
        count=_mha_count,
        inferred=("embed_dim", "kdim", "vdim"),
        default_name="attention",
    )
)

# ----------------------------------------------------------------------------- merges


def _merge_ports(p: P) -> list[str]:
    return [f"in{i}" for i in range(1, p["num_inputs"] + 1)]


_NUM_INPUTS = Param("num_inputs", INT, 2, "Number of inputs.", min=2, max=8)


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
    ("Multiply", operator.mul, "Multiplies its inputs element-wise: gating."),
):
    add(
        LayerSpec(
            _tid,
            MERGE,
            _help,
            params=(_NUM_INPUTS,),
            inputs=_merge_ports,
            infer=_same_shape_infer,
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
    return {"out": e.fn(_cat(), [xs[port] for port in _merge_ports(p)], dim=p["dim"])}


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

# ----------------------------------------------------------------------------- activations


def _elementwise(p: P, ins: Shapes) -> dict[str, Shape]:
    x = _one(ins)
    _float_input("activation", x)
    return {"out": x}


def _activation(
    tid: str, target: str, help_text: str, params: tuple[Param, ...] = (), kw=None, **extra: Any
) -> None:
    add(
        LayerSpec(
            tid,
            ACT,
            help_text,
            params=params,
            infer=extra.pop("infer", _elementwise),
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
    return _one(ins)[1] if p["per_channel"] else 1


def _prelu_infer(p: P, ins: Shapes) -> dict[str, Shape]:
    x = _one(ins)
    _float_input("PReLU", x)
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


def _softmax_infer(p: P, ins: Shapes) -> dict[str, Shape]:
    x = _one(ins)
    _float_input("Softmax", x)
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
