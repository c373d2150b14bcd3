"""The property editor's text: a parameter's value as its field shows it and back
(``format_value`` / ``parse_text``), and the header's inferred arguments and status line."""

from __future__ import annotations

import re
from typing import Any

from builder.catalog.params import FLOAT, INT, INTS, SIZE, Param
from builder.catalog.spec import LayerSpec
from builder.shapes import NodeInfo
from widgets.settings_form import number_or_text

SCIENTIFIC_BELOW = 1e-3  # floats whose default is smaller are typed, e.g. "1e-5"


# ----------------------------------------------------------------------------- text <-> value


def format_value(param: Param, value: Any) -> str:
    """The text a line edit shows for ``value`` (``3``, ``3, 5``, ``1e-05``, empty for None)."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    if param.kind == FLOAT:
        return f"{value:g}"
    return str(value)


def parse_text(param: Param, text: str) -> Any:
    """The checked value of a line edit's ``text`` for ``param``; raises ``ValueError`` with
    the message to show (:meth:`Param.check`'s)."""
    text = text.strip()
    if not text and param.optional:
        return None
    if param.kind in (SIZE, INTS):
        tokens = [t for t in re.split(r"[,\s]+", text.strip("()[] ")) if t]
        if param.kind == SIZE and len(tokens) <= 1:
            return param.check(number_or_text(tokens[0]) if tokens else text)
        return param.check([number_or_text(t) for t in tokens])
    if param.kind == FLOAT:
        try:
            value: Any = float(text)
        except ValueError:
            value = text
        return param.check(value)
    if param.kind == INT:
        return param.check(number_or_text(text))
    return param.check(text)


def _tiny(value: Any) -> bool:
    return isinstance(value, (int, float)) and 0 < abs(value) < SCIENTIFIC_BELOW


def _same(a: Any, b: Any) -> bool:
    return a == b and type(a) is type(b)


# ----------------------------------------------------------------------------- header text


def inferred_lines(spec: LayerSpec, params: dict[str, Any], info: NodeInfo | None) -> list[str]:
    """``in_channels: 16 (from the layer before)`` for each argument the layer takes from
    its input shape, computed with the spec's ``ctor`` (which only builds a description)."""
    if not spec.inferred:
        return []
    single = spec.input_ports(params) == ["in"]
    source = "from the layer before" if single else "from its inputs"
    values: dict[str, Any] = {}
    if spec.ctor is not None and info is not None and info.ok and info.inputs:
        try:
            values = dict(spec.ctor(params, info.inputs).kwargs)
        except Exception:  # an input the layer cannot handle: its error is shown anyway
            values = {}
    if not values:  # not connected, or waiting for / broken by its inputs
        return [f"{name}: {source}" for name in spec.inferred]
    lines = []
    for name in spec.inferred:
        if name in values:  # absent: torch's default applies (e.g. kdim = embed_dim)
            value = values[name]
            shown = repr(tuple(value)) if isinstance(value, (list, tuple)) else str(value)
            lines.append(f"{name}: {shown} ({source})")
    return lines


def status_text(net_type: str, info: NodeInfo | None) -> tuple[str, str]:
    """``(text, kind)`` for the line under the header: the output shape and parameter count
    (``ok``), what is wrong (``error``) or what it waits for (``blocked``)."""
    if info is None:
        return "", "ok"
    if info.status != "ok":
        return info.message, info.status
    shapes = info.inputs if net_type == "Output" else info.outputs
    if len(shapes) == 1:
        shape = str(next(iter(shapes.values())))
    else:
        shape = ", ".join(f"{port} {s}" for port, s in shapes.items())
    parts = []
    if shape:
        parts.append(("Receives " if net_type == "Output" else "Output ") + shape)
    if info.params:
        parts.append(f"{info.params:,} parameters")
    return " · ".join(parts), "ok"
