"""The exported script's model class: ``__init__`` builds each layer from its declared
:class:`builder.catalog.spec.Ctor` in the order :func:`builder.compile.compile_network` builds
them (so a seeded script initialises the weights bit for bit as the app does), and
``forward`` is read off the very ``torch.fx`` graph the compiler builds: the network is
compiled with a catalog whose ``emit`` functions only tag the fx nodes they add with their
layer, and every fx node becomes code. The modules torch does not ship
(:mod:`builder.catalog.modules`) and :func:`builder.compile.apply_init` are copied from their
source (:mod:`builder.export.source`).

Identifiers come only from :mod:`builder.names`; names and other project strings only
through :func:`~builder.export.layout.py_str` and :func:`~builder.export.layout.comment`.
"""

from __future__ import annotations

import keyword
import operator
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import torch

from builder.catalog.layers import CATALOG
from builder.catalog.spec import Catalog, LayerSpec
from builder.export.layout import (
    ExportError,
    _assign,
    _binary,
    _call,
    _def,
    _Expr,
    _list,
    _literal,
    _name,
    _return,
    _statement,
    _subscript,
    _tuple,
    comment,
    py_literal,
    py_str,
)
from builder.export.source import reserved_names
from builder.names import attribute_names
from builder.shapes import check_compilable, live_nodes
from graph.document import Network, Project

CLASS_NAME_MAX = 40  # the class name is cut to this (it is not part of the state_dict)
VAR_NAME_MAX = 30  # forward's local variables are named after layers, cut to this


# Names the script defines or imports at the top level besides the code it copies (see
# builder.export.script); the model class must not take one.
SCRIPT_NAMES = frozenset(
    {
        "argparse",
        "json",
        "os",
        "sys",
        "Path",
        "SimpleNamespace",
        "np",
        "torch",
        "dist",
        "nn",
        "F",
        "DistributedDataParallel",
        "SEED",
        "EPOCHS",
        "BATCH_SIZE",
        "SHUFFLE",
        "DEVICE",
        "EARLY_STOPPING",
        "DATASET",
        "PROJECT_DIR",
        "SETTINGS",
        "KERNEL",
        "MODELS",
        "build_models",
        "weight_files",
        "make_dataset",
        "load_data",
        "load_splits",
        "share_buffers",
        "Distributed",
        "describe",
        "train",
        "pick_device",
        "run",
        "main",
    }
)
# Names forward's local variables must not take.
_FORWARD_RESERVED = {"self", "torch", "nn", "F", "x", "_", "h_n", "c_n"}


def _tagged(spec: LayerSpec) -> Callable[..., dict[str, Any]]:
    """``spec``'s emit (or the compiler's default), marking the fx nodes it adds with the
    layer's attribute name. The graph it builds is the compiler's, node for node."""
    from builder.compile import _default_emit

    inner = spec.emit or (_default_emit if spec.ctor is not None else None)

    def emit(e: Any, p: Any, xs: dict[str, Any], shapes: Any, wanted: set[str]) -> Any:
        before = len(e.graph.nodes)
        produced = inner(e, p, xs, shapes, wanted) if inner else {"out": xs["in"]}
        added = len(e.graph.nodes) - before  # appended at the end: the last ``added`` nodes
        for node, _ in zip(reversed(e.graph.nodes), range(added), strict=False):
            node.meta["nc_layer"] = e.attr
        return produced

    return emit


@lru_cache(maxsize=1)
def _tagging_catalog() -> Catalog:
    catalog = Catalog()
    for spec in CATALOG:
        if spec.type_id in ("Input", "Output"):
            catalog.register(spec)
        else:
            catalog.register(replace(spec, emit=_tagged(spec)))
    return catalog


def class_name_for(project: Project, net: Network) -> str:
    """The script's class name: :func:`builder.compile.class_name` of the network (of the
    project when the network is the default ``main``), cut to 40 characters and kept clear
    of keywords and of the names the script itself uses."""
    from builder.compile import class_name

    source = project.name if net.name == "main" and project.name.strip() else net.name
    name = class_name(source)[:CLASS_NAME_MAX]
    taken = SCRIPT_NAMES | reserved_names()
    if keyword.iskeyword(name) or keyword.issoftkeyword(name) or name in taken:
        name = f"{name}Net"
    return name


