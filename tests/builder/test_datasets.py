"""Datasets: every built-in loads offline with consistent shapes; files (CSV, NumPy, IDX)
load and fail with clear messages; splits, k-fold, normalisation and augmentation."""

from __future__ import annotations

import gzip
import json
import math
import struct
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import assets
from builder.data import (
    KINDS,
    DatasetError,
    apply_normalisation,
    augment,
    dataset_info,
    dataset_names,
    describe,
    kfold,
    load_dataset,
    make_splits,
)
from graph.errors import NeuralCanvasError

BUILT_IN = [n for n in dataset_names() if not dataset_info(n).needs_files]
GENERATED = [
    "moons",
    "circles",
    "blobs",
    "spirals",
    "sine",
    "sine_sequences",
    "sine_forecast",
    "token_sequences",
]


def _write_idx(path: Path, array: np.ndarray, magic: int | None = None, extra: bytes = b"") -> Path:
    ndim = array.ndim
    head = struct.pack(">I", magic if magic is not None else 0x0800 | ndim)
    head += struct.pack(f">{ndim}I", *array.shape)
    data = head + array.astype(np.uint8).tobytes() + extra
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


def _mnist_folder(
    folder: Path, n: int = 12, prefix: str = "train", gz: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 28, 28)).astype(np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    ext = ".gz" if gz else ""
    _write_idx(folder / f"{prefix}-images-idx3-ubyte{ext}", images)
    _write_idx(folder / f"{prefix}-labels-idx1-ubyte{ext}", labels)
    return images, labels


# --------------------------------------------------------------------------- registry


@pytest.mark.parametrize("name", BUILT_IN)
def test_every_built_in_dataset_loads_with_defaults(name):
    ds = load_dataset({"name": name})
    info = dataset_info(name)
    n = len(ds)
    assert n >= 4 and ds.y.shape[0] == n
    assert ds.kind == (info.kind or ds.kind) and ds.kind in KINDS  # None: the data's own
    assert ds.input_shape == tuple(ds.x.shape[1:])
    if ds.kind == "tokens":
        assert ds.x.dtype == torch.int64 and ds.x.min() >= 0
    else:
        assert ds.x.dtype == torch.float32 and torch.isfinite(ds.x).all()
    if ds.task == "classification":
        assert ds.y.dtype == torch.int64 and ds.y.ndim == 1 and ds.target_shape == ()
        assert ds.num_classes >= 2 and len(ds.class_names) == ds.num_classes
        assert set(ds.y.unique().tolist()) == set(range(ds.num_classes))
    else:
        assert ds.task == "regression" and ds.num_classes is None
        assert ds.y.dtype == torch.float32 and ds.y.ndim == 2
    if ds.feature_names is not None and ds.x.ndim == 2:
        assert len(ds.feature_names) == ds.x.shape[1]
    splits = make_splits(ds, {"name": name})
    assert len(splits.train) + len(splits.val or []) == n
    assert name in describe(name)


def test_a_typed_in_table_keeps_its_rows_and_order_and_says_what_is_wrong():
    rows = [[1, -1, -1], [1, 1, 1]]
    ds = load_dataset({"name": "table", "rows": rows, "targets": [0, 1]})
    assert ds.x.tolist() == rows and ds.y.tolist() == [0, 1] and ds.task == "classification"
    assert ds.kind == "tabular" and ds.feature_names == ["x1", "x2", "x3"]
    splits = make_splits(ds, {"name": "table"})
    assert splits.train.x.tolist() == rows  # no validation split: every row, in order
    ds = load_dataset({"name": "table", "rows": [[0, 1]], "targets": [0.5], "features": ["a", "b"]})
    assert ds.task == "regression" and ds.kind == "points2d" and ds.y.tolist() == [[0.5]]
    for spec, words in [
        ({"rows": [[1, 2], [3]]}, "as many numbers as the first"),
        ({"rows": [[1, "a"]]}, "a list of 1 to 10,000 rows"),
        ({"rows": [[1, 2]], "targets": [0, 1]}, "2 targets for 1 rows: give one per row"),
        ({"rows": [[1, 2]], "features": ["a"]}, "1 names for rows of 2 numbers"),
        ({"rows": [[1], [2]], "targets": [0.5, 1], "task": "classification"}, "whole numbers"),
    ]:
        with pytest.raises(DatasetError, match=words):
            load_dataset({"name": "table", **spec})


def test_shapes_and_sizes_of_the_built_ins():
    expect = {
        "xor": ((2,), 4),
        "moons": ((2,), 400),
        "spirals": ((2,), 400),
        "sine": ((1,), 400),
        "sine_sequences": ((20, 1), 600),
        "sine_forecast": ((20, 1), 600),
        "token_sequences": ((16,), 4000),
        "digits": ((1, 8, 8), 1797),
        "iris": ((4,), 150),
        "wine": ((13,), 178),
        "breast_cancer": ((30,), 569),
    }
    for name, (shape, n) in expect.items():
        ds = load_dataset({"name": name})
        assert (ds.input_shape, len(ds)) == (shape, n), name
    assert load_dataset({"name": "digits", "flat": True}).input_shape == (64,)
    assert load_dataset({"name": "digits"}).x.max() == 1.0
    assert load_dataset({"name": "blobs", "classes": 5}).num_classes == 5
    assert load_dataset({"name": "spirals", "classes": 3, "samples": 90}).num_classes == 3
    assert load_dataset({"name": "sine_sequences", "steps": 7}).input_shape == (7, 1)
    iris = load_dataset({"name": "iris"})
    assert (
        iris.class_names == ["setosa", "versicolor", "virginica"] and len(iris.feature_names) == 4
    )


def test_truth_tables_are_exact():
    x = [[0, 0], [0, 1], [1, 0], [1, 1]]
    for name, y in {"xor": [0, 1, 1, 0], "and": [0, 0, 0, 1], "or": [0, 1, 1, 1]}.items():
        ds = load_dataset({"name": name})
        assert ds.x.tolist() == x and ds.y.tolist() == y and ds.num_classes == 2
    ds = load_dataset({"name": "xor", "repeat": 3})
    assert ds.x.tolist() == x * 3 and ds.y.tolist() == [0, 1, 1, 0] * 3
    # the whole table is the training set: validation defaults to 0 for truth tables
    splits = make_splits(load_dataset({"name": "xor"}), {"name": "xor"})
    assert len(splits.train) == 4 and splits.val is None and splits.test is None


def test_token_sequences_hold_both_markers_and_label_their_order():
    ds = load_dataset({"name": "token_sequences", "samples": 300, "vocab": 50})
    assert ds.x.max() < 50
    for row, label in zip(ds.x.tolist(), ds.y.tolist()):
        assert row.count(1) == 1 and row.count(2) == 1
        assert label == (0 if row.index(1) < row.index(2) else 1)
    assert abs(int(ds.y.sum()) - 150) == 0


def test_sine_sequences_classes_differ_in_frequency():
    ds = load_dataset({"name": "sine_sequences", "noise": 0.0})
    crossings = (torch.diff(torch.sign(ds.x[:, :, 0]), dim=1) != 0).sum(dim=1).float()
    assert crossings[ds.y == 1].mean() > 2 * crossings[ds.y == 0].mean()
    fc = load_dataset({"name": "sine_forecast", "steps": 10})
    assert fc.input_shape == (10, 1) and fc.target_shape == (1,) and fc.task == "regression"


def test_examples_match_their_datasets():
    """Each example's Input shape / dtype and class count fit the dataset it trains on."""
    for path in assets.example_paths():
        project = json.loads(path.read_text(encoding="utf-8"))
        spec = project["training"]["dataset"]
        if "main" not in project["models"]:
            continue
        nodes = project["models"]["main"]["nodes"]
        first = next(n for n in nodes if n["type"] == "Input")["params"]
        ds = load_dataset(spec)
        assert list(ds.input_shape) == first["shape"], path.stem
        assert str(ds.x.dtype).removeprefix("torch.") == first.get("dtype", "float32"), path.stem
        for node in nodes:
            if node["type"] == "Embedding":
                assert int(ds.x.max()) < node["params"]["num_embeddings"], path.stem
        if project["training"].get("loss") == "cross_entropy":
            last = [n for n in nodes if n["type"] == "Linear"][-1]["params"]["out_features"]
            assert ds.num_classes == last, path.stem


def test_describe_lists_options_with_defaults():
    text = describe("moons")
    assert "samples = 400" in text and "noise = 0.1" in text and "validation=0.2" in text
    assert "path = (required)" in describe("csv")


# --------------------------------------------------------------------------- seeds and splits


@pytest.mark.parametrize("name", GENERATED)
def test_same_seed_same_data_other_seed_other_data(name):
    a, b, c = (load_dataset({"name": name}, seed=s) for s in (3, 3, 4))
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert not torch.equal(a.x, c.x)


def test_same_seed_same_splits_other_seed_other_splits():
    ds = load_dataset({"name": "moons"})
    spec = {"name": "moons", "validation": 0.2, "test": 0.1}
    a, b, c = (make_splits(ds, spec, seed=s) for s in (0, 0, 1))
    for part in ("train", "val", "test"):
        assert torch.equal(getattr(a, part).indices, getattr(b, part).indices)
        assert torch.equal(getattr(a, part).x, getattr(b, part).x)
    assert not torch.equal(a.val.indices.sort().values, c.val.indices.sort().values)


@pytest.mark.parametrize("name", ["iris", "sine", "blobs"])
def test_splits_are_disjoint_cover_and_have_the_asked_sizes(name):
    ds = load_dataset({"name": name})
    splits = make_splits(ds, {"name": name, "validation": 0.25, "test": 0.15}, seed=5)
    parts = [splits.train.indices, splits.val.indices, splits.test.indices]
    everything = torch.cat(parts)
    assert len(everything) == len(ds) and len(set(everything.tolist())) == len(ds)
    n = len(ds)
    assert len(splits.val) == math.floor(0.25 * n + 0.5)
    assert len(splits.test) == math.floor(0.15 * n + 0.5)
    for part in (splits.train, splits.val, splits.test):
        assert torch.equal(part.x, ds.x[part.indices]) and torch.equal(part.y, ds.y[part.indices])


def test_stratification_keeps_class_proportions():
    ds = load_dataset({"name": "blobs", "samples": 301, "classes": 4})
    counts = Counter(ds.y.tolist())
    splits = make_splits(ds, {"name": "blobs", "validation": 0.3, "test": 0.2}, seed=2)
    for part, fraction in ((splits.val, 0.3), (splits.test, 0.2)):
        got = Counter(part.y.tolist())
        for c, total in counts.items():
            assert abs(got[c] - fraction * total) <= 1, (c, got[c], fraction * total)


def test_zscore_is_fitted_on_train_only_and_applied_to_val():
    ds = load_dataset({"name": "wine"})
    splits = make_splits(ds, {"name": "wine", "normalise": "zscore", "test": 0.1})
    stats = splits.normalisation
    assert stats["kind"] == "zscore" and len(stats["mean"]) == 13
    train = splits.train.x.double()
    assert torch.allclose(train.mean(0), torch.zeros(13, dtype=torch.float64), atol=1e-5)
    assert torch.allclose(
        train.std(0, correction=0), torch.ones(13, dtype=torch.float64), atol=1e-4
    )
    mean, std = torch.tensor(stats["mean"]), torch.tensor(stats["std"])
    raw_val = ds.x[splits.val.indices]
    assert torch.allclose(splits.val.x, ((raw_val - mean) / std).float(), atol=1e-5)
    assert torch.allclose(apply_normalisation(ds.x[splits.test.indices], stats), splits.test.x)
    # the training statistics are not the statistics of the whole data set
    assert not torch.allclose(mean, ds.x.double().mean(0).float(), atol=1e-6)


def test_minmax_images_per_channel_and_tokens_untouched():
    ds = load_dataset({"name": "sine"})
    splits = make_splits(ds, {"name": "sine", "normalise": "minmax"})
    assert splits.train.x.min() == 0 and splits.train.x.max() == 1
    digits = load_dataset({"name": "digits"})
    stats = make_splits(digits, {"name": "digits", "normalise": "zscore"}).normalisation
    assert stats["shape"] == [1, 1, 1, 1] and len(stats["mean"]) == 1
    tokens = load_dataset({"name": "token_sequences", "samples": 100})
    splits = make_splits(tokens, {"name": "token_sequences", "normalise": "zscore"})
    assert splits.normalisation["kind"] == "none"
    assert splits.train.x.dtype == torch.int64 and torch.equal(
        splits.train.x, tokens.x[splits.train.indices]
    )


def test_kfold_folds_are_disjoint_cover_and_stratified():
    ds = load_dataset({"name": "iris"})
    folds = kfold(ds, {"name": "iris"}, k=5, seed=1)
    assert len(folds) == 5
    vals = torch.cat([f.val.indices for f in folds])
    assert sorted(vals.tolist()) == list(range(150))
    for fold in folds:
        assert len(fold.val) == 30 and len(fold.train) == 120 and fold.test is None
        assert not set(fold.val.indices.tolist()) & set(fold.train.indices.tolist())
        assert sorted(Counter(fold.val.y.tolist()).values()) == [10, 10, 10]
    again = kfold(ds, {"name": "iris"}, k=5, seed=1)
    assert all(torch.equal(a.val.indices, b.val.indices) for a, b in zip(folds, again))
    with_test = kfold(ds, {"name": "iris", "test": 0.2, "normalise": "zscore"}, k=3)
    test_rows = set(with_test[0].test.indices.tolist())
    assert len(test_rows) == 30 and all(
        set(f.test.indices.tolist()) == test_rows for f in with_test
    )
    rest = torch.cat([f.val.indices for f in with_test]).tolist()
    assert len(rest) == 120 and not set(rest) & test_rows


def test_kfold_regression_sizes_differ_by_at_most_one():
    ds = load_dataset({"name": "sine", "samples": 103})
    sizes = [len(f.val) for f in kfold(ds, {"name": "sine"}, k=4)]
    assert sum(sizes) == 103 and max(sizes) - min(sizes) <= 1


# --------------------------------------------------------------------------- augmentation


def test_augment_flip_shift_noise():
    x = torch.rand(64, 2, 5, 7)
    gen = torch.Generator().manual_seed(0)
    flipped = augment(x, {"flip": True}, gen)
    same = [(torch.equal(a, b), torch.equal(a, b.flip(-1))) for a, b in zip(flipped, x)]
    assert all(s or f for s, f in same) and 10 < sum(f for _, f in same) < 54
    shifted = augment(x, {"shift": 2}, gen)
    assert shifted.shape == x.shape
    for a, b in zip(shifted, x):
        found = False
        for dy in range(-2, 3):
            for dx in range(-2, 3):
                ref = torch.zeros_like(b)
                h, w = b.shape[1:]
                ref[:, max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = b[
                    :, max(-dy, 0) : h - max(dy, 0), max(-dx, 0) : w - max(dx, 0)
                ]
                found = found or torch.equal(a, ref)
        assert found
    noisy = augment(x, {"noise": 0.1}, gen)
    assert noisy.shape == x.shape and 0.08 < (noisy - x).std() < 0.12
    seq = torch.zeros(10, 20, 1)
    assert augment(seq, {"noise": 0.5}, gen).abs().sum() > 0
    for empty in ({}, None, {"flip": False, "shift": 0, "noise": 0.0}):
        out = augment(x, empty, gen)
        assert torch.equal(out, x) and out is not x
    a = augment(x, {"flip": True, "shift": 1, "noise": 0.1}, torch.Generator().manual_seed(7))
    b = augment(x, {"flip": True, "shift": 1, "noise": 0.1}, torch.Generator().manual_seed(7))
    assert torch.equal(a, b)


def test_augment_rejects_bad_options_and_shapes():
    gen = torch.Generator()
    with pytest.raises(DatasetError, match="augment.shift"):
        augment(torch.rand(2, 1, 4, 4), {"shift": -1}, gen)
    with pytest.raises(DatasetError, match="augment.rotate"):
        augment(torch.rand(2, 1, 4, 4), {"rotate": 3}, gen)
    with pytest.raises(DatasetError, match="augment.flip"):
        augment(torch.rand(2, 3), {"flip": True}, gen)
    with pytest.raises(DatasetError, match="augment.noise"):
        augment(torch.zeros(2, 3, dtype=torch.int64), {"noise": 0.1}, gen)
    with pytest.raises(DatasetError, match="training.dataset.augment.flip"):
        load_dataset({"name": "moons", "augment": {"flip": True}})
    ds = load_dataset({"name": "digits", "augment": {"flip": True, "shift": 1}})
    assert ds.kind == "image"


# --------------------------------------------------------------------------- CSV


def _csv(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_with_header_and_string_labels(tmp_path):
    _csv(tmp_path, "a,b,c,label\n1,2,3,cat\n4,5,6,dog\n7,8,9,cat\n1,1,1,bird\n")
    ds = load_dataset({"name": "csv", "path": "data.csv"}, base_dir=tmp_path)
    assert ds.feature_names == ["a", "b", "c"] and ds.x.shape == (4, 3)
    assert ds.class_names == ["bird", "cat", "dog"] and ds.y.tolist() == [1, 2, 1, 0]
    assert ds.task == "classification" and ds.num_classes == 3 and ds.kind == "tabular"


def test_csv_without_header_and_column_selection(tmp_path):
    _csv(tmp_path, "1,2.5,0\n3,4.5,1\n5,6.5,0\n7,8.5,1\n")
    ds = load_dataset({"name": "csv", "path": str(tmp_path / "data.csv")})
    assert ds.x.tolist() == [[1, 2.5], [3, 4.5], [5, 6.5], [7, 8.5]] and ds.y.tolist() == [
        0,
        1,
        0,
        1,
    ]
    assert ds.kind == "points2d" and ds.feature_names == ["col0", "col1"]
    by_index = load_dataset(
        {"name": "csv", "path": "data.csv", "features": [1], "target": 0}, tmp_path
    )
    assert by_index.x.tolist() == [[2.5], [4.5], [6.5], [8.5]] and by_index.task == "classification"
    assert by_index.class_names == ["1", "3", "5", "7"] and by_index.y.tolist() == [0, 1, 2, 3]
    reg = load_dataset(
        {"name": "csv", "path": "data.csv", "target": 1, "task": "regression"}, tmp_path
    )
    assert reg.y.tolist() == [[2.5], [4.5], [6.5], [8.5]] and reg.y.dtype == torch.float32


def test_csv_selection_by_name_regression_and_delimiter(tmp_path):
    lines = ["x;y;noise;price"] + [f"{i};{i * 2};{i % 3};{i * 1.5 + 0.25}" for i in range(30)]
    _csv(tmp_path, "\n".join(lines) + "\n")
    ds = load_dataset(
        {"name": "csv", "path": "data.csv", "features": ["y", "x"], "target": "price"}, tmp_path
    )
    assert ds.task == "regression" and ds.y.shape == (30, 1) and ds.feature_names == ["y", "x"]
    assert ds.x[3].tolist() == [6, 3] and ds.y[3].item() == 4.75
    forced = load_dataset(
        {"name": "csv", "path": "data.csv", "delimiter": ";", "header": True, "target": "noise"},
        tmp_path,
    )
    assert forced.task == "classification" and forced.num_classes == 3


def test_csv_header_auto_detection(tmp_path):
    _csv(tmp_path, "1,2\n3,4\n5,6\n", "plain.csv")
    assert (
        len(load_dataset({"name": "csv", "path": "plain.csv", "task": "regression"}, tmp_path)) == 3
    )
    _csv(tmp_path, ",f,t\n0,1.5,0\n1,2.5,1\n2,3.5,0\n", "pandas.csv")
    ds = load_dataset(
        {"name": "csv", "path": "pandas.csv", "features": ["f"], "target": "t"}, tmp_path
    )
    assert len(ds) == 3 and ds.x.tolist() == [[1.5], [2.5], [3.5]]
    forced = load_dataset(
        {"name": "csv", "path": "plain.csv", "header": True, "task": "regression"}, tmp_path
    )
    assert len(forced) == 2 and forced.feature_names == ["1"]


def test_split_of_a_csv_with_string_labels(tmp_path):
    rows = ["f1,f2,animal"] + [f"{i},{i % 7},{['cat', 'dog'][i % 2]}" for i in range(40)]
    _csv(tmp_path, "\n".join(rows))
    spec = {"name": "csv", "path": "data.csv", "validation": 0.25}
    splits = make_splits(load_dataset(spec, tmp_path), spec)
    assert Counter(splits.val.y.tolist()) == {0: 5, 1: 5}


# --------------------------------------------------------------------------- NumPy and IDX


def test_numpy_npz_and_npy_pair(tmp_path):
    x = np.random.default_rng(0).normal(size=(20, 3))
    y = np.arange(20) % 2
    np.savez(tmp_path / "d.npz", x=x, y=y)
    ds = load_dataset({"name": "numpy", "path": "d.npz"}, tmp_path)
    assert ds.x.shape == (20, 3) and ds.x.dtype == torch.float32 and ds.task == "classification"
    np.savez(tmp_path / "k.npz", inputs=x, out=x[:, :2])
    reg = load_dataset(
        {"name": "numpy", "path": "k.npz", "x_key": "inputs", "y_key": "out"}, tmp_path
    )
    assert reg.task == "regression" and reg.y.shape == (20, 2)
    np.save(tmp_path / "x.npy", np.random.default_rng(1).integers(0, 30, (20, 8)))
    np.save(tmp_path / "y.npy", np.array(["no", "yes"] * 10))
    tok = load_dataset(
        {"name": "numpy", "path": "x.npy", "target_path": "y.npy", "x_dtype": "int64"}, tmp_path
    )
    assert tok.kind == "tokens" and tok.x.dtype == torch.int64 and tok.class_names == ["no", "yes"]
    images = np.random.default_rng(2).random((20, 1, 4, 4))
    np.savez(tmp_path / "img.npz", x=images, y=np.linspace(0, 1, 20))
    img = load_dataset({"name": "numpy", "path": "img.npz"}, tmp_path)
    assert img.kind == "image" and img.task == "regression"


@pytest.mark.parametrize("gz", [False, True])
def test_idx_loads_fake_mnist(tmp_path, gz):
    images, labels = _mnist_folder(tmp_path / "mnist", n=12, gz=gz)
    _mnist_folder(tmp_path / "mnist", n=5, prefix="t10k", gz=gz)
    ds = load_dataset({"name": "idx", "folder": "mnist"}, tmp_path)
    assert ds.x.shape == (12, 1, 28, 28) and ds.x.dtype == torch.float32
    assert torch.allclose(ds.x[3, 0], torch.from_numpy(images[3] / 255.0).float())
    assert ds.y.tolist() == labels.tolist() and ds.num_classes == 10 and ds.kind == "image"
    assert len(load_dataset({"name": "idx", "folder": "mnist", "which": "test"}, tmp_path)) == 5
    assert len(load_dataset({"name": "idx", "folder": "mnist", "limit": 4}, tmp_path)) == 4


# --------------------------------------------------------------------------- bad input


def _files(tmp: Path) -> None:
    (tmp / "empty.csv").write_text("", encoding="utf-8")
    (tmp / "blank.csv").write_text("\n\n  \n", encoding="utf-8")
    (tmp / "words.csv").write_text(
        "size,colour,label\n1,red,0\n2,blue,1\n3,red,0\n", encoding="utf-8"
    )
    (tmp / "hole.csv").write_text("a,b,label\n1,,0\n2,5,1\n3,,0\n", encoding="utf-8")
    (tmp / "void.csv").write_text("a,gap,label\n1,,0\n2,,1\n3,,0\n", encoding="utf-8")
    (tmp / "nan.csv").write_text("a,b,label\n1,2,0\n2,nan,1\n3,inf,0\n", encoding="utf-8")
    (tmp / "one.csv").write_text("a,b,label\n1,2,yes\n2,3,yes\n", encoding="utf-8")
    (tmp / "ragged.csv").write_text("a,b,label\n1,2,0\n2,3\n", encoding="utf-8")
    (tmp / "headonly.csv").write_text("a,b,label\n", encoding="utf-8")
    (tmp / "frac.csv").write_text("a,b\n1,0.5\n2,1.5\n", encoding="utf-8")
    (tmp / "text_y.csv").write_text("a,label\n1,cat\n2,dog\n", encoding="utf-8")
    np.savez(tmp / "nokey.npz", inputs=np.zeros((4, 2)), y=np.arange(4) % 2)
    np.save(tmp / "objects.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    np.save(tmp / "nan_x.npy", np.array([[1.0, 2.0], [np.nan, 1.0], [np.inf, 0.0]]))
    np.save(tmp / "y3.npy", np.array([0, 1, 0]))
    np.save(tmp / "x3.npy", np.ones((3, 2)))
    np.save(tmp / "y2.npy", np.array([0, 1]))
    np.save(tmp / "ynan.npy", np.array([0.5, np.nan, 0.25]))
    (tmp / "notes.txt").write_text("hello", encoding="utf-8")
    (tmp / "bad_magic").mkdir()
    _write_idx(tmp / "bad_magic" / "train-images-idx3-ubyte", np.zeros((2, 28, 28)), magic=0x0801)
    _write_idx(tmp / "bad_magic" / "train-labels-idx1-ubyte", np.zeros(2))
    (tmp / "short").mkdir()
    _write_idx(tmp / "short" / "train-images-idx3-ubyte", np.zeros((3, 28, 28)))
    data = (tmp / "short" / "train-images-idx3-ubyte").read_bytes()
    (tmp / "short" / "train-images-idx3-ubyte").write_bytes(data[:-100])
    _write_idx(tmp / "short" / "train-labels-idx1-ubyte", np.zeros(3))
    (tmp / "mismatch").mkdir()
    _write_idx(tmp / "mismatch" / "train-images-idx3-ubyte", np.zeros((3, 28, 28)))
    _write_idx(tmp / "mismatch" / "train-labels-idx1-ubyte", np.zeros(4))
    (tmp / "nolabels").mkdir()
    _write_idx(tmp / "nolabels" / "train-images-idx3-ubyte", np.zeros((3, 28, 28)))


BAD: list[tuple[str, dict[str, Any], list[str]]] = [
    ("unknown name", {"name": "moon"}, ["'moon'", "did you mean 'moons'"]),
    ("not an object", "xor", ["training.dataset"]),  # type: ignore[list-item]
    ("no name", {"samples": 3}, ["training.dataset.name"]),
    (
        "unknown option",
        {"name": "moons", "sample": 10},
        ["training.dataset.sample", "did you mean 'samples'"],
    ),
    ("negative samples", {"name": "moons", "samples": -5}, ["training.dataset.samples", "-5"]),
    ("bool as int", {"name": "xor", "repeat": True}, ["training.dataset.repeat"]),
    ("noise as text", {"name": "sine", "noise": "lots"}, ["training.dataset.noise"]),
    (
        "bad normalise",
        {"name": "iris", "normalise": "l2"},
        ["training.dataset.normalise", "zscore"],
    ),
    (
        "fractions too big",
        {"name": "iris", "validation": 0.6, "test": 0.5},
        ["training.dataset.test"],
    ),
    (
        "too few blob samples",
        {"name": "blobs", "samples": 2, "classes": 3},
        ["training.dataset.samples"],
    ),
    ("spiral arms", {"name": "spirals", "classes": 7}, ["training.dataset.classes"]),
    (
        "bad augment",
        {"name": "digits", "augment": {"shift": 1.5}},
        ["training.dataset.augment.shift"],
    ),
    ("csv without path", {"name": "csv"}, ["training.dataset.path", "required"]),
    ("missing csv", {"name": "csv", "path": "nope.csv"}, ["nope.csv", "not found"]),
    ("empty csv", {"name": "csv", "path": "empty.csv"}, ["empty.csv", "empty"]),
    ("blank csv", {"name": "csv", "path": "blank.csv"}, ["blank.csv", "empty"]),
    ("header only", {"name": "csv", "path": "headonly.csv"}, ["headonly.csv", "no data rows"]),
    (
        "unknown column",
        {"name": "csv", "path": "words.csv", "target": "lable"},
        ["'lable'", "size, colour, label"],
    ),
    (
        "column index",
        {"name": "csv", "path": "words.csv", "features": [7]},
        ["training.dataset.features", "7"],
    ),
    (
        "text feature",
        {"name": "csv", "path": "words.csv"},
        ["words.csv", "'colour'", "'red'", "line 2"],
    ),
    (
        "target in features",
        {"name": "csv", "path": "words.csv", "features": ["size", "label"]},
        ["'label'"],
    ),
    (
        "missing cells",
        {"name": "csv", "path": "hole.csv"},
        ["hole.csv", "'b'", "2 empty", "line 2"],
    ),
    ("empty column", {"name": "csv", "path": "void.csv"}, ["void.csv", "'gap'", "empty"]),
    (
        "nan in csv",
        {"name": "csv", "path": "nan.csv"},
        ["nan.csv", "'b'", "2 empty, NaN or infinite", "line 3"],
    ),
    ("single class", {"name": "csv", "path": "one.csv"}, ["one.csv", "'label'", "single class"]),
    ("ragged csv", {"name": "csv", "path": "ragged.csv"}, ["ragged.csv", "line 3"]),
    (
        "fractional class",
        {"name": "csv", "path": "frac.csv", "task": "classification"},
        ["frac.csv", "'b'", "regression"],
    ),
    (
        "text regression",
        {"name": "csv", "path": "text_y.csv", "task": "regression"},
        ["text_y.csv", "'label'", "'cat'"],
    ),
    (
        "bad delimiter",
        {"name": "csv", "path": "words.csv", "delimiter": "::"},
        ["training.dataset.delimiter"],
    ),
    ("bad header", {"name": "csv", "path": "words.csv", "header": 1}, ["training.dataset.header"]),
    ("npz key", {"name": "numpy", "path": "nokey.npz"}, ["nokey.npz", "'x'", "inputs", "x_key"]),
    ("npy alone", {"name": "numpy", "path": "y3.npy"}, ["training.dataset.target_path", "y3.npy"]),
    (
        "object npy",
        {"name": "numpy", "path": "objects.npy", "target_path": "y2.npy"},
        ["objects.npy"],
    ),
    ("not numpy", {"name": "numpy", "path": "notes.txt"}, ["notes.txt", ".npz"]),
    (
        "nan in x",
        {"name": "numpy", "path": "nan_x.npy", "target_path": "y3.npy"},
        ["nan_x.npy", "2 NaN", "row 1"],
    ),
    (
        "nan in y",
        {"name": "numpy", "path": "x3.npy", "target_path": "ynan.npy"},
        ["ynan.npy", "1 empty, NaN", "row 1"],
    ),
    (
        "row mismatch",
        {"name": "numpy", "path": "nan_x.npy", "target_path": "y2.npy"},
        ["nan_x.npy", "y2.npy"],
    ),
    (
        "missing folder",
        {"name": "idx", "folder": "mnist"},
        ["training.dataset.folder", "mnist", "not found"],
    ),
    (
        "no label file",
        {"name": "idx", "folder": "nolabels"},
        ["nolabels", "train-labels-idx1-ubyte"],
    ),
    (
        "idx magic",
        {"name": "idx", "folder": "bad_magic"},
        ["train-images-idx3-ubyte", "magic", "0x00000801"],
    ),
    ("idx truncated", {"name": "idx", "folder": "short"}, ["train-images-idx3-ubyte", "2352"]),
    ("idx counts", {"name": "idx", "folder": "mismatch"}, ["train-labels-idx1-ubyte", "4 labels"]),
    ("idx limit", {"name": "idx", "folder": "short", "limit": 0}, ["training.dataset.limit"]),
]


@pytest.mark.parametrize("spec,needles", [(s, n) for _, s, n in BAD], ids=[b[0] for b in BAD])
def test_bad_input_raises_dataset_error_naming_the_culprit(tmp_path, spec, needles):
    _files(tmp_path)
    with pytest.raises(DatasetError) as info:
        load_dataset(spec, base_dir=tmp_path)
    message = str(info.value)
    assert isinstance(info.value, NeuralCanvasError)
    for needle in needles:
        assert needle in message, (needle, message)


def test_options_are_checked_before_loading(tmp_path):
    # a wrong option is reported even though the file does not exist
    with pytest.raises(DatasetError, match="training.dataset.header"):
        load_dataset({"name": "csv", "path": "missing.csv", "header": "maybe"}, tmp_path)


def test_all_option_problems_are_reported_at_once():
    with pytest.raises(DatasetError) as info:
        load_dataset({"name": "moons", "samples": 0, "noise": -1, "colour": "red"})
    text = str(info.value)
    assert all(f"training.dataset.{k}" in text for k in ("samples", "noise", "colour"))


def test_too_few_samples_for_the_splits():
    ds = load_dataset({"name": "xor"})
    with pytest.raises(DatasetError, match="training.dataset.validation"):
        make_splits(ds, {"name": "xor", "validation": 0.1})
    assert len(make_splits(ds, {"name": "xor", "validation": 0.25}).val) == 1
    with pytest.raises(DatasetError, match="k-fold"):
        kfold(ds, {"name": "xor"}, k=5)
    with pytest.raises(DatasetError, match="k-fold"):
        kfold(ds, {"name": "xor"}, k=1)
    with pytest.raises(DatasetError, match="training.dataset.test"):
        make_splits(load_dataset({"name": "iris"}), {"name": "iris", "test": 1.5})


def test_names_seed_and_idx_spellings(tmp_path):
    assert load_dataset({"name": " XOR "}).y.tolist() == [0, 1, 1, 0]
    with pytest.raises(DatasetError, match="training.seed"):
        load_dataset({"name": "xor"}, seed="1")
    with pytest.raises(DatasetError, match="training.dataset.name"):
        dataset_info(3)
    folder = tmp_path / "fashion"
    folder.mkdir()
    _write_idx(folder / "t10k-images.idx3-ubyte", np.zeros((4, 28, 28)))
    _write_idx(folder / "t10k-labels.idx1-ubyte", np.array([0, 1, 2, 3]))
    assert len(load_dataset({"name": "idx", "folder": str(folder), "which": "test"})) == 4


def test_docs_list_every_dataset_and_option():
    text = (Path(__file__).resolve().parents[2] / "docs" / "datasets.md").read_text(
        encoding="utf-8"
    )
    for name in dataset_names():
        assert f"`{name}`" in text, name
        for option in dataset_info(name).options:
            assert f"`{option.name}`" in text, (name, option.name)
    for option in ("validation", "test", "normalise", "augment", "flip", "shift", "noise"):
        assert f"`{option}`" in text or f'"{option}"' in text, option
