"""Parameters a model reads directly in its forward, imported where a layer computes the
same: a class token put before the sequence (``torch.cat([token.expand(n, -1, -1), x], 1)``:
ClassToken), learned positions added to it (``x + self.pos_embedding``: PositionalEncoding,
learned), a layer scale (``self.layer_scale * x``: Scale) and a layer norm over channels
written with ``F.layer_norm(x, shape, self.weight, self.bias, eps)`` inside an
``nn.LayerNorm`` subclass (torchvision's LayerNorm2d: LayerNorm). A mixin of the Importer;
each such layer's parameter is mapped to the original's name for the weights
(``param_sources``)."""

from __future__ import annotations

from typing import Any

from torch import fx, nn

from builder.importer.calls import call_arg, op_name
from builder.importer.errors import Unsupported, reject
from builder.importer.readers import READERS
from builder.importer.values import Attr, Batch, Expanded, Ref, as_tensor


class AttrPatterns:
    env: dict[fx.Node, Any]
    attrs_taken: set[str]

    def _get_attr(self, node: fx.Node) -> Attr:
        value: Any = self.module
        for part in node.target.split("."):
            value = getattr(value, part)
        return Attr(node.target, value)

    def _expand(self, node: fx.Node, attr: Attr) -> Expanded:
        sizes = [self.env.get(a) if isinstance(a, fx.Node) else a for a in node.args[1:]]
        reject(
            not sizes or not isinstance(sizes[0], Batch) or any(s != -1 for s in sizes[1:]),
            f"expands {attr.path!r} other than over the batch (expand(x.size(0), -1, ...))",
        )
        return Expanded(attr)

    def _learned(self, attr: Attr, what: str) -> None:
        """Refuse a pattern's tensor that is not a learned parameter of the module's own (a
        buffer would become trainable), or that another layer took already (shared)."""
        reject(
            not isinstance(attr.tensor, nn.Parameter) or attr.path not in self.module.state_dict(),
            f"uses {attr.path!r} as {what}, but it is not a parameter of the module (a buffer or"
            " a constant: the layer would learn it); make it an nn.Parameter, or add the layer in"
            " the editor",
        )
        taken = self.attrs_taken
        reject(
            attr.path in taken,
            f"uses the parameter {attr.path!r} a second time (shared weights); every NeuralCanvas"
            " layer has its own weights",
        )
        taken.add(attr.path)

    def _param_layer(
        self, node: fx.Node, type_id: str, params: dict, source: Ref, names: dict
    ) -> Ref:
        node_id = self._add(type_id, op_name(node), params, node)
        self.edges.append((source, node_id, "in"))
        self.param_sources[node_id] = names
        return Ref(node_id)

    def _class_token(self, node: fx.Node, token: Expanded, x: Any, x_node: Any) -> Ref:
        """``torch.cat([token.expand(n, -1, -1), x], dim=1)``: ClassToken on x."""
        ref = as_tensor(x, "joins")
        shape = tuple(token.attr.tensor.shape)
        seq = self._shape(x_node) if isinstance(x_node, fx.Node) else None
        reject(
            call_arg(node, 1, "dim", 0) not in (1, -2)
            or len(shape) != 3
            or shape[:2] != (1, 1)
            or seq is None
            or len(seq) != 3
            or seq[2] != shape[2],
            f"joins {token.attr.path!r} of shape {shape} to a sequence in a way no layer does;"
            " a class token is (1, 1, D) put before (N, L, D) along dim 1",
        )
        self._learned(token.attr, "a class token")
        return self._param_layer(node, "ClassToken", {}, ref, {"token": token.attr.path})

    def _with_attr(self, node: fx.Node, type_id: str, left: Any, right: Any) -> Ref:
        """x + parameter (learned positions) or parameter * x (a layer scale)."""
        attr, other = (left, right) if isinstance(left, Attr) else (right, left)
        reject(isinstance(other, Attr), "combines two parameters")
        ref = as_tensor(other, "combines")
        shape = tuple(attr.tensor.shape)
        source = node.args[0] if other is left else node.args[1]
        seq = self._shape(source)
        if type_id == "Add":
            reject(
                seq is None or len(shape) != 3 or shape[0] != 1 or shape[1:] != tuple(seq[1:]),
                f"adds {attr.path!r} of shape {shape}; only learned positions (1, L, D) added to"
                " a sequence (N, L, D) are a layer (PositionalEncoding)",
            )
            self._learned(attr, "learned positions")
            params = {"kind": "learned", "max_len": shape[1]}
            return self._param_layer(
                node, "PositionalEncoding", params, ref, {"positions": attr.path}
            )
        reject(seq is None, f"multiplies by {attr.path!r} a tensor of unknown shape")
        self._learned(attr, "a layer scale")
        params = {"shape": list(shape), "start": 1.0}
        return self._param_layer(node, "Scale", params, ref, {"scale": attr.path})

    def _layer_norm(self, node: fx.Node) -> Ref:
        """``F.layer_norm(x, shape, self.weight, self.bias, eps)`` in an nn.LayerNorm."""
        weight, bias = (self.env.get(call_arg(node, i, n)) for i, n in ((2, "weight"), (3, "bias")))
        owner_path = weight.path.rpartition(".")[0] if isinstance(weight, Attr) else None
        owner = self.module.get_submodule(owner_path) if owner_path is not None else None
        if not (
            isinstance(owner, nn.LayerNorm)
            and isinstance(bias, Attr)
            and weight.path == f"{owner_path}.weight"
            and bias.path == f"{owner_path}.bias"
            and tuple(call_arg(node, 1, "normalized_shape")) == tuple(owner.normalized_shape)
            and call_arg(node, 4, "eps", 1e-5) == owner.eps
        ):
            raise Unsupported(
                "normalises with weights other than its own nn.LayerNorm's; use the module"
                " (nn.LayerNorm) or a LayerNorm subclass's own weight and bias"
            )
        reject(
            owner_path in self.called, "normalises with a LayerNorm called before (shared weights)"
        )
        params = READERS["LayerNorm"](owner)
        node_id = self._layer_from_module(
            node, owner_path, owner, "LayerNorm", params, node.args[0]
        )
        self.called[owner_path] = node_id
        return Ref(node_id)
