"""The ``csv`` dataset: the user's own table from a CSV file.

Portable: standard library, numpy and torch only; the exported script copies it. See
:mod:`builder.data.builtin` for its options."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from builder.data.dataset import Dataset, class_dataset, regression_dataset
from builder.data.files import (
    is_numeric_text,
    kind_for,
    open_data_file,
    read_targets,
    resolve_path,
    shown_path,
)
from builder.data.problems import SPEC_PATH, DataError, did_you_mean


def csv_table(o: dict[str, Any], base: Path | None, seed: int) -> Dataset:
    path = resolve_path(o["path"], base, "path")
    shown = shown_path(o["path"])
    with open_data_file(path, "path", "csv") as fh:
        try:
            data = fh.read()
        except OSError as exc:
            raise DataError(f"{SPEC_PATH}.path: cannot read {shown}: {exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{shown}: not a UTF-8 text file ({exc.reason} at byte {exc.start}); save it as UTF-8 CSV"
        ) from None
    del data
    if not text.strip():
        raise DataError(f"{shown}: the CSV file is empty; add a header and rows of data")
    delimiter = _sniff(text) if o["delimiter"] == "auto" else o["delimiter"]
    rows, lines = _csv_rows(text, delimiter, shown)
    header = _has_header(rows) if o["header"] == "auto" else o["header"]
    width = len(rows[0])
    if header:
        names = [c or f"col{i}" for i, c in enumerate(rows[0])]
        rows, lines = rows[1:], lines[1:]
        if not rows:
            raise DataError(
                f"{shown}: the CSV file has a header but no data rows; add rows of data"
            )
    else:
        names = [f"col{i}" for i in range(width)]
    columns = list(zip(*rows))
    target = _column_index(o["target"], names, header, shown, "target", width - 1)
    if o["features"] is None:
        features = [i for i in range(width) if i != target]
    else:
        features = [_column_index(c, names, header, shown, "features", 0) for c in o["features"]]
        dupes = sorted({names[i] for i in features if features.count(i) > 1})
        if dupes:
            raise DataError(
                f"{SPEC_PATH}.features: column {dupes[0]!r} is listed twice; list each column once"
            )
        if target in features:
            raise DataError(
                f"{SPEC_PATH}.features: {names[target]!r} is also the target column; "
                "remove it from features or choose another target"
            )
    if not features:
        raise DataError(
            f"{shown}: no feature columns are left besides the target {names[target]!r}; add columns"
        )

    def row(i: int) -> str:
        return f"line {lines[i]}"

    x = np.stack([_numeric_column(columns[i], names[i], shown, row) for i in features], axis=1)
    raw_target = columns[target]
    tname = repr(names[target])
    empty = [i for i, v in enumerate(raw_target) if v == ""]
    if len(empty) == len(raw_target):
        raise DataError(
            f"{shown}: the target column {tname} is empty; choose another target or fill it"
        )
    if empty:
        raise DataError(
            f"{shown}: the target column {tname} has {len(empty)} empty cells (first at "
            f"{row(empty[0])}); fill or remove those rows"
        )
    numeric = all(is_numeric_text(v) for v in raw_target)
    raw = np.array([float(v) for v in raw_target]) if numeric else np.array(raw_target, dtype=str)
    y, task, class_names = read_targets(raw, numeric, o["task"], shown, f"column {tname}", row)
    feature_names = [names[i] for i in features]
    xt = torch.as_tensor(x.astype(np.float32))
    if task == "regression":
        return regression_dataset(path.name, xt, y, kind_for(xt, task), feature_names)
    return class_dataset(
        path.name, xt, y, kind_for(xt, task), class_names, feature_names, len(class_names or [])
    )


def _sniff(text: str) -> str:
    try:
        return csv.Sniffer().sniff(text[:65536], delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _csv_rows(text: str, delimiter: str, shown: str) -> tuple[list[list[str]], list[int]]:
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            rows.append([c.strip() for c in cells])
            lines.append(reader.line_num)
    except csv.Error as exc:
        raise DataError(
            f"{shown}: line {reader.line_num}: {exc}; fix the quoting in that line"
        ) from None
    if not rows:
        raise DataError(f"{shown}: the CSV file is empty; add a header and rows of data")
    width = len(rows[0])
    for cells, line in zip(rows, lines):
        if len(cells) != width:
            raise DataError(
                f"{shown}: line {line} has {len(cells)} columns but line {lines[0]} has {width}; "
                f"every row needs the same columns (is the delimiter {delimiter!r} right?)"
            )
    return rows, lines


def _has_header(rows: list[list[str]]) -> bool:
    """The first row is a header when one of its cells is text and the cell below is a number."""
    if len(rows) < 2:
        return not all(is_numeric_text(c) for c in rows[0])
    return any(not is_numeric_text(a) and is_numeric_text(b) for a, b in zip(rows[0], rows[1]))


def _column_index(
    ref: Any, names: list[str], header: bool, shown: str, option: str, default: int
) -> int:
    width = len(names)
    if ref is None:
        return default
    if isinstance(ref, int):
        if -width <= ref < width:
            return ref % width
        raise DataError(
            f"{SPEC_PATH}.{option}: column index {ref} is out of range: {shown} has {width} "
            f"columns (0 to {width - 1})"
        )
    if ref in names:
        return names.index(ref)
    hint = (
        ""
        if header
        else " (the file has no header row, so columns are named col0, col1, ... or given by 0-based index)"
    )
    raise DataError(
        f"{SPEC_PATH}.{option}: no column {ref!r} in {shown}{did_you_mean(ref, names)}; "
        f"available columns: {', '.join(names)}{hint}"
    )


def _numeric_column(
    cells: Sequence[str], name: str, shown: str, row: Callable[[int], str]
) -> np.ndarray:
    out = np.empty(len(cells), dtype=np.float64)
    empty = 0
    for i, cell in enumerate(cells):
        if cell == "":
            out[i] = np.nan
            empty += 1
            continue
        try:
            out[i] = float(cell)
        except ValueError:
            raise DataError(
                f"{shown}: column {name!r} is not numeric: {cell!r} at {row(i)}; choose numeric "
                "columns with the features option, or encode this column as numbers"
            ) from None
    if empty == len(cells):
        raise DataError(f"{shown}: column {name!r} is empty; remove it from features or fill it")
    bad = np.flatnonzero(~np.isfinite(out))
    if len(bad):
        raise DataError(
            f"{shown}: column {name!r} has {len(bad)} empty, NaN or infinite values (first at "
            f"{row(int(bad[0]))}); fill or remove those rows"
        )
    return out
