"""Dataset options: :class:`Option` (a default, a doc and a check), the value checks that
say what was expected, :data:`SPLIT_OPTIONS`, the options every dataset takes, and
:data:`TASK_OPTION`, the file loaders' ``task``."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from builder.data.files import MAX_AUTO_CLASSES

NORMALISE = ("none", "minmax", "zscore")


Check = Callable[[Any], str | None]  # None when the value is fine, else what was expected


@dataclass(frozen=True)
class Option:
    """One option of a dataset: its default, a short doc, and its check."""

    name: str
    default: Any
    doc: str
    check: Check = field(repr=False, compare=False)
    required: bool = False


def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "a list" if len(str(value)) > 40 else str(value)
    if isinstance(value, dict):
        return "an object"
    return repr(value)


def int_check(lo: int, hi: int | None = None, nullable: bool = False) -> Check:
    def check(v: Any) -> str | None:
        if (v is None and nullable) or (is_int(v) and v >= lo and (hi is None or v <= hi)):
            return None
        words = f"an integer >= {lo}" if hi is None else f"an integer from {lo} to {hi}"
        return words + (" or null" if nullable else "")

    return check


def float_check(
    lo: float, hi: float | None = None, lo_open: bool = False, hi_open: bool = False
) -> Check:
    def check(v: Any) -> str | None:
        ok = is_number(v) and (v > lo if lo_open else v >= lo)
        if ok and hi is not None:
            ok = v < hi if hi_open else v <= hi
        if ok:
            return None
        words = f"a number {'>' if lo_open else '>='} {lo:g}"
        if hi is not None:
            words += f" and {'<' if hi_open else '<='} {hi:g}"
        return words

    return check


def bool_check(v: Any) -> str | None:
    return None if isinstance(v, bool) else "true or false"


def choice_check(*values: Any) -> Check:
    def check(v: Any) -> str | None:
        # compare types too: True == 1 must not pass as a choice
        if any(type(v) is type(c) and v == c for c in values):
            return None
        return "one of " + ", ".join(show(c) for c in values)

    return check


def text_check(nullable: bool = False) -> Check:
    def check(v: Any) -> str | None:
        if (v is None and nullable) or (isinstance(v, str) and v.strip()):
            return None
        return "a non-empty text" + (" or null" if nullable else "")

    return check


def delimiter_check(v: Any) -> str | None:
    ok = isinstance(v, str) and (v == "auto" or len(v) == 1)
    return None if ok else '"auto" or a single character such as "," or ";"'


def column_check(v: Any) -> str | None:
    ok = v is None or (isinstance(v, str) and v != "") or is_int(v)
    return None if ok else "a column name, a 0-based column index, or null"


def columns_check(v: Any) -> str | None:
    ok = v is None or (
        isinstance(v, list)
        and len(v) > 0
        and all((isinstance(c, str) and c != "") or is_int(c) for c in v)
    )
    return None if ok else "a non-empty list of column names or 0-based indices, or null"


MAX_TABLE_ROWS = 10_000  # rows typed into a project file (more: a CSV file)


def rows_check(v: Any) -> str | None:
    """A table's rows: a non-empty list of equally long, non-empty lists of numbers."""
    ok = (
        isinstance(v, list)
        and 0 < len(v) <= MAX_TABLE_ROWS
        and all(isinstance(r, list) and r and all(is_number(x) for x in r) for r in v)
        and len({len(r) for r in v}) == 1
    )
    return (
        None
        if ok
        else (
            f"a list of 1 to {MAX_TABLE_ROWS:,} rows, each a list of as many numbers as the"
            " first, such as [[1, 0], [0, 1]]"
        )
    )


def targets_check(v: Any) -> str | None:
    """A table's targets: null, or one number (or list of numbers) per row."""
    ok = v is None or (
        isinstance(v, list)
        and 0 < len(v) <= MAX_TABLE_ROWS
        and (
            all(is_number(t) for t in v)
            or (
                all(isinstance(t, list) and t and all(is_number(x) for x in t) for t in v)
                and len({len(t) for t in v}) == 1
            )
        )
    )
    return None if ok else "null, or one number (or list of numbers) per row, such as [0, 1]"


def object_check(v: Any) -> str | None:
    return None if v is None or isinstance(v, dict) else "an object"


def json_text(value: Any) -> str:
    """``value`` as it is written in a project file."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, dict) and not value:
        return "{}"
    return str(value)


_FRACTION = float_check(0, 1, hi_open=True)
SPLIT_OPTIONS: tuple[Option, ...] = (
    Option("validation", 0.2, "fraction of the rows held out for validation (0 = none)", _FRACTION),
    Option("test", 0.0, "fraction of the rows held out for the final test (0 = none)", _FRACTION),
    Option(
        "normalise",
        "none",
        '"none", "minmax" or "zscore"; fitted on the training split only, never on token ids',
        choice_check(*NORMALISE),
    ),
    Option(
        "augment",
        {},
        'batch-time image augmentation: {"flip": bool, "shift": pixels, "noise": std}',
        object_check,
    ),
)

TASK_OPTION = Option(
    "task",
    "auto",
    '"auto", "classification" or "regression"; auto: classification when the target is text, '
    f"or whole numbers with at most {MAX_AUTO_CLASSES} distinct values",
    choice_check("auto", "classification", "regression"),
)
