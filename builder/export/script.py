"""Export: a network and its training settings as a standalone, readable PyTorch script
(DESIGN.md, data flow step 6).

:func:`export_script` writes the model class (its attribute names are the compiled model's,
so an in-app ``state_dict`` loads into it as is), the dataset code that makes exactly the
app's tensors, and the app's training loop, runnable with ``python model.py`` or under
``torchrun``. See docs/export.md.

How it stays the same as the app:

- ``__init__`` builds each layer from its declared :class:`builder.catalog.spec.Ctor`, in the order
  :func:`builder.compile.compile_network` builds them, so a seeded script initialises the
  weights bit for bit as the app does.
- ``forward`` is read off the very ``torch.fx`` graph the compiler builds: the network is
  compiled with a catalog whose ``emit`` functions only tag the fx nodes they add with their
  layer, and every fx node becomes code.
- The data and training sections are the app's algorithms (seed offsets, stratified split,
  normalisation, shuffling, loss, optimiser, schedule, clipping, penalties, early stopping)
  written out; the tests run both and compare.

Security: every string that comes from a project (node, network and project names, dataset
paths and column names) enters the script only through :func:`py_str` (a Python string
literal) or :func:`comment` (one escaped line); identifiers come only from
:mod:`builder.names`. Nothing from the project is ever pasted in as code.
"""

from __future__ import annotations

import builtins
import inspect
import keyword
import math
import operator
import re
import textwrap
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from builder.catalog.layers import CATALOG
from builder.catalog.spec import Catalog, LayerSpec
from builder.errors import GraphInvalidError
from builder.names import attribute_names
from builder.shapes import check_compilable, live_nodes
from graph.document import Network, Project
from graph.errors import NeuralCanvasError

WIDTH = 88  # ruff's default line length: the script is formatted as `ruff format` would
CLASS_NAME_MAX = 40  # the class name is cut to this (it is not part of the state_dict)
VAR_NAME_MAX = 30  # forward's local variables are named after layers, cut to this


class ExportError(NeuralCanvasError):
    """The network or its settings cannot be written as a script; the message says why."""


# ============================================================================ literals


def py_str(text: str) -> str:
    """A Python string literal for ``text`` that is safe in any context and already in
    ``ruff format``'s style: double quotes unless that needs more escapes, printable
    characters as they are, everything else (newlines, control and format characters,
    lone surrogates) escaped."""
    if not isinstance(text, str):
        raise TypeError(f"expected str, got {type(text).__name__}")
    quote = "'" if text.count('"') > text.count("'") else '"'
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == quote:
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ch.isprintable() and not _is_surrogate(ch):
            out.append(ch)
        else:
            code = ord(ch)
            if code < 0x100:
                out.append(f"\\x{code:02x}")
            elif code < 0x10000:
                out.append(f"\\u{code:04x}")
            else:
                out.append(f"\\U{code:08x}")
    return quote + "".join(out) + quote


def _is_surrogate(ch: str) -> bool:
    return 0xD800 <= ord(ch) <= 0xDFFF


def comment(text: str, quoted: bool = True) -> str:
    """``text`` for a ``#`` comment: one line of printable ASCII, written as a string
    literal (with ``#`` escaped too, so that no tool reads a pragma in it)."""
    body = py_str(text).encode("ascii", "backslashreplace").decode("ascii")
    body = body.replace("#", "\\x23")
    return body if quoted else body[1:-1]


