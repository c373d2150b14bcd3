"""The registry of training procedures, like the layer catalog: every kind of learning is one
:class:`~builder.training.procedures.spec.ProcedureSpec` (declared in a module here) plus one
portable kernel (in :mod:`builder.training.kernels`).

Importing the registry loads no torch: kernels are imported when a run starts.
"""

from __future__ import annotations

import difflib
from typing import Any

from builder.training.procedures import (
    autoencoder,
    gan,
    linear_rules,
    rbf,
    rbm,
    som,
    supervised,
    vae,
)
from builder.training.procedures.spec import BindingError, ProcedureSpec

PROCEDURES: dict[str, ProcedureSpec] = {
    spec.id: spec
    for module in (supervised, autoencoder, vae, gan, som, linear_rules, rbf, rbm)
    for spec in module.SPECS
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


def with_procedure(training: dict[str, Any], name: str) -> dict[str, Any]:
    """The ``training`` section learning by procedure ``name``: of its
    ``procedure_settings``, those ``name`` declares and accepts are kept (``recon_loss``
    from autoencoder to vae), the others (another procedure's) are left out. An unknown
    name raises :class:`~builder.training.config.ConfigError` with the config's message.
    ``neuralcanvas train --procedure`` and the training panel's procedure list both switch
    this way."""
    import copy

    from builder.training.config import ConfigError, parse_training

    spec = PROCEDURES.get(name)
    if spec is None:
        try:
            parse_training({"procedure": name})
        except ConfigError as exc:  # "unknown procedure ... (did you mean ...?); use one of"
            problems = [p for p in exc.problems if p.path == "training.procedure"]
            raise ConfigError(problems) from None
        raise AssertionError(f"{name!r} is not a procedure but the config took it")
    new = copy.deepcopy(training)
    new["procedure"] = spec.id
    kept = {}
    settings = new.get("procedure_settings")
    for key, value in (settings if isinstance(settings, dict) else {}).items():
        param = spec.param(key)
        try:
            if param is not None:
                param.check(value)
                kept[key] = value
        except ValueError:
            pass
    if kept:
        new["procedure_settings"] = kept
    else:
        new.pop("procedure_settings", None)
    return new


__all__ = [
    "DEFAULT",
    "PROCEDURES",
    "BindingError",
    "ProcedureSpec",
    "did_you_mean",
    "procedure",
    "with_procedure",
]
