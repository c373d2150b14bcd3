"""What every file loader shares: resolving and reading the user's paths, turning a target
column into class indices or regression values, and the kind of data a file holds.

Portable: standard library, numpy and torch only; the exported script copies what it uses."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from builder.data.problems import SPEC_PATH, DataError

MAX_AUTO_CLASSES = 20  # "auto" task: an integer target with at most this many values is a class


def resolve_path(value: str, base: Path | None, option: str, folder: bool = False) -> Path:
    path = Path(value).expanduser()
    if not path.is_absolute() and base is not None:
        path = base / path
    where = (
        f" (relative paths are read from the project's folder {base})" if base is not None else ""
    )
    if not path.exists():
        what = "folder" if folder else "file"
        raise DataError(f"{SPEC_PATH}.{option}: {what} not found: {path}{where}; check the path")
    if folder and not path.is_dir():
        raise DataError(
            f"{SPEC_PATH}.{option}: {path} is a file; give the folder that holds the files"
        )
    if not folder and not path.is_file():
        raise DataError(f"{SPEC_PATH}.{option}: {path} is a folder; give a file")
    return path


def read_file_bytes(path: Path, option: str) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                return fh.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{SPEC_PATH}.{option}: cannot read {path}: {exc}") from None


def _auto_task(values: np.ndarray, numeric: bool) -> str:
    if not numeric:
        return "classification"
    integral = bool(np.all(np.isfinite(values)) and np.all(values == np.round(values)))
    return (
        "classification"
        if integral and len(np.unique(values)) <= MAX_AUTO_CLASSES
        else "regression"
    )


def read_targets(
    raw: np.ndarray, numeric: bool, task: str, source: str, column: str, row: Callable[[int], str]
) -> tuple[np.ndarray, str, list[str] | None]:
    """Turn a 1-D target column into class indices (with names) or regression values."""
    if task == "auto":
        task = _auto_task(raw, numeric)
    if task == "regression":
        if not numeric:
            bad = next(i for i, v in enumerate(raw) if not is_numeric_text(str(v)))
            raise DataError(
                f"{source}: target {column} is not numeric ({str(raw[bad])!r} at {row(bad)}); "
                'use "task": "classification" for labels'
            )
        values = raw.astype(np.float64)
        bad = np.flatnonzero(~np.isfinite(values))
        if len(bad):
            raise DataError(
                f"{source}: target {column} holds {len(bad)} empty, NaN or infinite values "
                f"(first at {row(int(bad[0]))}); fill or remove those rows"
            )
        return values, task, None
    if numeric:
        finite = np.isfinite(raw)
        if not finite.all():
            first = int(np.flatnonzero(~finite)[0])
            raise DataError(
                f"{source}: target {column} holds {int((~finite).sum())} empty, NaN or infinite "
                f"values (first at {row(first)}); fill or remove those rows"
            )
        fractional = np.flatnonzero(raw != np.round(raw))
        if len(fractional):
            i = int(fractional[0])
            raise DataError(
                f"{source}: target {column} has non-integer values ({raw[i]:g} at {row(i)}), so it "
                'cannot be a class label; use "task": "regression"'
            )
        values, index = np.unique(raw, return_inverse=True)
        names = [str(int(v)) for v in values]
    else:
        values, index = np.unique(raw.astype(str), return_inverse=True)
        names = [str(v) for v in values]
    if len(names) < 2:
        raise DataError(
            f"{source}: target {column} has a single class ({names[0]!r}); a classifier needs at "
            "least two classes: check the target column"
        )
    return index.astype(np.int64), task, names


def is_numeric_text(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def kind_for(x: torch.Tensor, task: str) -> str:
    if x.dtype == torch.int64:
        return "tokens"
    if x.ndim == 4:
        return "image"
    if x.ndim == 3:
        return "sequence"
    if x.ndim == 2 and x.shape[1] == 2 and task == "classification":
        return "points2d"
    return "tabular"
