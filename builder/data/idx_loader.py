"""The ``idx`` dataset: MNIST / Fashion-MNIST from IDX files in a local folder.

Portable: standard library, numpy and torch only; the exported script copies it. See
:mod:`builder.data.builtin` for its options."""

from __future__ import annotations

import math
import struct
from pathlib import Path
from typing import Any

import numpy as np
import torch

from builder.data.dataset import Dataset, class_dataset
from builder.data.files import read_file_bytes, resolve_path
from builder.data.problems import SPEC_PATH, DataError

_IDX_FILES = {"train": "train", "test": "t10k"}


def idx_images(o: dict[str, Any], base: Path | None, seed: int) -> Dataset:
    folder = resolve_path(o["folder"], base, "folder", folder=True)
    prefix = _IDX_FILES[o["which"]]
    images_path = _find_idx(folder, prefix, "images", 3, o["folder"])
    labels_path = _find_idx(folder, prefix, "labels", 1, o["folder"])
    images = _parse_idx(read_file_bytes(images_path, "folder"), images_path.name, 3)
    labels = _parse_idx(read_file_bytes(labels_path, "folder"), labels_path.name, 1)
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
    for stem in stems:
        for name in (stem, f"{stem}.gz"):
            if (folder / name).is_file():
                return folder / name
    raise DataError(
        f"{SPEC_PATH}.folder: {shown} has no {stems[0]} (or {stems[0]}.gz); put the MNIST or "
        "Fashion-MNIST IDX files there (nothing is downloaded)"
    )


def _parse_idx(data: bytes, name: str, ndim: int) -> np.ndarray:
    expected_magic = 0x0800 | ndim
    if len(data) < 4 + 4 * ndim:
        raise DataError(
            f"{name}: the file is too short ({len(data)} bytes) to be an IDX file; download it again"
        )
    (magic,) = struct.unpack(">I", data[:4])
    if magic != expected_magic:
        raise DataError(
            f"{name}: magic number 0x{magic:08x}, expected 0x{expected_magic:08x} (unsigned bytes, "
            f"{ndim} dimension{'s' if ndim > 1 else ''}); is this the right (uncompressed or .gz) IDX file?"
        )
    dims = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    header = 4 + 4 * ndim
    size = math.prod(dims)
    if len(data) - header != size:
        raise DataError(
            f"{name}: the header says {' x '.join(map(str, dims))} = {size} bytes of data but the "
            f"file holds {len(data) - header}; the file is truncated or corrupt: download it again"
        )
    if dims[0] == 0:
        raise DataError(f"{name}: the file holds no items")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)
