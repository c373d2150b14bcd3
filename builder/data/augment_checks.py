"""The ``augment`` option, app side: its keys and values, whether the data fits it, and
:func:`augment`, which checks its options and then applies
:func:`builder.data.augmentation.augment_batch`."""

from __future__ import annotations

from typing import Any

import torch

from builder.data.augmentation import augment_batch
from builder.data.dataset import Dataset
from builder.data.errors import DatasetError
from builder.data.options import Check, bool_check, float_check, int_check, show
from builder.data.problems import SPEC_PATH, did_you_mean

AUGMENT_CHECKS: dict[str, Check] = {
    "flip": bool_check,
    "shift": int_check(0),
    "noise": float_check(0),
}


def augment_problems(options: Any, path: str) -> list[str]:
    if options is None:
        return []
    if not isinstance(options, dict):
        return [
            f'{path}: expected an object such as {{"flip": true, "shift": 1}}, got {show(options)}'
        ]
    problems = []
    for key, value in options.items():
        check = AUGMENT_CHECKS.get(key)
        if check is None:
            problems.append(
                f"{path}.{key}: unknown augmentation{did_you_mean(key, AUGMENT_CHECKS)}; use flip, shift or noise"
            )
        elif (expected := check(value)) is not None:
            problems.append(f"{path}.{key}: expected {expected}, got {show(value)}")
    return problems


def augment(
    x: torch.Tensor, options: dict[str, Any] | None, generator: torch.Generator
) -> torch.Tensor:
    """Return an augmented copy of the batch ``x``.

    ``options`` is ``training.dataset.augment``: ``flip`` mirrors each image left-right with
    probability 1/2, ``shift`` translates each image by a random whole number of pixels in
    [-shift, shift] along both axes (zero fill), ``noise`` adds Gaussian noise of that
    standard deviation. flip and shift need ``(N, C, H, W)``; noise works on any float shape.
    """
    problems = augment_problems(options, "augment")
    if problems:
        raise DatasetError("\n".join(problems))
    check_augment_shape(tuple(x.shape), x.dtype, options or {}, "augment")
    return augment_batch(x, options, generator)


def check_augment_shape(
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


def check_augment_fits(ds: Dataset, options: dict[str, Any] | None) -> None:
    if options:
        check_augment_shape(tuple(ds.x.shape), ds.x.dtype, options, f"{SPEC_PATH}.augment")
