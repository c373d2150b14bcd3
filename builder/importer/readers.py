"""Module readers: a catalog layer's params read from a torch module's constructor
arguments (:data:`READERS`), and :func:`module_types`, the module class -> layer type map."""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from builder.catalog.layers import CATALOG
from builder.catalog.spec import Catalog, Shape
from builder.importer.errors import reject


def size_param(value: Any) -> Any:
    """A ``size`` param from a module attribute: ``(3, 3)`` -> ``3``, ``(3,)`` -> ``3``."""
    if isinstance(value, (tuple, list)):
        value = tuple(int(v) for v in value)
        return value[0] if len(set(value)) == 1 else value
    return value


# ``{layer type: read(module) -> params}``: each reads the constructor arguments the layer
# has as params and refuses configurations the layer cannot express.


def _conv(transposed: bool) -> Callable[[nn.Module], dict[str, Any]]:
    def read(m: Any) -> dict[str, Any]:
        reject(
            m.padding_mode != "zeros",
            f"has padding_mode={m.padding_mode!r}; the layer pads with zeros only",
        )
        reject(
            isinstance(m.padding, str),
            f"has padding={m.padding!r}; give the padding as numbers (e.g. kernel_size // 2)",
        )
        params = {
            "out_channels": m.out_channels,
            "kernel_size": size_param(m.kernel_size),
            "stride": size_param(m.stride),
            "padding": size_param(m.padding),
            "dilation": size_param(m.dilation),
            "bias": m.bias is not None,
            # one group per input channel reads as depthwise (0), as the catalog says it
            "groups": 0 if m.groups == m.in_channels and m.groups > 1 else m.groups,
        }
        if transposed:
            params["output_padding"] = size_param(m.output_padding)
        return params

    return read


def _max_pool(m: Any) -> dict[str, Any]:
    reject(size_param(m.dilation) != 1, f"has dilation={m.dilation}; the layer supports only 1")
    reject(m.return_indices, "returns indices; the layer returns only the pooled values")
    return _pool_params(m)


def _avg_pool(m: Any) -> dict[str, Any]:
    reject(not m.count_include_pad, "has count_include_pad=False; the layer counts the padding")
    reject(
        getattr(m, "divisor_override", None) is not None,
        "has a divisor_override; the layer divides by the window size",
    )
    return _pool_params(m)


def _pool_params(m: Any) -> dict[str, Any]:
    kernel, stride = size_param(m.kernel_size), size_param(m.stride)
    return {
        "kernel_size": kernel,
        "stride": None if stride in (None, kernel) or stride == () else stride,
        "padding": size_param(m.padding),
        "ceil_mode": bool(m.ceil_mode),
    }


def _upsample(m: Any) -> dict[str, Any]:
    reject(m.size is not None, "is given an output size; give it a scale_factor")
    scale = m.scale_factor
    if isinstance(scale, tuple):
        reject(len(set(scale)) != 1, f"scales dims differently ({scale}); use one scale_factor")
        scale = scale[0]
    reject(m.mode not in ("nearest", "linear", "bilinear"), f"has mode={m.mode!r}")
    return {"scale_factor": float(scale), "mode": m.mode, "align_corners": bool(m.align_corners)}


def _adaptive(m: Any) -> dict[str, Any]:
    size = m.output_size
    reject(
        size is None or (isinstance(size, tuple) and None in size),
        f"has output_size={size}; give every output size",
    )
    return {"output_size": size_param(size)}


def _flatten(m: Any) -> dict[str, Any]:
    reject(m.start_dim == 0, "flattens the batch dim; the layer keeps it: use start_dim=1")
    return {"start_dim": int(m.start_dim), "end_dim": int(m.end_dim)}


def _batch_norm(m: Any) -> dict[str, Any]:
    reject(m.momentum is None, "has momentum=None (cumulative average); give a number")
    reject(not m.track_running_stats, "has track_running_stats=False; the layer keeps them")
    return {"eps": m.eps, "momentum": m.momentum, "affine": m.affine}


