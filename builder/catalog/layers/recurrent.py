"""Sequences: Embedding, the recurrent layers (RNN, LSTM, GRU) and attention."""

from __future__ import annotations

from typing import Any

from builder.catalog.layers.common import (
    ATTN,
    SEQ,
    check_rank,
    float_input,
    if_bias,
    one_input,
    torch_cat,
)
from builder.catalog.params import BOOL, CHOICE, FLOAT, INIT, INT, Param
from builder.catalog.spec import BATCH, Ctor, LayerSpec, P, Shape, Shapes, fail

SPECS: list[LayerSpec] = []
add = SPECS.append

# ----------------------------------------------------------------------------- embedding / recurrent


def _embedding_infer(p: P, ins: Shapes) -> dict[str, Shape]:
    x = one_input(ins)
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
    x = one_input(ins)
    float_input("RNN", x)
    check_rank(x, (3,), "(N, steps, features)", "add a Reshape to (steps, features) before it")
    width = p["hidden_size"] * (2 if p["bidirectional"] else 1)
    state = Shape((BATCH, width))
    seq = Shape((BATCH, x[1], width))
    return {"out": seq if p["output"] == "sequence" else state, "state": state}


def _rnn_ctor(tid: str):
    def ctor(p: P, ins: Shapes) -> Ctor:
        kw: dict[str, Any] = {
            "input_size": one_input(ins)[-1],
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
            n_in = one_input(ins)[-1] if layer == 0 else h * d
            total += d * g * (h * n_in + h * h + if_bias(2 * h, p["bias"]))
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
            state = e.fn(torch_cat(), [e.item(h_n, -2), e.item(h_n, -1)], dim=1)
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
        float_input("MultiheadAttention", x)
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
    return e * (e + kd + vd) + e * e + if_bias(4 * e, p["bias"])


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
