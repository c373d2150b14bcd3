"""Legal, unique Python identifiers from user-visible node names.

Compiled modules and exported scripts use the same mapping, so a compiled model's
``state_dict`` keys are the exported module's attribute names.
"""

from __future__ import annotations

import functools
import keyword
import re
import unicodedata

from graph.document import Network


@functools.cache
def _reserved() -> frozenset[str]:
    """Attribute names that would shadow what nn.Module / GraphModule / the generated code
    need. An instance, not the class: ``training``, ``meta`` and ``shape_env`` are set in
    __init__. Computed on first use: shape inference (which compares Output names) must not
    load torch."""
    from torch import fx, nn

    module = fx.GraphModule(nn.Module(), fx.Graph())
    names = {n for n in dir(module) if not n.startswith("__")}
    return frozenset(names | {"self", "torch", "nn", "F", "x"})


def plain(name: str) -> str:
    """``'1 conv'`` -> ``'1_conv'``, ``'Größe'`` -> ``'grosse'``: lower-case ASCII letters,
    digits and single underscores (may be empty or start with a digit). Two names with the
    same plain form differ only in case, spaces or punctuation."""
    text = unicodedata.normalize("NFKD", name.replace("ß", "ss"))
    text = text.encode("ascii", "ignore").decode("ascii").lower()
    text = re.sub(r"[^0-9a-zA-Z_]+", "_", text).strip("_")
    return re.sub(r"_+", "_", text)


def sanitize(name: str) -> str:
    """``'1 conv'`` -> ``'l_1_conv'``, ``'class'`` -> ``'class_'``, ``'Größe'`` -> ``'grosse'``."""
    from torch import nn

    text = plain(name)
    if not text:
        text = "layer"
    if text[0].isdigit():
        text = f"l_{text}"
    if (
        keyword.iskeyword(text)
        or keyword.issoftkeyword(text)
        or text in _reserved()
        or hasattr(nn.Module, text)
    ):
        text = f"{text}_"
    return text


def attribute_names(net: Network) -> dict[str, str]:
    """``{node_id: identifier}``, unique within the network, stable in insertion order."""
    taken: set[str] = set()
    out: dict[str, str] = {}
    for node_id in net.nodes:
        base = sanitize(net.name_of(node_id))
        name, i = base, 1
        while name in taken:
            name = f"{base}_{i}"
            i += 1
        taken.add(name)
        out[node_id] = name
    return out
