"""Undo commands: each calls document methods and nothing else (Orange's canvas works this
way), so undo never touches a drawn item; the canvas redraws from the document's events.

A command performs its edit when it is made, so an invalid edit raises
:class:`graph.errors.EditError` before anything reaches the undo stack; its first ``redo``
(which ``QUndoStack.push`` calls) is then a no-op.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from typing import Any

from PySide6.QtGui import QUndoCommand

from graph.document import Edge, Network
from graph.errors import EditError

PARAM_MERGE_ID = 1001
MOVE_MERGE_ID = 1002
CLIPBOARD_MIME = "application/x-neuralcanvas-nodes"


class _Command(QUndoCommand):
    def __init__(self, net: Network, text: str):
        super().__init__(text)
        self.net = net
        self._first = True

    def redo(self) -> None:
        if self._first:
            self._first = False
            return
        self._apply()

    def _apply(self) -> None:
        raise NotImplementedError


class AddNode(_Command):
    def __init__(
        self,
        net: Network,
        type_id: str,
        pos: tuple[float, float],
        name: str | None = None,
        params: Mapping[str, Any] | None = None,
    ):
        super().__init__(net, f"Add {type_id}")
        self.node_id = net.add_node(type_id, name, params, pos)
        self.record = _record(net, self.node_id)

    def _apply(self) -> None:
        self.net.restore_node(self.record)

    def undo(self) -> None:
        self.net.remove_node(self.node_id)


class RemoveNodes(_Command):
    """Delete nodes and every edge touching them, in one step."""

    def __init__(self, net: Network, node_ids: Iterable[str], text: str = "Delete"):
        ids = [n for n in net.nodes if n in set(node_ids)]  # document order, for a stable undo
        if not ids:
            raise EditError("Nothing is selected to delete")
        super().__init__(net, text if len(ids) > 1 else f"{text} '{net.name_of(ids[0])}'")
        self.records = [_record(net, n) for n in ids]
        self.edges = sorted(
            {e for n in ids for e in net.in_edges(n) + net.out_edges(n)}, key=_edge_key
        )
        self._apply()

    def _apply(self) -> None:
        for record in self.records:
            self.net.remove_node(record["id"])

    def undo(self) -> None:
        for record in self.records:
            self.net.restore_node({**record, "edges": []})
        for e in self.edges:
            self.net.connect(e.src, e.dst, e.src_port, e.dst_port)


class MoveNodes(_Command):
    """Move nodes (one drag = one step; consecutive moves of the same nodes merge)."""

    def __init__(
        self,
        net: Network,
        moves: Mapping[str, tuple[tuple[float, float], tuple[float, float]]],
        text: str = "Move",
    ):
        super().__init__(net, text)
        self.moves = {n: (tuple(old), tuple(new)) for n, (old, new) in moves.items()}
        self._apply()

    def _apply(self) -> None:
        for n, (_, new) in self.moves.items():
            self.net.move(n, new)

    def undo(self) -> None:
        for n, (old, _) in self.moves.items():
            self.net.move(n, old)

    def id(self) -> int:
        return MOVE_MERGE_ID

    def mergeWith(self, other: QUndoCommand) -> bool:
        if (
            not isinstance(other, MoveNodes)
            or other.net is not self.net
            or set(other.moves) != set(self.moves)
        ):
            return False
        if other.text() != self.text():
            return False
        self.moves = {n: (self.moves[n][0], other.moves[n][1]) for n in self.moves}
        return True


class Connect(_Command):
    def __init__(
        self, net: Network, src: str, dst: str, src_port: str = "out", dst_port: str = "in"
    ):
        super().__init__(net, f"Connect '{net.name_of(src)}' to '{net.name_of(dst)}'")
        self.edge = net.connect(src, dst, src_port, dst_port)

    def _apply(self) -> None:
        e = self.edge
        self.net.connect(e.src, e.dst, e.src_port, e.dst_port)

    def undo(self) -> None:
        self.net.disconnect(self.edge)


class Disconnect(_Command):
    def __init__(self, net: Network, edge: Edge):
        super().__init__(
            net, f"Disconnect '{net.name_of(edge.src)}' from '{net.name_of(edge.dst)}'"
        )
        self.edge = edge
        net.disconnect(edge)

    def _apply(self) -> None:
        self.net.disconnect(self.edge)

    def undo(self) -> None:
        e = self.edge
        self.net.connect(e.src, e.dst, e.src_port, e.dst_port)


class SetParam(_Command):
    """Change one parameter; consecutive edits of the same field merge into one step."""

    def __init__(self, net: Network, node_id: str, key: str, value: Any):
        old = net.params_of(node_id)[key]
        super().__init__(net, f"Set {key} of '{net.name_of(node_id)}'")
        self.node_id, self.key, self.old = node_id, key, old
        net.set_param(node_id, key, value)
        self.new = net.params_of(node_id)[key]

    def _apply(self) -> None:
        self.net.set_param(self.node_id, self.key, self.new)

    def undo(self) -> None:
        self.net.set_param(self.node_id, self.key, self.old)

    def id(self) -> int:
        return PARAM_MERGE_ID

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not (
            isinstance(other, SetParam)
            and other.net is self.net
            and other.node_id == self.node_id
            and other.key == self.key
        ):
            return False
        self.new = other.new
        self.setObsolete(self.new == self.old and type(self.new) is type(self.old))
        return True


class SetWeights(_Command):
    """Set, change or clear (None) a layer's hand-set weights (:mod:`graph.weights`)."""

    def __init__(self, net: Network, node_id: str, weights: Mapping[str, Any] | None, text: str):
        old = net.weights_of(node_id)
        super().__init__(net, text)
        self.node_id, self.old = node_id, None if old is None else copy.deepcopy(dict(old))
        net.set_weights(node_id, weights)
        new = net.weights_of(node_id)
        self.new = None if new is None else copy.deepcopy(dict(new))

    def _apply(self) -> None:
        self.net.set_weights(self.node_id, self.new)

    def undo(self) -> None:
        self.net.set_weights(self.node_id, self.old)