def _layer_norm(m: Any) -> dict[str, Any]:
    reject(
        m.elementwise_affine and m.bias is None,
        "has a scale but no bias (bias=False); the layer learns both or neither",
    )
    return {"dims": len(m.normalized_shape), "eps": m.eps, "affine": m.elementwise_affine}


def _embedding(m: Any) -> dict[str, Any]:
    for attr, default in (
        ("padding_idx", None),
        ("max_norm", None),
        ("scale_grad_by_freq", False),
        ("sparse", False),
    ):
        value = getattr(m, attr)
        reject(value != default, f"has {attr}={value!r}; the layer supports only {default!r}")
    return {"num_embeddings": m.num_embeddings, "embedding_dim": m.embedding_dim}


def _recurrent(m: Any) -> dict[str, Any]:
    reject(
        not m.batch_first,
        "has batch_first=False; NeuralCanvas sequences are (N, steps, features): construct it"
        " with batch_first=True (and feed it batch-first tensors)",
    )
    reject(getattr(m, "proj_size", 0) != 0, f"has proj_size={m.proj_size}; the layer has none")
    params = {
        "hidden_size": m.hidden_size,
        "num_layers": m.num_layers,
        "bidirectional": m.bidirectional,
        # Dropout between layers only exists with 2+ layers (the compiler drops it otherwise).
        "dropout": float(m.dropout) if m.num_layers > 1 else 0.0,
        "bias": m.bias,
    }
    if isinstance(m, nn.RNN):
        params["nonlinearity"] = m.nonlinearity
    return params


def _attention(m: Any) -> dict[str, Any]:
    reject(
        not m.batch_first,
        "has batch_first=False; NeuralCanvas sequences are (N, steps, features): construct it"
        " with batch_first=True",
    )
    reject(m.bias_k is not None, "has add_bias_kv=True; the layer has no extra key/value bias")
    reject(m.add_zero_attn, "has add_zero_attn=True; the layer does not add a zero attention")
    return {
        "num_heads": m.num_heads,
        "dropout": float(m.dropout),
        "bias": m.in_proj_bias is not None,
    }


def _prelu(m: Any) -> dict[str, Any]:
    weight = m.weight.detach()
    first = float(weight.flatten()[0])
    # The starting slope cannot be known from trained weights; a fresh module shows it.
    slope = _shortest(first) if bool((weight == first).all()) and 0.0 <= first <= 1.0 else 0.25
    return {"per_channel": m.num_parameters > 1, "init_slope": slope}


def _shortest(value: float) -> float:
    """The shortest decimal that is the same float32: 0.10000000149 -> 0.1."""
    for digits in range(1, 10):
        candidate = float(f"{value:.{digits}g}")
        if torch.tensor(candidate, dtype=torch.float32).item() == value:
            return candidate
    return value


def _softmax(m: Any) -> dict[str, Any]:
    reject(m.dim is None, "has no dim (implicit dim is deprecated); give dim, e.g. dim=-1")
    return {"dim": m.dim}


