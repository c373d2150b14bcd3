"""The families of hostile files beside a project: crafted checkpoints and data files (CSV,
NumPy, IDX) that lie, are empty, huge, or not files at all."""

from __future__ import annotations

import copy
import gzip
import io
import os
import random
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.fuzz_base import Case, _dump, _write_text, _writes, mlp

# --- the checkpoint family -----------------------------------------------------------------

CKPT_VALUES: list[tuple[str, Any]] = [
    ("None", None),
    ("-1", -1),
    ("10**30", 10**30),
    ("text", "3"),
    ("a list", [1, 2]),
    ("an empty dict", {}),
    ("a float tensor", "tensor-float"),
    ("a huge tensor shape", "tensor-big"),
    ("True", True),
    ("nan", float("nan")),
]


def _checkpoint_case(index: int, rng: random.Random) -> Case:
    files = [
        ("empty file", lambda f, good: (f / "ckpt.pt").write_bytes(b""), "refuse"),
        (
            "random bytes",
            lambda f, good: (f / "ckpt.pt").write_bytes(rng.randbytes(4096)),
            "refuse",
        ),
        (
            "cut short",
            lambda f, good: (f / "ckpt.pt").write_bytes(
                good.read_bytes()[: rng.randrange(10, 2000)]
            ),
            "refuse",
        ),
        ("JSON", lambda f, good: (f / "ckpt.pt").write_text('{"epoch": 1}'), "refuse"),
        ("a pickle that runs code", _pickle_payload, "refuse"),
        ("a folder", lambda f, good: (f / "ckpt.pt").mkdir(), "refuse"),
        ("a FIFO", lambda f, good: os.mkfifo(f / "ckpt.pt"), "refuse"),
        ("a tensor", lambda f, good: _torch_save(f / "ckpt.pt", "tensor-float"), "refuse"),
        ("a list", lambda f, good: _torch_save(f / "ckpt.pt", [1, 2, 3]), "refuse"),
    ]
    if index % 8 == 0:
        label, make, expect = files[(index // 8) % len(files)]
        return Case(
            "checkpoint", index, label, _resume_writer(make), expect=expect, resume="ckpt.pt"
        )
    keys = [
        "epoch",
        "step",
        "network",
        "models",
        "optimizers",
        "schedulers",
        "settings",
        "shuffle_rng",
        "torch_rng",
        "best_loss",
        "best_epoch",
        "elapsed",
        "procedure",
        "format",
    ]
    key = rng.choice(keys)
    how = rng.random()
    if how < 0.2:
        label, mutate = f"no {key}", lambda d: d.pop(key, None)
    else:
        vlabel, value = rng.choice(CKPT_VALUES)
        label, mutate = f"{key} = {vlabel}", lambda d: d.__setitem__(key, _materialise(value))
        if key in ("models", "optimizers") and rng.random() < 0.5:
            label = f"{key}.model = {vlabel}"
            mutate = lambda d: d[key].__setitem__("model", _materialise(value))  # noqa: E731

    def make(folder: Path, good: Path) -> None:
        import torch

        data = torch.load(good, weights_only=True)
        mutate(data)
        torch.save(data, folder / "ckpt.pt")

    return Case("checkpoint", index, label, _resume_writer(make), resume="ckpt.pt")


def _materialise(value: Any) -> Any:
    import torch

    if value == "tensor-float":
        return torch.zeros(5)
    if value == "tensor-big":
        return torch.zeros(1, 10**6)
    return copy.deepcopy(value)


def _torch_save(path: Path, value: Any) -> None:
    import torch

    torch.save(_materialise(value), path)


class _Payload:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def _pickle_payload(folder: Path, good: Path) -> None:
    import torch

    torch.save({"epoch": _Payload(str(folder / "PWNED"))}, folder / "ckpt.pt")


def _resume_writer(make: Callable[[Path, Path], None]) -> Callable[[Path], None]:
    def write(folder: Path) -> None:
        (folder / "project.json").write_text(_dump(mlp()), encoding="utf-8")
        make(folder, Path(os.environ["NC_FUZZ_GOOD_CHECKPOINT"]))

    return write


# --- the data family -----------------------------------------------------------------------


def _npy_header_lie(rows: int) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": "<f4", "fortran_order": False, "shape": (rows, 2)}
    )
    return buf.getvalue() + b"\0" * 64


def _idx(magic: int, dims: tuple[int, ...], body: bytes) -> bytes:
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims) + body


def _npz(folder: Path, **arrays: Any) -> None:
    np.savez(folder / "data.npz", **arrays)


