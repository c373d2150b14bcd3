"""The registry of training procedures, like the layer catalog: every kind of learning is one
:class:`~builder.training.procedures.spec.ProcedureSpec` (declared in a module here) plus one
portable kernel (in :mod:`builder.training.kernels`).

Importing the registry loads no torch: kernels are imported when a run starts.
"""

from __future__ import annotations

import difflib

from builder.training.procedures import autoencoder, supervised, vae
from builder.training.procedures.spec import BindingError, ProcedureSpec

PROCEDURES: dict[str, ProcedureSpec] = {
    spec.id: spec for module in (supervised, autoencoder, vae) for spec in module.SPECS
}
DEFAULT = "supervised"


def did_you_mean(word: str) -> str:
    close = difflib.get_close_matches(str(word), list(PROCEDURES), n=1)
    return f' (did you mean "{close[0]}"?)' if close else ""


def procedure(name: str) -> ProcedureSpec:
    """The procedure called ``name``; a :class:`BindingError` names the known ones."""
    try:
        return PROCEDURES[name]
    except (KeyError, TypeError):
        known = ", ".join(PROCEDURES)
        raise BindingError(
            f"Unknown training procedure {name!r}{did_you_mean(name)}: use one of {known}"
        ) from None


__all__ = ["DEFAULT", "PROCEDURES", "BindingError", "ProcedureSpec", "did_you_mean", "procedure"]
