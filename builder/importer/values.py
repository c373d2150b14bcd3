"""The values an fx node stands for while the graph is read, and :func:`as_tensor`, which
accepts only a tensor (a :class:`Ref`) and otherwise says what to write instead."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import fx

from builder.importer.errors import Unsupported

# What an fx node stands for while the graph is read. Tensors are ``Ref``s to a document
# node's output port; the rest are intermediate results of patterns (an LSTM's state tuple,
# ``x.size(0)``) that only some consumers accept.


@dataclass(frozen=True)
class Ref:
    """A tensor: output ``port`` of document node ``node``. Recurrent layers use the
    provisional ports ``seq`` and ``last``, resolved once all their uses are known."""

    node: str
    port: str = "out"


@dataclass(frozen=True)
class Batch:
    """``x.size(0)`` / ``x.shape[0]``: the batch size."""


@dataclass(frozen=True)
class ShapeOf:
    """``x.shape`` / ``x.size()``: the batch size first, then the sample's sizes, which are
    constants (``dims``: the traced shape, batch included; None when unknown). The shape is
    looked up only when a size other than the batch's is read."""

    ref: Ref
    lookup: Any = None  # () -> the traced shape, batch included, or None (asked lazily)

    @property
    def dims(self) -> tuple[int, ...] | None:
        return self.lookup() if self.lookup is not None else None


@dataclass(frozen=True)
class DTypeOf:
    """``x.dtype``."""

    ref: Ref


@dataclass(frozen=True)
class Threshold:
    """``x >= t``: a Step layer once turned back into numbers (``.to(x.dtype)``)."""

    ref: Ref
    value: float
    node: fx.Node


@dataclass(frozen=True)
class RnnResult:
    """The ``(output, h_n)`` tuple of an RNN / GRU, ``(output, (h_n, c_n))`` of an LSTM."""

    node: str


@dataclass(frozen=True)
class LstmStates:
    node: str


@dataclass(frozen=True)
class Hidden:
    """``h_n``: the final states of every layer and direction, stacked."""

    node: str


@dataclass(frozen=True)
class HiddenSlice:
    """``h_n[i]`` of a bidirectional layer: one direction; ``torch.cat`` of the top layer's
    two directions is the final state."""

    node: str
    index: int


@dataclass(frozen=True)
class Opaque:
    """A value no layer consumes (an LSTM's cell state, attention weights' sibling ...)."""

    what: str


@dataclass(frozen=True)
class MhaResult:
    node: str


@dataclass(frozen=True)
class PortsResult:
    """The tuple a layer of several outputs returns (a SOM's ``(out, unit, distances)``):
    item ``i`` is its port ``ports[i]``."""

    node: str
    ports: tuple[str, ...]


class _Poison:
    """Downstream of an unsupported operation: already reported, report nothing more."""


POISON = _Poison()


@dataclass(frozen=True, eq=False)
class Attr:
    """A parameter or buffer read directly (``self.class_token``): only the patterns that
    are layers take one (a class token, learned positions, a layer norm's or a layer scale's
    weights); ``path`` is its name in the module's state_dict."""

    path: str
    tensor: Any


@dataclass(frozen=True, eq=False)
class Expanded:
    """``attr.expand(x.size(0), -1, -1)``: a parameter repeated over the batch."""

    attr: Attr


def as_tensor(value: Any, role: str) -> Ref:
    """``value`` as a tensor for a consumer, or :class:`Unsupported` saying why not."""
    if isinstance(value, Ref):
        return value
    if isinstance(value, (Attr, Expanded)):
        attr = value.attr if isinstance(value, Expanded) else value
        raise Unsupported(
            f"uses the parameter or buffer {attr.path!r} directly (not through a layer); a"
            " learned tensor belongs to a layer in NeuralCanvas (a class token, learned"
            " positions, a layer norm's or a layer scale's weights import as layers)"
        )
    if isinstance(value, (RnnResult, LstmStates)):
        raise Unsupported(
            f"{role} the whole result tuple of a recurrent layer; pick its output with"
            " `out, _ = rnn(x)` or its final state with `h_n[-1]`"
        )
    if isinstance(value, Hidden):
        raise Unsupported(
            f"{role} the stacked final states h_n of every layer; use h_n[-1] (the top"
            " layer's), or torch.cat((h_n[-2], h_n[-1]), dim=1) when bidirectional"
        )
    if isinstance(value, HiddenSlice):
        raise Unsupported(
            f"{role} one direction's final state of a bidirectional layer; use"
            " torch.cat((h_n[-2], h_n[-1]), dim=1)"
        )
    if isinstance(value, PortsResult):
        raise Unsupported(
            f"{role} the whole result tuple of a layer with outputs {', '.join(value.ports)};"
            f" pick one: `{', '.join(value.ports)} = layer(x)`"
        )
    if isinstance(value, MhaResult):
        raise Unsupported(
            f"{role} the (output, weights) tuple of attention; use `out, _ = attn(q, k, v)`"
        )
    if isinstance(value, Opaque):
        raise Unsupported(f"{role} {value.what}, which no layer outputs")
    if isinstance(value, Threshold):
        raise Unsupported(
            f"{role} a comparison (x >= t); only (x >= t).to(x.dtype) is a layer (Step)"
        )
    if isinstance(value, (Batch, ShapeOf, DTypeOf)):
        raise Unsupported(f"{role} the batch size / shape as a value")
    if isinstance(value, (int, float, bool)) or value is None:
        raise Unsupported(f"{role} a constant ({value!r}); only tensors flow between layers")
    raise Unsupported(f"{role} {type(value).__name__} values")
