"""A GAN's exported script saves the generator's fixed-noise samples as samples.png beside
the weights (image data only), written by the portable PNG writer with the standard library."""

from __future__ import annotations

import importlib.util
import struct
import sys
import uuid
import zlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch

import assets
from builder import CATALOG
from builder.export.script import export_script
from builder.training.kernels import adversarial, adversarial_samples, image_png
from builder.training.probes import adversarial as probes
from graph.project_file import load

COLS = 8  # the Samples view's rows of 8


def read_png(data: bytes) -> dict[str, Any]:
    """A PNG's header fields and its rows (the filter byte of each row checked: 0), every
    chunk's CRC checked."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, at = [], 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        (crc,) = struct.unpack(">I", data[at + 8 + length : at + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF, kind
        chunks.append((kind, body))
        at += 12 + length
    assert [k for k, _ in chunks][0] == b"IHDR" and chunks[-1] == (b"IEND", b"")
    width, height, depth, colour, *rest = struct.unpack(">IIBBBBB", chunks[0][1])
    assert depth == 8 and rest == [0, 0, 0]
    channels = {0: 1, 2: 3}[colour]
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    stride = 1 + width * channels
    assert len(raw) == height * stride  # every row: its filter byte and its pixels
    rows = [raw[r * stride : (r + 1) * stride] for r in range(height)]
    assert all(row[0] == 0 for row in rows)
    pixels = torch.tensor(list(b"".join(row[1:] for row in rows)), dtype=torch.uint8)
    return {"width": width, "height": height, "pixels": pixels.reshape(height, width, channels)}


def import_script(path: Path) -> Any:
    name = f"exported_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up here
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(name, None)
    return module


def test_a_grid_tiles_the_images_with_a_one_pixel_gap_grey_or_rgb(tmp_path):
    grey = torch.tensor([[[[0.0, 0.5], [1.0, 2.0]]], [[[-1.0, 0.25], [0.75, 1.0]]]] * 2)[:3]
    png = read_png(image_png.write_png(tmp_path / "g.png", grey, 2, (0.0, 1.0)).read_bytes())
    assert (png["width"], png["height"]) == (5, 5)  # 2 x 2 tiles of 2 x 2, 1 pixel apart
    gap = image_png.GAP_LEVEL
    expected = [
        [0, 128, gap, 0, 64],
        [255, 255, gap, 191, 255],  # 2.0 and -1.0 clamped to the range
        [gap] * 5,
        [0, 128, gap, gap, gap],  # the third image, then an empty cell
        [255, 255, gap, gap, gap],
    ]
    assert png["pixels"][..., 0].tolist() == expected
    rgb = torch.rand(5, 3, 4, 3)
    png = read_png(image_png.write_png(tmp_path / "c.png", rgb, 4, (0.0, 1.0)).read_bytes())
    assert (png["width"], png["height"]) == (4 * 3 + 3, 2 * 4 + 1)
    levels = (rgb[1] * 255).round().to(torch.uint8).permute(1, 2, 0)
    assert torch.equal(png["pixels"][0:4, 4:7], levels)  # the second tile, channels together
    with pytest.raises(ValueError, match="1 or 3"):
        image_png.image_grid(torch.rand(2, 2, 4, 4), 8, (0.0, 1.0))


def test_the_exported_gan_script_saves_the_fixed_noise_samples_as_a_png(tmp_path, capsys):
    project = load(assets.example("gan_digits"), CATALOG)
    path = tmp_path / "model.py"
    path.write_text(export_script(project), encoding="utf-8")
    module = import_script(path)
    out = tmp_path / "run"
    assert module.main(["--epochs", "1", "--device", "cpu", "--out", str(out)]) == 0
    assert f"Wrote {out / 'samples.png'}" in capsys.readouterr().out
    png = read_png((out / "samples.png").read_bytes())
    count = module.SETTINGS["fixed_samples"]
    rows = -(-count // COLS)
    assert (png["width"], png["height"]) == (COLS * 8 + COLS - 1, rows * 8 + rows - 1)
    # the trained generator's images from the Samples view's noise, mapped from the data's
    # range (digits: [0, 1]) to 0..255, tile by tile
    ctx = SimpleNamespace(
        scratch={}, state={"settings": module.SETTINGS}, kernel=adversarial, x=torch.zeros(1)
    )
    noise = probes.fixed_noise(ctx, count)
    assert torch.equal(adversarial_samples.fixed_noise(module.SETTINGS, "cpu"), noise)
    generator = module.MODELS["generator"]()
    generator.load_state_dict(torch.load(out / "weights.pt", weights_only=True))
    with torch.no_grad():
        images = generator.eval()(noise)
    levels = (images.clamp(0, 1) * 255).round().to(torch.uint8)
    for i in range(count):
        top, left = (i // COLS) * 9, (i % COLS) * 9
        assert torch.equal(png["pixels"][top : top + 8, left : left + 8, 0], levels[i, 0]), i
    assert torch.all(png["pixels"][8, :, 0] == image_png.GAP_LEVEL)


def test_a_gan_of_points_saves_no_png():
    code = export_script(load(assets.example("gan_2d_ring"), CATALOG))
    assert "samples.png" not in code and "write_png" not in code
