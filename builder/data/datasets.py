"""Datasets for training: built-in generators, small real datasets shipped with
scikit-learn, and the user's own CSV / NumPy / IDX files; plus train/validation/test
splits, k-fold, normalisation and batch-time augmentation. Nothing is ever downloaded.

A project's ``training.dataset`` object picks a dataset by ``name`` and sets its options
(see docs/datasets.md)::

    ds = load_dataset({"name": "moons", "samples": 200}, base_dir=project_folder, seed=0)
    splits = make_splits(ds, spec, seed=0)

Every problem a user can cause raises :class:`DatasetError`, whose message names the
option, file or column and says what to do.
"""

from __future__ import annotations

import copy
import csv
import difflib
import gzip
import io
import math
import struct
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from graph.errors import NeuralCanvasError

SPEC_PATH = "training.dataset"
KINDS = ("points2d", "tabular", "image", "sequence", "tokens")
TASKS = ("classification", "regression")
NORMALISE = ("none", "minmax", "zscore")
MAX_AUTO_CLASSES = 20  # "auto" task: an integer target with at most this many values is a class
# In token_sequences, these ids are reserved; filler tokens are drawn from [FIRST_FILLER, vocab).
PAD_TOKEN, MARKER_A, MARKER_B, FIRST_FILLER = 0, 1, 2, 3


class DatasetError(NeuralCanvasError):
    """A dataset cannot be loaded, split or augmented as asked; the message says what to do."""


# --------------------------------------------------------------------------- data types


@dataclass(frozen=True)
class Dataset:
    """A whole dataset, in memory, before splitting."""

    name: str
    x: torch.Tensor  # (n, *input_shape) float32, or int64 token ids
    y: torch.Tensor  # classification: int64 (n,); regression: float32 (n, k)
    task: str  # "classification" | "regression"
    num_classes: int | None
    kind: str  # one of KINDS; the GUI picks a preview by it
    feature_names: list[str] | None = None
    class_names: list[str] | None = None

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x.shape[1:])

    @property
    def target_shape(self) -> tuple[int, ...]:
        return tuple(self.y.shape[1:])

    def __len__(self) -> int:
        return int(self.x.shape[0])


@dataclass(frozen=True)
class Split:
    """One part of a dataset; ``indices`` are its rows in the :class:`Dataset`."""

    x: torch.Tensor
    y: torch.Tensor
    indices: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.x.shape[0])


@dataclass(frozen=True)
class Splits:
    """Train / validation / test parts. ``normalisation`` was fitted on ``train`` only and is
    already applied to all three; it is kept for export (see :func:`apply_normalisation`)."""

    dataset: Dataset
    train: Split
    val: Split | None
    test: Split | None
    normalisation: dict[str, Any]


# --------------------------------------------------------------------------- options

Check = Callable[[Any], str | None]  # None when the value is fine, else what was expected


@dataclass(frozen=True)
class Option:
    """One option of a dataset: its default, a short doc, and its check."""

    name: str
    default: Any
    doc: str
    check: Check = field(repr=False, compare=False)
    required: bool = False


@dataclass(frozen=True)
class DatasetInfo:
    """A registry entry: the loader, a one-line doc and the options it takes."""

    name: str
    doc: str
    kind: str | None  # None: depends on the file
    options: tuple[Option, ...]
    loader: Callable[[dict[str, Any], Path | None, int], Dataset] = field(repr=False, compare=False)
    needs_files: bool = False
    validation_default: float = 0.2


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "a list" if len(str(value)) > 40 else str(value)
    if isinstance(value, dict):
        return "an object"
    return repr(value)


def _int(lo: int, hi: int | None = None, nullable: bool = False) -> Check:
    def check(v: Any) -> str | None:
        if (v is None and nullable) or (_is_int(v) and v >= lo and (hi is None or v <= hi)):
            return None
        words = f"an integer >= {lo}" if hi is None else f"an integer from {lo} to {hi}"
        return words + (" or null" if nullable else "")

    return check


def _float(
    lo: float, hi: float | None = None, lo_open: bool = False, hi_open: bool = False
) -> Check:
    def check(v: Any) -> str | None:
        ok = _is_number(v) and (v > lo if lo_open else v >= lo)
        if ok and hi is not None:
            ok = v < hi if hi_open else v <= hi
        if ok:
            return None
        words = f"a number {'>' if lo_open else '>='} {lo:g}"
        if hi is not None:
            words += f" and {'<' if hi_open else '<='} {hi:g}"
        return words

    return check


def _bool(v: Any) -> str | None:
    return None if isinstance(v, bool) else "true or false"


def _choice(*values: Any) -> Check:
    def check(v: Any) -> str | None:
        # compare types too: True == 1 must not pass as a choice
        if any(type(v) is type(c) and v == c for c in values):
            return None
        return "one of " + ", ".join(_show(c) for c in values)

    return check


def _text(nullable: bool = False) -> Check:
    def check(v: Any) -> str | None:
        if (v is None and nullable) or (isinstance(v, str) and v.strip()):
            return None
        return "a non-empty text" + (" or null" if nullable else "")

    return check


def _delimiter(v: Any) -> str | None:
    ok = isinstance(v, str) and (v == "auto" or len(v) == 1)
    return None if ok else '"auto" or a single character such as "," or ";"'


def _column(v: Any) -> str | None:
    ok = v is None or (isinstance(v, str) and v != "") or _is_int(v)
    return None if ok else "a column name, a 0-based column index, or null"


def _columns(v: Any) -> str | None:
    ok = v is None or (
        isinstance(v, list)
        and len(v) > 0
        and all((isinstance(c, str) and c != "") or _is_int(c) for c in v)
    )
    return None if ok else "a non-empty list of column names or 0-based indices, or null"


def _object(v: Any) -> str | None:
    return None if v is None or isinstance(v, dict) else "an object"


_AUGMENT_CHECKS: dict[str, Check] = {"flip": _bool, "shift": _int(0), "noise": _float(0)}


def _augment_problems(options: Any, path: str) -> list[str]:
    if options is None:
        return []
    if not isinstance(options, dict):
        return [
            f'{path}: expected an object such as {{"flip": true, "shift": 1}}, got {_show(options)}'
        ]
    problems = []
    for key, value in options.items():
        check = _AUGMENT_CHECKS.get(key)
        if check is None:
            problems.append(
                f"{path}.{key}: unknown augmentation{_did_you_mean(key, _AUGMENT_CHECKS)}; use flip, shift or noise"
            )
        elif (expected := check(value)) is not None:
            problems.append(f"{path}.{key}: expected {expected}, got {_show(value)}")
    return problems


