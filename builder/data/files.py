"""What every file loader shares: resolving and opening the user's paths (regular files only,
within a size cap, refused from their size or header before they are read), turning a target
column into class indices or regression values, and the kind of data a file holds.

Portable: standard library, numpy and torch only; the exported script copies what it uses."""

from __future__ import annotations

import errno
import math
import os
import stat
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch

from builder.data.problems import SPEC_PATH, DataError

MAX_AUTO_CLASSES = 20  # "auto" task: an integer target with at most this many values is a class
# The largest files read. A CSV table takes about 16 times its size in memory while it is
# parsed; an array file (.npy, .npz, IDX) about its size. Tests set these smaller.
MAX_CSV_BYTES = 250_000_000
MAX_ARRAY_BYTES = 4_000_000_000
_CHUNK = 1 << 20
_ADVICE = {
    "csv": "save the table with numpy.savez and use the numpy dataset, or keep a sample of its rows",
    "array": "keep a part of the data (fewer samples or smaller images)",
}


def size_text(n: int) -> str:
    """``2352 bytes``, ``8.0 GB``: a size for a message."""
    if n < 10_000:
        return f"{n} byte" if n == 1 else f"{n} bytes"
    if n >= 10**18:
        return f"about 10^{len(str(n)) - 1} bytes"
    for unit, scale in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n / 1000:.1f} kB"


def _size_in_full(n: int) -> str:
    text = size_text(n)
    return text if text.endswith("bytes") else f"{text} ({n:,} bytes)"


def shown_path(path: object) -> str:
    """The path for a message: a very long one keeps its start and end."""
    text = str(path)
    if len(text) <= 160:
        return text
    return f"{text[:80]}...{text[-60:]} ({len(text):,} characters)"


def _kind(mode: int) -> str:
    kinds = (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((name for test, name in kinds if test(mode)), "not a plain file")


def _expand(value: str, option: str) -> Path:
    try:
        return Path(value).expanduser()
    except ValueError:  # a NUL character in ~name
        raise DataError(
            f"{SPEC_PATH}.{option}: the path holds a NUL character (\\u0000); check the path"
        ) from None
    except (RuntimeError, KeyError):  # ~name of an unknown user, or no home folder at all
        user = value[1:].replace("\\", "/").split("/")[0]
        raise DataError(
            f"{SPEC_PATH}.{option}: {shown_path(value)!r}: "
            + (
                f"there is no user {user!r} on this system, so ~{user} stands for no folder"
                if user
                else "the home folder (~) is not known here"
            )
            + "; write the full path"
        ) from None


def _stat(path: Path, option: str, what: str, where: str) -> os.stat_result | None:
    """``os.stat`` (which never opens, so never blocks), or None when nothing is there."""
    place = f"{SPEC_PATH}.{option}"
    try:
        return os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except ValueError:  # a NUL character
        raise DataError(
            f"{place}: the path holds a NUL character (\\u0000); check the path"
        ) from None
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            raise DataError(
                f"{place}: the path {shown_path(path)} is too long for this system (a name in a "
                f"path may have at most 255 characters){where}; check the path"
            ) from None
        raise DataError(
            f"{place}: cannot look at the {what} {shown_path(path)}: {exc.strerror}{where}; check "
            "the path and its permissions"
        ) from None


def resolve_path(value: str, base: Path | None, option: str, folder: bool = False) -> Path:
    path = _expand(value, option)
    if not path.is_absolute() and base is not None:
        path = base / path
    where = (
        f" (relative paths are read from the project's folder {shown_path(base)})"
        if base is not None
        else ""
    )
    what = "folder" if folder else "file"
    info = _stat(path, option, what, where)
    shown = shown_path(path)
    if info is None:
        raise DataError(f"{SPEC_PATH}.{option}: {what} not found: {shown}{where}; check the path")
    if folder and not stat.S_ISDIR(info.st_mode):
        kind = "a file" if stat.S_ISREG(info.st_mode) else f"{_kind(info.st_mode)}, not a folder"
        raise DataError(
            f"{SPEC_PATH}.{option}: {shown} is {kind}; give the folder that holds the files"
        )
    if not folder and stat.S_ISDIR(info.st_mode):
        raise DataError(f"{SPEC_PATH}.{option}: {shown} is a folder; give a file")
    if not folder and not stat.S_ISREG(info.st_mode):
        raise DataError(
            f"{SPEC_PATH}.{option}: {shown} is not a regular file (it is {_kind(info.st_mode)}); "
            "give a data file saved on disk"
        )
    return path


def open_data_file(path: Path, option: str, kind: str) -> BinaryIO:
    """Open ``path`` for reading if it is a regular file within the cap of its ``kind``
    ("csv" or "array"); checked on the open file, and a FIFO is opened without waiting."""
    limit = MAX_CSV_BYTES if kind == "csv" else MAX_ARRAY_BYTES
    place, shown = f"{SPEC_PATH}.{option}", shown_path(path)
    nonblock = getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, os.O_RDONLY | nonblock | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise DataError(
            f"{place}: cannot open {shown}: {exc.strerror}; check the file and its permissions"
        ) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise DataError(
                f"{place}: {shown} is not a regular file (it is {_kind(info.st_mode)}); "
                "give a data file saved on disk"
            )
        if info.st_size > limit:
            raise DataError(
                f"{place}: {shown} is {_size_in_full(info.st_size)}, over "
                f"the {size_text(limit)} a {'CSV' if kind == 'csv' else 'data'} file may take "
                f"here; {_ADVICE[kind]}"
            )
        if nonblock:
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def check_claim(
    shown: str, shape: Sequence[int], itemsize: int, available: int | None, what: str = "values"
) -> int:
    """The bytes a header's ``shape`` claims, refused when the file cannot hold them
    (``available``: the bytes after the header, None when unknown) or over the cap."""
    claimed = math.prod(shape) * itemsize
    dims = " × ".join(f"{d:,}" for d in shape)
    claim = f"the header claims {dims} {what} ({size_text(claimed)})"
    if available is not None and available < claimed:
        raise DataError(
            f"{shown}: {claim} but the file holds {size_text(available)} after its header; the "
            "file is truncated or damaged: save or download it again"
        )
    if claimed > MAX_ARRAY_BYTES:
        raise DataError(
            f"{shown}: {claim}, over the {size_text(MAX_ARRAY_BYTES)} a data file may take here; "
            f"{_ADVICE['array']}"
        )
    return claimed


def read_into_array(fh: BinaryIO, count: int) -> tuple[np.ndarray, bool]:
    """Up to ``count`` bytes of ``fh`` as uint8, read chunk by chunk so that memory is taken
    only as data arrives (a compressed stream may hold less than its header says, or more);
    returns them and whether the stream holds more."""
    out = np.empty(count, dtype=np.uint8)
    view = memoryview(out)
    got = 0
    while got < count:
        n = fh.readinto(view[got : got + _CHUNK])
        if not n:
            break
        got += n
    more = got == count and bool(fh.read(1))
    return out[:got], more


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
    if len(raw) == 0:
        raise DataError(f"{source}: target {column} holds no values; give at least one row of data")
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
