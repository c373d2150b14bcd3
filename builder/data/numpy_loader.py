"""The ``numpy`` dataset: the user's own arrays from a .npz file or .npy files.

Portable: standard library, numpy and torch only; the exported script copies it. See
:mod:`builder.data.builtin` for its options."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from builder.data.dataset import Dataset, class_dataset, regression_dataset
from builder.data.files import kind_for, read_targets, resolve_path
from builder.data.problems import SPEC_PATH, DataError


def numpy_arrays(o: dict[str, Any], base: Path | None, seed: int) -> Dataset:
    path = resolve_path(o["path"], base, "path")
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".npz"):
        raise DataError(
            f"{SPEC_PATH}.path: {o['path']} is not a .npy or .npz file; save the arrays with numpy.save or numpy.savez"
        )
    if suffix == ".npy" and o["target_path"] is None:
        raise DataError(
            f"{SPEC_PATH}.target_path: {o['path']} holds only the inputs; give the targets' "
            ".npy file as target_path, or save both in one .npz with keys x and y"
        )
    target = resolve_path(o["target_path"], base, "target_path") if o["target_path"] else None
    if suffix == ".npz":
        arrays = _load_npz(path, o["path"], [o["x_key"]] + ([] if target else [o["y_key"]]))
        x, y = arrays[0], (arrays[1] if not target else None)
        xname, yname = f"{o['path']}[{o['x_key']!r}]", f"{o['path']}[{o['y_key']!r}]"
    else:
        x, y, xname, yname = _load_npy(path, o["path"]), None, o["path"], ""
    if target is not None:
        y, yname = _load_npy(target, o["target_path"]), o["target_path"]
    assert y is not None
    if x.dtype.kind not in "biuf":
        raise DataError(f"{xname}: the inputs have dtype {x.dtype}; they must be numbers")
    if x.ndim == 0 or y.ndim == 0:
        raise DataError(f"{xname}: the arrays need one row per sample; got a single value")
    if x.ndim == 1:
        x = x[:, None]
    if len(x) != len(y):
        raise DataError(
            f"{xname} has {len(x)} rows but {yname} has {len(y)}; both need one row per sample"
        )
    if o["x_dtype"] == "int64":
        xf = x.astype(np.float64)
        if not np.all(np.isfinite(xf)) or np.any(xf != np.round(xf)) or np.any(xf < 0):
            raise DataError(
                f"{xname}: token ids must be whole numbers >= 0; use x_dtype float32 for other data"
            )
        xt = torch.as_tensor(x.astype(np.int64))
    else:
        xt = torch.as_tensor(x.astype(np.float32))
    if y.dtype.kind not in "biufUS":
        raise DataError(
            f"{yname}: the targets have dtype {y.dtype}; they must be numbers or text labels"
        )
    if y.ndim > 1 and not (y.ndim == 2 and y.shape[1] == 1 and o["task"] != "regression"):
        if o["task"] == "classification" or y.dtype.kind in "US":
            raise DataError(
                f"{yname}: class labels must be one value per row, got shape {y.shape}; "
                "give a 1-D array of labels, or numbers with task regression"
            )
        return regression_dataset(path.name, xt, y.reshape(len(y), -1), kind_for(xt, "regression"))
    flat = y.reshape(len(y))
    numeric = flat.dtype.kind in "biuf"
    raw = flat.astype(np.float64) if numeric else flat.astype(str)
    values, task, class_names = read_targets(
        raw, numeric, o["task"], yname, "array", lambda i: f"row {i}"
    )
    if task == "regression":
        return regression_dataset(path.name, xt, values, kind_for(xt, task))
    return class_dataset(
        path.name, xt, values, kind_for(xt, task), class_names, None, len(class_names or [])
    )


def _load_npy(path: Path, shown: str) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(
            f"{shown}: cannot read it as a NumPy .npy file ({exc}); save plain numeric arrays with numpy.save"
        ) from None
    if not isinstance(array, np.ndarray):
        raise DataError(f"{shown}: is not a .npy array file; save it with numpy.save")
    return array


def _load_npz(path: Path, shown: str, keys: list[str]) -> list[np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            if not hasattr(archive, "files"):
                raise DataError(f"{shown}: is not a .npz archive; save it with numpy.savez")
            for key in keys:
                if key not in archive.files:
                    option = "x_key" if key == keys[0] else "y_key"
                    raise DataError(
                        f"{shown}: has no array {key!r}; it holds {', '.join(archive.files) or 'nothing'}: "
                        f"set {option} to one of them"
                    )
            return [archive[key] for key in keys]
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(
            f"{shown}: cannot read it as a NumPy .npz file ({exc}); save plain numeric arrays with numpy.savez"
        ) from None
