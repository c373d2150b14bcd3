"""The hostile inputs of bench/fuzz.py, generated from (family, index, seed) alone so that a
worker process can rebuild any case by its number.

A case writes its files into an empty folder and names what the harness runs on them:
``project`` (the project file), ``resume`` (a checkpoint to resume from), and ``expect``:
``"refuse"`` when every correct program must refuse it, ``"either"`` when a mutation may be
harmless. Payloads that would run as code carry the name ``NC_PWNED`` or write the file
``PWNED`` into the case's folder.

Families: ``project`` (mutated project JSON: huge and tiny numbers, surrogates and control
characters, deep nesting, huge lists, wrong types, cycles, duplicate names, torn text),
``inject`` (names and strings written into exported code), ``checkpoint`` (crafted
``checkpoint.pt``), ``data`` (CSV, NumPy and IDX files that lie, are empty, huge, or not
files at all), ``training`` (settings at and past their limits), ``special`` (a project path
that is a FIFO, a device, a folder, too long, or an enormous file).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from bench.fuzz_base import MARK, Case, mlp
from bench.fuzz_files import _checkpoint_case, _data_case
from bench.fuzz_projects import _inject_case, _project_case, _special_case, _training_case

__all__ = ["MARK", "Case", "mlp", "FAMILIES", "make_case", "all_cases"]


FAMILIES: dict[str, tuple[int, Callable[[int, random.Random], Case]]] = {
    "project": (420, _project_case),
    "inject": (220, _inject_case),
    "checkpoint": (150, _checkpoint_case),
    "data": (188, _data_case),
    "training": (60, _training_case),
    "special": (14, _special_case),
}


HEAVY = {
    "10k nodes in a line",
    "an Input of 20000 into Linear 40000",
    "csv: a 10 MB line",
    "idx: gz bomb",
    "Linear 10**6 x Input 10**4",
    "text-level nesting 100k",
    "a number of 10^6 digits",
}


def make_case(family: str, index: int, seed: int = 0) -> Case:
    rng = random.Random(f"{seed}:{family}:{index}")
    case = FAMILIES[family][1](index, rng)
    case.heavy = case.label in HEAVY or "100k" in case.label
    return case


def all_cases(seed: int = 0, scale: float = 1.0) -> list[tuple[str, int]]:
    return [
        (family, i)
        for family, (count, _) in FAMILIES.items()
        for i in range(max(1, round(count * scale)))
    ]