class SetTrainable(_Command):
    """Freeze a layer (training keeps its weights) or make it trainable again."""

    def __init__(self, net: Network, node_id: str, trainable: bool):
        name = net.name_of(node_id)
        super().__init__(net, f"{'Unfreeze' if trainable else 'Freeze'} '{name}'")
        self.node_id, self.old, self.new = node_id, net.trainable_of(node_id), trainable
        net.set_trainable(node_id, trainable)

    def _apply(self) -> None:
        self.net.set_trainable(self.node_id, self.new)

    def undo(self) -> None:
        self.net.set_trainable(self.node_id, self.old)


class Rename(_Command):
    def __init__(self, net: Network, node_id: str, name: str):
        old = net.name_of(node_id)
        super().__init__(net, f"Rename '{old}'")
        self.node_id, self.old = node_id, old
        net.rename(node_id, name)
        self.new = net.name_of(node_id)

    def _apply(self) -> None:
        self.net.rename(self.node_id, self.new)

    def undo(self) -> None:
        self.net.rename(self.node_id, self.old)


class Paste(_Command):
    """Add a copied selection (nodes and the edges between them) with fresh ids and names."""

    def __init__(
        self, net: Network, clip: Mapping[str, Any], offset: tuple[float, float] = (40.0, 40.0)
    ):
        nodes = clip.get("nodes", [])
        if not nodes:
            raise EditError("The clipboard holds no layers to paste")
        super().__init__(net, f"Paste {len(nodes)} layer{'s' if len(nodes) != 1 else ''}")
        mapping: dict[str, str] = {}
        self.node_ids: list[str] = []
        try:
            for node in nodes:
                name = net.unique_name(node["name"])
                x, y = node.get("pos", (0.0, 0.0))
                pos = (x + offset[0], y + offset[1])
                params, weights = node.get("params", {}), node.get("weights")
                trainable = node.get("trainable", True)
                new = net.add_node(
                    node["type"], name, params, pos, weights=weights, trainable=trainable
                )
                mapping[node["id"]] = new
                self.node_ids.append(new)
            for e in clip.get("edges", []):
                if e["from"] in mapping and e["to"] in mapping:
                    net.connect(
                        mapping[e["from"]],
                        mapping[e["to"]],
                        e.get("from_port", "out"),
                        e.get("to_port", "in"),
                    )
        except (EditError, KeyError, TypeError, ValueError) as exc:
            for n in reversed(self.node_ids):
                net.remove_node(n)
            raise EditError(f"Cannot paste: {exc}") from None
        self.records = [_record(net, n) for n in self.node_ids]
        self.edges = sorted(
            {e for n in self.node_ids for e in net.out_edges(n) if e.dst in mapping.values()},
            key=_edge_key,
        )

    def _apply(self) -> None:
        for record in self.records:
            self.net.restore_node({**record, "edges": []})
        for e in self.edges:
            self.net.connect(e.src, e.dst, e.src_port, e.dst_port)

    def undo(self) -> None:
        for n in reversed(self.node_ids):
            self.net.remove_node(n)