def py_literal(value: Any) -> str:
    """Python source for a plain value (what a Ctor's kwargs and the settings hold)."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return repr(int(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ExportError(f"cannot write the number {value!r} into a script")
        return repr(value).replace("e+", "e")
    if isinstance(value, str):
        return py_str(value)
    if isinstance(value, tuple):
        items = [py_literal(v) for v in value]
        return "(" + items[0] + ",)" if len(items) == 1 else "(" + ", ".join(items) + ")"
    if isinstance(value, list):
        return "[" + ", ".join(py_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{py_str(k)}: {py_literal(v)}" for k, v in value.items()) + "}"
    raise ExportError(f"cannot write a {type(value).__name__} into a script")


# ============================================================================ layout
#
# A small Prettier-style layout engine (ruff's formatter works the same way): documents are
# text, lists, groups (one line if they fit, else broken at their line breaks), indents,
# soft / normal line breaks and text printed only when the group breaks. On top of it,
# :func:`_assign` picks the layout ruff gives an assignment. The statements the exporter
# writes are laid out with it, so the script comes out already formatted.


class _Break:
    def __init__(self, flat: str) -> None:
        self.flat = flat


_SOFT = _Break("")  # nothing on one line, a line break when its group breaks
_LINE = _Break(" ")  # a space on one line, a line break when its group breaks
_BROKEN, _FLAT = 0, 1


@dataclass
class _Group:
    parts: list[Any]
    expand: bool = False


@dataclass
class _Indent:
    parts: list[Any]


@dataclass
class _IfBreak:
    text: str


@dataclass
class _Expr:
    """An expression: its layout document, its one-line text and, when it ends in
    brackets, the text up to the opening bracket where it splits first."""

    doc: Any
    flat: str
    head: str | None = None
    binary: str | None = None  # the operator of a chain ``a + b + c``
    operands: list[Any] = field(default_factory=list)


def _flat(doc: Any) -> str:
    if isinstance(doc, str):
        return doc
    if isinstance(doc, list):
        return "".join(_flat(d) for d in doc)
    if isinstance(doc, (_Group, _Indent)):
        return _flat(doc.parts)
    if isinstance(doc, _Break):
        return doc.flat
    return ""  # _IfBreak


def _fits(doc: Any, indent: int, rest: list[tuple[int, int, Any]], width: int) -> bool:
    cmds = [(indent, _FLAT, doc)]
    rest_i = len(rest)
    while width >= 0:
        if not cmds:
            if rest_i == 0:
                return True
            rest_i -= 1
            cmds.append(rest[rest_i])
            continue
        ind, mode, d = cmds.pop()
        if isinstance(d, str):
            width -= len(d)
        elif isinstance(d, list):
            cmds.extend((ind, mode, item) for item in reversed(d))
        elif isinstance(d, _Indent):
            cmds.append((ind + 4, mode, d.parts))
        elif isinstance(d, _Group):
            cmds.append((ind, _BROKEN if d.expand else mode, d.parts))
        elif isinstance(d, _Break):
            if mode == _BROKEN:
                return True
            width -= len(d.flat)
        elif mode == _BROKEN:  # _IfBreak
            width -= len(d.text)
    return False


def _render(doc: Any, indent: int, column: int) -> str:
    """Lay ``doc`` out from ``column``; broken lines are indented from ``indent``."""
    out: list[str] = []
    pos = column
    stack: list[tuple[int, int, Any]] = [(indent, _BROKEN, doc)]
    while stack:
        ind, mode, d = stack.pop()
        if isinstance(d, str):
            out.append(d)
            pos += len(d)
        elif isinstance(d, list):
            stack.extend((ind, mode, item) for item in reversed(d))
        elif isinstance(d, _Indent):
            stack.append((ind + 4, mode, d.parts))
        elif isinstance(d, _Group):
            if d.expand:
                stack.append((ind, _BROKEN, d.parts))
            elif mode == _FLAT or _fits(d.parts, ind, stack, WIDTH - pos):
                stack.append((ind, _FLAT, d.parts))
            else:
                stack.append((ind, _BROKEN, d.parts))
        elif isinstance(d, _Break):
            if mode == _FLAT:
                out.append(d.flat)
                pos += len(d.flat)
            else:
                out.append("\n" + " " * ind)
                pos = ind
        elif mode == _BROKEN:  # _IfBreak
            out.append(d.text)
            pos += len(d.text)
    return "".join(out)


def _doc(value: _Expr | str) -> Any:
    return value.doc if isinstance(value, _Expr) else value


def _name(text: str) -> _Expr:
    return _Expr(text, text)


def _bracketed(open_: str, items: list[Any], close: str) -> Any:
    if not items:
        return open_ + close
    body: list[Any] = []
    for i, item in enumerate(items):
        if i:
            body += [",", _LINE]
        body.append(item)
    if len(items) > 1:
        body.append(_IfBreak(","))
    return _Group([open_, _Indent([_SOFT, _Group(body)]), _SOFT, close])


def _call(
    callee: _Expr | str,
    args: Iterable[_Expr | str] = (),
    kwargs: Iterable[tuple[str, _Expr | str]] = (),
) -> _Expr:
    callee = _name(callee) if isinstance(callee, str) else callee
    items = [_doc(a) for a in args] + [[k, "=", _doc(v)] for k, v in kwargs]
    doc = [callee.doc, _bracketed("(", items, ")")]
    return _Expr(doc, _flat(doc), head=callee.flat + "(" if items else None)


def _subscript(value: _Expr | str, index: _Expr | str) -> _Expr:
    value = _name(value) if isinstance(value, str) else value
    doc = [value.doc, _Group(["[", _Indent([_SOFT, _doc(index)]), _SOFT, "]"])]
    head = value.head if value.head is not None else value.flat + "["
    return _Expr(doc, _flat(doc), head=head)


def _list(items: Iterable[_Expr | str]) -> _Expr:
    """A list literal: on one line, or one item per line (ruff never packs them)."""
    docs = [_doc(i) for i in items]
    if not docs:
        return _Expr("[]", "[]")
    body: list[Any] = []
    for i, item in enumerate(docs):
        if i:
            body += [",", _LINE]
        body.append(item)
    doc = _Group(["[", _Indent([_SOFT, *body, _IfBreak(",")]), _SOFT, "]"])
    return _Expr(doc, _flat(doc), head="[")


def _tuple(items: Iterable[_Expr | str]) -> _Expr:
    """A tuple literal: on one line, or one item per line; one item keeps its comma."""
    docs = [_doc(i) for i in items]
    if not docs:
        return _Expr("()", "()")
    body: list[Any] = []
    for i, item in enumerate(docs):
        if i:
            body += [",", _LINE]
        body.append(item)
    body.append("," if len(docs) == 1 else _IfBreak(","))
    doc = _Group(["(", _Indent([_SOFT, *body]), _SOFT, ")"])
    return _Expr(doc, _flat(doc), head="(")


def _binary(op: str, operands: list[_Expr | str]) -> _Expr:
    parts: list[Any] = []
    for i, operand in enumerate(operands):
        if i:
            parts += [_LINE, op + " "]
        parts.append(_doc(operand))
    return _Expr(parts, _flat(parts), binary=op, operands=list(operands))


def _fits_line(indent: int, text: str) -> bool:
    return indent + len(text) <= WIDTH


def _assign(target: str, value: _Expr, indent: int) -> str:
    """``target = value`` laid out as ``ruff format`` lays it out."""
    prefix = f"{' ' * indent}{target} = "
    if _fits_line(0, prefix + value.flat):
        return prefix + value.flat
    parenthesized = _Group(["(", _Indent([_SOFT, _Group([value.doc])]), _SOFT, ")"], expand=True)
    if value.binary:
        return prefix + _render(parenthesized, indent, len(prefix))
    if value.head is None:  # nothing to split: parenthesized if that makes it fit
        if _fits_line(0, prefix + "(") and _fits_line(indent + 4, value.flat):
            return prefix + _render(parenthesized, indent, len(prefix))
        return prefix + value.flat
    if _fits_line(0, prefix + value.head):
        return prefix + _render(value.doc, indent, len(prefix))
    if _fits_line(0, prefix + "(") and (
        _fits_line(indent + 4, value.flat) or _fits_line(indent + 4, value.head)
    ):
        return prefix + _render(parenthesized, indent, len(prefix))
    return prefix + _render(value.doc, indent, len(prefix))


def _statement(value: _Expr, indent: int) -> str:
    return " " * indent + _render(value.doc, indent, indent)


def _return(values: list[_Expr], indent: int) -> str:
    pad = " " * indent
    if len(values) == 1:
        return pad + "return " + _render(values[0].doc, indent, indent + 7)
    body: list[Any] = []
    for i, value in enumerate(values):
        if i:
            body += [",", _LINE]
        body.append(value.doc)
    body.append(_IfBreak(","))
    doc = _Group([_IfBreak("("), _Indent([_SOFT, *body]), _SOFT, _IfBreak(")")])
    return pad + "return " + _render(doc, indent, indent + 7)


def _def(name: str, params: list[str], indent: int, suffix: str = ":") -> str:
    doc = [name, _bracketed("(", list(params), ")"), suffix]
    return " " * indent + "def " + _render(doc, indent, indent + 4)


def _constant(name: str, value: Any) -> str:
    """``NAME = value`` at the top level, a list or dict broken over lines when long."""
    if isinstance(value, list) and value:
        return _assign(name, _list([py_literal(v) for v in value]), 0)
    return _assign(name, _name(py_literal(value)), 0)


# ============================================================================ the model

# Module classes of the catalog that torch does not ship, written out in the script. Their
# behaviour is pinned to builder.catalog.modules by the tests (same outputs, same state_dict).
# The other classes of builder.catalog.modules (Sample) are copied from their source.
_HELPER_SOURCES = {
    "builder.catalog.modules.Step": '''
class Step(nn.Module):
    """McCulloch-Pitts threshold unit: 1 where ``x >= threshold``, else 0."""

    def __init__(self, threshold: float = 0.0):
        super().__init__()
        self.threshold = float(threshold)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x >= self.threshold).to(x.dtype)
''',
}

# builder.compile.apply_init, as the script's own function (the tests pin the two together).
_APPLY_INIT = '''
def apply_init(module: nn.Module, scheme: str) -> None:
    """Initialise ``module``'s weights (tensors of 2+ dims) and biases as NeuralCanvas does."""
    if scheme == "default":
        return
    params = dict(module.named_parameters())
    with torch.no_grad():
        for name, tensor in params.items():
            is_weight = tensor.dim() >= 2
            if scheme == "zeros":
                nn.init.zeros_(tensor)
            elif scheme == "uniform":
                of_bias = params.get(name.replace("bias", "weight"))
                weight = tensor if is_weight else of_bias
                if weight is None:  # e.g. attention's in_proj_bias: any weight's fan-in
                    weight = next(t for t in params.values() if t.dim() >= 2)
                fan_in = nn.init._calculate_fan_in_and_fan_out(weight)[0]
                bound = 1.0 / max(fan_in, 1) ** 0.5
                nn.init.uniform_(tensor, -bound, bound)
            elif not is_weight:
                nn.init.zeros_(tensor)
            elif scheme == "xavier_normal":
                nn.init.xavier_normal_(tensor)
            elif scheme == "xavier_uniform":
                nn.init.xavier_uniform_(tensor)
            elif scheme == "he_normal":
                nn.init.kaiming_normal_(tensor, nonlinearity="relu")
            elif scheme == "he_uniform":
                nn.init.kaiming_uniform_(tensor, nonlinearity="relu")
            else:
                raise ValueError(f"unknown initialiser {scheme!r}")
