"""Typed layer parameters: default, bounds, choices, docs. One ``Param`` drives the property
editor, the project-file check and the compiler, so a value is validated in one place."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

INT, FLOAT, BOOL, CHOICE, SIZE, INTS = "int", "float", "bool", "choice", "size", "ints"


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return repr(value)


@dataclass(frozen=True)
class Param:
    """One parameter of a layer type.

    Kinds: ``int``, ``float``, ``bool``, ``choice`` (one of ``choices``), ``size`` (an int or a
    list of ``length`` ints, as torch's ``kernel_size`` accepts), ``ints`` (a list of ints of
    any length in ``[min_len, max_len]``, e.g. a shape). ``optional`` admits ``None``.
    """

    name: str
    kind: str
    default: Any
    doc: str = ""
    min: float | None = None
    max: float | None = None
    choices: tuple[Any, ...] = ()
    length: int = 1
    min_len: int = 1
    max_len: int = 8
    optional: bool = False
    exclusive_max: bool = False

    def check(self, value: Any) -> Any:
        """Return ``value`` normalised (lists become tuples) or raise ``ValueError``."""
        if value is None and self.optional:
            return None
        if self.kind == BOOL:
            if isinstance(value, bool):
                return value
            raise ValueError(f"expected true or false, got {_fmt(value)}")
        if self.kind == INT:
            return self._int(value)
        if self.kind == FLOAT:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"expected a number{self._range()}, got {_fmt(value)}")
            value = float(value)
            if not math.isfinite(value):
                raise ValueError(f"expected a finite number, got {value!r}")
            self._bounds(value)
            return value
        if self.kind == CHOICE:
            if value in self.choices and type(value) is type(
                self.choices[self.choices.index(value)]
            ):
                return value
            options = ", ".join(_fmt(c) for c in self.choices)
            raise ValueError(f"expected one of {options}, got {_fmt(value)}")
        if self.kind == SIZE:
            if isinstance(value, (list, tuple)):
                if len(value) != self.length:
                    raise ValueError(
                        f"expected an integer or a list of {self.length} integers, got {_fmt(list(value))}"
                    )
                return tuple(self._int(v, whole=value) for v in value)
            return self._int(value)
        if self.kind == INTS:
            if not isinstance(value, (list, tuple)):
                raise ValueError(f"expected a list of integers, got {_fmt(value)}")
            if not self.min_len <= len(value) <= self.max_len:
                raise ValueError(
                    f"expected {self.min_len} to {self.max_len} integers, got {len(value)}"
                )
            return tuple(self._int(v, whole=value) for v in value)
        raise AssertionError(f"unknown parameter kind {self.kind!r}")

    def _int(self, value: Any, whole: Any = None) -> int:
        shown = _fmt(list(whole)) if whole is not None else _fmt(value)
        if isinstance(value, float) and value.is_integer() and not isinstance(value, bool):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected {self._int_words()}, got {shown}")
        if self.min is not None and value < self.min:
            raise ValueError(f"expected {self._int_words(upper=False)}, got {shown}")
        if self.max is not None and value > self.max:
            raise ValueError(f"expected an integer <= {self.max:g}, got {shown}")
        return value

    def _int_words(self, upper: bool = True) -> str:
        lo, hi = self.min, self.max if upper else None
        if lo == 1 and hi is None:
            return "a positive integer"
        if lo == 0 and hi is None:
            return "an integer >= 0"
        if lo is not None and hi is not None:
            return f"an integer from {lo:g} to {hi:g}"
        if lo is not None:
            return f"an integer >= {lo:g}"
        if hi is not None:
            return f"an integer <= {hi:g}"
        return "an integer"

    def _range(self) -> str:
        lo, hi = self.min, self.max
        close = ")" if self.exclusive_max else "]"
        if lo is not None and hi is not None:
            return f" in [{lo:g}, {hi:g}{close}"
        if lo is not None:
            return f" >= {lo:g}"
        if hi is not None:
            return f" <= {hi:g}"
        return ""

    def _bounds(self, value: float) -> None:
        too_high = self.max is not None and (
            value >= self.max if self.exclusive_max else value > self.max
        )
        if (self.min is not None and value < self.min) or too_high:
            raise ValueError(f"expected a number{self._range()}, got {value!r}")

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly description (for docs and the property editor)."""
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "default": self.default}
        for key in ("min", "max"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.choices:
            out["choices"] = list(self.choices)
        if self.doc:
            out["doc"] = self.doc
        return out


def as_tuple(value: int | tuple[int, ...], n: int) -> tuple[int, ...]:
    """Broadcast a ``size`` param to ``n`` dims."""
    return tuple(value) if isinstance(value, tuple) else (value,) * n


INITIALISERS = (
    "default",
    "zeros",
    "uniform",
    "xavier_normal",
    "xavier_uniform",
    "he_normal",
    "he_uniform",
)

INIT = Param(
    "init",
    CHOICE,
    "default",
    "How the weights start: torch's default, zeros (shows the symmetry problem),"
    " uniform ±1/√fan_in, Xavier/Glorot normal or uniform, He/Kaiming normal or uniform."
    " Seeded by the project's seed.",
    choices=INITIALISERS,
)