def _data_case(index: int, rng: random.Random) -> Case:
    n = rng.choice([0, 1, 2, 3, 40])
    good_rows = "\n".join(f"{i * 0.1:.2f},{(i * 7) % 5:.1f},{i % 2}" for i in range(max(n, 0)))
    csv = {"name": "csv", "path": "data.csv"}
    npy = {"name": "numpy", "path": "x.npy", "target_path": "y.npy"}
    npz = {"name": "numpy", "path": "data.npz"}
    idx = {"name": "idx", "folder": "mnist"}
    x2 = np.arange(80, dtype=np.float32).reshape(40, 2)
    y2 = (np.arange(40) % 2).astype(np.int64)

    def idx_files(images: bytes, labels: bytes, gz: bool = False):
        def write(folder: Path) -> None:
            (folder / "mnist").mkdir()
            for name, data in (
                ("train-images-idx3-ubyte", images),
                ("train-labels-idx1-ubyte", labels),
            ):
                if gz:
                    (folder / "mnist" / (name + ".gz")).write_bytes(gzip.compress(data, 1))
                else:
                    (folder / "mnist" / name).write_bytes(data)

        return write

    def gz_bomb(folder: Path) -> None:
        (folder / "mnist").mkdir()
        header = _idx(0x803, (10, 28, 28), b"")
        with gzip.open(folder / "mnist" / "train-images-idx3-ubyte.gz", "wb", 1) as f:
            f.write(header)
            chunk = b"\0" * (1 << 20)
            for _ in range(300):  # 300 MB of zeros behind a header of 7,840 bytes
                f.write(chunk)
        (folder / "mnist" / "train-labels-idx1-ubyte").write_bytes(_idx(0x801, (10,), bytes(10)))

    def sparse(folder: Path) -> None:
        with open(folder / "data.csv", "wb") as f:
            f.write(b"a,b,label\n1,2,0\n")
            f.truncate(2 * 1024**3)

    def special(kind: str):
        def write(folder: Path) -> None:
            target = folder / "data.csv"
            if kind == "fifo":
                os.mkfifo(target)
            elif kind == "dev":
                target.symlink_to("/dev/zero")
            elif kind == "folder":
                target.mkdir()
            elif kind == "loop":
                target.symlink_to(target)
            elif kind == "dangling":
                target.symlink_to(folder / "nowhere.csv")

        return write

    cases: list[tuple[str, dict, Callable[[Path], None], str]] = [
        ("csv: empty", csv, _write_text("data.csv", ""), "refuse"),
        ("csv: header only", csv, _write_text("data.csv", "a,b,label\n"), "refuse"),
        (
            f"csv: {n} rows",
            csv,
            _write_text("data.csv", "a,b,label\n" + good_rows + "\n"),
            "either",
        ),
        ("csv: text cells", csv, _write_text("data.csv", "a,b,label\n" + "x,y,0\n" * 20), "refuse"),
        (
            "csv: NaN",
            csv,
            _write_text("data.csv", "a,b,label\n" + "nan,1,0\n1,2,1\n" * 20),
            "refuse",
        ),
        (
            "csv: inf",
            csv,
            _write_text("data.csv", "a,b,label\n" + "inf,1,0\n1,2,1\n" * 20),
            "refuse",
        ),
        (
            "csv: 1e400",
            csv,
            _write_text("data.csv", "a,b,label\n" + "1e400,1,0\n1,2,1\n" * 20),
            "refuse",
        ),
        (
            "csv: 1e300",
            csv,
            _write_text("data.csv", "a,b,label\n" + "1e300,1,0\n1,2,1\n" * 20),
            "either",
        ),
        (
            "csv: ragged rows",
            csv,
            _write_text("data.csv", "a,b,label\n1,2,0\n1,2\n1,2,3,4\n" * 10),
            "refuse",
        ),
        ("csv: binary garbage", csv, _write_text("data.csv", rng.randbytes(5000)), "refuse"),
        ("csv: NUL bytes", csv, _write_text("data.csv", "a,b,label\n1,\x002,0\n" * 20), "refuse"),
        (
            "csv: a 10 MB line",
            csv,
            _write_text("data.csv", "a,b,label\n" + "1," * 5_000_000 + "0\n"),
            "refuse",
        ),
        ("csv: 2 GB sparse", csv, sparse, "refuse"),
        (
            "csv: 5,000-character path",
            {**csv, "path": "d" * 5000 + ".csv"},
            lambda f: None,
            "refuse",
        ),
        ("csv: ~nosuchuser", {**csv, "path": "~nosuchuser/x.csv"}, lambda f: None, "refuse"),
        ("csv: missing", {**csv, "path": "missing.csv"}, lambda f: None, "refuse"),
        ("csv: a FIFO", csv, special("fifo"), "refuse"),
        ("csv: /dev/zero", csv, special("dev"), "refuse"),
        ("csv: a folder", csv, special("folder"), "refuse"),
        ("csv: a symlink loop", csv, special("loop"), "refuse"),
        ("csv: a dangling symlink", csv, special("dangling"), "refuse"),
        (
            "csv: 1000 classes",
            csv,
            _write_text("data.csv", "a,b,label\n" + "".join(f"1,2,{i}\n" for i in range(1000))),
            "either",
        ),
        (
            "csv: fractional labels",
            csv,
            _write_text("data.csv", "a,b,label\n" + "1,2,0.5\n2,1,0.25\n" * 20),
            "either",
        ),
        (
            "csv: bad delimiter",
            {**csv, "delimiter": "ab"},
            _write_text("data.csv", "a,b,label\n1,2,0\n"),
            "refuse",
        ),
        (
            "npy: header claims 10^9 rows",
            npy,
            _writes(
                _write_text("x.npy", _npy_header_lie(10**9)), lambda f: np.save(f / "y.npy", y2)
            ),
            "refuse",
        ),
        (
            "npy: zero-filled",
            npy,
            _writes(_write_text("x.npy", bytes(200)), lambda f: np.save(f / "y.npy", y2)),
            "refuse",
        ),
        (
            "npy: pickled objects",
            npy,
            _writes(
                lambda f: np.save(
                    f / "x.npy",
                    np.array([_Payload(str(f / "PWNED"))] * 40, dtype=object),
                    allow_pickle=True,
                ),
                lambda f: np.save(f / "y.npy", y2),
            ),
            "refuse",
        ),
        (
            "npy: complex",
            npy,
            _writes(
                lambda f: np.save(f / "x.npy", x2.astype(np.complex64)),
                lambda f: np.save(f / "y.npy", y2),
            ),
            "refuse",
        ),
        (
            "npy: strings",
            npy,
            _writes(
                lambda f: np.save(f / "x.npy", x2.astype(str)), lambda f: np.save(f / "y.npy", y2)
            ),
            "either",
        ),
        (
            "npy: 0-d",
            npy,
            _writes(
                lambda f: np.save(f / "x.npy", np.float32(1)), lambda f: np.save(f / "y.npy", y2)
            ),
            "refuse",
        ),
        (
            "npy: rows differ",
            npy,
            _writes(lambda f: np.save(f / "x.npy", x2[:30]), lambda f: np.save(f / "y.npy", y2)),
            "refuse",
        ),
        (
            "npy: inf",
            npy,
            _writes(
                lambda f: np.save(f / "x.npy", np.full((40, 2), np.inf, np.float32)),
                lambda f: np.save(f / "y.npy", y2),
            ),
            "refuse",
        ),
        (
            "npy: good",
            npy,
            _writes(lambda f: np.save(f / "x.npy", x2), lambda f: np.save(f / "y.npy", y2)),
            "either",
        ),
        (
            "npz: zero rows",
            npz,
            lambda f: _npz(f, x=np.zeros((0, 2), np.float32), y=np.zeros(0, np.int64)),
            "refuse",
        ),
        ("npz: no y", npz, lambda f: _npz(f, x=x2), "refuse"),
        (
            "npz: pickled",
            npz,
            lambda f: _npz(f, x=np.array([None] * 40, dtype=object), y=y2),
            "refuse",
        ),
        (
            "npz: not a zip",
            npz,
            _write_text("data.npz", b"PK\x03\x04" + rng.randbytes(300)),
            "refuse",
        ),
        ("npz: good", npz, lambda f: _npz(f, x=x2, y=y2), "either"),
        (
            "idx: size does not match",
            idx,
            idx_files(_idx(0x803, (10, 28, 28), bytes(100)), _idx(0x801, (10,), bytes(10))),
            "refuse",
        ),
        (
            "idx: header claims 10^9 images",
            idx,
            idx_files(_idx(0x803, (10**9, 28, 28), bytes(784)), _idx(0x801, (10**9,), bytes(10))),
            "refuse",
        ),
        (
            "idx: bad magic",
            idx,
            idx_files(_idx(0x1234, (10, 28, 28), bytes(7840)), _idx(0x801, (10,), bytes(10))),
            "refuse",
        ),
        ("idx: gz bomb", idx, gz_bomb, "refuse"),
        (
            "idx: truncated gz",
            idx,
            lambda f: (
                idx_files(b"", b"")(f),
                (f / "mnist" / "train-images-idx3-ubyte").write_bytes(
                    gzip.compress(bytes(9000))[:50]
                ),
            ),
            "refuse",
        ),
        (
            "idx: counts differ",
            idx,
            idx_files(_idx(0x803, (10, 28, 28), bytes(7840)), _idx(0x801, (9,), bytes(9))),
            "refuse",
        ),
        (
            "idx: labels 255",
            idx,
            idx_files(
                _idx(0x803, (10, 28, 28), bytes(7840)), _idx(0x801, (10,), bytes([255] * 10))
            ),
            "either",
        ),
        (
            "idx: good, gzipped",
            idx,
            idx_files(
                _idx(0x803, (10, 28, 28), bytes(7840)),
                _idx(0x801, (10,), bytes(range(10))),
                gz=True,
            ),
            "either",
        ),
    ]
    label, dataset, write, expect = cases[index % len(cases)]
    doc = mlp(
        dict(dataset),
        inputs=[1, 28, 28] if dataset["name"] == "idx" else [2],
        classes=10 if dataset["name"] == "idx" else 2,
    )
    if rng.random() < 0.5:  # the same files with other split options
        doc["training"]["dataset"]["validation"] = rng.choice([0.0, 0.5, 0.99])
    return Case(
        "data", index, label, _writes(_write_text("project.json", _dump(doc)), write), expect=expect
    )