'''

# Names the script defines or imports at the top level; a class name must not be one.
_SCRIPT_NAMES = {
    "F",
    "Path",
    "Step",
    "Sample",
    "EpochSampler",
    "DistributedDataParallel",
    "BinaryHinge",
} | set(dir(builtins))
# Names forward's local variables must not take.
_FORWARD_RESERVED = {"self", "torch", "nn", "F", "x", "_", "h_n", "c_n"}


def _tagged(spec: LayerSpec) -> Callable[..., dict[str, Any]]:
    """``spec``'s emit (or the compiler's default), marking the fx nodes it adds with the
    layer's attribute name. The graph it builds is the compiler's, node for node."""
    from builder.compile import _default_emit

    inner = spec.emit or (_default_emit if spec.ctor is not None else None)

    def emit(e: Any, p: Any, xs: dict[str, Any], shapes: Any, wanted: set[str]) -> Any:
        before = set(e.graph.nodes)
        produced = inner(e, p, xs, shapes, wanted) if inner else {"out": xs["in"]}
        for node in e.graph.nodes:
            if node not in before:
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
    if keyword.iskeyword(name) or keyword.issoftkeyword(name) or name in _SCRIPT_NAMES:
        name = f"{name}Net"
    return name


@dataclass
class _Model:
    """The model class's code and what it needs."""

    code: str
    class_name: str
    helpers: list[str]  # sources of functions and modules the class uses


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


def _ctor_callee(target: str) -> tuple[str, str | None]:
    """The class to call for a Ctor target, and the helper source the script must define."""
    module, _, attr = target.rpartition(".")
    if module == "torch.nn":
        return f"nn.{attr}", None
    if target in _HELPER_SOURCES:
        return attr, _HELPER_SOURCES[target]
    if module == "builder.catalog.modules":  # written with torch and nn only: copied as is
        import builder.catalog.modules

        return attr, "\n" + inspect.getsource(getattr(builder.catalog.modules, attr))
    raise ExportError(
        f"cannot export the module {target!r}: add its source to builder.export.script._HELPER_SOURCES"
    )


def _model(net: Network, name: str, seed: int) -> tuple[_Model, Any]:
    """The model class for ``net`` and the compiled (tagged) GraphModule it mirrors."""
    from builder.compile import compile_network

    results = check_compilable(net)
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
    helpers: list[str] = []
    built: list[str] = []
    uses_init = False
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
        built.append(attr)
    children = [attr for attr, _ in gm.named_children()]
    if children != built:  # the compiler changed how it builds: the export must follow
        raise ExportError(f"internal: compiled modules {children} differ from exported {built}")
    if len(lines) == header_lines:
        lines.append("        # (no layer with weights or state)")
    lines.append("")
    lines += _forward(gm)
    if uses_init:
        helpers.append(_APPLY_INIT)
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


# ============================================================================ templates
#
# The script's fixed code, already formatted. A line ``#?feature text`` is kept (as
# ``text``, at the marker's indentation) only when the feature is on; ``#?!feature`` when it
# is off. Everything that varies with the project is a constant (see _constants) or the
# model class; ``__MODEL__`` is the class name.


def _template(text: str, features: Iterable[str] = (), model: str = "") -> str:
    """A template's text for the ``features`` that are on (see above)."""
    on = set(features)
    out = []
    for line in text.strip("\n").splitlines():
        match = re.match(r"^#\?(!?)([a-z_0-9]+)(.*)$", line)
        if match is None:
            out.append(line)
        elif (match.group(2) in on) != bool(match.group(1)):
            out.append(match.group(3))
    return "\n".join(out).replace("__MODEL__", model) + "\n"


_DOC_TRAIN = '''
"""A network built in NeuralCanvas, as a standalone PyTorch training script.

NeuralCanvas wrote this file from a project (named in the comments below): the model
class, the dataset and the training loop with the project's loss, optimiser, schedule,
clipping, penalties, early stopping and seed. It needs torch and numpy (and scikit-learn
for its datasets), never NeuralCanvas itself.

    python __FILE__ --epochs 10 --out run
    torchrun --standalone --nproc_per_node=2 __FILE__ --epochs 10 --out run

With one process it reproduces the app's run step for step: the same data, split and
batches, the same initial weights and the same losses. Under torchrun each process
trains a DistributedDataParallel copy of the model on its own share of every batch.
"""
'''

_DOC_MODEL = '''
"""A network built in NeuralCanvas, as a standalone PyTorch module.

NeuralCanvas wrote this file from a project (named in the comments below). There is no
training loop: the note below says why. Running it builds the model with the project's
seed and writes its initial weights:

    python __FILE__ --out run
"""
'''

_RNG_SEED = '''
def rng_seed(salt: str) -> int:
    """SEED plus a fixed offset per use: NeuralCanvas draws each dataset and each split
    from a random stream of its own."""
    return (SEED + zlib.crc32(salt.encode())) % 2**32
'''

_DATA_PATH = '''
def data_path(path: str) -> Path:
    """A path from the project: a relative one is read from PROJECT_DIR."""
    full = Path(path).expanduser()
    return full if full.is_absolute() else Path(PROJECT_DIR) / full
'''

_LOADERS: dict[str, str] = {
    "truth": '''
def load_data() -> tuple[torch.Tensor, torch.Tensor]:
    """The truth table (inputs in {0, 1}², one row each), repeated REPEAT times."""
    table = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    x = np.tile(table, (REPEAT, 1))
    y = np.tile(TRUTH, REPEAT)
    return torch.as_tensor(x), torch.as_tensor(y.astype(np.int64))
''',
    "moons": '''
def load_data() -> tuple[torch.Tensor, torch.Tensor]:
    """Two interleaving half circles (scikit-learn's make_moons)."""
    x, y = make_moons(n_samples=SAMPLES, noise=NOISE, random_state=rng_seed("moons"))
    return torch.as_tensor(x.astype(np.float32)), torch.as_tensor(y.astype(np.int64))
''',
    "circles": '''
def load_data() -> tuple[torch.Tensor, torch.Tensor]:
    """A small circle inside a large one (scikit-learn's make_circles)."""
    x, y = make_circles(
        n_samples=SAMPLES, noise=NOISE, factor=FACTOR, random_state=rng_seed("circles")
    )
    return torch.as_tensor(x.astype(np.float32)), torch.as_tensor(y.astype(np.int64))
''',
    "blobs": '''
def load_data() -> tuple[torch.Tensor, torch.Tensor]:
    """Gaussian blobs, one class each (scikit-learn's make_blobs)."""
    seed = rng_seed("blobs")
    x, y = make_blobs(
        n_samples=SAMPLES, centers=CLASSES, cluster_std=STD, random_state=seed
    )
    return torch.as_tensor(x.astype(np.float32)), torch.as_tensor(y.astype(np.int64))
''',
    "spirals": '''
def load_data() -> tuple[torch.Tensor, torch.Tensor]:
    """CLASSES interleaved spiral arms, one class each; NOISE jitters the angle."""
    rng = np.random.default_rng(rng_seed("spirals"))
    xs, ys = [], []
    for c, part in enumerate(np.array_split(np.arange(SAMPLES), CLASSES)):
        m = len(part)
        r = np.linspace(0.05, 1.0, m)
        theta = 2 * np.pi * c / CLASSES + 3 * np.pi * r + rng.normal(0.0, NOISE, m)
        xs.append(np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1))
        ys.append(np.full(m, c))
    x, y = np.concatenate(xs), np.concatenate(ys)
    return torch.as_tensor(x.astype(np.float32)), torch.as_tensor(y.astype(np.int64))
''',
    "sine": '''
def load_data() -> tuple[torch.Tensor, torch.Tensor]:
    """Regression: x uniform in [-pi, pi], y = sin(x) + Gaussian noise."""
    rng = np.random.default_rng(rng_seed("sine"))
    x = rng.uniform(-np.pi, np.pi, (SAMPLES, 1))
    y = (np.sin(x) + rng.normal(0.0, NOISE, x.shape)).astype(np.float32)
    return torch.as_tensor(x.astype(np.float32)), torch.as_tensor(y.reshape(len(y), -1))
''',
    "sine_sequences": '''
def load_data() -> tuple[torch.Tensor, torch.Tensor]:
    """Noisy sine waves: class 0 has a long period (12-30 steps), class 1 a short one."""
    rng = np.random.default_rng(rng_seed("sine_sequences"))
    y = rng.permutation(np.arange(SAMPLES) % 2)
    low, high = rng.uniform(12.0, 30.0, SAMPLES), rng.uniform(4.0, 8.0, SAMPLES)
    x = sine_waves(rng, SAMPLES, STEPS, np.where(y == 0, low, high), NOISE)[:, :, None]
    return torch.as_tensor(x.astype(np.float32)), torch.as_tensor(y.astype(np.int64))
''',
    "sine_forecast": '''
def load_data() -> tuple[torch.Tensor, torch.Tensor]:
    """A window of a noisy sine wave (period 8-30 steps); the target is the next value."""
    rng = np.random.default_rng(rng_seed("sine_forecast"))
    periods = rng.uniform(8.0, 30.0, SAMPLES)
    series = sine_waves(rng, SAMPLES, STEPS + 1, periods, NOISE)
    x, y = series[:, :STEPS, None], series[:, STEPS:].astype(np.float32)
    return torch.as_tensor(x.astype(np.float32)), torch.as_tensor(y.reshape(len(y), -1))
''',
    "token_sequences": '''
