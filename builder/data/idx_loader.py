"""The ``idx`` dataset: MNIST / Fashion-MNIST from IDX files in a local folder.

A file is refused from its header and size before its data is read: a plain file must hold
exactly what its header says, a ``.gz`` file is decompressed chunk by chunk and stopped as
soon as it holds more.

Portable: standard library, numpy and torch only; the exported script copies it. See
:mod:`builder.data.builtin` for its options."""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

from builder.data.dataset import Dataset, class_dataset
from builder.data.files import (
    check_claim,
    open_data_file,
    read_into_array,
    resolve_path,
    shown_path,
    size_text,
)
from builder.data.problems import SPEC_PATH, DataError

_IDX_FILES = {"train": "train", "test": "t10k"}


def idx_images(o: dict[str, Any], base: Path | None, seed: int) -> Dataset:
    folder = resolve_path(o["folder"], base, "folder", folder=True)
    prefix = _IDX_FILES[o["which"]]
    images_path = _find_idx(folder, prefix, "images", 3, o["folder"])
    labels_path = _find_idx(folder, prefix, "labels", 1, o["folder"])
    images = _read_idx(images_path, 3)
    labels = _read_idx(labels_path, 1)
    if len(images) != len(labels):
        raise DataError(
            f"{labels_path.name} has {len(labels)} labels but {images_path.name} has {len(images)} "
            "images; use the label file that belongs to these images"
        )
    if o["limit"] is not None:
        images, labels = images[: o["limit"]], labels[: o["limit"]]
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    k = max(10, int(labels.max()) + 1)
    return class_dataset(
        f"{folder.name}/{prefix}", x, labels.astype(np.int64), "image", None, None, k
    )


def _find_idx(folder: Path, prefix: str, what: str, ndim: int, shown: str) -> Path:
    stems = [f"{prefix}-{what}-idx{ndim}-ubyte", f"{prefix}-{what}.idx{ndim}-ubyte"]
    names = [name for stem in stems for name in (stem, f"{stem}.gz")]
    for name in names:
        if (folder / name).is_file():
            return folder / name
    for name in names:  # something else of that name (a folder, a FIFO): refused when opened
        if os.path.lexists(folder / name):
            return folder / name
    raise DataError(
        f"{SPEC_PATH}.folder: {shown_path(shown)} has no {stems[0]} (or {stems[0]}.gz); put the "
        "MNIST or Fashion-MNIST IDX files there (nothing is downloaded)"
    )


def _read_idx(path: Path, ndim: int) -> np.ndarray:
    name = path.name
    with open_data_file(path, "folder", "array") as raw:
        on_disk = os.fstat(raw.fileno()).st_size
        packed = path.suffix == ".gz"
        try:
            fh = gzip.GzipFile(fileobj=raw, mode="rb") if packed else raw
            head = fh.read(4 + 4 * ndim)
            dims = _idx_header(head, name, ndim, packed)
            size = check_claim(name, dims, 1, None if packed else on_disk - len(head), "bytes")
            if not packed and on_disk - len(head) != size:
                raise DataError(
                    f"{name}: the header claims {' × '.join(map(str, dims))} = {size} bytes of "
                    f"data but the file holds {on_disk - len(head)} after its header; the file "
                    "is damaged or not this IDX file: download it again"
                )
            data, more = read_into_array(fh, size)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(
                f"{SPEC_PATH}.folder: cannot read {name}: {exc}; download the file again"
            ) from None
    if more:
        raise DataError(
            f"{name}: decompresses to more than the {size_text(size)} of data its header claims "
            f"({' × '.join(map(str, dims))} bytes), so it was not read further; the file is "
            "damaged or not this IDX file: download it again"
        )
    if len(data) < size:
        raise DataError(
            f"{name}: the header claims {' × '.join(map(str, dims))} = {size} bytes of data but "
            f"the file holds {len(data)} after its header; the file is truncated: download it again"
        )
    if dims[0] == 0:
        raise DataError(f"{name}: the file holds no items")
    return data.reshape(dims)


def _idx_header(head: bytes, name: str, ndim: int, packed: bool) -> tuple[int, ...]:
    expected_magic = 0x0800 | ndim
    if len(head) < 4 + 4 * ndim:
        raise DataError(
            f"{name}: the file is too short ({len(head)} bytes{' decompressed' if packed else ''}) "
            "to be an IDX file; download it again"
        )
    (magic,) = struct.unpack(">I", head[:4])
    if magic != expected_magic:
        raise DataError(
            f"{name}: magic number 0x{magic:08x}, expected 0x{expected_magic:08x} (unsigned bytes, "
            f"{ndim} dimension{'s' if ndim > 1 else ''}); is this the right (uncompressed or .gz) IDX file?"
        )
    return struct.unpack(f">{ndim}I", head[4:])