def _did_you_mean(word: str, choices: Sequence[str] | dict[str, Any]) -> str:
    close = difflib.get_close_matches(str(word).lower(), list(choices), n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


_FRACTION = _float(0, 1, hi_open=True)
SPLIT_OPTIONS: tuple[Option, ...] = (
    Option("validation", 0.2, "fraction of the rows held out for validation (0 = none)", _FRACTION),
    Option("test", 0.0, "fraction of the rows held out for the final test (0 = none)", _FRACTION),
    Option(
        "normalise",
        "none",
        '"none", "minmax" or "zscore"; fitted on the training split only, never on token ids',
        _choice(*NORMALISE),
    ),
    Option(
        "augment",
        {},
        'batch-time image augmentation: {"flip": bool, "shift": pixels, "noise": std}',
        _object,
    ),
)

_REGISTRY: dict[str, DatasetInfo] = {}


def _register(
    name: str,
    doc: str,
    kind: str | None,
    options: Sequence[Option] = (),
    needs_files: bool = False,
    validation: float = 0.2,
) -> Callable[[Callable[..., Dataset]], Callable[..., Dataset]]:
    def deco(loader: Callable[..., Dataset]) -> Callable[..., Dataset]:
        _REGISTRY[name] = DatasetInfo(
            name, doc, kind, tuple(options), loader, needs_files, validation
        )
        return loader

    return deco


def dataset_names() -> list[str]:
    """Every dataset name, in the order the palette should list them."""
    return list(_REGISTRY)


def dataset_info(name: str) -> DatasetInfo:
    """The registry entry of ``name``; unknown names raise :class:`DatasetError`."""
    if not isinstance(name, str):
        raise DatasetError(
            f'{SPEC_PATH}.name: expected a dataset name such as "xor", got {_show(name)}'
        )
    info = _REGISTRY.get(name) or _REGISTRY.get(name.strip().lower())
    if info is None:
        raise DatasetError(
            f"{SPEC_PATH}.name: unknown dataset {name!r}{_did_you_mean(name, _REGISTRY)}; "
            f"choose one of: {', '.join(_REGISTRY)}"
        )
    return info


def describe(name: str) -> str:
    """A dataset's one-line doc followed by one line per option with its default."""
    info = dataset_info(name)
    lines = [f"{info.name}: {info.doc}"]
    for opt in info.options:
        default = "(required)" if opt.required else json_text(opt.default)
        lines.append(f"  {opt.name} = {default}: {opt.doc}")
    split = ", ".join(
        f"{o.name}={json_text(info.validation_default if o.name == 'validation' else o.default)}"
        for o in SPLIT_OPTIONS
    )
    lines.append(f"  split options: {split}")
    return "\n".join(lines)


def json_text(value: Any) -> str:
    """``value`` as it is written in a project file."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, dict) and not value:
        return "{}"
    return str(value)


def _read_options(
    spec: dict[str, Any], info: DatasetInfo | None, split_only: bool = False
) -> dict[str, Any]:
    """Check the options of ``spec`` (all of ``info``'s, or the split options only) and
    return them with defaults filled in; all problems are reported at once."""
    own = info.options if info and not split_only else ()
    known = {o.name: o for o in (*own, *SPLIT_OPTIONS)}
    problems: list[str] = []
    values: dict[str, Any] = {}
    for opt in known.values():
        if opt.name not in spec:
            if opt.required:
                problems.append(f"{SPEC_PATH}.{opt.name}: required by {spec['name']!r}: {opt.doc}")
            default = info.validation_default if info and opt.name == "validation" else opt.default
            values[opt.name] = copy.deepcopy(default)
            continue
        value = spec[opt.name]
        if (expected := opt.check(value)) is not None:
            problems.append(f"{SPEC_PATH}.{opt.name}: expected {expected}, got {_show(value)}")
        elif opt.name == "augment":
            problems += _augment_problems(value, f"{SPEC_PATH}.augment")
        values[opt.name] = copy.deepcopy(value)
    if info is not None and not split_only:
        for key in spec:
            if key != "name" and key not in known:
                problems.append(
                    f"{SPEC_PATH}.{key}: unknown option for {info.name!r}"
                    f"{_did_you_mean(key, known)}; it takes: {', '.join(known)}"
                )
    if not problems and values["validation"] + values["test"] >= 1:
        problems.append(
            f"{SPEC_PATH}.test: validation ({values['validation']:g}) + test ({values['test']:g}) "
            "must be below 1 so that rows are left for training"
        )
    if problems:
        text = problems[0] if len(problems) == 1 else "\n".join(f"  - {p}" for p in problems)
        raise DatasetError(text if len(problems) == 1 else f"Invalid dataset settings:\n{text}")
    return values


def _check_spec(spec: Any) -> DatasetInfo:
    if not isinstance(spec, dict):
        raise DatasetError(
            f'{SPEC_PATH}: expected an object such as {{"name": "xor"}}, got {_show(spec)}'
        )
    name = spec.get("name")
    if not isinstance(name, str) or not name.strip():
        raise DatasetError(
            f'{SPEC_PATH}.name: expected a dataset name such as "xor", got {_show(name)}'
        )
    return dataset_info(name)


def _check_seed(seed: Any) -> int:
    if not _is_int(seed):
        raise DatasetError(f"training.seed: expected an integer, got {_show(seed)}")
    return seed


def _rng_seed(seed: int, salt: str) -> int:
    """``seed`` plus a fixed offset per use, so each dataset / split draws its own stream."""
    return (seed + zlib.crc32(salt.encode())) % 2**32


# --------------------------------------------------------------------------- public API


def load_dataset(spec: dict[str, Any], base_dir: Path | None = None, seed: int = 0) -> Dataset:
    """Load the dataset the project's ``training.dataset`` object names.

    Options are checked before anything is loaded; relative paths resolve against
    ``base_dir`` (the project file's folder). The same ``seed`` gives the same data.
    """
    info = _check_spec(spec)
    seed = _check_seed(seed)
    options = _read_options(spec, info)
    base = Path(base_dir) if base_dir is not None else None
    ds = _validated(info.loader(options, base, seed))
    _check_augment_fits(ds, options["augment"])
    return ds


def make_splits(ds: Dataset, spec: dict[str, Any], seed: int = 0) -> Splits:
    """Split ``ds`` into train / validation / test (stratified for classification) and
    normalise all three with statistics of the training split. Same seed, same splits."""
    options = _split_options(spec)
    rng = np.random.default_rng(_rng_seed(_check_seed(seed), "splits"))
    labels = _labels(ds)
    parts = _partition(
        labels, len(ds), [options["validation"], options["test"]], rng, ["validation", "test"]
    )
    train, val, test = parts[2], parts[0], parts[1]
    return _assemble(
        ds, train, val if len(val) else None, test if len(test) else None, options["normalise"]
    )


def kfold(ds: Dataset, spec: dict[str, Any], k: int, seed: int = 0) -> list[Splits]:
    """``k`` folds: fold *i* validates on a disjoint 1/k of the rows and trains on the rest
    (stratified for classification). A ``test`` fraction is held out first, the same in
    every fold; the ``validation`` option is not used."""
    options = _split_options(spec)
    if not _is_int(k) or k < 2:
        raise DatasetError(f"k-fold: expected k to be an integer >= 2, got {_show(k)}")
    rng = np.random.default_rng(_rng_seed(_check_seed(seed), "kfold"))
    labels = _labels(ds)
    test, rest = _partition(labels, len(ds), [options["test"]], rng, ["test"])
    if len(rest) < k:
        raise DatasetError(
            f"k-fold: {k} folds need at least {k} rows for training and validation, but "
            f"{ds.name} leaves {len(rest)}; use fewer folds or more data"
        )
    folds = _fold_ids(None if labels is None else labels[rest], len(rest), k, rng)
    out = []
    for i in range(k):
        val, train = rest[folds == i], rest[folds != i]
        out.append(_assemble(ds, train, val, test if len(test) else None, options["normalise"]))
    return out


def augment(
    x: torch.Tensor, options: dict[str, Any] | None, generator: torch.Generator
) -> torch.Tensor:
    """Return an augmented copy of the batch ``x``.

    ``options`` is ``training.dataset.augment``: ``flip`` mirrors each image left-right with
    probability 1/2, ``shift`` translates each image by a random whole number of pixels in
    [-shift, shift] along both axes (zero fill), ``noise`` adds Gaussian noise of that
    standard deviation. flip and shift need ``(N, C, H, W)``; noise works on any float shape.
    """
    problems = _augment_problems(options, "augment")
    if problems:
        raise DatasetError("\n".join(problems))
    options = options or {}
    flip, shift, noise = (
        options.get("flip", False),
        options.get("shift", 0),
        options.get("noise", 0.0),
    )
    _check_augment_shape(tuple(x.shape), x.dtype, options, "augment")
    out = x.clone()
    n = x.shape[0]
    dev = generator.device
    if flip:
        mask = (torch.rand(n, generator=generator, device=dev) < 0.5).to(x.device)
        out[mask] = out[mask].flip(-1)
    if shift:
        out = _shift(out, shift, generator)
    if noise:
        out = out + noise * torch.randn(out.shape, generator=generator, device=dev).to(out)
    return out


def apply_normalisation(x: torch.Tensor, normalisation: dict[str, Any]) -> torch.Tensor:
    """Apply the statistics of :attr:`Splits.normalisation` to new inputs ``x``
    (e.g. a grid of points for a decision-boundary plot, or inputs at inference)."""
    kind = normalisation.get("kind", "none")
    if kind == "none" or x.dtype == torch.int64:
        return x
    shape = normalisation["shape"]
    if kind == "zscore":
        mean = torch.tensor(normalisation["mean"], dtype=x.dtype, device=x.device).view(shape)
        std = torch.tensor(normalisation["std"], dtype=x.dtype, device=x.device).view(shape)
        return (x - mean) / std
    lo = torch.tensor(normalisation["min"], dtype=x.dtype, device=x.device).view(shape)
    hi = torch.tensor(normalisation["max"], dtype=x.dtype, device=x.device).view(shape)
    return (x - lo) / torch.where(hi > lo, hi - lo, torch.ones_like(hi))


# --------------------------------------------------------------------------- splitting


def _split_options(spec: Any) -> dict[str, Any]:
    if not isinstance(spec, dict):
        raise DatasetError(
            f'{SPEC_PATH}: expected an object such as {{"name": "xor"}}, got {_show(spec)}'
        )
    name = spec.get("name")
    info = _REGISTRY.get(name.strip().lower()) if isinstance(name, str) else None
    return _read_options(spec, info, split_only=True)


def _labels(ds: Dataset) -> np.ndarray | None:
    return ds.y.cpu().numpy() if ds.task == "classification" else None


def _partition(
    labels: np.ndarray | None,
    n: int,
    fractions: list[float],
    rng: np.random.Generator,
    names: list[str],
) -> list[np.ndarray]:
    """Row indices for each fraction, then the rest. Stratified when ``labels`` are given:
    each class gives floor or ceil of its share and keeps at least one row for training."""
    groups = (
        [np.arange(n)]
        if labels is None
        else [np.flatnonzero(labels == c) for c in np.unique(labels)]
    )
    groups = [rng.permutation(g) for g in groups]
    counts = np.array([len(g) for g in groups])
    used = np.zeros(len(groups), dtype=int)
    takes = []
    for fraction, name in zip(fractions, names):
        total = math.floor(fraction * n + 0.5)
        take = _allocate(counts, fraction, total, counts - 1 - used, rng)
        if fraction > 0 and take.sum() == 0:
            raise DatasetError(
                f"{SPEC_PATH}.{name}: {fraction:g} of {n} rows leaves no rows for it; "
                f"set {name} to 0 or a larger fraction, or use more data"
                + (' (option "repeat" or "samples")' if n < 50 else "")
            )
        takes.append(take)
        used += take
    out: list[list[np.ndarray]] = [[] for _ in range(len(fractions) + 1)]
    for g, group in enumerate(groups):
        start = 0
        for i, take in enumerate(takes):
            out[i].append(group[start : start + take[g]])
            start += take[g]
        out[-1].append(group[start:])
    return [rng.permutation(np.concatenate(parts)).astype(np.int64) for parts in out]


def _allocate(
    counts: np.ndarray, fraction: float, total: int, caps: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Largest-remainder apportionment of ``total`` rows over groups, each at most its cap."""
    caps = np.maximum(caps, 0)
    quota = fraction * counts
    take = np.minimum(np.floor(quota).astype(int), caps)
    order = rng.permutation(len(counts))
    order = order[np.argsort(-(quota - np.floor(quota))[order], kind="stable")]
    for bounded in (True, False):  # first within one row of each quota, then anywhere
        for g in order:
            if take.sum() >= total:
                return take
            if take[g] < caps[g] and (not bounded or take[g] < math.ceil(quota[g])):
                take[g] += 1
    return take


def _fold_ids(labels: np.ndarray | None, n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """A fold number for each row, dealt round-robin class by class (so per-class counts and
    fold sizes each differ by at most one)."""
    folds = np.empty(n, dtype=np.int64)
    groups = (
        [np.arange(n)]
        if labels is None
        else [np.flatnonzero(labels == c) for c in np.unique(labels)]
    )
    dealt = 0
    for g in rng.permutation(len(groups)):
        rows = rng.permutation(groups[g])
        folds[rows] = (dealt + np.arange(len(rows))) % k
        dealt += len(rows)
    return folds


def _assemble(
    ds: Dataset,
    train: np.ndarray,
    val: np.ndarray | None,
    test: np.ndarray | None,
    normalise: str,
) -> Splits:
    if ds.x.dtype == torch.int64 or normalise == "none":
        stats: dict[str, Any] = {"kind": "none"}
    else:
        stats = _fit_normalisation(ds.x[torch.from_numpy(train)], normalise, ds.kind)

    def part(idx: np.ndarray | None) -> Split | None:
        if idx is None:
            return None
        rows = torch.from_numpy(idx)
        return Split(apply_normalisation(ds.x[rows], stats), ds.y[rows], rows)

    return Splits(ds, part(train), part(val), part(test), stats)  # type: ignore[arg-type]


def _fit_normalisation(x: torch.Tensor, kind: str, data_kind: str) -> dict[str, Any]:
    """Per-channel statistics for images (axis 1), per-feature (last axis) otherwise."""
    axis = 1 if (data_kind == "image" and x.ndim == 4) else x.ndim - 1
    dims = [d for d in range(x.ndim) if d != axis]
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]
    x64 = x.double()
    if kind == "zscore":
        mean = x64.mean(dim=dims)
        std = x64.std(dim=dims, correction=0)
        std = torch.where(std > 1e-12, std, torch.ones_like(std))
        return {
            "kind": "zscore",
            "mean": mean.tolist(),
            "std": std.tolist(),
            "axis": axis,
            "shape": shape,
        }
    lo, hi = x64.amin(dim=dims), x64.amax(dim=dims)
    return {"kind": "minmax", "min": lo.tolist(), "max": hi.tolist(), "axis": axis, "shape": shape}


# --------------------------------------------------------------------------- augmentation


def _check_augment_shape(
    shape: tuple[int, ...], dtype: torch.dtype, options: dict[str, Any], path: str
) -> None:
    for key in ("flip", "shift"):
        if options.get(key) and len(shape) != 4:
            raise DatasetError(
                f"{path}.{key}: works on images (N, C, H, W) but the inputs have shape "
                f"{('N', *shape[1:])}; turn {key} off for this dataset"
            )
    if options.get("noise") and not dtype.is_floating_point:
        raise DatasetError(
            f"{path}.noise: works on float inputs, not {dtype} token ids; turn noise off"
        )


def _check_augment_fits(ds: Dataset, options: dict[str, Any] | None) -> None:
    if options:
        _check_augment_shape(tuple(ds.x.shape), ds.x.dtype, options, f"{SPEC_PATH}.augment")


def _shift(x: torch.Tensor, s: int, generator: torch.Generator) -> torch.Tensor:
    """Translate each image by its own random (dy, dx) in [-s, s]; vacated pixels are 0."""
    n, c, h, w = x.shape
    offsets = torch.randint(-s, s + 1, (n, 2), generator=generator, device=generator.device).to(
        x.device
    )
    padded = torch.nn.functional.pad(x, (s, s, s, s))
    rows = torch.arange(h, device=x.device)[None, :] + s - offsets[:, :1]  # (n, h)
    cols = torch.arange(w, device=x.device)[None, :] + s - offsets[:, 1:]  # (n, w)
    return padded[
        torch.arange(n, device=x.device)[:, None, None, None],
        torch.arange(c, device=x.device)[None, :, None, None],
        rows[:, None, :, None],
        cols[:, None, None, :],
    ]


# --------------------------------------------------------------------------- validation


def _bad_rows(values: torch.Tensor) -> tuple[int, int]:
    """How many non-finite values ``values`` holds and the first row that has one."""
    bad = ~torch.isfinite(values.reshape(values.shape[0], -1))
    count = int(bad.sum())
    first = int(bad.any(dim=1).nonzero()[0, 0]) if count else -1
    return count, first


def _validated(ds: Dataset) -> Dataset:
    """Check the invariants every loader must meet; data problems become DatasetError."""
    n = ds.x.shape[0]
    if n == 0:
        raise DatasetError(f"{ds.name}: the dataset has no rows; check the file or the options")
    if ds.y.shape[0] != n:
        raise DatasetError(
            f"{ds.name}: {n} inputs but {ds.y.shape[0]} targets; both need one row per sample"
        )
    if ds.x.dtype.is_floating_point:
        count, first = _bad_rows(ds.x)
        if count:
            raise DatasetError(
                f"{ds.name}: the inputs hold {count} NaN or infinite values (first in row {first}); "
                "clean or remove those rows"
            )
    if ds.task == "classification":
        classes = torch.unique(ds.y)
        if len(classes) < 2:
            raise DatasetError(
                f"{ds.name}: the target has a single class ({_class_name(ds, int(classes[0]))}); "
                "a classifier needs at least two classes"
            )
    else:
        count, first = _bad_rows(ds.y)
        if count:
            raise DatasetError(
                f"{ds.name}: the target holds {count} NaN or infinite values (first in row {first}); "
                "clean or remove those rows"
            )
    return ds


def _class_name(ds: Dataset, index: int) -> str:
    if ds.class_names and 0 <= index < len(ds.class_names):
        return repr(ds.class_names[index])
    return str(index)


def _class_dataset(
    name: str,
    x: np.ndarray | torch.Tensor,
    y: np.ndarray,
    kind: str,
    class_names: list[str] | None = None,
    feature_names: list[str] | None = None,
    num_classes: int | None = None,
) -> Dataset:
    k = num_classes or int(np.max(y)) + 1
    xt = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x, dtype=np.float32))
    return Dataset(
        name,
        xt,
        torch.as_tensor(np.asarray(y, dtype=np.int64)),
        "classification",
        k,
        kind,
        feature_names,
        class_names or [str(i) for i in range(k)],
    )


def _regression_dataset(
    name: str,
    x: np.ndarray | torch.Tensor,
    y: np.ndarray,
    kind: str,
    feature_names: list[str] | None = None,
) -> Dataset:
    y = np.asarray(y, dtype=np.float32)
    xt = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x, dtype=np.float32))
    return Dataset(
        name, xt, torch.as_tensor(y.reshape(len(y), -1)), "regression", None, kind, feature_names
    )