def load_data() -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids: markers 1 and 2 once each among fillers (3 and up); the class says which
    marker comes first."""
    rng = np.random.default_rng(rng_seed("token_sequences"))
    x = rng.integers(3, VOCAB, (SAMPLES, STEPS))
    y = rng.permutation(np.arange(SAMPLES) % 2)
    # two distinct positions per row: the earlier gets the marker of the row's class
    pos = np.argsort(rng.random((SAMPLES, STEPS)), axis=1)[:, :2]
    first, second = pos.min(axis=1), pos.max(axis=1)
    rows = np.arange(SAMPLES)
    x[rows, first] = np.where(y == 0, 1, 2)
    x[rows, second] = np.where(y == 0, 2, 1)
    return torch.as_tensor(x, dtype=torch.int64), torch.as_tensor(y.astype(np.int64))
''',
    "digits": '''
def load_data() -> tuple[torch.Tensor, torch.Tensor]:
    """8x8 grey images of handwritten digits (scikit-learn), pixels scaled to [0, 1]."""
    bunch = load_digits()
    x = (bunch.data / 16.0).astype(np.float32)
#?!flat    x = x.reshape(-1, 1, 8, 8)
    return torch.as_tensor(x), torch.as_tensor(bunch.target.astype(np.int64))
''',
    "table": '''
def load_data() -> tuple[torch.Tensor, torch.Tensor]:
    """A small real dataset that ships with scikit-learn."""
    bunch = __LOADER__()
    x = bunch.data.astype(np.float32)
    return torch.as_tensor(x), torch.as_tensor(bunch.target.astype(np.int64))
''',
    "csv": '''
def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def has_header(rows: list[list[str]]) -> bool:
    """The first row is a header when a cell of it is text and the cell below a number."""
    if len(rows) < 2:
        return not all(is_number(c) for c in rows[0])
    pairs = zip(rows[0], rows[1], strict=True)
    return any(not is_number(a) and is_number(b) for a, b in pairs)


def column_index(ref: str | int | None, names: list[str], default: int) -> int:
    if ref is None:
        return default
    if isinstance(ref, int):
        return ref % len(names)
    return names.index(ref)


def load_data() -> tuple[torch.Tensor, torch.Tensor]:
    """Your CSV file, read as NeuralCanvas reads it: numeric features, one target."""
    text = data_path(CSV_PATH).read_text(encoding="utf-8-sig")
    delimiter = DELIMITER
    if delimiter == "auto":
        try:
            delimiter = csv.Sniffer().sniff(text[:65536], delimiters=",;\\t|").delimiter
        except csv.Error:
            delimiter = ","
    rows = [
        [cell.strip() for cell in cells]
        for cells in csv.reader(io.StringIO(text), delimiter=delimiter)
        if any(cell.strip() for cell in cells)
    ]
    header = has_header(rows) if HEADER == "auto" else HEADER
    width = len(rows[0])
    names = [f"col{i}" for i in range(width)]
    if header:
        names = [cell or f"col{i}" for i, cell in enumerate(rows[0])]
        rows = rows[1:]
    columns = list(zip(*rows, strict=True))
    target = column_index(TARGET, names, width - 1)
    if FEATURES is None:
        features = [i for i in range(width) if i != target]
    else:
        features = [column_index(c, names, 0) for c in FEATURES]
    x = np.stack([np.array([float(v) for v in columns[i]]) for i in features], axis=1)
    raw = list(columns[target])
    if all(is_number(v) for v in raw):
        y = np.array([float(v) for v in raw])
    else:
        y = np.array(raw, dtype=str)
    return torch.as_tensor(x.astype(np.float32)), targets(y)
''',
    "numpy": '''
def load_data() -> tuple[torch.Tensor, torch.Tensor]:
    """Your NumPy arrays, read as NeuralCanvas reads them."""
    path = data_path(NPY_PATH)
    if path.suffix.lower() == ".npz":
        with np.load(path, allow_pickle=False) as archive:
            x = archive[X_KEY]
            y = None if TARGET_PATH else archive[Y_KEY]
    else:
        x, y = np.load(path, allow_pickle=False), None
    if TARGET_PATH:
        y = np.load(data_path(TARGET_PATH), allow_pickle=False)
    if x.ndim == 1:
        x = x[:, None]
    x = torch.as_tensor(x.astype(np.int64 if X_DTYPE == "int64" else np.float32))
#?classification    y = y.reshape(len(y))
#?classification    y = y.astype(np.float64) if y.dtype.kind in "biuf" else y.astype(str)
    return x, targets(y)
''',
    "idx": '''
def read_idx(what: str, ndim: int) -> np.ndarray:
    """One IDX file (raw or .gz) of the folder, as an array."""
    folder = data_path(IDX_FOLDER)
    stems = [f"{PREFIX}-{what}-idx{ndim}-ubyte", f"{PREFIX}-{what}.idx{ndim}-ubyte"]
    for stem in stems:
        for path in (folder / stem, folder / f"{stem}.gz"):
            if path.is_file():
                data = path.read_bytes()
                if path.suffix == ".gz":
                    data = gzip.decompress(data)
                dims = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
                flat = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
                return flat.reshape(dims)
    raise FileNotFoundError(f"no {PREFIX}-{what}-idx{ndim}-ubyte(.gz) in {folder}")


def load_data() -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST-style IDX files, images scaled to [0, 1], as NeuralCanvas reads them."""
    images, labels = read_idx("images", 3), read_idx("labels", 1)
    if LIMIT is not None:
        images, labels = images[:LIMIT], labels[:LIMIT]
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    return x, torch.as_tensor(labels.astype(np.int64))
''',
}

_SINE_WAVES = """
def sine_waves(
    rng: np.random.Generator, n: int, steps: int, periods: np.ndarray, noise: float
) -> np.ndarray:
    amplitude = rng.uniform(0.5, 1.5, (n, 1))
    phase = rng.uniform(0.0, 2 * np.pi, (n, 1))
    t = np.arange(steps)[None, :]
    wave = amplitude * np.sin(2 * np.pi * t / periods[:, None] + phase)
    return wave + rng.normal(0.0, noise, (n, steps))
"""

_TARGETS = {
    "classification": '''
def targets(y: np.ndarray) -> torch.Tensor:
    """Class labels (numbers or text) as class indices, in sorted order of the labels."""
    _, index = np.unique(y, return_inverse=True)
    return torch.as_tensor(index.astype(np.int64))
''',
    "regression": '''
def targets(y: np.ndarray) -> torch.Tensor:
    """Real-valued targets, one row per sample."""
    y = np.asarray(y, dtype=np.float32)
    return torch.as_tensor(y.reshape(len(y), -1))
''',
}

_SPLITS = '''
def allocate(counts, fraction, total, caps, rng):
    """Largest-remainder apportionment of ``total`` rows over classes (each capped)."""
    caps = np.maximum(caps, 0)
    quota = fraction * counts
    take = np.minimum(np.floor(quota).astype(int), caps)
    order = rng.permutation(len(counts))
    order = order[np.argsort(-(quota - np.floor(quota))[order], kind="stable")]
    for bounded in (True, False):  # first within one row of each quota, then anywhere
        for g in order:
            if take.sum() >= total:
                return take
            if take[g] < caps[g] and (not bounded or take[g] < math.ceil(quota[g])):
                take[g] += 1
    return take


def partition(labels, n, fractions, rng):
    """Row indices for each fraction, then the rest: stratified when there are labels
    (each class gives its share, rounded, and keeps a row for training)."""
    if labels is None:
        groups = [np.arange(n)]
    else:
        groups = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    groups = [rng.permutation(g) for g in groups]
    counts = np.array([len(g) for g in groups])
    used = np.zeros(len(groups), dtype=int)
    takes = []
    for fraction in fractions:
        total = math.floor(fraction * n + 0.5)
        take = allocate(counts, fraction, total, counts - 1 - used, rng)
        takes.append(take)
        used += take
    parts = [[] for _ in range(len(fractions) + 1)]
    for g, group in enumerate(groups):
        start = 0
        for i, take in enumerate(takes):
            parts[i].append(group[start : start + take[g]])
            start += take[g]
        parts[-1].append(group[start:])
    return [rng.permutation(np.concatenate(p)).astype(np.int64) for p in parts]
'''

_NORMALISE = {
    "zscore": '''
def fit_normalisation(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation per feature (per channel of images)."""
    axis = 1 if x.ndim == 4 else x.ndim - 1
    dims = [d for d in range(x.ndim) if d != axis]
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]
    x64 = x.double()
    mean = x64.mean(dim=dims)
    std = x64.std(dim=dims, correction=0)
    std = torch.where(std > 1e-12, std, torch.ones_like(std))
    return mean.float().view(shape), std.float().view(shape)


def normalise(
    x: torch.Tensor, stats: tuple[torch.Tensor, torch.Tensor]
) -> torch.Tensor:
    mean, std = stats
    return (x - mean) / std
''',
    "minmax": '''
def fit_normalisation(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Minimum and maximum per feature (per channel of images)."""
    axis = 1 if x.ndim == 4 else x.ndim - 1
    dims = [d for d in range(x.ndim) if d != axis]
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]
    x64 = x.double()
    lo, hi = x64.amin(dim=dims), x64.amax(dim=dims)
    return lo.float().view(shape), hi.float().view(shape)


def normalise(
    x: torch.Tensor, stats: tuple[torch.Tensor, torch.Tensor]
) -> torch.Tensor:
    lo, hi = stats
    return (x - lo) / torch.where(hi > lo, hi - lo, torch.ones_like(hi))
''',
}

_LOAD_SPLITS = '''
def load_splits(device: torch.device) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """The app's train / validation / test splits (inputs and targets) on ``device``."""
    x, y = load_data()
    rng = np.random.default_rng(rng_seed("splits"))
#?classification    labels = y.numpy()
#?!classification    labels = None
    val, test, train = partition(labels, len(x), [VALIDATION, TEST], rng)
#?normalise    stats = fit_normalisation(x[torch.from_numpy(train)])  # training rows only
    splits = {}
    for name, rows in (("train", train), ("val", val), ("test", test)):
        if len(rows):
            index = torch.from_numpy(rows)
#?normalise            splits[name] = (normalise(x[index], stats).to(device), y[index].to(device))
#?!normalise            splits[name] = (x[index].to(device), y[index].to(device))
    return splits
