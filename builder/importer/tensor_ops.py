"""The tensor operations of an import that change a tensor's shape or join tensors, as
layers: slices (Slice), means over dims (Mean), + and * (Add / Multiply), torch.cat (Concat),
permute / transpose (Permute), flatten (Flatten) and reshape / view (Reshape). A mixin of
:class:`builder.importer.interpreter.Importer`, which holds the fx environment (``env``), the
draft's ``_add`` / ``_layer`` and the edges and merges."""

from __future__ import annotations

from typing import Any

from torch import fx

from builder.catalog.layers.merge import MAX_INPUTS
from builder.importer.calls import call_arg, op_name, permute_dims
from builder.importer.errors import Unsupported, reject
from builder.importer.values import Batch, Expanded, HiddenSlice, Ref, as_tensor


class TensorOps:
    env: dict[fx.Node, Any]

    def _slice(self, node: fx.Node, params: dict[str, Any], suffix: str = "") -> Ref:
        ref = as_tensor(self.env.get(node.args[0]), "slices")
        node_id = self._add("Slice", op_name(node) + suffix, params, node)
        self.edges.append((ref, node_id, "in"))
        return Ref(node_id)

    def _mean(self, node: fx.Node) -> Ref:
        """``x.mean(dims)`` / ``torch.mean(x, dims)``: the Mean layer (a constant list of dims,
        the batch kept)."""
        dims = call_arg(node, 1, "dim")
        keepdim = call_arg(node, 2, "keepdim", False)
        dims = [dims] if isinstance(dims, int) else dims
        reject(
            not isinstance(dims, (list, tuple))
            or not dims
            or not all(isinstance(d, int) for d in dims),
            "averages over every value (the batch too); give the dims, e.g. x.mean([2, 3])",
        )
        reject(
            not isinstance(keepdim, bool) or node.kwargs.keys() - {"dim", "keepdim"},
            "passes extra arguments",
        )
        if any(d < 0 for d in dims):  # counted from the end: the traced rank says which
            shape = self._shape(node.args[0])
            reject(shape is None, "averages over dims counted from the end of unknown rank")
            dims = [d % len(shape) for d in dims]
        reject(any(d == 0 for d in dims), "averages over the batch dim")
        return Ref(
            self._layer(node, "Mean", {"dims": tuple(dims), "keepdim": keepdim}, node.args[0])
        )

    def _merge(self, node: fx.Node, type_id: str, left: Any, right: Any) -> Ref:
        refs = [
            as_tensor(self.env.get(v) if isinstance(v, fx.Node) else v, "combines")
            for v in (left, right)
        ]
        # ((a + b) + c) with the inner sum used only here is one Add with three inputs: the
        # compiler folds a many-input Add the same way, so it round-trips.
        inner = refs[0].node
        if (
            isinstance(left, fx.Node)
            and len(left.users) == 1
            and self.net.type_of(inner) == type_id
            and inner in self.merges
            and len(self.merges[inner]) < 8
        ):
            self.merges[inner].append(refs[1])
            return refs[0]
        node_id = self._add(type_id, op_name(node), {}, node)
        self.merges[node_id] = refs
        return Ref(node_id)

    def _cat(self, node: fx.Node) -> Ref:
        items = call_arg(node, 0, "tensors")
        dim = call_arg(node, 1, "dim", 0)
        reject(not isinstance(items, (list, tuple)), "joins something other than a list")
        values = [self.env.get(v) if isinstance(v, fx.Node) else v for v in items]
        # torch.cat((h_n[-2], h_n[-1]), dim=1): a bidirectional layer's final state.
        if values and all(isinstance(v, HiddenSlice) for v in values):
            owner = values[0].node
            top = self._rnn_layers(owner)
            if (
                all(v.node == owner for v in values)
                and [v.index for v in values] == [top - 2, top - 1]
                and dim in (1, -1)
            ):
                return Ref(owner, "last")
            raise Unsupported(
                "joins final states other than the top layer's two directions; use"
                " torch.cat((h_n[-2], h_n[-1]), dim=1)"
            )
        if len(values) == 2 and isinstance(values[0], Expanded):  # a class token first
            return self._class_token(node, values[0], values[1], items[1])
        reject(not isinstance(dim, int), "joins along a dim that is not a number")
        if len(values) == 1:  # torch.cat([x]) is x (DenseNet's first layer of a block)
            return as_tensor(values[0], "joins")
        reject(
            not 2 <= len(values) <= MAX_INPUTS,
            f"joins {len(values)} tensors; Concat takes 2 to {MAX_INPUTS}",
        )
        refs = [as_tensor(v, "joins") for v in values]
        node_id = self._add("Concat", op_name(node), {"dim": dim}, node)
        self.merges[node_id] = refs
        return Ref(node_id)

    def _permute(self, node: fx.Node, how: str) -> Ref:
        shape = self._shape(node.args[0])
        dims = permute_dims(node, how, len(shape) if shape is not None else None)
        return Ref(self._layer(node, "Permute", {"dims": dims}, node.args[0]))

    def _flatten(self, node: fx.Node, method: bool) -> Ref:
        start = call_arg(node, 1, "start_dim", 0)
        end = call_arg(node, 2, "end_dim", -1)
        reject(
            not isinstance(start, int) or not isinstance(end, int) or start == 0,
            f"flattens dims {start}..{end}; Flatten keeps the batch dim: use flatten(x, 1)"
            " (or a reshape)",
        )
        params = {"start_dim": start, "end_dim": end}
        return Ref(self._layer(node, "Flatten", params, node.args[0]))

    def _reshape(self, node: fx.Node, source: Any, shape: Any) -> Ref:
        values = [self.env.get(s) if isinstance(s, fx.Node) else s for s in shape]
        reject(
            not values or not (values[0] == -1 or isinstance(values[0], Batch)),
            "reshapes the batch dim; the first size must be -1 or x.size(0)",
        )
        rest = values[1:]
        reject(
            not rest or not all(isinstance(v, int) and not isinstance(v, bool) for v in rest),
            "reshapes to sizes that are not numbers",
        )
        reject(values[0] == -1 and -1 in rest, "has two -1 sizes; replace one with x.size(0)")
        return Ref(self._layer(node, "Reshape", {"shape": tuple(rest)}, source))