@dataclass
class _Model:
    """The model class's code and what it needs."""

    code: str
    class_name: str
    helpers: list[tuple[str, str]]  # (module, name): what the class uses, copied


class _Names:
    """Unique local variable names for forward, named after layers and cut short."""

    def __init__(self) -> None:
        self.taken: set[str] = set()

    def fresh(self, base: str) -> str:
        base = base[:VAR_NAME_MAX].rstrip("_") or "value"
        if keyword.iskeyword(base) or keyword.issoftkeyword(base) or base in _FORWARD_RESERVED:
            base = f"{base}_v"
        name, i = base, 1
        while name in self.taken:
            suffix = f"_{i}"
            name = base[: VAR_NAME_MAX - len(suffix)] + suffix
            i += 1
        self.taken.add(name)
        return name

    def short(self, base: str) -> str:
        """``h_n``, ``h_n_1``, ... for the parts of a recurrent layer's state."""
        name, i = base, 1
        while name in self.taken:
            name = f"{base}_{i}"
            i += 1
        self.taken.add(name)
        return name


def _ctor_callee(target: str) -> tuple[str, tuple[str, str] | None]:
    """The class to call for a Ctor target, and the definition the script must copy."""
    module, _, attr = target.rpartition(".")
    if module == "torch.nn":
        return f"nn.{attr}", None
    if module == "builder.catalog.modules":  # written with torch and nn only: copied as is
        return attr, (module, attr)
    raise ExportError(
        f"cannot export the module {target!r}: write it in builder.catalog.modules (torch only)"
    )


def _model(net: Network, name: str, seed: int) -> tuple[_Model, Any]:
    """The model class for ``net`` and the compiled (tagged) GraphModule it mirrors."""
    from builder.compile import compile_network

    results = check_compilable(net)
    with torch.device("meta"):  # the structure only: no memory for the weights
        gm = compile_network(net, seed=seed, catalog=_tagging_catalog(), name=name)
    attrs = attribute_names(net)
    live = live_nodes(net)
    lines = [f"class {name}(nn.Module):"]
    lines.append(f"    # The network {comment(net.name)}, as NeuralCanvas compiles it.")
    lines.append("    # forward returns its Outputs in this order; a procedure finds them by name.")
    lines.append(_assign("OUTPUTS", _tuple([py_str(n) for n in gm.OUTPUTS]), 4))
    lines.append("")
    lines.append("    def __init__(self) -> None:")
    lines.append("        super().__init__()")
    header_lines = len(lines)
    helpers: list[tuple[str, str]] = []
    built: list[str] = []
    uses_init = uses_weights = False
    for n in net.topological_order():
        if n not in live or net.type_of(n) in ("Input", "Output"):
            continue
        spec = CATALOG[net.type_of(n)]
        if spec.ctor is None:
            continue
        params = net.params_of(n)
        ctor = spec.ctor(params, results[n].inputs)
        callee, helper = _ctor_callee(ctor.target)
        if helper is not None and helper not in helpers:
            helpers.append(helper)
        attr = attrs[n]
        shown = net.name_of(n)
        what = spec.type_id if shown == attr else f"{spec.type_id} {comment(shown)}"
        shapes = ", ".join(str(s) for s in results[n].inputs.values())
        outs = results[n].outputs
        out_shape = str(outs.get("out", next(iter(outs.values()), "")))
        lines.append(f"        # {what}: {shapes} -> {out_shape}")
        kwargs = [(k, _name(py_literal(v))) for k, v in ctor.kwargs.items()]
        lines.append(_assign(f"self.{attr}", _call(callee, [], kwargs), 8))
        if params.get("init", "default") != "default":
            uses_init = True
            lines.append(
                _statement(_call("apply_init", [f"self.{attr}", py_str(params["init"])]), 8)
            )
        hand = net.weights_of(n)
        if hand:
            uses_weights = True
            values = _literal({k: hand[k] for k in hand})
            lines.append("        # set by hand in NeuralCanvas: training starts from these")
            lines.append(_statement(_call("set_weights", [f"self.{attr}", values]), 8))
        if not net.trainable_of(n):
            lines.append(f"        self.{attr}.requires_grad_(False)  # frozen: training keeps it")
        built.append(attr)
    children = [attr for attr, _ in gm.named_children()]
    if children != built:  # the compiler changed how it builds: the export must follow
        raise ExportError(f"internal: compiled modules {children} differ from exported {built}")
    if len(lines) == header_lines:
        lines.append("        # (no layer with weights or state)")
    lines.append("")
    lines += _forward(gm)
    if uses_init:
        helpers.append(("builder.compile", "apply_init"))
    if uses_weights:
        helpers.append(("builder.compile", "set_weights"))
    return _Model("\n".join(lines) + "\n", name, helpers), gm