'''

_SHIFT = '''
def shift(x: torch.Tensor, s: int, generator: torch.Generator) -> torch.Tensor:
    """Translate each image by its own random (dy, dx) in [-s, s]; vacated pixels are 0."""
    n, c, h, w = x.shape
    dev = generator.device
    offsets = torch.randint(-s, s + 1, (n, 2), generator=generator, device=dev)
    offsets = offsets.to(x.device)
    padded = F.pad(x, (s, s, s, s))
    rows = torch.arange(h, device=x.device)[None, :] + s - offsets[:, :1]  # (n, h)
    cols = torch.arange(w, device=x.device)[None, :] + s - offsets[:, 1:]  # (n, w)
    return padded[
        torch.arange(n, device=x.device)[:, None, None, None],
        torch.arange(c, device=x.device)[None, :, None, None],
        rows[:, None, :, None],
        cols[:, None, None, :],
    ]
'''

_AUGMENT = '''
def augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """An augmented copy of the batch ``x``, drawn as the app draws it."""
    out = x.clone()
#?flip    flip = torch.rand(x.shape[0], generator=generator, device=generator.device) < 0.5
#?flip    flip = flip.to(x.device)
#?flip    out[flip] = out[flip].flip(-1)
#?shift    out = shift(out, AUG_SHIFT, generator)
#?noise    noise = torch.randn(out.shape, generator=generator, device=generator.device)
#?noise    out = out + AUG_NOISE * noise.to(out)
    return out
'''

_BCE = '''
def bce(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy on probabilities, as the app computes it: torch's function
    on the CPU, its formula elsewhere (an output outside [0, 1] then gives NaN)."""
    if output.device.type == "cpu":
        try:
            return F.binary_cross_entropy(output, target)
        except RuntimeError:
            if bool(torch.isfinite(output.detach()).all()):
                raise
    log_p = torch.clamp(torch.log(output), min=-100)
    log_q = torch.clamp(torch.log(1 - output), min=-100)
    return -(target * log_p + (1 - target) * log_q).mean()
'''

_HINGE = '''
class BinaryHinge(nn.Module):
    """Hinge loss of one score per sample against targets in {-1, +1}."""

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return torch.clamp(1 - target * output, min=0).mean()
'''

_LOSS_OBJECTS = {
    "mse": "nn.MSELoss()",
    "l1": "nn.L1Loss()",
    "huber": "nn.HuberLoss()",
    "bce": "bce",
    "bce_with_logits": "nn.BCEWithLogitsLoss()",
    "cross_entropy": "nn.CrossEntropyLoss()",
    "nll": "nn.NLLLoss()",
    "kl_div": 'nn.KLDivLoss(reduction="batchmean")',
    "hinge": "nn.MultiMarginLoss()",
    "binary_hinge": "BinaryHinge()",
}

_PREPARE = {
    "labels": ("class indices", "return y.reshape(-1).long()"),
    "one_hot": (
        "one-hot rows",
        "y = y.reshape(-1, 1)\n    return (y == torch.arange(NUM_CLASSES, device=y.device)).float()",
    ),
    "column": ("one column of 0 / 1", "return y.reshape(-1, 1).float()"),
    "signs": ("one column of -1 / +1", "return y.reshape(-1, 1).float() * 2 - 1"),
    "values": ("values shaped like the output", "return y.reshape(-1, *OUTPUT_SHAPE)"),
    "float_values": (
        "values shaped like the output",
        "return y.reshape(-1, *OUTPUT_SHAPE).float()",
    ),
}

_PREDICT = {
    "argmax": ("class indices", "return output.detach().argmax(dim=-1)"),
    "above_0": ("class indices", "return (output.detach().reshape(-1) > 0.0).long()"),
    "above_half": ("class indices", "return (output.detach().reshape(-1) > 0.5).long()"),
    "identity": (
        "values shaped like the targets",
        "return output.detach().reshape(-1, *TARGET_SHAPE)",
    ),
    "sigmoid": (
        "values shaped like the targets",
        "return torch.sigmoid(output.detach()).reshape(-1, *TARGET_SHAPE)",
    ),
    "exp": (
        "values shaped like the targets",
        "return torch.exp(output.detach()).reshape(-1, *TARGET_SHAPE)",
    ),
}

_OPTIMIZERS = {
    "sgd": """
    return torch.optim.SGD(
        params, lr=LR, momentum=MOMENTUM, nesterov=NESTEROV, weight_decay=WEIGHT_DECAY
    )""",
    "adagrad": """
    return torch.optim.Adagrad(params, lr=LR, eps=EPS, weight_decay=WEIGHT_DECAY)""",
    "rmsprop": """
    return torch.optim.RMSprop(
        params,
        lr=LR,
        alpha=ALPHA,
        eps=EPS,
        momentum=MOMENTUM,
        weight_decay=WEIGHT_DECAY,
    )""",
    "adam": """
    return torch.optim.Adam(
        params, lr=LR, betas=BETAS, eps=EPS, weight_decay=WEIGHT_DECAY
    )""",
    "adamw": """
    return torch.optim.AdamW(
        params, lr=LR, betas=BETAS, eps=EPS, weight_decay=WEIGHT_DECAY
    )""",
}

_SCHEDULES = {
    "step": """
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=STEP_SIZE, gamma=GAMMA)""",
    "cosine": """
    return torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=T_MAX or epochs, eta_min=ETA_MIN
    )""",
    "plateau": """
    return torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="min", factor=FACTOR, patience=PLATEAU_PATIENCE
    )""",
}

_PENALTY = '''
def penalty(weights: list[torch.Tensor]) -> torch.Tensor:
    """L1 * sum |w| + L2 * sum w^2 over the weights (2+ dims), as the app adds it."""
#?l1    total = torch.stack(torch._foreach_norm(weights, 1)).sum() * L1
#?l1_l2    term = torch.stack(torch._foreach_norm(weights, 2)).square().sum() * L2
#?l1_l2    return total + term
#?l2_only    return torch.stack(torch._foreach_norm(weights, 2)).square().sum() * L2
#?l1_only    return total
'''

_EVALUATE = '''
@torch.no_grad()
def evaluate(
    model: nn.Module, x: torch.Tensor, y_raw: torch.Tensor
) -> dict[str, float]:
    """The loss and metrics on one split, in chunks of 4096 rows (as in the app)."""
    model.eval()
    y = prepare_target(y_raw)
    total = torch.zeros((), device=x.device)
#?classification    correct = torch.zeros((), dtype=torch.int64, device=x.device)
#?regression    acc = torch.float32 if x.device.type == "mps" else torch.float64
#?regression    sse = torch.zeros((), dtype=acc, device=x.device)
#?regression    sae = torch.zeros((), dtype=acc, device=x.device)
#?regression    count = 0
    n = x.shape[0]
    for start in range(0, n, 4096):
        out = model(x[start : start + 4096])
        total += LOSS(out, y[start : start + 4096]).detach() * out.shape[0]
        truth = y_raw[start : start + 4096]
#?classification        correct += (predict(out).reshape(-1) == truth.reshape(-1)).sum()
#?regression        diff = predict(out).reshape(truth.shape).to(acc) - truth.to(acc)
#?regression        sse += diff.square().sum()
#?regression        sae += diff.abs().sum()
#?regression        count += diff.numel()
#?classification    return {"loss": float(total) / n, "accuracy": int(correct) / n}
#?regression    mse, mae = sse.item() / count, sae.item() / count
#?regression    return {"loss": float(total) / n, "mse": mse, "mae": mae}
'''

_TRAIN = '''
class EpochSampler:
    """The training rows of every epoch, in the app's order, shared out among processes.

    One process: one torch.randperm per epoch from a generator seeded with SEED + 1, the
    order the app trains in. Several processes (torchrun): the same permutation in every
    process, padded to a multiple of the number of processes and dealt out the way
    torch.utils.data.DistributedSampler deals it, so each process has its own share.
    """

    def __init__(self, n: int, rank: int = 0, world: int = 1) -> None:
        self.n, self.rank, self.world = n, rank, world
        self.num_samples = math.ceil(n / world)
        self.generator = torch.Generator().manual_seed(SEED + 1)
        self.epoch = -1
        self.order = torch.arange(n)

    def set_epoch(self, epoch: int) -> None:
        """Move on to ``epoch`` (each epoch draws the next permutation, in order)."""
        while self.epoch < epoch:
            self.order = torch.randperm(self.n, generator=self.generator)
            self.epoch += 1

    def indices(self) -> torch.Tensor:
        if self.world == 1:
            return self.order
        total = self.num_samples * self.world
        padded = self.order.repeat(math.ceil(total / self.n))[:total]
        return padded[self.rank :: self.world]


def broadcast(value: float, device: torch.device) -> float:
    """Rank 0's ``value``, in every process (so that all processes decide alike)."""
    tensor = torch.tensor([value], dtype=torch.float64, device=device)
    dist.broadcast(tensor, 0)
    return float(tensor.item())


