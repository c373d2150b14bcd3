"""A tiny stand-in for the layer catalog, so document tests need no torch."""

from __future__ import annotations

from typing import Any

import pytest

from graph.document import Project

_PARAMS: dict[str, dict[str, Any]] = {
    "In": {},
    "Dense": {"units": 4},
    "Merge": {"n": 2},
    "Out": {},
}


class FakeSpecs:
    def has_type(self, type_id: str) -> bool:
        return type_id in _PARAMS

    def type_ids(self) -> list[str]:
        return list(_PARAMS)

    def default_params(self, type_id: str) -> dict[str, Any]:
        return dict(_PARAMS[type_id])

    def check_param(self, type_id: str, key: str, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"expected a positive integer, got {value!r}")
        return value

    def input_ports(self, type_id: str, params: Any) -> list[str]:
        if type_id == "In":
            return []
        if type_id == "Merge":
            return [f"in{i}" for i in range(1, params["n"] + 1)]
        return ["in"]

    def output_ports(self, type_id: str, params: Any) -> list[str]:
        return [] if type_id == "Out" else ["out"]

    def default_name(self, type_id: str) -> str:
        return type_id.lower()


@pytest.fixture
def specs() -> FakeSpecs:
    return FakeSpecs()


@pytest.fixture
def net(specs: FakeSpecs):
    return Project(specs).add_network("main")
