"""What the portable data code raises: :class:`DataError`, whose message names the option,
file or column of ``training.dataset`` (:data:`SPEC_PATH`) and says what to do.

Imports only the standard library: the exported script copies what it uses. App side,
:func:`builder.data.registry.load_dataset` turns a DataError into a
:class:`builder.data.errors.DatasetError`."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

SPEC_PATH = "training.dataset"


class DataError(ValueError):
    """A dataset cannot be made as its options ask; the message says what to do."""


def did_you_mean(word: str, choices: Sequence[str] | dict[str, Any]) -> str:
    close = difflib.get_close_matches(str(word).lower(), list(choices), n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""