def describe(train_loss: float, metrics: dict[str, float], has_val: bool) -> str:
    figures = [f"loss {train_loss:.4g}"]
    if has_val:
        figures.append(f"validation loss {metrics['loss']:.4g}")
    figures += [f"{key} {value:.4g}" for key, value in metrics.items() if key != "loss"]
    return ", ".join(figures)


def train(
    model: nn.Module, splits: dict, epochs: int, rank: int, world: int, log: dict
) -> str:
    """Train ``model`` as the app does; return how the run ended."""
    x_all, y_raw = splits["train"]
    device = x_all.device
    net = model
    if world > 1:  # a copy per process; DDP averages the gradients over processes
        ids = [device.index] if device.type == "cuda" else None
        net = DistributedDataParallel(model, device_ids=ids)
    optimizer = make_optimizer(model.parameters())
#?schedule    scheduler = make_scheduler(optimizer, epochs)
#?clip    params = [p for p in model.parameters() if p.requires_grad]
#?penalty    weights = [p for p in model.parameters() if p.dim() >= 2]
    y_all = prepare_target(y_raw)
    eval_x, eval_y = splits.get("val", splits["train"])
    n = x_all.shape[0]
    batch = n if BATCH_SIZE is None else min(BATCH_SIZE, n)
    sampler = EpochSampler(n, rank, world)
    per_process = math.ceil(batch / world)
    steps = math.ceil(sampler.num_samples / per_process)
#?augment    aug_generator = torch.Generator(device=device).manual_seed(SEED + 2 + 1000 * rank)
    torch.manual_seed(SEED + 3 + 1000 * rank)  # dropout and other layer randomness
#?restore    best_loss, best_state, waiting = math.inf, None, 0
#?early_only    best_loss, waiting = math.inf, 0
    for epoch in range(epochs):
        net.train()
        sampler.set_epoch(epoch)
        order = sampler.indices().to(device)
        losses = []
        for b in range(steps):
            rows = order[b * per_process : (b + 1) * per_process]
            xb = x_all.index_select(0, rows)
#?augment            xb = augment(xb, aug_generator)
            loss = LOSS(net(xb), y_all.index_select(0, rows))
#?penalty            if weights:
#?penalty                loss = loss + penalty(weights)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
#?clip_norm            nn.utils.clip_grad_norm_(params, CLIP_MAX, foreach=True)
#?clip_value            nn.utils.clip_grad_value_(params, CLIP_MAX, foreach=True)
            optimizer.step()
            losses.append(loss.detach())
        step_losses = torch.stack(losses)
        if world > 1:  # the mean over processes, for the log
            dist.all_reduce(step_losses)
            step_losses /= world
        values = step_losses.tolist()
        log["steps"] += values
        if not all(math.isfinite(v) for v in values):
            if rank == 0:
                print(f"Epoch {epoch + 1}: the loss diverged (NaN or infinite).")
            return "diverged"
        train_loss = math.fsum(values) / steps  # the mean step loss, exactly rounded
        metrics = evaluate(model, eval_x, eval_y) if rank == 0 else {"loss": 0.0}
        watched = metrics["loss"] if "val" in splits else train_loss
        if world > 1:
            watched = broadcast(watched, device)
#?early        if watched < best_loss - MIN_DELTA:
#?early            best_loss, waiting = watched, 0
#?restore            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
#?early        else:
#?early            waiting += 1
#?plateau        scheduler.step(watched)
#?stepwise        scheduler.step()
        if rank == 0:
            lr = optimizer.param_groups[0]["lr"]
            text = describe(train_loss, metrics, "val" in splits)
            print(f"epoch {epoch + 1}/{epochs}: {text}", flush=True)
            val_loss = metrics["loss"] if "val" in splits else None
            entry = {"epoch": epoch + 1, "train_loss": train_loss, "val_loss": val_loss}
            entry.update({k: v for k, v in metrics.items() if k != "loss"}, lr=lr)
            log["epochs"].append(entry)
#?early        if waiting >= PATIENCE:
#?restore            if best_state is not None:
#?restore                model.load_state_dict(best_state)
#?early            if rank == 0:
#?early                print(f"Early stopping after epoch {epoch + 1}.")
#?early            return "early_stopped"
    return "finished"


def pick_device(name: str, local_rank: int, world: int) -> torch.device:
    """auto: a CUDA GPU (under torchrun, this process's own), then MPS, then the CPU."""
    if name in ("auto", "cuda") and torch.cuda.is_available():
        return torch.device("cuda", local_rank)
    if name == "cuda":
        raise SystemExit("--device cuda: no CUDA GPU is available here")
    mps = getattr(torch.backends, "mps", None)
    mps_ok = mps is not None and mps.is_available()
    if name in ("auto", "mps") and world == 1 and mps_ok:
        return torch.device("mps")
    if name == "mps":
        raise SystemExit("--device mps: Apple's GPU backend is not available here")
    return torch.device("cpu")


def run(args: argparse.Namespace, device: torch.device, rank: int, world: int) -> int:
    splits = load_splits(device)
    torch.manual_seed(SEED)  # the app's initial weights, the same in every process
    model = __MODEL__().to(device)
    log = {"steps": [], "epochs": [], "test": None}
    outcome = train(model, splits, args.epochs, rank, world, log)
    if world > 1:  # e.g. BatchNorm statistics: every process keeps rank 0's
        for buffer in model.buffers():
            dist.broadcast(buffer, 0)
    out = Path(args.out)
    if rank == 0:
        if "test" in splits and outcome != "diverged":
            log["test"] = evaluate(model, *splits["test"])
            print(f"test split: {describe(log['test']['loss'], log['test'], False)}")
        out.mkdir(parents=True, exist_ok=True)
        if outcome != "diverged":
            torch.save(model.state_dict(), out / "weights.pt")
            print(f"Wrote {out / 'weights.pt'}")
        if args.log_json:
            text = json.dumps({"outcome": outcome, **log}, indent=1)
            Path(args.log_json).write_text(text)
    if args.save_every_rank:
        out.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), out / f"weights-rank{rank}.pt")
    if world > 1:
        dist.barrier()
    return 1 if outcome == "diverged" else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train the exported network.")
    parser.add_argument("--epochs", type=int, default=EPOCHS, help="epochs to train")
    parser.add_argument("--out", default="run", help="folder for weights.pt (run)")
    parser.add_argument(
        "--device", default=DEVICE, choices=("auto", "cpu", "cuda", "mps")
    )
    parser.add_argument("--log-json", metavar="FILE", help="write every loss to FILE")
    parser.add_argument(
        "--save-every-rank",
        action="store_true",
        help="every process also writes weights-rank<R>.pt (to compare them)",
    )
    args = parser.parse_args(argv)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    device = pick_device(args.device, int(os.environ.get("LOCAL_RANK", "0")), world)
    if world > 1:
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        return run(args, device, rank, world)
    finally:
        if world > 1:
            dist.destroy_process_group()


if __name__ == "__main__":
    raise SystemExit(main())
