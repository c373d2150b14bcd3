"""The project's own exception types: every error a user can cause is one of these."""

from __future__ import annotations

from dataclasses import dataclass


class NeuralCanvasError(Exception):
    """Base of every error a user can cause; its message says what is wrong and what to do."""


class EditError(NeuralCanvasError):
    """An edit of the document was refused; the document is unchanged."""


@dataclass(frozen=True)
class Problem:
    """One problem found in a project file, located by a JSON path such as
    ``models.main.nodes[3].params.kernel_size``."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ProjectFileError(NeuralCanvasError):
    """A project file could not be read; ``problems`` lists every place that is wrong."""

    def __init__(self, source: str, problems: list[Problem] | None = None, message: str = ""):
        self.source = source
        self.problems = list(problems or [])
        if not message:
            head = f"Cannot open {source}" if source else "Invalid project"
            if len(self.problems) == 1:
                message = f"{head}: {self.problems[0]}"
            else:
                lines = "\n".join(f"  - {p}" for p in self.problems[:20])
                more = len(self.problems) - 20
                if more > 0:
                    lines += f"\n  ... and {more} more"
                message = f"{head}: {len(self.problems)} problems\n{lines}"
        super().__init__(message)
