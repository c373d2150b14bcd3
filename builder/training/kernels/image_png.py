"""Images as a PNG file, written with the standard library alone (zlib and struct): a batch
of images tiled into one grid, grey for one channel, RGB for three.

Portable (see builder/training/loop.py): the standard library and torch; the exported
script carries its source to save a GAN's generated samples (:mod:`adversarial_samples`).
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Iterable
from pathlib import Path

import torch

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_COLOUR_TYPES = {1: 0, 3: 2}  # channels -> the PNG colour type (0 grey, 2 RGB)
GRID_GAP = 1  # pixels between the tiles of a grid
GAP_LEVEL = 128  # the gaps' grey: apart from both a black and a white background


def is_image(sample_shape: Iterable[int]) -> bool:
    """Whether one sample of this shape (without the batch) is an image a PNG holds:
    (C, H, W) with C 1 (grey) or 3 (RGB)."""
    shape = tuple(int(d) for d in sample_shape)
    return len(shape) == 3 and shape[0] in PNG_COLOUR_TYPES


def _chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: its length, type, data and the CRC of type and data."""
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png_bytes(pixels: bytes, width: int, height: int, channels: int) -> bytes:
    """An 8-bit PNG of ``width`` x ``height`` pixels with 1 (grey) or 3 (RGB) channels:
    ``pixels`` holds the rows from the top, each pixel's channels side by side."""
    if channels not in PNG_COLOUR_TYPES:
        raise ValueError(f"a PNG image here has 1 or 3 channels, not {channels}")
    stride = width * channels
    if width < 1 or height < 1 or len(pixels) != stride * height:
        raise ValueError(f"{len(pixels)} bytes are not {width} x {height} x {channels} pixels")
    # each row starts with its filter type, 0: the bytes as they are
    rows = b"".join(b"\x00" + pixels[r * stride : (r + 1) * stride] for r in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, PNG_COLOUR_TYPES[channels], 0, 0, 0)
    return (
        PNG_SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows, 9))
        + _chunk(b"IEND", b"")
    )


def grid_size(count: int, height: int, width: int, cols: int) -> tuple[int, int]:
    """The (width, height) in pixels of ``count`` tiles of ``height`` x ``width`` in rows of
    ``cols`` (fewer when there are fewer tiles), GRID_GAP pixels between neighbours."""
    cols = max(1, min(cols, count))
    rows = max(1, math.ceil(count / cols))
    return cols * width + (cols - 1) * GRID_GAP, rows * height + (rows - 1) * GRID_GAP


def image_grid(
    images: torch.Tensor, cols: int, value_range: tuple[float, float]
) -> tuple[bytes, int, int, int]:
    """``images`` (N, C, H, W) with C 1 or 3 tiled into rows of ``cols``, in reading order,
    GRID_GAP pixels of GAP_LEVEL grey between the tiles (and in the empty cells of the last
    row); each value mapped linearly from ``value_range`` to 0..255, clamped. Returns the
    pixels, the width, the height and the channels, as :func:`png_bytes` takes them."""
    if images.dim() != 4 or not is_image(images.shape[1:]):
        raise ValueError(
            f"images of shape {tuple(images.shape)}: a grid takes (N, C, H, W) with C 1 or 3"
        )
    n, channels, h, w = images.shape
    cols = max(1, min(cols, n))
    width, height = grid_size(n, h, w, cols)
    lo, hi = float(value_range[0]), float(value_range[1])
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    levels = ((images.detach().cpu().double() - lo) * scale).clamp(0, 255).round()
    levels = levels.to(torch.uint8).permute(0, 2, 3, 1)  # (N, H, W, C): pixels side by side
    grid = torch.full((height, width, channels), GAP_LEVEL, dtype=torch.uint8)
    for i in range(n):
        row, col = divmod(i, cols)
        top, left = row * (h + GRID_GAP), col * (w + GRID_GAP)
        grid[top : top + h, left : left + w] = levels[i]
    return grid.numpy().tobytes(), width, height, channels


def write_png(
    path: str | Path, images: torch.Tensor, cols: int, value_range: tuple[float, float]
) -> Path:
    """Write ``images`` (N, C, H, W) as one PNG grid (:func:`image_grid`) to ``path``."""
    path = Path(path)
    path.write_bytes(png_bytes(*image_grid(images, cols, value_range)))
    return path