# --------------------------------------------------------------------------- built-in data

_SAMPLES = lambda default: Option("samples", default, "number of rows", _int(2))  # noqa: E731
_NOISE = lambda default, what: Option("noise", default, what, _float(0))  # noqa: E731
_XY = ["x1", "x2"]
_TABLE = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
_REPEAT = Option(
    "repeat", 1, "how many times the 4-row table is repeated (for mini-batches)", _int(1)
)


def _truth_table(name: str, outputs: list[int]) -> Callable[..., Dataset]:
    def load(o: dict[str, Any], base: Path | None, seed: int) -> Dataset:
        reps = o["repeat"]
        return _class_dataset(
            name,
            np.tile(_TABLE, (reps, 1)),
            np.tile(outputs, reps),
            "points2d",
            ["0", "1"],
            ["a", "b"],
            2,
        )

    return load


for _name, _out, _what in (
    ("and", [0, 0, 0, 1], "AND"),
    ("or", [0, 1, 1, 1], "OR"),
    ("xor", [0, 1, 1, 0], "XOR"),
):
    _register(
        _name,
        f"the {_what} truth table: inputs in {{0, 1}}², 4 rows (trains on all of them: validation defaults to 0)",
        "points2d",
        [_REPEAT],
        validation=0.0,
    )(_truth_table(_name, _out))


