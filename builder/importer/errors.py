"""Why an import fails: :class:`ModelImportError` tells the user (every problem at once);
:class:`Unsupported` is raised for one operation while the graph is read, and collected."""

from __future__ import annotations

from collections.abc import Sequence

from graph.errors import NeuralCanvasError


class ModelImportError(NeuralCanvasError):
    """A module cannot be imported; ``problems`` lists every operation that is in the way."""

    def __init__(self, message: str, problems: Sequence[str] = ()):
        self.problems = list(problems)
        super().__init__(message)


class Unsupported(Exception):
    """Raised by a handler: this operation has no layer; the message says why."""


def reject(condition: bool, message: str) -> None:
    if condition:
        raise Unsupported(message)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else exc.__class__.__name__
