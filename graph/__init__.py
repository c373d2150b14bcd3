"""The document a user edits: networks of layers, a training section, the project file.

Pure Python + networkx. This package imports neither torch nor Qt.
"""

from graph.document import (
    Edge,
    EdgeAdded,
    EdgeRemoved,
    Event,
    LayerSpecs,
    Network,
    NodeAdded,
    NodeMoved,
    NodeRemoved,
    NodeRenamed,
    ParamChanged,
    Project,
    TrainableChanged,
    WeightsChanged,
)
from graph.errors import EditError, NeuralCanvasError, Problem, ProjectFileError

__all__ = [
    "Edge",
    "EdgeAdded",
    "EdgeRemoved",
    "EditError",
    "Event",
    "LayerSpecs",
    "Network",
    "NeuralCanvasError",
    "NodeAdded",
    "NodeMoved",
    "NodeRemoved",
    "NodeRenamed",
    "ParamChanged",
    "Problem",
    "Project",
    "ProjectFileError",
    "TrainableChanged",
    "WeightsChanged",
]