@_register(
    "moons",
    "two interleaving half circles, 2 classes (scikit-learn make_moons)",
    "points2d",
    [_SAMPLES(400), _NOISE(0.1, "standard deviation of Gaussian noise added to the points")],
)
def _moons(o: dict[str, Any], base: Path | None, seed: int) -> Dataset:
    from sklearn.datasets import make_moons

    x, y = make_moons(
        n_samples=o["samples"], noise=o["noise"], random_state=_rng_seed(seed, "moons")
    )
    return _class_dataset("moons", x, y, "points2d", feature_names=_XY, num_classes=2)


@_register(
    "circles",
    "a small circle inside a large one, 2 classes (scikit-learn make_circles)",
    "points2d",
    [
        _SAMPLES(400),
        _NOISE(0.1, "standard deviation of Gaussian noise added to the points"),
        Option(
            "factor",
            0.5,
            "radius of the inner circle relative to the outer one, in (0, 1)",
            _float(0, 1, True, True),
        ),
    ],
)
def _circles(o: dict[str, Any], base: Path | None, seed: int) -> Dataset:
    from sklearn.datasets import make_circles

    x, y = make_circles(
        n_samples=o["samples"],
        noise=o["noise"],
        factor=o["factor"],
        random_state=_rng_seed(seed, "circles"),
    )
    return _class_dataset("circles", x, y, "points2d", ["outer", "inner"], _XY, 2)


