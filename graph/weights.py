"""Weights set by hand: a layer's starting values as the project file holds them.

``{"weight": [[0.5, -1.0]], "bias": [0.5]}``: for each of the layer's tensors (by its name in
the layer's ``state_dict``), its values as nested lists of numbers. They are what training
starts from instead of the initialiser's draw, in the app and in the exported script.
Checked here before they enter the document, with the place of each problem
(``weights.weight[1][0]: expected a number, got 'a'``); whether they fit the layer's shapes
is the shape checker's business (:func:`builder.shapes.check_node`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

# A layer's hand-set values in all (a table the user edits, or a small layer's weights
# written into a project file): more is what a weights file is for.
MAX_VALUES = 10_000
MAX_DIMS = 8  # lists nested in lists at most (a tensor's dimensions)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


class WeightsError(ValueError):
    """Hand-set weights that cannot be used; ``path`` locates the problem inside them."""

    def __init__(self, path: str, message: str):
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_weights(weights: Any) -> dict[str, Any]:
    """``weights`` as plain nested lists of floats, or :class:`WeightsError`."""
    if not isinstance(weights, Mapping):
        raise WeightsError(
            "weights", f"expected an object of tensors by name, got {_describe(weights)}"
        )
    out: dict[str, Any] = {}
    total = 0
    for name, values in weights.items():
        where = f"weights.{name}"
        if not isinstance(name, str) or len(name) > 100 or not _NAME.fullmatch(name):
            raise WeightsError("weights", f"{_describe(name)} is not a tensor name (like 'weight')")
        value, count = _checked(values, where, 0)
        total += count
        if total > MAX_VALUES:
            raise WeightsError(
                where,
                f"more than {MAX_VALUES:,} values set by hand: load a weights file instead",
            )
        out[name] = value
    return out


def _checked(values: Any, where: str, depth: int) -> tuple[Any, int]:
    """``values`` (a number or a rectangular nested list of numbers) as floats, and how many."""
    if depth > MAX_DIMS:
        raise WeightsError(
            where, f"lists nested deeper than {MAX_DIMS}: no layer's tensor has so many dimensions"
        )
    if isinstance(values, bool) or not isinstance(values, (int, float, list, tuple)):
        raise WeightsError(
            where, f"expected a number or a list of numbers, got {_describe(values)}"
        )
    if not isinstance(values, (list, tuple)):
        number = float(values)
        if not math.isfinite(number):
            raise WeightsError(where, f"expected a finite number, got {_describe(values)}")
        return number, 1
    if not values:
        raise WeightsError(where, "an empty list: give the tensor's values")
    items = [_checked(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(values)]
    first = shape_of(items[0][0])
    for i, (item, _) in enumerate(items):
        if shape_of(item) != first:
            raise WeightsError(
                f"{where}[{i}]",
                f"has shape {list(shape_of(item))}, the first row {list(first)}: every row"
                " needs as many values",
            )
    return [item for item, _ in items], sum(count for _, count in items)


def shape_of(values: Any) -> tuple[int, ...]:
    """The shape of a checked nested list (``()`` for a number)."""
    shape: list[int] = []
    while isinstance(values, list):
        shape.append(len(values))
        values = values[0]
    return tuple(shape)


def flat(values: Any) -> list[float]:
    """A checked nested list's numbers in row-major order."""
    if not isinstance(values, list):
        return [values]
    return [x for v in values for x in flat(v)]
