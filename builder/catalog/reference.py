"""The layer reference (docs/layers.md), generated from the catalog declarations.

Regenerate with ``python -m builder.catalog.reference > docs/layers.md``; a test keeps it in sync.
"""

from __future__ import annotations

from builder.catalog.layers import CATALOG
from builder.catalog.params import Param
from builder.catalog.spec import Catalog


def _default(p: Param) -> str:
    if p.default is None:
        return "(empty)"
    if isinstance(p.default, bool):
        return "true" if p.default else "false"
    if isinstance(p.default, tuple):
        return "[" + ", ".join(map(str, p.default)) + "]"
    return f"`{p.default}`" if isinstance(p.default, str) else str(p.default)


def _num(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _allowed(p: Param) -> str:
    if p.choices:
        return ", ".join(f"`{c}`" for c in p.choices)
    lo, hi = _num(p.min), _num(p.max)
    if p.kind in ("int", "float", "size", "ints") and (lo or hi):
        kind = {"size": "integer or list", "ints": "list of integers"}.get(p.kind, p.kind)
        top = ")" if p.exclusive_max else "]"
        return f"{kind} in [{lo or '-∞'}, {hi or '∞'}{top}"
    return {"bool": "true / false"}.get(p.kind, p.kind)


def markdown(catalog: Catalog = CATALOG) -> str:
    lines = [
        "# Layer reference",
        "",
        "Generated from the layer catalog (`builder/catalog/layers/`) by"
        " `python -m builder.catalog.reference > docs/layers.md`; do not edit by hand.",
        "",
        "Shapes are written with the batch dimension `N` first. *Inferred* arguments come"
        " from the layer before and are never typed.",
        "",
    ]
    for category, specs in catalog.categories().items():
        lines += [f"## {category}", ""]
        for spec in specs:
            ins = spec.input_ports(spec.defaults())
            outs = spec.output_ports(spec.defaults())
            lines += [f"### {spec.type_id}", "", spec.help, ""]
            ports = f"Inputs: {', '.join(f'`{p}`' for p in ins) or 'none'}"
            ports += f" · Outputs: {', '.join(f'`{p}`' for p in outs) or 'none'}"
            if callable(spec.inputs):
                ports += " (the number of inputs follows `num_inputs`)"
            if spec.optional_inputs:
                ports += f" · Optional: {', '.join(f'`{p}`' for p in spec.optional_inputs)}"
            lines += [ports, ""]
            if spec.inferred:
                lines += [f"Inferred: {', '.join(f'`{a}`' for a in spec.inferred)}", ""]
            if spec.params:
                lines += ["| parameter | default | allowed | meaning |", "|---|---|---|---|"]
                for p in spec.params:
                    doc = p.doc.replace("|", "\\|")
                    lines.append(f"| `{p.name}` | {_default(p)} | {_allowed(p)} | {doc} |")
                lines.append("")
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
