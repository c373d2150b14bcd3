"""The dataset registry: :func:`register` adds a loader with its options; the lookups
(:func:`dataset_names`, :func:`dataset_info`, :func:`describe`), the check of a project's
``training.dataset`` object (:func:`read_options`) and :func:`load_dataset`, which checks
every loader's result.

The built-in datasets are registered in :mod:`builder.data.builtin`; ``builder.data`` imports
it, so the registry is full whatever module of the package is imported first. A loader is
portable code (:mod:`builder.data.generated` etc.), so it raises
:class:`builder.data.problems.DataError`; :func:`load_dataset` turns that into a
:class:`DatasetError`."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from builder.data.augment_checks import augment_problems, check_augment_fits
from builder.data.dataset import Dataset
from builder.data.errors import DatasetError
from builder.data.options import SPLIT_OPTIONS, Option, is_int, json_text, show
from builder.data.problems import SPEC_PATH, DataError, did_you_mean


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
    # For a generated dataset: (rows, values per row, inputs and target) it makes with
    # these (checked) options, known before it is made; None for a file's.
    size: Callable[[dict[str, Any]], tuple[int, int]] | None = field(
        default=None, repr=False, compare=False
    )


# The most values (rows x values per row) a generated dataset may make: 1.6 GB while numpy
# draws it in float64, 0.8 GB as float32. Its options are refused above it (with the
# figure), before anything is drawn; the run's memory check (builder.budget) comes after.
MAX_GENERATED_VALUES = 200_000_000


REGISTRY: dict[str, DatasetInfo] = {}


def register(
    name: str,
    doc: str,
    kind: str | None,
    options: Sequence[Option] = (),
    needs_files: bool = False,
    validation: float = 0.2,
    size: Callable[[dict[str, Any]], tuple[int, int]] | None = None,
) -> Callable[[Callable[..., Dataset]], Callable[..., Dataset]]:
    def deco(loader: Callable[..., Dataset]) -> Callable[..., Dataset]:
        REGISTRY[name] = DatasetInfo(
            name, doc, kind, tuple(options), loader, needs_files, validation, size
        )
        return loader

    return deco


def dataset_names() -> list[str]:
    """Every dataset name, in the order the palette should list them."""
    return list(REGISTRY)


def dataset_info(name: str) -> DatasetInfo:
    """The registry entry of ``name``; unknown names raise :class:`DatasetError`."""
    if not isinstance(name, str):
        raise DatasetError(
            f'{SPEC_PATH}.name: expected a dataset name such as "xor", got {show(name)}'
        )
    info = REGISTRY.get(name) or REGISTRY.get(name.strip().lower())
    if info is None:
        raise DatasetError(
            f"{SPEC_PATH}.name: unknown dataset {name!r}{did_you_mean(name, REGISTRY)}; "
            f"choose one of: {', '.join(REGISTRY)}"
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


def read_options(
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
            problems.append(f"{SPEC_PATH}.{opt.name}: expected {expected}, got {show(value)}")
        elif opt.name == "augment":
            problems += augment_problems(value, f"{SPEC_PATH}.augment")
        values[opt.name] = copy.deepcopy(value)
    if info is not None and not split_only:
        for key in spec:
            if key != "name" and key not in known:
                problems.append(
                    f"{SPEC_PATH}.{key}: unknown option for {info.name!r}"
                    f"{did_you_mean(key, known)}; it takes: {', '.join(known)}"
                )
    if not problems and values["validation"] + values["test"] >= 1:
        problems.append(
            f"{SPEC_PATH}.test: validation ({values['validation']:g}) + test ({values['test']:g}) "
            "must be below 1 so that rows are left for training"
        )
    if not problems and info is not None and info.size is not None and not split_only:
        problems += _size_problems(info, values)
    if problems:
        text = problems[0] if len(problems) == 1 else "\n".join(f"  - {p}" for p in problems)
        raise DatasetError(text if len(problems) == 1 else f"Invalid dataset settings:\n{text}")
    return values


def generated_size(info: DatasetInfo, options: dict[str, Any]) -> tuple[int, int] | None:
    """(rows, values per row) that generated dataset ``info`` makes with checked
    ``options``; None for a dataset read from files."""
    return None if info.size is None else info.size(options)


def _size_problems(info: DatasetInfo, options: dict[str, Any]) -> list[str]:
    rows, per_row = info.size(options)
    total = rows * per_row
    if total <= MAX_GENERATED_VALUES:
        return []
    sized = [o.name for o in info.options if o.name in ("samples", "repeat", "steps")]
    return [
        f"{SPEC_PATH}: {info.name!r} with these options makes {rows:,} rows of {per_row:,}"
        f" values ({total:,} values), more than the {MAX_GENERATED_VALUES:,} a generated"
        f" dataset may hold: lower {' or '.join(sized)}"
    ]


def _check_spec(spec: Any) -> DatasetInfo:
    if not isinstance(spec, dict):
        raise DatasetError(
            f'{SPEC_PATH}: expected an object such as {{"name": "xor"}}, got {show(spec)}'
        )
    name = spec.get("name")
    if not isinstance(name, str) or not name.strip():
        raise DatasetError(
            f'{SPEC_PATH}.name: expected a dataset name such as "xor", got {show(name)}'
        )
    return dataset_info(name)


def check_seed(seed: Any) -> int:
    if not is_int(seed):
        raise DatasetError(f"training.seed: expected an integer, got {show(seed)}")
    return seed


def load_dataset(spec: dict[str, Any], base_dir: Path | None = None, seed: int = 0) -> Dataset:
    """Load the dataset the project's ``training.dataset`` object names.

    Options are checked before anything is loaded; relative paths resolve against
    ``base_dir`` (the project file's folder). The same ``seed`` gives the same data.
    """
    info = _check_spec(spec)
    seed = check_seed(seed)
    options = read_options(spec, info)
    base = Path(base_dir) if base_dir is not None else None
    try:
        ds = validated(info.loader(options, base, seed))
    except DataError as exc:  # the portable loaders' own error type
        raise DatasetError(str(exc)) from None
    check_augment_fits(ds, options["augment"])
    return ds


def _bad_rows(values: torch.Tensor) -> tuple[int, int]:
    """How many non-finite values ``values`` holds and the first row that has one."""
    bad = ~torch.isfinite(values.reshape(values.shape[0], -1))
    count = int(bad.sum())
    first = int(bad.any(dim=1).nonzero()[0, 0]) if count else -1
    return count, first


def validated(ds: Dataset) -> Dataset:
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
