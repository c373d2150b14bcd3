"""torchvision's own model code, for the import tests, without torchvision's compiled
operators: the CPU build of torch 2.13 has no ``torchvision::nms``, so ``import torchvision``
fails in its ``__init__`` (which registers those operators), although ``torchvision.models``
needs none of them. The package is entered as an empty shell (its ``__init__`` not run) and
``torchvision.models`` imported from the installed files as they are."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any


def models() -> Any:
    """The installed ``torchvision.models`` module (torchvision==0.28.0, a test dependency)."""
    loaded = sys.modules.get("torchvision.models")
    if loaded is not None:
        return loaded
    if "torchvision" not in sys.modules:
        spec = importlib.util.find_spec("torchvision")
        if spec is None or not spec.submodule_search_locations:
            raise ImportError("torchvision is not installed: it is a test dependency")
        shell = types.ModuleType("torchvision")
        shell.__path__ = list(spec.submodule_search_locations)
        shell.__spec__ = spec
        shell.__file__ = spec.origin
        sys.modules["torchvision"] = shell
    return importlib.import_module("torchvision.models")
