"""What a :class:`~graph.document.Network` is made of and says: its connections (:class:`Edge`)
and the events it emits after each successful edit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Edge:
    """A connection from an output port of ``src`` to an input port of ``dst``."""

    src: str
    src_port: str
    dst: str
    dst_port: str

    @property
    def key(self) -> str:
        return f"{self.src_port}>{self.dst_port}"


@dataclass(frozen=True)
class Event:
    """Base of the events a :class:`Network` emits after a successful edit."""


@dataclass(frozen=True)
class NodeAdded(Event):
    node_id: str


@dataclass(frozen=True)
class NodeRemoved(Event):
    node_id: str
    record: dict[str, Any] = field(compare=False)


@dataclass(frozen=True)
class EdgeAdded(Event):
    edge: Edge


@dataclass(frozen=True)
class EdgeRemoved(Event):
    edge: Edge


@dataclass(frozen=True)
class ParamChanged(Event):
    node_id: str
    key: str
    old: Any
    new: Any


@dataclass(frozen=True)
class WeightsChanged(Event):
    """A layer's hand-set weights (:mod:`graph.weights`) were set, changed or cleared."""

    node_id: str
    old: Any = field(compare=False)
    new: Any = field(compare=False)


@dataclass(frozen=True)
class TrainableChanged(Event):
    """A layer was frozen (its weights kept as they are in training) or made trainable."""

    node_id: str
    new: bool


@dataclass(frozen=True)
class NodeRenamed(Event):
    node_id: str
    old: str
    new: str


@dataclass(frozen=True)
class NodeMoved(Event):
    node_id: str
    old: tuple[float, float]
    new: tuple[float, float]


Listener = Callable[[Event], None]
