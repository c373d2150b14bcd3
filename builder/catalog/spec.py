"""The layer catalog: every layer type declared once, as data plus a few functions.

The palette (category, help), the property editor (typed params), the project file (params
are the config), shape inference (``infer``), parameter counts (``count``), the compiler
(``ctor`` names the torch constructor with its arguments, inferred ones such as
``in_features`` filled from the upstream shape; ``emit`` wires it into a torch.fx graph) and
the code generator all read the same :class:`LayerSpec`.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from builder.catalog.params import Param
from builder.errors import LayerShapeError

BATCH = "N"


class Shape(tuple):
    """A tensor shape whose first entry is the symbolic batch dimension ``"N"``.

    ``dtype`` is ``"float32"`` or ``"int64"`` (token ids for an Embedding); equality ignores it.
    """

    dtype: str

    def __new__(cls, dims: tuple[Any, ...] | list[Any], dtype: str = "float32") -> Shape:
        obj = super().__new__(cls, dims)
        obj.dtype = dtype
        return obj

    @classmethod
    def of(cls, *feature_dims: int, dtype: str = "float32") -> Shape:
        return cls((BATCH, *feature_dims), dtype)

    @property
    def features(self) -> tuple[int, ...]:
        """The dims after the batch dim."""
        return tuple(self[1:])

    def __str__(self) -> str:
        return "(" + ", ".join(str(d) for d in self) + ")"

    def __repr__(self) -> str:
        return f"Shape{tuple(self)!r}" + ("" if self.dtype == "float32" else f"[{self.dtype}]")

    def __reduce__(self) -> tuple[Any, ...]:
        return (Shape, (tuple(self), self.dtype))


Shapes = Mapping[str, Shape]
P = Mapping[str, Any]


@dataclass(frozen=True)
class Ctor:
    """A constructor call: ``target`` is a dotted path (``torch.nn.Linear``) and ``kwargs``
    its keyword arguments. The compiler calls it; the exporter writes it as code."""

    target: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    def build(self) -> Any:
        module_name, _, attr = self.target.rpartition(".")
        return getattr(importlib.import_module(module_name), attr)(**self.kwargs)


@dataclass(frozen=True)
class LayerSpec:
    """The declaration of one layer type.

    Attributes:
        type_id: the id stored in project files (``Linear``).
        category: palette group.
        help: one or two sentences for the palette tooltip and the layer reference.
        params: typed parameters, in display order.
        inputs: input port names, or a function of the params (merges with N inputs).
        outputs: output port names, or a function of the params.
        infer: ``(params, input shapes) -> output shapes``; raises :class:`LayerShapeError`.
        ctor: ``(params, input shapes) -> Ctor`` for layers that own a torch module.
        emit: custom torch.fx wiring ``(emitter, params, fx inputs, input shapes, wanted
            outputs) -> fx outputs``; the default calls the module on input ``in``.
        count: ``(params, input shapes) -> number of trainable parameters``.
        inferred: constructor arguments taken from the upstream shape (documented).
        optional_inputs: input ports that may stay unconnected.
        has_init: whether the ``init`` param applies (layers with weights).
    """

    type_id: str
    category: str
    help: str
    params: tuple[Param, ...] = ()
    inputs: tuple[str, ...] | Callable[[P], list[str]] = ("in",)
    outputs: tuple[str, ...] | Callable[[P], list[str]] = ("out",)
    infer: Callable[[P, Shapes], dict[str, Shape]] | None = None
    ctor: Callable[[P, Shapes], Ctor] | None = None
    emit: Callable[..., dict[str, Any]] | None = None
    count: Callable[[P, Shapes], int] | None = None
    inferred: tuple[str, ...] = ()
    optional_inputs: tuple[str, ...] = ()
    default_name: str = ""

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def input_ports(self, params: P) -> list[str]:
        return list(self.inputs(params) if callable(self.inputs) else self.inputs)

    def output_ports(self, params: P) -> list[str]:
        return list(self.outputs(params) if callable(self.outputs) else self.outputs)

    def infer_shapes(self, params: P, inputs: Shapes) -> dict[str, Shape]:
        if self.infer is None:
            return {"out": inputs["in"]}
        return self.infer(params, inputs)

    def param_count(self, params: P, inputs: Shapes) -> int:
        return 0 if self.count is None else int(self.count(params, inputs))

    @property
    def has_init(self) -> bool:
        return any(p.name == "init" for p in self.params)


class Catalog:
    """All layer types by id; implements the document's ``LayerSpecs`` protocol."""

    def __init__(self) -> None:
        self._specs: dict[str, LayerSpec] = {}

    def register(self, spec: LayerSpec) -> LayerSpec:
        if spec.type_id in self._specs:
            raise ValueError(f"layer type {spec.type_id!r} declared twice")
        names = [p.name for p in spec.params]
        if len(set(names)) != len(names):
            raise ValueError(f"{spec.type_id}: duplicate param names")
        for p in spec.params:
            p.check(p.default)  # a default that fails its own check is a declaration bug
        self._specs[spec.type_id] = spec
        return spec

    def __getitem__(self, type_id: str) -> LayerSpec:
        return self._specs[type_id]

    def __iter__(self):
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)

    def type_ids(self) -> list[str]:
        return list(self._specs)

    def categories(self) -> dict[str, list[LayerSpec]]:
        out: dict[str, list[LayerSpec]] = {}
        for spec in self._specs.values():
            out.setdefault(spec.category, []).append(spec)
        return out

    # -- LayerSpecs protocol (graph.document) --
    def has_type(self, type_id: str) -> bool:
        return type_id in self._specs

    def default_params(self, type_id: str) -> dict[str, Any]:
        return self._specs[type_id].defaults()

    def check_param(self, type_id: str, key: str, value: Any) -> Any:
        try:
            param = self._specs[type_id].param(key)
        except KeyError:
            raise ValueError(f"{type_id} has no parameter {key!r}") from None
        return param.check(value)

    def input_ports(self, type_id: str, params: Mapping[str, Any]) -> list[str]:
        return self._specs[type_id].input_ports(params)

    def output_ports(self, type_id: str, params: Mapping[str, Any]) -> list[str]:
        return self._specs[type_id].output_ports(params)

    def default_name(self, type_id: str) -> str:
        spec = self._specs[type_id]
        if spec.default_name:
            return spec.default_name
        return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", type_id).lower()


def fail(message: str, hint: str = "") -> LayerShapeError:
    """A shape error whose message follows the layer's type and name, e.g.
    ``expects (N, features) but receives (N, 32, 13, 13)`` with hint ``add a Flatten``."""
    return LayerShapeError(message, hint)