def _forward(gm: Any) -> list[str]:
    """forward's lines, read off the compiled fx graph (one statement per layer)."""
    import torch
    from torch import fx

    nodes = list(gm.graph.nodes)
    position = {node: i for i, node in enumerate(nodes)}
    kind: dict[fx.Node, str] = {}
    unpacks: dict[fx.Node, dict[Any, Any]] = {}  # call -> its parts (see _unpack_parts)
    owner: dict[fx.Node, fx.Node] = {}  # an unpacked part -> its call

    def layer(node: fx.Node) -> str:
        return node.meta.get("nc_layer", node.name)

    def is_getitem(node: fx.Node) -> bool:
        return node.op == "call_function" and node.target is operator.getitem

    def module_kind(node: fx.Node) -> str:
        return type(gm.get_submodule(node.target)).__name__

    # What each fx node becomes: a parameter, a statement, part of an unpacking statement
    # (``out, (h_n, c_n) = self.lstm(x)``), or part of its user's expression ("inline").
    for node in nodes:
        if node in kind:
            continue
        users = list(node.users)
        if node.op in ("placeholder", "output"):
            kind[node] = node.op
        elif node.op == "call_module" and module_kind(node) in _UNPACKED:
            parts = _unpack_parts(node, module_kind(node) == "LSTM")
            single = len(users) == 1 and is_getitem(users[0]) and users[0].args[1] == 0
            if module_kind(node) == "MultiheadAttention" and single:
                kind[node] = "inline"  # self.att(q, k, v, need_weights=False)[0]
            elif parts is not None:
                kind[node] = "unpack"
                unpacks[node] = parts
                for part in _flatten_parts(parts):
                    kind[part] = "bound"
                    owner[part] = node
            else:
                kind[node] = "statement"
        elif (
            node.op == "call_function"
            and node.target in (operator.add, operator.mul)
            and len(users) == 1
            and users[0].op == "call_function"
            and users[0].target is node.target
            and users[0].args[0] is node
            and layer(users[0]) == layer(node)
        ):
            kind[node] = "inline"  # a + b + c
        elif is_getitem(node) and kind.get(node.args[0]) != "inline":
            kind[node] = "inline"  # name[index]
        else:
            kind[node] = "statement"

    # Where each node's value is last read: an inline node is read where its user is.
    evaluated: dict[fx.Node, int] = {}
    for node in reversed(nodes):
        if kind[node] == "inline":
            evaluated[node] = max((evaluated[u] for u in node.users), default=position[node])
        elif kind[node] == "bound":
            evaluated[node] = position[owner[node]]
        else:
            evaluated[node] = position[node]
    last_use = {n: max((evaluated[u] for u in n.users), default=-1) for n in nodes}

    names = _Names()
    refs: dict[fx.Node, _Expr] = {}  # how later code refers to a node's value
    lines: list[str] = []
    params: list[str] = []
    x_holder: list[fx.Node | None] = [None]

    def target_for(node: fx.Node, at: int) -> str:
        """``x`` when a chain allows (one use, and x's value is not needed any more)."""
        held = x_holder[0]
        if len(node.users) == 1 and (held is None or last_use[held] <= at):
            x_holder[0] = node
            return "x"
        return names.fresh(layer(node))

    def ref(arg: Any) -> _Expr | str:
        if isinstance(arg, fx.Node):
            return refs[arg]
        if isinstance(arg, (list, tuple)) and any(isinstance(a, fx.Node) for a in arg):
            return _list([ref(a) for a in arg])
        return py_literal(arg)

    for node in nodes:
        k = kind[node]
        if k == "placeholder":
            name = names.fresh(str(node.target))
            params.append(name)
            refs[node] = _name(name)
            continue
        if k == "output":
            values = node.args[0]
            values = list(values) if isinstance(values, tuple) else [values]
            lines.append(_return([_as_expr(ref(v)) for v in values], 8))
            continue
        if k == "bound":
            continue
        if node.op == "call_module":
            args = [ref(a) for a in node.args]
            kwargs = [(key, ref(v)) for key, v in node.kwargs.items()]
            expr = _call(f"self.{node.target}", args, kwargs)
            if k == "unpack":
                pattern = _unpack_pattern(
                    unpacks[node], module_kind(node), names, target_for, position[node], refs
                )
                lines.append(_assign(pattern, expr, 8))
                continue
        elif is_getitem(node):
            expr = _subscript(_as_expr(ref(node.args[0])), py_literal(node.args[1]))
        elif node.op == "call_function" and node.target in (operator.add, operator.mul):
            op = "+" if node.target is operator.add else "*"
            left, right = (_as_expr(ref(a)) for a in node.args)
            operands = left.operands if left.binary == op else [left]
            expr = _binary(op, [*operands, right])
        elif node.op == "call_function" and node.target is torch.cat:
            args = [ref(a) for a in node.args]
            kwargs = [(key, ref(v)) for key, v in node.kwargs.items()]
            expr = _call("torch.cat", args, kwargs)
        elif node.op == "call_method":
            receiver = _as_expr(ref(node.args[0]))
            if receiver.binary:
                raise ExportError(f"internal: cannot call .{node.target} on an expression")
            args = [ref(a) for a in node.args[1:]]
            kwargs = [(key, ref(v)) for key, v in node.kwargs.items()]
            method = _Expr([receiver.doc, f".{node.target}"], f"{receiver.flat}.{node.target}")
            expr = _call(method, args, kwargs)
        else:
            raise ExportError(f"internal: no code for the fx node {node.format_node()}")
        if k == "inline":
            refs[node] = expr
            continue
        target = target_for(node, position[node])
        lines.append(_assign(target, expr, 8))
        refs[node] = _name(target)
    return [_def("forward", ["self", *params], 4), *lines]