def copy_selection(net: Network, node_ids: Iterable[str]) -> dict[str, Any]:
    """The clipboard document of a selection: its nodes and the edges between them."""
    chosen = [n for n in net.nodes if n in set(node_ids)]
    nodes = [
        {
            "id": n,
            "type": net.type_of(n),
            "name": net.name_of(n),
            "params": _plain(net.params_of(n)),
            "pos": list(net.pos_of(n)),
            **({"weights": copy.deepcopy(dict(w))} if (w := net.weights_of(n)) else {}),
            **({} if net.trainable_of(n) else {"trainable": False}),
        }
        for n in chosen
    ]
    inside = set(chosen)
    edges = [
        {"from": e.src, "from_port": e.src_port, "to": e.dst, "to_port": e.dst_port}
        for n in chosen
        for e in net.out_edges(n)
        if e.dst in inside
    ]
    return {"format": CLIPBOARD_MIME, "nodes": nodes, "edges": edges}


def clipboard_text(clip: Mapping[str, Any]) -> str:
    return json.dumps(clip, ensure_ascii=False)


def parse_clipboard(text: str) -> dict[str, Any] | None:
    """The clipboard document in ``text``, or None if it is not one of ours."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if (
        not isinstance(data, dict)
        or data.get("format") != CLIPBOARD_MIME
        or not isinstance(data.get("nodes"), list)
    ):
        return None
    return data


def _record(net: Network, node_id: str) -> dict[str, Any]:
    return {
        "id": node_id,
        "index": net.nodes.index(node_id),
        "type": net.type_of(node_id),
        "name": net.name_of(node_id),
        "params": copy.deepcopy(dict(net.params_of(node_id))),
        "pos": net.pos_of(node_id),
        "weights": copy.deepcopy(dict(w)) if (w := net.weights_of(node_id)) else None,
        "trainable": net.trainable_of(node_id),
        "edges": [],
    }


def _plain(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}


def _edge_key(e: Edge) -> tuple[str, str, str, str]:
    return (e.src, e.src_port, e.dst, e.dst_port)


TRAINING_MERGE_ID = 1003


class SetTraining(QUndoCommand):
    """Replace the project's ``training`` section (the training panel's edits).

    Consecutive edits of the same setting (unless ``merge`` is false) (``key``, e.g. the learning rate while its spin box
    steps) merge into one undo step. The section is copied in and out, so later edits of
    either dict never reach the other.
    """

    def __init__(
        self, project: Any, training: Mapping[str, Any], key: str = "", merge: bool = True
    ):
        super().__init__(f"Change training {key}".rstrip())
        self.project = project
        self.key = key
        self.merge = merge
        self.old = copy.deepcopy(project.training)
        self.new = copy.deepcopy(dict(training))
        self._first = True
        project.training = copy.deepcopy(self.new)

    def redo(self) -> None:
        if self._first:
            self._first = False
            return
        self.project.training = copy.deepcopy(self.new)

    def undo(self) -> None:
        self.project.training = copy.deepcopy(self.old)

    def id(self) -> int:
        return TRAINING_MERGE_ID

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, SetTraining) or other.project is not self.project:
            return False
        if not (self.merge and other.merge and self.key) or other.key != self.key:
            return False
        self.new = copy.deepcopy(other.new)
        return True
