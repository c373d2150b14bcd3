"""A network's summary: per layer its shape, parameter count and status, plus totals.

Qt-free: the CLI prints it (:func:`format_table` or JSON) and the main window shows it in a
table. Shapes and counts come from shape inference (:func:`builder.shapes.infer`); nothing
here knows a layer's rules.
"""

from __future__ import annotations

import math
from typing import Any

from builder.catalog.layers import CATALOG
from builder.catalog.spec import Catalog
from builder.errors import GraphInvalidError
from builder.shapes import NodeInfo, check_compilable, infer, live_nodes
from graph.document import Network


def _shape_text(net: Network, node_id: str, info: NodeInfo) -> tuple[str, dict[str, str]]:
    """The display text of a node's output shape(s) and ``{port: shape}``.

    An Output node shows the shape it receives. A node with several outputs shows only the
    ports that are connected (all of them when none is), named when more than one is.
    """
    if net.type_of(node_id) == "Output":
        shapes = {port: str(shape) for port, shape in info.inputs.items()}
        return "".join(shapes.values()), shapes
    shapes = {port: str(shape) for port, shape in info.outputs.items()}
    if len(shapes) <= 1:
        return "".join(shapes.values()), shapes
    used = {e.src_port for e in net.out_edges(node_id)}
    shown = {p: s for p, s in shapes.items() if p in used} or shapes
    if len(shown) == 1:
        return next(iter(shown.values())), shapes
    return ", ".join(f"{p} {s}" for p, s in shown.items()), shapes


def summarize(net: Network, catalog: Catalog = CATALOG) -> dict[str, Any]:
    """Summarise ``net`` as plain data (JSON-ready).

    Returns a dict with ``network`` (its name), ``nodes`` (in topological order, each with
    ``id``, ``name``, ``type``, ``status`` (``ok`` / ``error`` / ``blocked``), ``output``
    (e.g. ``"(N, 16, 8, 8)"``; empty when unknown), ``outputs`` (``{port: shape}``; for an
    Output node, the shape it receives, keyed by its input port),
    ``parameters``, ``used`` (whether the node feeds an Output and so is compiled) and
    ``message``), ``totals`` (``parameters`` of the compiled model, i.e. of the used nodes;
    ``nodes``; ``errors``), ``valid`` and ``problems`` (why the network cannot be compiled).
    """
    results = infer(net, catalog)
    live = live_nodes(net)
    nodes = []
    for node_id in net.topological_order():
        info = results[node_id]
        output, outputs = _shape_text(net, node_id, info)
        nodes.append(
            {
                "id": node_id,
                "name": net.name_of(node_id),
                "type": net.type_of(node_id),
                "status": info.status,
                "output": output,
                "outputs": outputs,
                "parameters": info.params,
                "used": node_id in live,
                "message": info.message,
            }
        )
    try:
        check_compilable(net, results)
        problems: list[str] = []
    except GraphInvalidError as exc:
        problems = [message for _, message in exc.problems]
    return {
        "network": net.name,
        "nodes": nodes,
        "totals": {
            "parameters": sum(n["parameters"] for n in nodes if n["used"]),
            "nodes": len(nodes),
            "errors": sum(1 for n in nodes if n["status"] == "error"),
        },
        "valid": not problems,
        "problems": problems,
    }


def format_count(n: int) -> str:
    """``12345`` -> ``'12,345'``; a count of more than 24 digits (which shape inference
    refuses, see :data:`builder.shapes.MAX_SAMPLE_VALUES`) as ``'1.23e+45'``, computed on
    the integer, so that no size, however large, fails to print."""
    n = int(n)
    if abs(n) < 10**24:
        return f"{n:,}"
    sign, n = ("-" if n < 0 else ""), abs(n)
    exponent = int((n.bit_length() - 1) * math.log10(2))  # within one of log10(n)
    while 10 ** (exponent + 1) <= n:
        exponent += 1
    while 10**exponent > n:
        exponent -= 1
    lead = n // 10 ** (exponent - 2)  # the first three digits
    return f"{sign}{lead // 100}.{lead % 100:02d}e+{exponent}"


def format_table(summary: dict[str, Any]) -> str:
    """The summary as aligned plain-text columns, a totals line and any problems below."""
    header = ("Layer", "Type", "Output shape", "Params", "Status")
    rows = []
    for n in summary["nodes"]:
        status = n["status"] if n["used"] or n["status"] != "ok" else "unused"
        rows.append(
            (n["name"], n["type"], n["output"] or "?", format_count(n["parameters"]), status)
        )
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        parts = [
            cell.rjust(w) if i == 3 else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(cells, widths))
        ]
        return "  ".join(parts).rstrip()

    rule = "-" * len(line(tuple("-" * w for w in widths)))
    totals = summary["totals"]
    errors = totals["errors"]
    out = [
        f"Network {summary['network']!r}",
        line(header),
        rule,
        *(line(r) for r in rows),
        rule,
        f"Total: {format_count(totals['parameters'])} parameters, {totals['nodes']} layers,"
        f" {errors} error{'' if errors == 1 else 's'}",
    ]
    # every layer in error (used or not), then what is wrong with the network as a whole
    messages = [n["message"] for n in summary["nodes"] if n["status"] == "error"]
    messages += [p for p in summary["problems"] if p not in messages]
    if messages:
        out.append("Problems:")
        out += [f"  - {m}" for m in messages]
    return "\n".join(out)