def _as_expr(value: _Expr | str) -> _Expr:
    return value if isinstance(value, _Expr) else _name(value)


_UNPACKED = ("LSTM", "GRU", "RNN", "MultiheadAttention")  # modules that return 2-tuples


def _unpack_parts(node: Any, lstm: bool) -> dict[Any, Any] | None:
    """The getitem users of a 2-tuple result by index, plus for an LSTM ``"state"``: the
    users of its ``(h_n, c_n)`` pair; None when the result is used some other way."""

    def items(value: Any) -> dict[Any, Any] | None:
        out: dict[Any, Any] = {}
        for user in value.users:
            if user.target is not operator.getitem or user.args[1] not in (0, 1):
                return None
            out[user.args[1]] = user
        return out

    parts = items(node)
    if parts is None:
        return None
    if lstm and 1 in parts:
        pair = items(parts[1])
        if pair is None:
            return None
        parts["state"] = pair
    return parts


def _flatten_parts(parts: dict[Any, Any]) -> list[Any]:
    out = []
    for value in parts.values():
        out += list(value.values()) if isinstance(value, dict) else [value]
    return out


def _unpack_pattern(
    parts: dict[Any, Any],
    module: str,
    names: _Names,
    target_for: Callable[[Any, int], str],
    at: int,
    refs: dict[Any, _Expr],
) -> str:
    """``x, (h_n, _)`` for an unpacking statement; binds each used part's variable."""
    out = "_"
    if 0 in parts:
        out = target_for(parts[0], at)
        refs[parts[0]] = _name(out)
    second = "_"
    if 1 in parts:
        value = parts[1]
        if "state" in parts:  # an LSTM's (h_n, c_n)
            pair = []
            for index, base in ((0, "h_n"), (1, "c_n")):
                if index in parts["state"]:
                    var = names.short(base)
                    refs[parts["state"][index]] = _name(var)
                    pair.append(var)
                else:
                    pair.append("_")
            second = f"({pair[0]}, {pair[1]})"
        else:
            second = names.short("weights" if module == "MultiheadAttention" else "h_n")
            refs[value] = _name(second)
    return f"{out}, {second}"