@_register(
    "blobs",
    "Gaussian blobs around random centres, one class per blob (scikit-learn make_blobs)",
    "points2d",
    [
        _SAMPLES(400),
        Option("classes", 3, "number of blobs (classes)", _int(2)),
        Option("std", 1.0, "standard deviation of each blob", _float(0, lo_open=True)),
    ],
)
def _blobs(o: dict[str, Any], base: Path | None, seed: int) -> Dataset:
    from sklearn.datasets import make_blobs

    _enough_samples(o, "blobs")
    x, y = make_blobs(
        n_samples=o["samples"],
        centers=o["classes"],
        cluster_std=o["std"],
        random_state=_rng_seed(seed, "blobs"),
    )
    return _class_dataset("blobs", x, y, "points2d", feature_names=_XY, num_classes=o["classes"])


def _enough_samples(o: dict[str, Any], name: str) -> None:
    if o["samples"] < o["classes"]:
        raise DatasetError(
            f"{SPEC_PATH}.samples: {name} needs at least one sample per class "
            f"({o['classes']}), got {o['samples']}; raise samples or lower classes"
        )


@_register(
    "spirals",
    "2 or 3 interleaved spiral arms, one class per arm; noise jitters the angle (radians)",
    "points2d",
    [
        _SAMPLES(400),
        Option("classes", 2, "number of arms (classes)", _int(2, 3)),
        _NOISE(0.2, "standard deviation of the angle noise, in radians"),
    ],
)
def _spirals(o: dict[str, Any], base: Path | None, seed: int) -> Dataset:
    _enough_samples(o, "spirals")
    rng = np.random.default_rng(_rng_seed(seed, "spirals"))
    k = o["classes"]
    xs, ys = [], []
    for c, part in enumerate(np.array_split(np.arange(o["samples"]), k)):
        m = len(part)
        r = np.linspace(0.05, 1.0, m)
        theta = 2 * np.pi * c / k + 3 * np.pi * r + rng.normal(0.0, o["noise"], m)
        xs.append(np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1))
        ys.append(np.full(m, c))
    return _class_dataset(
        "spirals",
        np.concatenate(xs),
        np.concatenate(ys),
        "points2d",
        feature_names=_XY,
        num_classes=k,
    )


@_register(
    "sine",
    "regression: x uniform in [-π, π], y = sin(x) + Gaussian noise",
    "tabular",
    [_SAMPLES(400), _NOISE(0.05, "standard deviation of the noise on y")],
)
def _sine(o: dict[str, Any], base: Path | None, seed: int) -> Dataset:
    rng = np.random.default_rng(_rng_seed(seed, "sine"))
    x = rng.uniform(-np.pi, np.pi, (o["samples"], 1))
    y = np.sin(x) + rng.normal(0.0, o["noise"], x.shape)
    return _regression_dataset("sine", x, y, "tabular", ["x"])


_STEPS = Option("steps", 20, "time steps per sequence", _int(2))


def _sine_waves(
    rng: np.random.Generator, n: int, steps: int, periods: np.ndarray, noise: float
) -> np.ndarray:
    amplitude = rng.uniform(0.5, 1.5, (n, 1))
    phase = rng.uniform(0.0, 2 * np.pi, (n, 1))
    t = np.arange(steps)[None, :]
    return amplitude * np.sin(2 * np.pi * t / periods[:, None] + phase) + rng.normal(
        0.0, noise, (n, steps)
    )


@_register(
    "sine_sequences",
    "sequence classification: noisy sine waves of random phase and amplitude; "
    "class 0 = low frequency (period 12–30 steps), class 1 = high (period 4–8 steps)",
    "sequence",
    [_SAMPLES(600), _STEPS, _NOISE(0.1, "standard deviation of the noise on each step")],
)
def _sine_sequences(o: dict[str, Any], base: Path | None, seed: int) -> Dataset:
    rng = np.random.default_rng(_rng_seed(seed, "sine_sequences"))
    n = o["samples"]
    y = rng.permutation(np.arange(n) % 2)
    periods = np.where(y == 0, rng.uniform(12.0, 30.0, n), rng.uniform(4.0, 8.0, n))
    x = _sine_waves(rng, n, o["steps"], periods, o["noise"])[:, :, None]
    return _class_dataset("sine_sequences", x, y, "sequence", ["low", "high"], ["value"], 2)


@_register(
    "sine_forecast",
    "sequence regression: a window of a noisy sine wave (period 8–30 steps); y is the next value",
    "sequence",
    [_SAMPLES(600), _STEPS, _NOISE(0.05, "standard deviation of the noise on each step")],
)
def _sine_forecast(o: dict[str, Any], base: Path | None, seed: int) -> Dataset:
    rng = np.random.default_rng(_rng_seed(seed, "sine_forecast"))
    n, steps = o["samples"], o["steps"]
    series = _sine_waves(rng, n, steps + 1, rng.uniform(8.0, 30.0, n), o["noise"])
    return _regression_dataset(
        "sine_forecast", series[:, :steps, None], series[:, steps:], "sequence", ["value"]
    )


@_register(
    "token_sequences",
    "token classification: int64 ids; each sequence holds marker tokens 1 and 2 once among "
    "random filler tokens (>= 3); class 0 = token 1 comes first, class 1 = token 2 comes first",
    "tokens",
    [
        Option("samples", 4000, "number of sequences", _int(2)),
        Option("steps", 16, "tokens per sequence", _int(2)),
        Option(
            "vocab",
            1000,
            "vocabulary size: ids are in [0, vocab); match the Embedding's num_embeddings",
            _int(4),
        ),
    ],
)
def _token_sequences(o: dict[str, Any], base: Path | None, seed: int) -> Dataset:
    rng = np.random.default_rng(_rng_seed(seed, "token_sequences"))
    n, steps = o["samples"], o["steps"]
    x = rng.integers(FIRST_FILLER, o["vocab"], (n, steps))
    y = rng.permutation(np.arange(n) % 2)
    # two distinct positions per row: the earlier gets the marker of the row's class
    pos = np.argsort(rng.random((n, steps)), axis=1)[:, :2]
    first, second = pos.min(axis=1), pos.max(axis=1)
    rows = np.arange(n)
    x[rows, first] = np.where(y == 0, MARKER_A, MARKER_B)
    x[rows, second] = np.where(y == 0, MARKER_B, MARKER_A)
    return _class_dataset(
        "token_sequences",
        torch.as_tensor(x, dtype=torch.int64),
        y,
        "tokens",
        ["1 first", "2 first"],
        None,
        2,
    )


