"""The exported script's text: Python literals for project values (:func:`py_str`,
:func:`py_literal`, :func:`comment`) and a small layout engine that writes statements as
``ruff format`` lays them out (88 columns).

Security: every string that comes from a project (node, network and project names, dataset
paths and column names) enters the script only through :func:`py_str` (a Python string
literal) or :func:`comment` (one escaped line); nothing from the project is ever pasted in
as code.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from graph.errors import NeuralCanvasError

WIDTH = 88  # ruff's default line length: the script is formatted as `ruff format` would


class ExportError(NeuralCanvasError):
    """The network or its settings cannot be written as a script; the message says why."""


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


def _collection(open_: str, docs: list[Any], close: str, comma: Any) -> _Expr:
    """A literal: on one line, or one item per line (ruff never packs them), ``comma``
    after the last item."""
    if not docs:
        return _Expr(open_ + close, open_ + close)
    body: list[Any] = []
    for i, item in enumerate(docs):
        if i:
            body += [",", _LINE]
        body.append(item)
    doc = _Group([open_, _Indent([_SOFT, *body, comma]), _SOFT, close])
    return _Expr(doc, _flat(doc), head=open_)


def _list(items: Iterable[_Expr | str]) -> _Expr:
    """A list literal: on one line, or one item per line."""
    return _collection("[", [_doc(i) for i in items], "]", _IfBreak(","))


def _tuple(items: Iterable[_Expr | str]) -> _Expr:
    """A tuple literal: on one line, or one item per line; one item keeps its comma."""
    docs = [_doc(i) for i in items]
    return _collection("(", docs, ")", "," if len(docs) == 1 else _IfBreak(","))


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


def _literal(value: Any) -> _Expr:
    """A plain value (what settings hold) as an expression: dicts, lists and tuples break
    over lines, one item per line, where they do not fit (as ruff lays them out)."""
    if isinstance(value, dict) and value:
        items = [[py_str(k), ": ", _literal(v).doc] for k, v in value.items()]
        return _collection("{", items, "}", _IfBreak(","))
    if isinstance(value, list) and value:
        return _list([_literal(v) for v in value])
    if isinstance(value, tuple) and value:
        return _tuple([_literal(v) for v in value])
    return _name(py_literal(value))


def _constant(name: str, value: Any) -> str:
    """``NAME = value`` at the top level, a list or dict broken over lines when long."""
    return _assign(name, _literal(value), 0)