'''

_MAIN_MODEL_ONLY = """
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the exported network.")
    parser.add_argument("--out", default="run", help="folder for weights.pt (run)")
    args = parser.parse_args(argv)
    torch.manual_seed(SEED)  # the app's initial weights
    model = __MODEL__()
    count = sum(p.numel() for p in model.parameters())
    print(f"{type(model).__name__}: {count} parameters")
    if int(os.environ.get("RANK", "0")) == 0:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), out / "weights.pt")
        print(f"Wrote {out / 'weights.pt'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
"""


# ============================================================================ the plan


@dataclass
class _Plan:
    """What the training part of the script needs to know, checked as the trainer checks it."""

    config: Any  # builder.training.config.TrainingConfig
    dataset: str  # the registry name
    options: dict[str, Any]
    validation: float
    test: float
    normalise: bool
    normalise_kind: str
    augment: dict[str, Any]
    task: str
    num_classes: int | None
    loss: str  # a key of _LOSS_OBJECTS
    prepare: str  # a key of _PREPARE
    predict: str  # a key of _PREDICT
    output_shape: tuple[int, ...]
    target_shape: tuple[int, ...]
    project_dir: str


def _plan(project: Project, net: Network, gm: Any, base_dir: Path | None) -> _Plan:
    """Check the training settings, data and network together as the trainer does (raises
    a NeuralCanvasError saying what does not fit)."""
    from builder.data import dataset_info, load_dataset, make_splits
    from builder.training import objectives
    from builder.training.config import parse_training

    cfg = parse_training(project.training)
    ds = load_dataset(cfg.dataset, base_dir, seed=cfg.seed)
    make_splits(ds, cfg.dataset, seed=cfg.seed)  # refuses fractions that leave no rows
    inputs, outputs = gm.meta["inputs"], gm.meta["outputs"]
    if len(inputs) != 1 or len(outputs) != 1:
        raise ExportError(
            f"the network {net.name!r} has {len(inputs)} Input(s) and {len(outputs)} Output(s):"
            " supervised training needs exactly one of each"
        )
    port = inputs[0]
    if tuple(port.shape[1:]) != tuple(ds.input_shape):
        shape = ", ".join(map(str, ds.input_shape))
        raise ExportError(
            f"the Input {net.name_of(port.node_id)!r} takes {port.shape} but dataset"
            f" {ds.name!r} gives samples of shape ({shape}): set the Input's shape to [{shape}]"
        )
    data_int = not ds.x.is_floating_point()
    if data_int != (port.shape.dtype == "int64"):
        raise ExportError(
            f"dataset {ds.name!r} gives {'token ids' if data_int else 'real values'} but the Input"
            f" {net.name_of(port.node_id)!r} has dtype {port.shape.dtype}"
        )
    out_shape = tuple(int(d) for d in outputs[0].shape[1:])
    target_shape = tuple(int(d) for d in ds.target_shape)
    objectives.make_loss(
        cfg.loss,
        out_shape,
        ds.task,
        ds.num_classes,
        target_shape,
        ds.y.dtype,
        dataset=ds.name,
        last_layer=net.type_of(net.in_edges(outputs[0].node_id)[0].src),
    )
    name = cfg.loss
    if ds.task == "classification":
        binary = out_shape == (1,) and ds.num_classes == 2
        if name == "hinge":
            loss = "binary_hinge" if binary else "hinge"
            prepare = "signs" if binary else "labels"
            predict = "above_0" if binary else "argmax"
        elif name in ("cross_entropy", "nll"):
            loss, prepare, predict = name, "labels", "argmax"
        elif binary:
            loss, prepare = name, "column"
            predict = "above_0" if name == "bce_with_logits" else "above_half"
        else:
            loss, prepare, predict = name, "one_hot", "argmax"
    else:
        loss = name
        prepare = "values" if ds.y.dtype.is_floating_point else "float_values"
        predict = {"bce_with_logits": "sigmoid", "kl_div": "exp"}.get(name, "identity")
    info = dataset_info(cfg.dataset["name"])
    spec = cfg.dataset
    options = {o.name: spec.get(o.name, o.default) for o in info.options}
    augment = {k: v for k, v in (spec.get("augment") or {}).items() if v}
    kind = spec.get("normalise", "none")
    return _Plan(
        config=cfg,
        dataset=info.name,
        options=options,
        validation=spec.get("validation", info.validation_default),
        test=spec.get("test", 0.0),
        normalise=kind != "none" and not data_int,
        normalise_kind=kind,
        augment=augment,
        task=ds.task,
        num_classes=ds.num_classes,
        loss=loss,
        prepare=prepare,
        predict=predict,
        output_shape=out_shape,
        target_shape=target_shape,
        project_dir=str(Path(base_dir).resolve()) if base_dir is not None else ".",
    )


# ============================================================================ assembly

_TRUTH_TABLES = {"and": [0, 0, 0, 1], "or": [0, 1, 1, 1], "xor": [0, 1, 1, 0]}
_SKLEARN = {
    "moons": "make_moons",
    "circles": "make_circles",
    "blobs": "make_blobs",
    "digits": "load_digits",
    "iris": "load_iris",
    "wine": "load_wine",
    "breast_cancer": "load_breast_cancer",
}
_DATASET_CONSTANTS = {
    "moons": [("SAMPLES", "samples"), ("NOISE", "noise")],
    "circles": [("SAMPLES", "samples"), ("NOISE", "noise"), ("FACTOR", "factor")],
    "blobs": [("SAMPLES", "samples"), ("CLASSES", "classes"), ("STD", "std")],
    "spirals": [("SAMPLES", "samples"), ("CLASSES", "classes"), ("NOISE", "noise")],
    "sine": [("SAMPLES", "samples"), ("NOISE", "noise")],
    "sine_sequences": [("SAMPLES", "samples"), ("STEPS", "steps"), ("NOISE", "noise")],
    "sine_forecast": [("SAMPLES", "samples"), ("STEPS", "steps"), ("NOISE", "noise")],
    "token_sequences": [("SAMPLES", "samples"), ("STEPS", "steps"), ("VOCAB", "vocab")],
    "csv": [
        ("CSV_PATH", "path"),
        ("FEATURES", "features"),
        ("TARGET", "target"),
        ("HEADER", "header"),
        ("DELIMITER", "delimiter"),
    ],
    "numpy": [
        ("NPY_PATH", "path"),
        ("TARGET_PATH", "target_path"),
        ("X_KEY", "x_key"),
        ("Y_KEY", "y_key"),
        ("X_DTYPE", "x_dtype"),
    ],
    "idx": [("IDX_FOLDER", "folder"), ("LIMIT", "limit")],
}
# Imports by the name they bind, in the order isort writes them.
_IMPORTS = [
    ("argparse", "import argparse"),
    ("csv", "import csv"),
    ("gzip", "import gzip"),
    ("io", "import io"),
    ("json", "import json"),
    ("math", "import math"),
    ("os", "import os"),
    ("struct", "import struct"),
    ("zlib", "import zlib"),
    ("Path", "from pathlib import Path"),
    (None, ""),
    ("np", "import numpy as np"),
    ("torch", "import torch"),
    ("dist", "import torch.distributed as dist"),
    ("F", "import torch.nn.functional as F"),
    *[(f, f"from sklearn.datasets import {f}") for f in sorted(set(_SKLEARN.values()))],
    ("nn", "from torch import nn"),
    ("DistributedDataParallel", "from torch.nn.parallel import DistributedDataParallel"),
]


def _used_names(code: str) -> set[str]:
    """The identifiers the code uses (strings and comments do not count)."""
    import io
    import tokenize

    tokens = tokenize.generate_tokens(io.StringIO(code).readline)
    return {t.string for t in tokens if t.type == tokenize.NAME}


def _import_block(code: str) -> str:
    used = _used_names(code)
    lines = ["from __future__ import annotations", ""]
    for name, line in _IMPORTS:
        if name is None:
            if lines[-1] != "":
                lines.append("")
        elif name in used:
            lines.append(line)
    while lines[-1] == "":
        lines.pop()
    return "\n".join(lines) + "\n"


def _section(title: str) -> str:
    return f"# {'-' * (74 - len(title))} {title}"


def _join(blocks: Iterable[str]) -> str:
    """Top-level blocks, two blank lines apart."""
    return "\n\n\n".join(b.strip("\n") for b in blocks if b.strip()) + "\n"


def _note(prefix: str, text: str) -> list[str]:
    """A comment paragraph: ``text`` escaped to one line, then wrapped."""
    return ["# " + line for line in textwrap.wrap(prefix + comment(text, False), WIDTH - 2)]


def _settings(plan: _Plan | None, seed: int) -> str:
    lines = [_section("settings")]
    if plan is None:
        lines.append(_constant("SEED", seed) + "  # the project's seed: the initial weights")
        return "\n".join(lines) + "\n"
    cfg = plan.config
    opt, sched = cfg.optimizer, cfg.schedule

    def const(name: str, value: Any, why: str = "") -> None:
        line = _constant(name, value)
        lines.append(line + (f"  # {why}" if why and "\n" not in line else ""))

    const("SEED", cfg.seed, "model init; SEED + 1 shuffling; + 2 augmentation; + 3 dropout")
    const("EPOCHS", cfg.epochs)
    const("BATCH_SIZE", cfg.batch_size, "None: the whole training split in every step")
    const("DEVICE", cfg.device, "auto: CUDA, then MPS, then the CPU")
    lines.append("")
    lines.append(f"# Optimiser {opt.name} and loss {plan.config.loss}")
    const("LR", opt.lr)
    if opt.name in ("sgd", "rmsprop"):
        const("MOMENTUM", opt.momentum)
    if opt.name == "sgd":
        const("NESTEROV", opt.nesterov)
    if opt.name in ("adam", "adamw"):
        const("BETAS", tuple(opt.betas))
    if opt.name != "sgd":
        const("EPS", opt.eps)
    if opt.name == "rmsprop":
        const("ALPHA", opt.alpha)
    const("WEIGHT_DECAY", opt.weight_decay)
    if sched.name == "step":
        const("STEP_SIZE", sched.step_size, "epochs between decays of the learning rate")
        const("GAMMA", sched.gamma)
    elif sched.name == "cosine":
        const("T_MAX", sched.t_max, "None: all epochs")
        const("ETA_MIN", sched.eta_min)
    elif sched.name == "plateau":
        const("FACTOR", sched.factor)
        const("PLATEAU_PATIENCE", sched.patience, "epochs without improvement")
    if cfg.l1:
        const("L1", cfg.l1)
    if cfg.l2:
        const("L2", cfg.l2)
    if cfg.clip.mode != "none":
        const("CLIP_MAX", cfg.clip.max, f"gradient clipping by {cfg.clip.mode}")
    if cfg.early_stopping.enabled:
        const("PATIENCE", cfg.early_stopping.patience, "early stopping")
        const("MIN_DELTA", cfg.early_stopping.min_delta)
    if plan.task == "classification":
        const("NUM_CLASSES", plan.num_classes)
    else:
        const("OUTPUT_SHAPE", plan.output_shape, "one sample's output")
        const("TARGET_SHAPE", plan.target_shape, "one sample's target")
    lines.append("")
    lines.append(f"# Dataset {plan.dataset}")
    if plan.dataset in _TRUTH_TABLES:
        const("REPEAT", plan.options["repeat"], "how many times the 4-row table is repeated")
        const("TRUTH", _TRUTH_TABLES[plan.dataset], "the target of each row")
    for name, option in _DATASET_CONSTANTS.get(plan.dataset, []):
        const(name, plan.options[option])
    if plan.dataset == "idx":
        const("PREFIX", "train" if plan.options["which"] == "train" else "t10k")
    if plan.dataset in ("csv", "numpy", "idx"):
        const("PROJECT_DIR", plan.project_dir, "EDIT: where relative paths start")
    const("VALIDATION", plan.validation, "fraction held out for validation")
    const("TEST", plan.test, "fraction held out for the final test")
    if plan.augment.get("shift"):
        const("AUG_SHIFT", plan.augment["shift"], "pixels")
    if plan.augment.get("noise"):
        const("AUG_NOISE", plan.augment["noise"], "standard deviation")
    return "\n".join(lines) + "\n"


def _data_blocks(plan: _Plan) -> list[str]:
    features = {plan.task}
    if plan.dataset == "digits" and plan.options.get("flat"):
        features.add("flat")
    blocks = [_RNG_SEED]
    if plan.dataset in ("csv", "numpy", "idx"):
        blocks.append(_DATA_PATH)
    if plan.dataset in ("sine_sequences", "sine_forecast"):
        blocks.append(_SINE_WAVES)
    if plan.dataset in _TRUTH_TABLES:
        loader = _LOADERS["truth"]
    elif plan.dataset in ("iris", "wine", "breast_cancer"):
        loader = _LOADERS["table"].replace("__LOADER__", _SKLEARN[plan.dataset])
    else:
        loader = _LOADERS[plan.dataset]
    blocks += [_template(b, features) for b in loader.split("\n\n\n")]
    if plan.dataset in ("csv", "numpy"):
        blocks.append(_TARGETS[plan.task])
    blocks.append(_SPLITS)
    if plan.normalise:
        features.add("normalise")
        blocks.append(_NORMALISE[plan.normalise_kind])
    blocks.append(_template(_LOAD_SPLITS, features))
    if plan.augment:
        if plan.augment.get("shift"):
            blocks.append(_SHIFT)
        blocks.append(_template(_AUGMENT, plan.augment))
    return blocks


def _training_blocks(plan: _Plan, model: str) -> list[str]:
    cfg = plan.config
    blocks = []
    if plan.loss == "bce":
        blocks.append(_BCE)
    if plan.loss == "binary_hinge":
        blocks.append(_HINGE)
    blocks.append(f"LOSS = {_LOSS_OBJECTS[plan.loss]}")
    what, body = _PREPARE[plan.prepare]
    blocks.append(
        "def prepare_target(y: torch.Tensor) -> torch.Tensor:\n"
        f'    """The dataset\'s targets as the loss takes them: {what}."""\n    {body}'
    )
    what, body = _PREDICT[plan.predict]
    blocks.append(
        "def predict(output: torch.Tensor) -> torch.Tensor:\n"
        f'    """The network\'s output as {what} (for the metrics)."""\n    {body}'
    )
    features = {plan.task}
    if cfg.l1 or cfg.l2:
        features.add("penalty")
        both = cfg.l1 and cfg.l2
        features.add("l1_l2" if both else ("l1_only" if cfg.l1 else "l2_only"))
        if cfg.l1:
            features.add("l1")
        blocks.append(_template(_PENALTY, features))
    blocks.append(
        "def make_optimizer(params) -> torch.optim.Optimizer:\n"
        '    """The project\'s optimiser."""' + _OPTIMIZERS[cfg.optimizer.name]
    )
    if cfg.schedule.name != "none":
        features.add("schedule")
        features.add("plateau" if cfg.schedule.name == "plateau" else "stepwise")
        blocks.append(
            "def make_scheduler(optimizer: torch.optim.Optimizer, epochs: int):\n"
            '    """The project\'s learning-rate schedule, stepped once per epoch."""'
            + _SCHEDULES[cfg.schedule.name]
        )
    blocks.append(_template(_EVALUATE, features))
    if cfg.clip.mode != "none":
        features |= {"clip", f"clip_{cfg.clip.mode}"}
    if plan.augment:
        features.add("augment")
    if cfg.early_stopping.enabled:
        features.add("early")
        features.add("restore" if cfg.early_stopping.restore_best else "early_only")
    blocks += [_template(b, features, model) for b in _TRAIN.split("\n\n\n")]
    return blocks


@dataclass(frozen=True)
class Export:
    """An exported script and what it holds."""

    code: str
    class_name: str
    network: str
    trainable: bool
    note: str = ""  # why the script has no training loop ("" when it has one)


_SAFE_FILENAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}\.py$")


def export(
    project: Project,
    network: str | None = None,
    *,
    base_dir: str | Path | None = None,
    filename: str = "model.py",
) -> Export:
    """Export one network of ``project`` (the first by default) as a standalone script.

    Args:
        project: the project (its network and its ``training`` section).
        network: the network's name; None for the first one.
        base_dir: the project file's folder: relative data paths start there.
        filename: the script's file name, shown in its docstring (a plain name only).

    Raises:
        GraphInvalidError: the network cannot be built (the validator's message).
        NeuralCanvasError: there is no such network.

    When the training settings do not fit the network (several Inputs, a shape or loss
    that does not match the data, invalid settings, unreadable data), the script still
    holds the model class, without a training loop; ``note`` says why.
    """
    net = project.network(network)
    name = class_name_for(project, net)
    seed = _seed(project)
    model, gm = _model(net, name, seed)
    base = Path(base_dir) if base_dir is not None else None
    try:
        plan: _Plan | None = _plan(project, net, gm, base)
        note = ""
    except GraphInvalidError:
        raise
    except NeuralCanvasError as exc:
        plan, note = None, str(exc)
    shown = filename if _SAFE_FILENAME.match(filename or "") else "model.py"
    doc = (_DOC_TRAIN if plan is not None else _DOC_MODEL).replace("__FILE__", shown)
    header = [
        f"# Project: {comment(project.name)}",
        f"# Network: {comment(net.name)}",
        "# Exported by NeuralCanvas: the app's model, data and training, as plain PyTorch.",
    ]
    if note:
        header += ["#", *_note("No training loop here: ", note)]
    model_blocks = [*model.helpers, model.code]
    model_blocks[0] = _section("model") + "\n" + model_blocks[0].strip("\n")
    blocks = ["\n".join(header), _settings(plan, seed), *model_blocks]
    if plan is not None:
        data = _data_blocks(plan)
        data[0] = _section("data") + "\n" + data[0].strip("\n")
        training = _training_blocks(plan, name)
        training[0] = _section("training") + "\n" + training[0].strip("\n")
        blocks += data + training
    else:
        blocks.append(_section("main") + "\n" + _template(_MAIN_MODEL_ONLY, (), name).strip("\n"))
    body = _join(blocks)
    code = doc.strip("\n") + "\n\n" + _import_block(body) + "\n" + body
    return Export(code, name, net.name, plan is not None, note)


def export_script(
    project: Project,
    network: str | None = None,
    *,
    base_dir: str | Path | None = None,
    filename: str = "model.py",
) -> str:
    """The script :func:`export` writes (see there)."""
    return export(project, network, base_dir=base_dir, filename=filename).code


def _seed(project: Project) -> int:
    seed = project.training.get("seed", 0) if isinstance(project.training, Mapping) else 0
    return seed if isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0 else 0
