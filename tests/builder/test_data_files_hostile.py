"""Hostile and unlucky data files: each is refused with a DatasetError that says what is
wrong, from the path, the file's type, its size or its header, before its data is read."""

from __future__ import annotations

import gzip
import inspect
import io
import os
import struct
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from builder.data import csv_loader, files, idx_loader, numpy_loader
from builder.data.errors import DatasetError
from builder.data.registry import load_dataset

GB2 = 2 * 1024**3


def _idx_bytes(dims: tuple[int, ...], data: bytes) -> bytes:
    return struct.pack(f">I{len(dims)}I", 0x0800 | len(dims), *dims) + data


def _labels(folder: Path, n: int = 2) -> None:
    (folder / "train-labels-idx1-ubyte").write_bytes(_idx_bytes((n,), bytes(range(n))))


def _npy_header(shape: tuple[int, ...], descr: str = "<f8") -> bytes:
    out = io.BytesIO()
    header = {"descr": descr, "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(out, header)
    return out.getvalue()


class Opens:
    """A pickled object that, if it were ever unpickled, would create ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


# Each maker builds its files in the folder and returns the dataset spec.
def fifo_csv(t: Path) -> dict:
    os.mkfifo(t / "pipe.csv")
    return {"name": "csv", "path": "pipe.csv"}


def fifo_idx(t: Path) -> dict:
    (t / "mnist").mkdir()
    os.mkfifo(t / "mnist" / "train-images-idx3-ubyte")
    _labels(t / "mnist")
    return {"name": "idx", "folder": "mnist"}


def sparse_csv(t: Path) -> dict:
    with open(t / "big.csv", "wb") as fh:
        fh.truncate(GB2)  # sparse: no disk taken
    return {"name": "csv", "path": "big.csv"}


def csv_over_cap(t: Path) -> dict:
    (t / "small.csv").write_text("a,b,label\n" + "1,2,0\n3,4,1\n" * 20, encoding="utf-8")
    return {"name": "csv", "path": "small.csv"}


def npy_claims_too_much(t: Path) -> dict:
    (t / "x.npy").write_bytes(_npy_header((10**9, 2)) + bytes(200 - 128))
    np.save(t / "y.npy", np.arange(3) % 2)
    return {"name": "numpy", "path": "x.npy", "target_path": "y.npy"}


def npz_over_cap(t: Path) -> dict:
    np.savez_compressed(t / "z.npz", x=np.zeros((3000, 2)), y=np.arange(3000) % 2)
    return {"name": "numpy", "path": "z.npz"}


def npy_zeros(t: Path) -> dict:
    (t / "zero.npy").write_bytes(bytes(256))
    np.save(t / "y.npy", np.arange(3) % 2)
    return {"name": "numpy", "path": "zero.npy", "target_path": "y.npy"}


def npy_damaged_header(t: Path) -> dict:
    (t / "bad.npy").write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", 16) + b"{'descr': 3, }\n")
    np.save(t / "y.npy", np.arange(3) % 2)
    return {"name": "numpy", "path": "bad.npy", "target_path": "y.npy"}


def npy_pickled(t: Path) -> dict:
    np.save(t / "obj.npy", np.array([Opens(t / "ran"), 1], dtype=object), allow_pickle=True)
    np.save(t / "y.npy", np.arange(2) % 2)
    return {"name": "numpy", "path": "obj.npy", "target_path": "y.npy"}


def npz_claims_too_much(t: Path) -> dict:
    with zipfile.ZipFile(t / "d.npz", "w") as archive:
        archive.writestr("x.npy", _npy_header((10**9, 2)) + bytes(64))
        archive.writestr("y.npy", _npy_header((2,)) + bytes(16))
    return {"name": "numpy", "path": "d.npz"}


def npz_no_rows(t: Path) -> dict:
    np.savez(t / "empty.npz", x=np.zeros((0, 3)), y=np.zeros(0))
    return {"name": "numpy", "path": "empty.npz"}


def npz_no_features(t: Path) -> dict:
    np.savez(t / "thin.npz", x=np.zeros((4, 0)), y=np.arange(4) % 2)
    return {"name": "numpy", "path": "thin.npz"}


def idx_claims_too_much(t: Path) -> dict:
    (t / "mnist").mkdir()
    head = _idx_bytes((10**6, 1000, 28), bytes(200))
    (t / "mnist" / "train-images-idx3-ubyte").write_bytes(head)
    _labels(t / "mnist")
    return {"name": "idx", "folder": "mnist"}


def idx_longer_than_header(t: Path) -> dict:
    (t / "mnist").mkdir()
    (t / "mnist" / "train-images-idx3-ubyte").write_bytes(_idx_bytes((2, 28, 28), bytes(2000)))
    _labels(t / "mnist")
    return {"name": "idx", "folder": "mnist"}


def idx_gz_bomb(t: Path) -> dict:
    # 1 GiB of zeros behind a header of 2 x 28 x 28: gzip members of 8 MiB, repeated
    (t / "mnist").mkdir()
    block = gzip.compress(bytes(8 << 20), compresslevel=9, mtime=0)
    with open(t / "mnist" / "train-images-idx3-ubyte.gz", "wb") as fh:
        fh.write(gzip.compress(struct.pack(">IIII", 0x0803, 2, 28, 28), mtime=0))
        for _ in range(128):
            fh.write(block)
    _labels(t / "mnist")
    return {"name": "idx", "folder": "mnist"}


def idx_gz_claims_too_much(t: Path) -> dict:
    (t / "mnist").mkdir()
    data = gzip.compress(_idx_bytes((60000, 28, 28), bytes(100)))
    (t / "mnist" / "train-images-idx3-ubyte.gz").write_bytes(data)
    _labels(t / "mnist")
    return {"name": "idx", "folder": "mnist"}


def idx_gz_truncated(t: Path) -> dict:
    (t / "mnist").mkdir()
    data = gzip.compress(_idx_bytes((5, 28, 28), bytes(1000)))
    (t / "mnist" / "train-images-idx3-ubyte.gz").write_bytes(data)
    _labels(t / "mnist")
    return {"name": "idx", "folder": "mnist"}


def plain(spec: dict) -> Callable[[Path], dict]:
    return lambda t: spec


HOSTILE: list[tuple[str, Callable[[Path], dict], dict, list[str]]] = [
    # name, maker, caps to set, needles of the message
    ("fifo csv", fifo_csv, {}, ["pipe.csv", "not a regular file", "named pipe (FIFO)"]),
    ("fifo in idx", fifo_idx, {}, ["train-images-idx3-ubyte", "not a regular file", "FIFO"]),
    (
        "dev zero csv",
        plain({"name": "csv", "path": "/dev/zero"}),
        {},
        ["training.dataset.path", "/dev/zero", "not a regular file", "character device"],
    ),
    (
        "dev zero npy",
        plain({"name": "numpy", "path": "/dev/zero", "target_path": "/dev/zero"}),
        {},
        ["training.dataset.path", "/dev/zero", "not a regular file", "character device"],
    ),
    (
        "dev zero target",
        lambda t: npy_zeros(t) | {"path": "y.npy", "target_path": "/dev/zero"},
        {},
        ["training.dataset.target_path", "/dev/zero", "character device"],
    ),
    (
        "dev zero folder",
        plain({"name": "idx", "folder": "/dev/zero"}),
        {},
        ["training.dataset.folder", "/dev/zero", "character device, not a folder"],
    ),
    (
        "2 GB sparse csv",
        sparse_csv,
        {},
        ["big.csv", "2.1 GB (2,147,483,648 bytes)", "250.0 MB", "numpy.savez"],
    ),
    (
        "csv over cap",
        csv_over_cap,
        {"MAX_CSV_BYTES": 100},
        ["small.csv", "is 250 bytes, over the 100 bytes"],
    ),
    (
        "npy claims 1e9 rows",
        npy_claims_too_much,
        {},
        ["x.npy", "the header claims 1,000,000,000 × 2 values (16.0 GB)", "holds 72 bytes"],
    ),
    ("npy file over cap", npy_claims_too_much, {"MAX_ARRAY_BYTES": 100}, ["x.npy", "200 bytes"]),
    (
        "npz array over cap",
        npz_over_cap,
        {"MAX_ARRAY_BYTES": 10_000},
        ["z.npz['x']", "3,000 × 2 values (48.0 kB)", "over the 10.0 kB"],
    ),
    ("zero-filled npy", npy_zeros, {}, ["zero.npy", "not a NumPy .npy file", ".npy signature"]),
    ("damaged npy header", npy_damaged_header, {}, ["bad.npy", "header is damaged"]),
    ("pickled npy", npy_pickled, {}, ["obj.npy", "Python objects", "never loaded"]),
    (
        "npz claims 1e9 rows",
        npz_claims_too_much,
        {},
        ["d.npz['x']", "1,000,000,000 × 2 values (16.0 GB)", "64 bytes"],
    ),
    ("npz with no rows", npz_no_rows, {}, ["empty.npz['x']", "no rows", "(0, 3)"]),
    ("npz with no features", npz_no_features, {}, ["thin.npz['x']", "(4, 0)"]),
    (
        "idx claims 28 GB",
        idx_claims_too_much,
        {},
        ["train-images-idx3-ubyte", "1,000,000 × 1,000 × 28 bytes (28.0 GB)", "200 bytes"],
    ),
    (
        "idx longer than header",
        idx_longer_than_header,
        {},
        ["train-images-idx3-ubyte", "2 × 28 × 28 = 1568 bytes", "holds 2000"],
    ),
    (
        "idx gz bomb",
        idx_gz_bomb,
        {},
        ["train-images-idx3-ubyte.gz", "decompresses to more than the 1568 bytes", "not read"],
    ),
    (
        "idx gz over cap",
        idx_gz_claims_too_much,
        {"MAX_ARRAY_BYTES": 10**6},
        ["train-images-idx3-ubyte.gz", "60,000 × 28 × 28 bytes (47.0 MB)", "over the 1.0 MB"],
    ),
    ("idx gz truncated", idx_gz_truncated, {}, ["train-images-idx3-ubyte.gz", "3920", "truncated"]),
    (
        "5,000-character path",
        plain({"name": "csv", "path": "a" * 5000 + ".csv"}),
        {},
        ["training.dataset.path", "(5,", "characters)", "too long", "255"],
    ),
    (
        "deep long path",
        plain({"name": "csv", "path": "/".join(["d" * 200] * 25) + ".csv"}),
        {},
        ["training.dataset.path", "too long"],
    ),
    (
        "unknown user",
        plain({"name": "numpy", "path": "~nosuchuser_nc/x.npz"}),
        {},
        ["training.dataset.path", "'~nosuchuser_nc/x.npz'", "no user 'nosuchuser_nc'", "full path"],
    ),
    (
        "NUL in path",
        plain({"name": "csv", "path": "a\x00b.csv"}),
        {},
        ["training.dataset.path", "NUL character"],
    ),
]


@pytest.mark.skipif(not hasattr(os, "mkfifo") or not Path("/dev/zero").exists(), reason="POSIX")
@pytest.mark.parametrize("make,caps,needles", [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE])
def test_hostile_data_file_is_refused_before_it_is_read(tmp_path, monkeypatch, make, caps, needles):
    for name, value in caps.items():
        monkeypatch.setattr(files, name, value)
    spec = make(tmp_path)
    found: list[BaseException] = []

    def load() -> None:
        try:
            load_dataset(spec, base_dir=tmp_path)
        except BaseException as exc:  # noqa: BLE001 - reported to the test's thread
            found.append(exc)

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    worker.join(60)  # a loader that blocks (on a FIFO) fails here instead of hanging
    if worker.is_alive():
        for pipe in tmp_path.rglob("*"):
            if pipe.is_fifo():
                os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("the loader blocked")
    assert len(found) == 1 and isinstance(found[0], DatasetError), found
    message = str(found[0])
    for needle in needles:
        assert needle in message, (needle, message)
    for wrong in ("is a folder", "pickled", "Traceback"):
        assert wrong not in message, message
    assert not (tmp_path / "ran").exists()  # nothing was unpickled


def test_well_formed_array_files_still_load(tmp_path):
    x = np.arange(12, dtype=">f4").reshape(6, 2)
    y = np.array([0, 1, 0, 1, 1, 0])
    with open(tmp_path / "x2.npy", "wb") as fh:
        np.lib.format.write_array(fh, np.asfortranarray(x), version=(2, 0))
    np.save(tmp_path / "y.npy", y)
    np.savez_compressed(tmp_path / "c.npz", x=x, y=y)
    (tmp_path / "mnist").mkdir()
    images = np.arange(3 * 28 * 28, dtype=np.uint64).astype(np.uint8).tobytes()
    gz = gzip.compress(_idx_bytes((3, 28, 28), images))
    (tmp_path / "mnist" / "train-images-idx3-ubyte.gz").write_bytes(gz)
    _labels(tmp_path / "mnist", 3)
    pair = load_dataset({"name": "numpy", "path": "x2.npy", "target_path": "y.npy"}, tmp_path)
    packed = load_dataset({"name": "numpy", "path": "c.npz"}, tmp_path)
    for ds in (pair, packed):
        assert ds.x.tolist() == x.astype(np.float32).tolist()
        assert ds.y.tolist() == y.tolist()
    mnist = load_dataset({"name": "idx", "folder": "mnist"}, tmp_path)
    assert mnist.x.shape == (3, 1, 28, 28)
    assert float(mnist.x[0, 0, 0, 5]) == pytest.approx(5 / 255)


def test_loaders_never_unpickle():
    for module in (files, csv_loader, numpy_loader, idx_loader):
        source = inspect.getsource(module)
        assert "allow_pickle=True" not in source and "np.load(" not in source, module.__name__
        assert "pickle" not in source.replace("allow_pickle=False", "").replace("unpickl", ""), (
            module.__name__
        )
    assert "read_array(fh, allow_pickle=False)" in inspect.getsource(numpy_loader)