READERS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "Linear": lambda m: {"out_features": m.out_features, "bias": m.bias is not None},
    "Conv1d": _conv(False),
    "Conv2d": _conv(False),
    "Conv3d": _conv(False),
    "ConvTranspose2d": _conv(True),
    "MaxPool1d": _max_pool,
    "MaxPool2d": _max_pool,
    "MaxPool3d": _max_pool,
    "AvgPool1d": _avg_pool,
    "AvgPool2d": _avg_pool,
    "AvgPool3d": _avg_pool,
    "AdaptiveAvgPool2d": _adaptive,
    "Flatten": _flatten,
    "Dropout": lambda m: {"p": float(m.p)},
    "BatchNorm1d": _batch_norm,
    "BatchNorm2d": _batch_norm,
    "LayerNorm": _layer_norm,
    "GroupNorm": lambda m: {
        "groups": int(m.num_groups),
        "eps": float(m.eps),
        "affine": bool(m.affine),
    },
    "Embedding": _embedding,
    "RNN": _recurrent,
    "LSTM": _recurrent,
    "GRU": _recurrent,
    "MultiheadAttention": _attention,
    "Step": lambda m: {"threshold": float(m.threshold)},
    "Sigmoid": lambda m: {},
    "Tanh": lambda m: {},
    "ReLU": lambda m: {},
    "LeakyReLU": lambda m: {"negative_slope": float(m.negative_slope)},
    "PReLU": _prelu,
    "ReLU6": lambda m: {},
    "ELU": lambda m: {"alpha": float(m.alpha)},
    "GELU": lambda m: {"approximate": m.approximate},
    "SiLU": lambda m: {},
    "Hardswish": lambda m: {},
    "Hardsigmoid": lambda m: {},
    "Hardtanh": lambda m: {"min_val": float(m.min_val), "max_val": float(m.max_val)},
    "Softmax": _softmax,
    "LogSoftmax": _softmax,
    "Identity": lambda m: {},
    "Sample": lambda m: {},
    "SOM": lambda m: {
        "rows": int(m.rows),
        "cols": int(m.cols),
        "topology": m.topology,
        "toroidal": bool(m.toroidal),
        "distance": m.distance,
        "weights_init": getattr(m, "weights_init", "random"),
    },
    # the widths are parameters (they load with the weights); sigma is what they start at
    "RBF": lambda m: {"units": int(m.units), "sigma": float(m.sigma.detach().reshape(-1)[0])},
    "RBM": lambda m: {"hidden": int(m.hidden)},
    "Permute": lambda m: {"dims": list(m.dims)},
    "Upsample": _upsample,
    "ClassToken": lambda m: {},
    "Mean": lambda m: {"dims": list(m.dims), "keepdim": bool(m.keepdim)},
    "Maxout": lambda m: {
        "out_features": m.out_features,
        "pieces": m.pieces,
        "bias": m.linear.bias is not None,
    },
    "TransformerEncoderLayer": lambda m: _encoder_layer(m),
    "Scale": lambda m: {"shape": list(m.scale.shape), "start": float(m.start)},
    "Slice": lambda m: {
        "dim": m.dim,
        "start": m.start,
        "length": m.length,
        "squeeze": m.squeeze,
    },
    "StochasticDepth": lambda m: {"p": float(m.p), "mode": m.mode},
    "PositionalEncoding": lambda m: {"kind": m.kind, "max_len": int(m.positions.shape[1])},
}


def _target_class(target: str) -> type:
    module_name, _, attr = target.rpartition(".")
    return getattr(importlib.import_module(module_name), attr)


def module_types(catalog: Catalog = CATALOG) -> dict[type, str]:
    """``{module class: layer type}``: the reverse of the catalog's declared constructors."""
    return dict(_module_types(catalog))


def copied_module_type(m: nn.Module, catalog: Catalog = CATALOG) -> str | None:
    """The layer type of ``m`` when its class is a copy of one of the catalog's own module
    classes (builder.catalog.modules), as an exported script defines them from their source
    (the script's ``Sample``): the same class name and the same forward, bytecode for
    bytecode. None for any other class."""
    cls = type(m)
    for original, type_id in _module_types(catalog).items():
        if (
            original.__module__ == "builder.catalog.modules"
            and original is not cls
            and original.__name__ == cls.__name__
            and _same_code(getattr(cls, "forward", None), original.forward)
        ):
            return type_id
    return None


def _same_code(a: Any, b: Any) -> bool:
    ca, cb = getattr(a, "__code__", None), getattr(b, "__code__", None)
    if ca is None or cb is None:
        return False
    return (ca.co_code, ca.co_consts, ca.co_names, ca.co_varnames) == (
        cb.co_code,
        cb.co_consts,
        cb.co_names,
        cb.co_varnames,
    )


@functools.lru_cache(maxsize=4)
def _module_types(catalog: Catalog) -> dict[type, str]:
    out: dict[type, str] = {}
    for spec in catalog:
        if spec.ctor is None:
            continue
        params = spec.defaults()
        dummy = Shape(("N", 4, 4, 4))
        ctor = spec.ctor(params, {port: dummy for port in spec.input_ports(params)})
        out[_target_class(ctor.target)] = spec.type_id
    return out


def _encoder_layer(m: Any) -> dict[str, Any]:
    from builder.importer.transformers import encoder_layer_params

    return encoder_layer_params(m)
