"""Slices of a tensor read as Slice layers: ``x[:, 0]`` (a vision transformer's class
token), ``x[:, 2:5]``, ``x.narrow(dim, start, length)`` and ``x.chunk(k, dim)`` (ShuffleNet's
halves, one Slice per chunk). The sizes come from the traced shape (static.py); the batch dim
is always kept whole."""

from __future__ import annotations

from typing import Any

from builder.importer.errors import Unsupported, reject


def index_params(index: Any, shape: tuple[int, ...] | None) -> dict[str, Any]:
    """``x[index]`` as a Slice's params: the batch kept (``:``), one other dim indexed by a
    number or a slice of step 1, every other dim whole."""
    items = index if isinstance(index, tuple) else (index,)
    reject(
        any(item is Ellipsis for item in items),
        "indexes with ...; write every dim out (x[:, :, 0] for the last of three)",
    )
    reject(
        not items or items[0] != slice(None),
        "indexes the batch dim; keep it whole: x[:, ...]",
    )
    reject(shape is None, "indexes a tensor whose sizes are unknown")
    picked = [(d, item) for d, item in enumerate(items) if item != slice(None)]
    reject(
        len(picked) != 1 or any(item is Ellipsis or item is None for _, item in picked),
        "indexes more than one dim at once; no layer does that (one Slice per dim)",
    )
    dim, item = picked[0]
    reject(dim >= len(shape), f"indexes dim {dim} of a tensor of {len(shape)} dims")
    size = shape[dim]
    if isinstance(item, int) and not isinstance(item, bool):
        reject(not -size <= item < size, f"takes position {item} of a dim of {size}")
        return {"dim": dim, "start": item % size, "length": 1, "squeeze": True}
    if isinstance(item, slice):
        bounds = (item.start, item.stop, item.step)
        reject(
            not all(b is None or (isinstance(b, int) and not isinstance(b, bool)) for b in bounds),
            "slices by bounds that are not numbers (the batch size is not one)",
        )
        start, stop, step = item.indices(size)
        reject(step != 1, "slices with a step; no layer does that")
        reject(stop <= start, "takes an empty slice")
        return {"dim": dim, "start": start, "length": stop - start, "squeeze": False}
    raise Unsupported(f"indexes with {item!r}")


def chunk_params(chunks: Any, dim: Any, shape: tuple[int, ...] | None) -> list[dict[str, Any]]:
    """``x.chunk(chunks, dim)`` as torch splits it: pieces of ceil(size / chunks), the last
    smaller (and fewer pieces when the size is small)."""
    reject(not isinstance(chunks, int) or chunks < 1, f"chunks into {chunks!r}")
    reject(shape is None, "chunks a tensor whose sizes are unknown")
    reject(not isinstance(dim, int), f"chunks dim {dim!r}")
    dim = dim % len(shape)
    reject(dim == 0, "chunks the batch dim")
    size = shape[dim]
    step = -(-size // chunks)
    return [
        {"dim": dim, "start": start, "length": min(step, size - start), "squeeze": False}
        for start in range(0, size, step)
    ]


def narrow_params(node_args: tuple, shape: tuple[int, ...] | None) -> dict[str, Any]:
    """``x.narrow(dim, start, length)``."""
    reject(len(node_args) != 4, "narrows with other arguments")
    _, dim, start, length = node_args
    reject(
        not all(isinstance(v, int) for v in (dim, start, length)) or shape is None,
        "narrows by values that are not constants",
    )
    dim = dim % len(shape)
    reject(dim == 0, "narrows the batch dim")
    size = shape[dim]
    reject(
        not -size <= start < size or length < 1 or start % size + length > size,
        f"narrows {length} from {start} of a dim of {size}",
    )
    return {"dim": dim, "start": start % size, "length": length, "squeeze": False}
