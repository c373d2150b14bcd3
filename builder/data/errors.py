"""The one exception type of the data package."""

from __future__ import annotations

from graph.errors import NeuralCanvasError


class DatasetError(NeuralCanvasError):
    """A dataset cannot be loaded, split or augmented as asked; the message says what to do."""