@_register(
    "digits",
    "8×8 grey images of handwritten digits, 10 classes, 1797 rows (scikit-learn, offline); "
    "pixels scaled to [0, 1]",
    "image",
    [
        Option(
            "flat",
            False,
            "true: rows of 64 pixels (kind tabular) instead of (1, 8, 8) images",
            _bool,
        )
    ],
)
def _digits(o: dict[str, Any], base: Path | None, seed: int) -> Dataset:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.data / 16.0).astype(np.float32)
    names = [str(i) for i in range(10)]
    if o["flat"]:
        return _class_dataset(
            "digits", x, bunch.target, "tabular", names, list(bunch.feature_names), 10
        )
    return _class_dataset("digits", x.reshape(-1, 1, 8, 8), bunch.target, "image", names, None, 10)


def _sklearn_table(name: str, doc: str) -> None:
    @_register(name, doc, "tabular")
    def load(o: dict[str, Any], base: Path | None, seed: int) -> Dataset:
        from sklearn import datasets as sk

        bunch = getattr(sk, f"load_{name}")()
        classes = [str(c) for c in bunch.target_names]
        return _class_dataset(
            name,
            bunch.data,
            bunch.target,
            "tabular",
            classes,
            [str(f) for f in bunch.feature_names],
            len(classes),
        )


_sklearn_table("iris", "iris flowers: 4 measurements, 3 species, 150 rows (scikit-learn, offline)")
_sklearn_table(
    "wine", "wines: 13 chemical measurements, 3 cultivars, 178 rows (scikit-learn, offline)"
)
_sklearn_table(
    "breast_cancer",
    "breast tumours: 30 cell measurements, malignant / benign, 569 rows (scikit-learn, offline)",
)


# --------------------------------------------------------------------------- files


def _resolve(value: str, base: Path | None, option: str, folder: bool = False) -> Path:
    path = Path(value).expanduser()
    if not path.is_absolute() and base is not None:
        path = base / path
    where = (
        f" (relative paths are read from the project's folder {base})" if base is not None else ""
    )
    if not path.exists():
        what = "folder" if folder else "file"
        raise DatasetError(f"{SPEC_PATH}.{option}: {what} not found: {path}{where}; check the path")
    if folder and not path.is_dir():
        raise DatasetError(
            f"{SPEC_PATH}.{option}: {path} is a file; give the folder that holds the files"
        )
    if not folder and not path.is_file():
        raise DatasetError(f"{SPEC_PATH}.{option}: {path} is a folder; give a file")
    return path


def _read_bytes(path: Path, option: str) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                return fh.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:
        raise DatasetError(f"{SPEC_PATH}.{option}: cannot read {path}: {exc}") from None


def _auto_task(values: np.ndarray, numeric: bool) -> str:
    if not numeric:
        return "classification"
    integral = bool(np.all(np.isfinite(values)) and np.all(values == np.round(values)))
    return (
        "classification"
        if integral and len(np.unique(values)) <= MAX_AUTO_CLASSES
        else "regression"
    )


def _targets(
    raw: np.ndarray, numeric: bool, task: str, source: str, column: str, row: Callable[[int], str]
) -> tuple[np.ndarray, str, list[str] | None]:
    """Turn a 1-D target column into class indices (with names) or regression values."""
    if task == "auto":
        task = _auto_task(raw, numeric)
    if task == "regression":
        if not numeric:
            bad = next(i for i, v in enumerate(raw) if not _is_numeric_text(str(v)))
            raise DatasetError(
                f"{source}: target {column} is not numeric ({str(raw[bad])!r} at {row(bad)}); "
                'use "task": "classification" for labels'
            )
        values = raw.astype(np.float64)
        bad = np.flatnonzero(~np.isfinite(values))
        if len(bad):
            raise DatasetError(
                f"{source}: target {column} holds {len(bad)} empty, NaN or infinite values "
                f"(first at {row(int(bad[0]))}); fill or remove those rows"
            )
        return values, task, None
    if numeric:
        finite = np.isfinite(raw)
        if not finite.all():
            first = int(np.flatnonzero(~finite)[0])
            raise DatasetError(
                f"{source}: target {column} holds {int((~finite).sum())} empty, NaN or infinite "
                f"values (first at {row(first)}); fill or remove those rows"
            )
        fractional = np.flatnonzero(raw != np.round(raw))
        if len(fractional):
            i = int(fractional[0])
            raise DatasetError(
                f"{source}: target {column} has non-integer values ({raw[i]:g} at {row(i)}), so it "
                'cannot be a class label; use "task": "regression"'
            )
        values, index = np.unique(raw, return_inverse=True)
        names = [str(int(v)) for v in values]
    else:
        values, index = np.unique(raw.astype(str), return_inverse=True)
        names = [str(v) for v in values]
    if len(names) < 2:
        raise DatasetError(
            f"{source}: target {column} has a single class ({names[0]!r}); a classifier needs at "
            "least two classes: check the target column"
        )
    return index.astype(np.int64), task, names


