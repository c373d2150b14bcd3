"""The ``numpy`` dataset: the user's own arrays from a .npz file or .npy files.

Never unpickles (``allow_pickle=False`` throughout); each array's header is read first and
the array refused when the file cannot hold what it claims or it is over the cap.

Portable: standard library, numpy and torch only; the exported script copies it. See
:mod:`builder.data.builtin` for its options."""

from __future__ import annotations

import os
import zipfile
import zlib
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch

from builder.data.dataset import Dataset, class_dataset, regression_dataset
from builder.data.files import (
    check_claim,
    kind_for,
    open_data_file,
    read_targets,
    resolve_path,
    shown_path,
)
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
        xname, yname = _member(o["path"], o["x_key"]), _member(o["path"], o["y_key"])
    else:
        x, y, xname, yname = _load_npy(path, o["path"], "path"), None, o["path"], ""
    if target is not None:
        y, yname = _load_npy(target, o["target_path"], "target_path"), o["target_path"]
    assert y is not None
    if x.dtype.kind not in "biuf":
        raise DataError(f"{xname}: the inputs have dtype {x.dtype}; they must be numbers")
    if x.ndim == 0 or y.ndim == 0:
        raise DataError(f"{xname}: the arrays need one row per sample; got a single value")
    if len(x) == 0:
        raise DataError(
            f"{xname}: the array has no rows (shape {x.shape}); a dataset needs one row per "
            "sample: save the data again"
        )
    if x.ndim == 1:
        x = x[:, None]
    if 0 in x.shape:
        raise DataError(
            f"{xname}: the inputs have shape {x.shape}, with no values in a row; save one row of "
            "features per sample"
        )
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


def _member(shown: str, key: str) -> str:
    return f"{shown_path(shown)}[{key!r}]"


def _load_npy(path: Path, shown: str, option: str) -> np.ndarray:
    with open_data_file(path, option, "array") as fh:
        return _read_npy(fh, shown_path(shown), os.fstat(fh.fileno()).st_size, ".npy file")


def _read_npy(fh: BinaryIO, shown: str, size: int, what: str) -> np.ndarray:
    """The array of a .npy stream of ``size`` bytes, its header checked before its data."""
    fmt = np.lib.format
    start = fh.tell()
    try:
        version = fmt.read_magic(fh)
    except (ValueError, EOFError):
        raise DataError(
            f"{shown}: not a NumPy {what} (it does not begin with the .npy signature); save "
            "the array with numpy.save"
        ) from None
    try:
        if version == (1, 0):
            shape, _, dtype = fmt.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, _, dtype = fmt.read_array_header_2_0(fh)
        else:
            raise DataError(
                f"{shown}: .npy format version {version[0]}.{version[1]} is not read here (it "
                "holds named fields); save plain numeric arrays with numpy.save"
            )
    except (ValueError, EOFError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(
            f"{shown}: the NumPy header is damaged ({exc}); save the array again with numpy.save"
        ) from None
    if any(d < 0 for d in shape):
        raise DataError(
            f"{shown}: the NumPy header is damaged (shape {shape}); save the array again"
        )
    if dtype.hasobject:
        raise DataError(
            f"{shown}: holds Python objects (dtype {dtype}), which are never loaded (unpickling "
            "could run code); save plain numeric arrays or text labels"
        )
    check_claim(shown, shape, dtype.itemsize, size - (fh.tell() - start))
    fh.seek(start)
    try:
        return fmt.read_array(fh, allow_pickle=False)
    except (ValueError, OSError, EOFError, zlib.error, zipfile.BadZipFile) as exc:
        raise DataError(
            f"{shown}: cannot read the array ({exc}); save plain numeric arrays with numpy.save"
        ) from None


def _load_npz(path: Path, shown: str, keys: list[str]) -> list[np.ndarray]:
    shown = shown_path(shown)
    with open_data_file(path, "path", "array") as fh:
        try:
            with zipfile.ZipFile(fh) as archive:
                members = {
                    (n[:-4] if n.endswith(".npy") else n): n
                    for n in archive.namelist()
                    if not n.endswith("/")
                }
                for key in keys:
                    if key not in members:
                        option = "x_key" if key == keys[0] else "y_key"
                        raise DataError(
                            f"{shown}: has no array {key!r}; it holds "
                            f"{', '.join(members) or 'nothing'}: set {option} to one of them"
                        )
                out = []
                for key in keys:
                    info = archive.getinfo(members[key])
                    with archive.open(info) as member:
                        out.append(_read_npy(member, _member(shown, key), info.file_size, "array"))
                return out
        except DataError:
            raise
        except (ValueError, OSError, EOFError, zlib.error, zipfile.BadZipFile) as exc:
            raise DataError(
                f"{shown}: cannot read it as a NumPy .npz file ({exc}); save plain numeric "
                "arrays with numpy.savez"
            ) from None
        except NotImplementedError as exc:  # a compression method zipfile does not know
            raise DataError(
                f"{shown}: {exc}; save the arrays with numpy.savez or numpy.savez_compressed"
            ) from None
