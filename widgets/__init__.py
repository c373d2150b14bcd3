"""The face of NeuralCanvas: Qt windows and the command line.

Importing this package imports no Qt: :mod:`widgets.cli` loads Qt only when a window opens.
"""
