"""The last check of an import: each layer's module, rebuilt from its params and the shapes
that reach it, must agree with the original module on every configuration attribute and
weight shape (which also checks the arguments the catalog infers)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

# Attributes that describe a module's configuration; an imported layer's rebuilt module must
# agree with the original on each one it has (this checks the inferred arguments too).
CONFIG_ATTRS = (
    "in_features",
    "out_features",
    "in_channels",
    "out_channels",
    "kernel_size",
    "stride",
    "padding",
    "output_padding",
    "dilation",
    "groups",
    "padding_mode",
    "num_features",
    "eps",
    "momentum",
    "affine",
    "track_running_stats",
    "normalized_shape",
    "elementwise_affine",
    "num_embeddings",
    "embedding_dim",
    "input_size",
    "hidden_size",
    "num_layers",
    "batch_first",
    "dropout",
    "bidirectional",
    "nonlinearity",
    "embed_dim",
    "kdim",
    "vdim",
    "num_heads",
    "output_size",
    "start_dim",
    "end_dim",
    "p",
    "threshold",
    "negative_slope",
    "num_parameters",
    "alpha",
    "approximate",
    "dim",
    "ceil_mode",
    "count_include_pad",
)

# What an inferred argument depends on, for the mismatch message.
INFERRED_FROM = {
    "in_features": "the size of the last dim of its input",
    "in_channels": "the channels (dim 1) of its input",
    "num_features": "the channels / features (dim 1) of its input",
    "normalized_shape": "the last dims of its input",
    "input_size": "the features (last dim) of its input",
    "embed_dim": "the features (last dim) of its query",
    "kdim": "the features (last dim) of its key",
    "vdim": "the features (last dim) of its value",
    "num_parameters": "the channels (dim 1) of its input",
}


def compare(original: nn.Module, rebuilt: nn.Module) -> str:
    """How ``rebuilt`` (from the layer's params and inferred shapes) differs from the
    original module, or ``""``."""
    for attr in CONFIG_ATTRS:
        if not hasattr(original, attr) or not hasattr(rebuilt, attr):
            continue
        a, b = getattr(original, attr), getattr(rebuilt, attr)
        if isinstance(a, (torch.Tensor, nn.Module)) or isinstance(b, (torch.Tensor, nn.Module)):
            continue
        if _norm(a) != _norm(b):
            source = INFERRED_FROM.get(attr)
            if source:
                return (
                    f"has {attr}={_show(a)} but {source} gives {_show(b)}: the module and the"
                    " layers before it (or the input shape) disagree"
                )
            return f"has {attr}={_show(a)}, which the layer cannot express (it would be {_show(b)})"
    ours = {k: tuple(v.shape) for k, v in rebuilt.state_dict().items()}
    theirs = {k: tuple(v.shape) for k, v in original.state_dict().items()}
    if ours != theirs:
        diff = sorted(set(ours.items()) ^ set(theirs.items()))
        key = diff[0][0]
        return (
            f"has weights {key}: {theirs.get(key, 'missing')} where the layer has"
            f" {ours.get(key, 'none')}"
        )
    return ""


def _norm(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        value = tuple(_norm(v) for v in value)
        return value[0] if value and len(set(value)) == 1 else value
    if isinstance(value, float):
        return round(value, 12)
    return value


def _show(value: Any) -> str:
    return str(tuple(value)) if isinstance(value, (list, tuple)) else repr(value)
