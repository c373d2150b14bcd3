"""torch's transformer encoder read into layers: fx cannot trace into nn.TransformerEncoder
(its forward branches on the masks), so it and nn.TransformerEncoderLayer are calls kept
whole. An nn.TransformerEncoderLayer becomes a TransformerEncoderLayer layer; an
nn.TransformerEncoder a chain of them (``layers.0``, ``layers.1``, ...) and its final norm
(a LayerNorm), each with the original's weights. Batch-first only (NeuralCanvas keeps the
batch first), and without masks passed in the call (the layer's own ``causal`` setting and
padding-mask input are for networks built in the editor). A mixin of the Importer."""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from torch import fx, nn

from builder.importer.errors import Unsupported, reject
from builder.importer.readers import READERS
from builder.importer.values import Ref, as_tensor


def encoder_layer_params(m: nn.TransformerEncoderLayer) -> dict[str, Any]:
    reject(
        not m.self_attn.batch_first,
        "has batch_first=False; NeuralCanvas keeps the batch first: build it with"
        " batch_first=True (inputs (N, L, D))",
    )
    activation = getattr(m, "activation", None)
    names = {F.relu: "relu", F.gelu: "gelu"}
    name = names.get(activation) or {nn.ReLU: "relu", nn.GELU: "gelu"}.get(type(activation))
    reject(name is None, f"uses the activation {activation!r}; the layer has relu or gelu")
    reject(
        getattr(activation, "approximate", "none") != "none",
        "uses the tanh approximation of GELU; the layer has the exact one",
    )
    return {
        "num_heads": int(m.self_attn.num_heads),
        "dim_feedforward": int(m.linear1.out_features),
        "dropout": float(m.dropout.p),
        "activation": name,
        "norm_first": bool(m.norm_first),
        "causal": bool(getattr(m, "causal", False)),
        "bias": m.linear1.bias is not None,
        "layer_norm_eps": float(m.norm1.eps),
    }


class TransformerImports:
    env: dict[fx.Node, Any]

    def _encoder(self, node: fx.Node, path: str, sub: nn.Module) -> Ref:
        reject(
            len(node.args) != 1
            or any(v is not None and v is not False for v in node.kwargs.values()),
            "passes masks in the call; import it without them (TransformerEncoderLayer has a"
            " causal setting and a padding-mask input in the editor)",
        )
        reject(
            path in self.called,
            "is called a second time (shared weights); every NeuralCanvas layer has its own"
            " weights: use two modules",
        )
        ref = as_tensor(self.env.get(node.args[0]), "takes")
        if isinstance(sub, nn.TransformerEncoderLayer):
            layers = [(path, sub)]
        else:
            layers = [(f"{path}.layers.{i}", layer) for i, layer in enumerate(sub.layers)]
        for layer_path, layer in layers:
            if not isinstance(layer, nn.TransformerEncoderLayer):
                raise Unsupported(
                    f"holds {type(layer).__name__} at {layer_path}, not an encoder layer"
                )
            params = encoder_layer_params(layer)
            node_id = self._add("TransformerEncoderLayer", layer_path, params, node)
            self.edges.append((ref, node_id, "in"))
            self.modules[node_id] = layer
            self.sources[node_id] = layer_path
            ref = Ref(node_id)
        norm = getattr(sub, "norm", None) if isinstance(sub, nn.TransformerEncoder) else None
        if norm is not None:
            reject(
                not isinstance(norm, nn.LayerNorm),
                f"ends with {type(norm).__name__}, not a LayerNorm",
            )
            node_id = self._add("LayerNorm", f"{path}.norm", READERS["LayerNorm"](norm), node)
            self.edges.append((ref, node_id, "in"))
            self.modules[node_id] = norm
            self.sources[node_id] = f"{path}.norm"
            ref = Ref(node_id)
        self.called[path] = ref.node
        return ref
