"""Automatic layered layout of a network (networkx), left to right or top to bottom."""

from __future__ import annotations

import networkx as nx

from graph.document import Network


def layered_layout(
    net: Network, direction: str = "LR", spacing: float = 200.0, layer_gap: float = 110.0
) -> dict[str, tuple[float, float]]:
    """Positions for every node: one column (``LR``) or row (``TB``) per topological
    generation; within a generation nodes are ordered by the mean position of their
    predecessors (a barycentre sweep), which keeps most edges straight and uncrossed.

    ``spacing`` is the distance between generations, ``layer_gap`` between nodes of one
    generation. The layout is centred on the first generation's axis.
    """
    if direction not in ("LR", "TB"):
        raise ValueError(f"direction must be 'LR' or 'TB', got {direction!r}")
    index = {n: i for i, n in enumerate(net.graph.nodes)}
    generations = [sorted(g, key=index.__getitem__) for g in nx.topological_generations(net.graph)]
    slot: dict[str, float] = {}
    for gen in generations:

        def barycentre(n: str) -> tuple[float, int]:
            preds = [slot[p] for p in net.graph.predecessors(n) if p in slot]
            return (sum(preds) / len(preds) if preds else float("inf"), index[n])

        ordered = sorted(gen, key=barycentre)
        for i, n in enumerate(ordered):
            slot[n] = i - (len(ordered) - 1) / 2
    positions: dict[str, tuple[float, float]] = {}
    for depth, gen in enumerate(generations):
        for n in gen:
            along, across = depth * spacing, slot[n] * layer_gap
            positions[n] = (along, across) if direction == "LR" else (across, along)
    return positions