def _is_numeric_text(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _kind_for(x: torch.Tensor, task: str) -> str:
    if x.dtype == torch.int64:
        return "tokens"
    if x.ndim == 4:
        return "image"
    if x.ndim == 3:
        return "sequence"
    if x.ndim == 2 and x.shape[1] == 2 and task == "classification":
        return "points2d"
    return "tabular"


_TASK = Option(
    "task",
    "auto",
    '"auto", "classification" or "regression"; auto: classification when the target is text, '
    f"or whole numbers with at most {MAX_AUTO_CLASSES} distinct values",
    _choice("auto", "classification", "regression"),
)


@_register(
    "csv",
    "your own table from a CSV file: numeric feature columns and one target column",
    None,
    [
        Option(
            "path", None, "the CSV file (relative to the project's folder)", _text(), required=True
        ),
        Option(
            "features",
            None,
            "feature columns: names or 0-based indices (default: all but the target)",
            _columns,
        ),
        Option(
            "target",
            None,
            "the target column: name or 0-based index (default: the last column)",
            _column,
        ),
        Option(
            "header",
            "auto",
            '"auto", true or false; auto: the first row is a header when a cell of it is text '
            "and the cell below it is a number",
            _choice("auto", True, False),
        ),
        _TASK,
        Option(
            "delimiter",
            "auto",
            '"auto" (detected) or the separator character, e.g. ";"',
            _delimiter,
        ),
    ],
    needs_files=True,
)
def _csv(o: dict[str, Any], base: Path | None, seed: int) -> Dataset:
    path = _resolve(o["path"], base, "path")
    shown = o["path"]
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetError(
            f"{shown}: not a UTF-8 text file ({exc.reason} at byte {exc.start}); save it as UTF-8 CSV"
        ) from None
    except OSError as exc:
        raise DatasetError(f"{SPEC_PATH}.path: cannot read {shown}: {exc}") from None
    if not text.strip():
        raise DatasetError(f"{shown}: the CSV file is empty; add a header and rows of data")
    delimiter = _sniff(text) if o["delimiter"] == "auto" else o["delimiter"]
    rows, lines = _csv_rows(text, delimiter, shown)
    header = _has_header(rows) if o["header"] == "auto" else o["header"]
    width = len(rows[0])
    if header:
        names = [c or f"col{i}" for i, c in enumerate(rows[0])]
        rows, lines = rows[1:], lines[1:]
        if not rows:
            raise DatasetError(
                f"{shown}: the CSV file has a header but no data rows; add rows of data"
            )
    else:
        names = [f"col{i}" for i in range(width)]
    columns = list(zip(*rows))
    target = _column_index(o["target"], names, header, shown, "target", width - 1)
    if o["features"] is None:
        features = [i for i in range(width) if i != target]
    else:
        features = [_column_index(c, names, header, shown, "features", 0) for c in o["features"]]
        dupes = sorted({names[i] for i in features if features.count(i) > 1})
        if dupes:
            raise DatasetError(
                f"{SPEC_PATH}.features: column {dupes[0]!r} is listed twice; list each column once"
            )
        if target in features:
            raise DatasetError(
                f"{SPEC_PATH}.features: {names[target]!r} is also the target column; "
                "remove it from features or choose another target"
            )
    if not features:
        raise DatasetError(
            f"{shown}: no feature columns are left besides the target {names[target]!r}; add columns"
        )

    def row(i: int) -> str:
        return f"line {lines[i]}"

    x = np.stack([_numeric_column(columns[i], names[i], shown, row) for i in features], axis=1)
    raw_target = columns[target]
    tname = repr(names[target])
    empty = [i for i, v in enumerate(raw_target) if v == ""]
    if len(empty) == len(raw_target):
        raise DatasetError(
            f"{shown}: the target column {tname} is empty; choose another target or fill it"
        )
    if empty:
        raise DatasetError(
            f"{shown}: the target column {tname} has {len(empty)} empty cells (first at "
            f"{row(empty[0])}); fill or remove those rows"
        )
    numeric = all(_is_numeric_text(v) for v in raw_target)
    raw = np.array([float(v) for v in raw_target]) if numeric else np.array(raw_target, dtype=str)
    y, task, class_names = _targets(raw, numeric, o["task"], shown, f"column {tname}", row)
    feature_names = [names[i] for i in features]
    xt = torch.as_tensor(x.astype(np.float32))
    if task == "regression":
        return _regression_dataset(path.name, xt, y, _kind_for(xt, task), feature_names)
    return _class_dataset(
        path.name, xt, y, _kind_for(xt, task), class_names, feature_names, len(class_names or [])
    )


def _sniff(text: str) -> str:
    try:
        return csv.Sniffer().sniff(text[:65536], delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _csv_rows(text: str, delimiter: str, shown: str) -> tuple[list[list[str]], list[int]]:
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            rows.append([c.strip() for c in cells])
            lines.append(reader.line_num)
    except csv.Error as exc:
        raise DatasetError(
            f"{shown}: line {reader.line_num}: {exc}; fix the quoting in that line"
        ) from None
    if not rows:
        raise DatasetError(f"{shown}: the CSV file is empty; add a header and rows of data")
    width = len(rows[0])
    for cells, line in zip(rows, lines):
        if len(cells) != width:
            raise DatasetError(
                f"{shown}: line {line} has {len(cells)} columns but line {lines[0]} has {width}; "
                f"every row needs the same columns (is the delimiter {delimiter!r} right?)"
            )
    return rows, lines


def _has_header(rows: list[list[str]]) -> bool:
    """The first row is a header when one of its cells is text and the cell below is a number."""
    if len(rows) < 2:
        return not all(_is_numeric_text(c) for c in rows[0])
    return any(not _is_numeric_text(a) and _is_numeric_text(b) for a, b in zip(rows[0], rows[1]))


def _column_index(
    ref: Any, names: list[str], header: bool, shown: str, option: str, default: int
) -> int:
    width = len(names)
    if ref is None:
        return default
    if isinstance(ref, int):
        if -width <= ref < width:
            return ref % width
        raise DatasetError(
            f"{SPEC_PATH}.{option}: column index {ref} is out of range: {shown} has {width} "
            f"columns (0 to {width - 1})"
        )
    if ref in names:
        return names.index(ref)
    hint = (
        ""
        if header
        else " (the file has no header row, so columns are named col0, col1, ... or given by 0-based index)"
    )
    raise DatasetError(
        f"{SPEC_PATH}.{option}: no column {ref!r} in {shown}{_did_you_mean(ref, names)}; "
        f"available columns: {', '.join(names)}{hint}"
    )


def _numeric_column(
    cells: Sequence[str], name: str, shown: str, row: Callable[[int], str]
) -> np.ndarray:
    out = np.empty(len(cells), dtype=np.float64)
    empty = 0
    for i, cell in enumerate(cells):
        if cell == "":
            out[i] = np.nan
            empty += 1
            continue
        try:
            out[i] = float(cell)
        except ValueError:
            raise DatasetError(
                f"{shown}: column {name!r} is not numeric: {cell!r} at {row(i)}; choose numeric "
                "columns with the features option, or encode this column as numbers"
            ) from None
    if empty == len(cells):
        raise DatasetError(f"{shown}: column {name!r} is empty; remove it from features or fill it")
    bad = np.flatnonzero(~np.isfinite(out))
    if len(bad):
        raise DatasetError(
            f"{shown}: column {name!r} has {len(bad)} empty, NaN or infinite values (first at "
            f"{row(int(bad[0]))}); fill or remove those rows"
        )
    return out


@_register(
    "numpy",
    "your own arrays: a .npz file (keys x and y) or a .npy file of inputs plus a .npy of targets",
    None,
    [
        Option(
            "path",
            None,
            "a .npz file, or the .npy file of inputs (relative to the project's folder)",
            _text(),
            required=True,
        ),
        Option(
            "target_path",
            None,
            "the .npy file of targets (needed with a .npy path)",
            _text(nullable=True),
        ),
        Option("x_key", "x", "the inputs' key in the .npz file", _text()),
        Option("y_key", "y", "the targets' key in the .npz file", _text()),
        _TASK,
        Option(
            "x_dtype",
            "float32",
            '"float32", or "int64" for token ids (whole numbers >= 0)',
            _choice("float32", "int64"),
        ),
    ],
    needs_files=True,
)
def _numpy(o: dict[str, Any], base: Path | None, seed: int) -> Dataset:
    path = _resolve(o["path"], base, "path")
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".npz"):
        raise DatasetError(
            f"{SPEC_PATH}.path: {o['path']} is not a .npy or .npz file; save the arrays with numpy.save or numpy.savez"
        )
    if suffix == ".npy" and o["target_path"] is None:
        raise DatasetError(
            f"{SPEC_PATH}.target_path: {o['path']} holds only the inputs; give the targets' "
            ".npy file as target_path, or save both in one .npz with keys x and y"
        )
    target = _resolve(o["target_path"], base, "target_path") if o["target_path"] else None
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
        raise DatasetError(f"{xname}: the inputs have dtype {x.dtype}; they must be numbers")
    if x.ndim == 0 or y.ndim == 0:
        raise DatasetError(f"{xname}: the arrays need one row per sample; got a single value")
    if x.ndim == 1:
        x = x[:, None]
    if len(x) != len(y):
        raise DatasetError(
            f"{xname} has {len(x)} rows but {yname} has {len(y)}; both need one row per sample"
        )
    if o["x_dtype"] == "int64":
        xf = x.astype(np.float64)
        if not np.all(np.isfinite(xf)) or np.any(xf != np.round(xf)) or np.any(xf < 0):
            raise DatasetError(
                f"{xname}: token ids must be whole numbers >= 0; use x_dtype float32 for other data"
            )
        xt = torch.as_tensor(x.astype(np.int64))
    else:
        xt = torch.as_tensor(x.astype(np.float32))
    if y.dtype.kind not in "biufUS":
        raise DatasetError(
            f"{yname}: the targets have dtype {y.dtype}; they must be numbers or text labels"
        )
    if y.ndim > 1 and not (y.ndim == 2 and y.shape[1] == 1 and o["task"] != "regression"):
        if o["task"] == "classification" or y.dtype.kind in "US":
            raise DatasetError(
                f"{yname}: class labels must be one value per row, got shape {y.shape}; "
                "give a 1-D array of labels, or numbers with task regression"
            )
        return _regression_dataset(
            path.name, xt, y.reshape(len(y), -1), _kind_for(xt, "regression")
        )
    flat = y.reshape(len(y))
    numeric = flat.dtype.kind in "biuf"
    raw = flat.astype(np.float64) if numeric else flat.astype(str)
    values, task, class_names = _targets(
        raw, numeric, o["task"], yname, "array", lambda i: f"row {i}"
    )
    if task == "regression":
        return _regression_dataset(path.name, xt, values, _kind_for(xt, task))
    return _class_dataset(
        path.name, xt, values, _kind_for(xt, task), class_names, None, len(class_names or [])
    )


def _load_npy(path: Path, shown: str) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise DatasetError(
            f"{shown}: cannot read it as a NumPy .npy file ({exc}); save plain numeric arrays with numpy.save"
        ) from None
    if not isinstance(array, np.ndarray):
        raise DatasetError(f"{shown}: is not a .npy array file; save it with numpy.save")
    return array


def _load_npz(path: Path, shown: str, keys: list[str]) -> list[np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            if not hasattr(archive, "files"):
                raise DatasetError(f"{shown}: is not a .npz archive; save it with numpy.savez")
            for key in keys:
                if key not in archive.files:
                    option = "x_key" if key == keys[0] else "y_key"
                    raise DatasetError(
                        f"{shown}: has no array {key!r}; it holds {', '.join(archive.files) or 'nothing'}: "
                        f"set {option} to one of them"
                    )
            return [archive[key] for key in keys]
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DatasetError(
            f"{shown}: cannot read it as a NumPy .npz file ({exc}); save plain numeric arrays with numpy.savez"
        ) from None


_IDX_FILES = {"train": "train", "test": "t10k"}


@_register(
    "idx",
    "MNIST / Fashion-MNIST from IDX files in a local folder (e.g. train-images-idx3-ubyte[.gz]); "
    "images (1, 28, 28) scaled to [0, 1]",
    "image",
    [
        Option(
            "folder",
            None,
            "the folder holding the IDX files (relative to the project's folder)",
            _text(),
            required=True,
        ),
        Option("which", "train", '"train" (train-*) or "test" (t10k-*)', _choice("train", "test")),
        Option("limit", None, "use only the first N images (null = all)", _int(1, nullable=True)),
    ],
    needs_files=True,
)
def _idx(o: dict[str, Any], base: Path | None, seed: int) -> Dataset:
    folder = _resolve(o["folder"], base, "folder", folder=True)
    prefix = _IDX_FILES[o["which"]]
    images_path = _find_idx(folder, prefix, "images", 3, o["folder"])
    labels_path = _find_idx(folder, prefix, "labels", 1, o["folder"])
    images = _parse_idx(_read_bytes(images_path, "folder"), images_path.name, 3)
    labels = _parse_idx(_read_bytes(labels_path, "folder"), labels_path.name, 1)
    if len(images) != len(labels):
        raise DatasetError(
            f"{labels_path.name} has {len(labels)} labels but {images_path.name} has {len(images)} "
            "images; use the label file that belongs to these images"
        )
    if o["limit"] is not None:
        images, labels = images[: o["limit"]], labels[: o["limit"]]
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    k = max(10, int(labels.max()) + 1)
    return _class_dataset(
        f"{folder.name}/{prefix}", x, labels.astype(np.int64), "image", None, None, k
    )


def _find_idx(folder: Path, prefix: str, what: str, ndim: int, shown: str) -> Path:
    stems = [f"{prefix}-{what}-idx{ndim}-ubyte", f"{prefix}-{what}.idx{ndim}-ubyte"]
    for stem in stems:
        for name in (stem, f"{stem}.gz"):
            if (folder / name).is_file():
                return folder / name
    raise DatasetError(
        f"{SPEC_PATH}.folder: {shown} has no {stems[0]} (or {stems[0]}.gz); put the MNIST or "
        "Fashion-MNIST IDX files there (nothing is downloaded)"
    )


def _parse_idx(data: bytes, name: str, ndim: int) -> np.ndarray:
    expected_magic = 0x0800 | ndim
    if len(data) < 4 + 4 * ndim:
        raise DatasetError(
            f"{name}: the file is too short ({len(data)} bytes) to be an IDX file; download it again"
        )
    (magic,) = struct.unpack(">I", data[:4])
    if magic != expected_magic:
        raise DatasetError(
            f"{name}: magic number 0x{magic:08x}, expected 0x{expected_magic:08x} (unsigned bytes, "
            f"{ndim} dimension{'s' if ndim > 1 else ''}); is this the right (uncompressed or .gz) IDX file?"
        )
    dims = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    header = 4 + 4 * ndim
    size = math.prod(dims)
    if len(data) - header != size:
        raise DatasetError(
            f"{name}: the header says {' x '.join(map(str, dims))} = {size} bytes of data but the "
            f"file holds {len(data) - header}; the file is truncated or corrupt: download it again"
        )
    if dims[0] == 0:
        raise DatasetError(f"{name}: the file holds no items")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)
