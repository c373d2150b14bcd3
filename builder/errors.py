"""The builder's own error types (all are :class:`graph.errors.NeuralCanvasError`)."""

from __future__ import annotations

from graph.errors import NeuralCanvasError


class LayerShapeError(NeuralCanvasError):
    """Raised by a layer's shape rule; the shape checker prefixes the layer's type and name."""

    def __init__(self, message: str, hint: str = ""):
        self.message = message
        self.hint = hint
        super().__init__(f"{message}: {hint}" if hint else message)


class GraphInvalidError(NeuralCanvasError):
    """A network cannot be compiled; ``problems`` holds ``(node name, message)`` pairs."""

    def __init__(self, network: str, problems: list[tuple[str, str]]):
        self.network = network
        self.problems = problems
        if len(problems) == 1:
            text = problems[0][1]
        else:
            text = f"{len(problems)} problems:\n" + "\n".join(f"  - {m}" for _, m in problems)
        super().__init__(f"Network {network!r} cannot be built: {text}")


class OutputNotFoundError(NeuralCanvasError):
    """A training procedure asked a network for an Output name it does not have."""
