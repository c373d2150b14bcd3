"""Weights a run starts from, read from a file (a run's ``weights.pt``, any plain
``state_dict``): the tensors whose names the network has are copied in, the others named in
a report. Portable (standard library and torch): the exported script carries it.

Only plain tensors are read (``torch.load(..., weights_only=True)``): a file that holds
Python objects (a pickle payload) is refused without running any of it."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class WeightsFileError(ValueError):
    """A weights file that cannot be used; the message says why and what to do."""


def read_state_dict(path: Any) -> dict[str, torch.Tensor]:
    """The file's tensors by name (``weights_only``), or :class:`WeightsFileError`."""
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise WeightsFileError(
            f"{path}: no such weights file; check training.initial_weights"
        ) from None
    except (OSError, RuntimeError, EOFError, ValueError) as exc:
        raise WeightsFileError(
            f"{path}: not a plain weights file ({str(exc).splitlines()[0][:160]}); NeuralCanvas"
            " reads tensors only (torch.save(model.state_dict(), path)), never Python objects"
        ) from None
    except Exception as exc:  # weights_only refuses a pickle payload with its own errors
        raise WeightsFileError(
            f"{path}: refused: it holds more than tensors ({type(exc).__name__}); save the"
            " weights alone with torch.save(model.state_dict(), path)"
        ) from None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and torch.is_tensor(v) for k, v in data.items()
    ):
        raise WeightsFileError(
            f"{path}: not a state_dict (names to tensors); save one with"
            " torch.save(model.state_dict(), path)"
        )
    return data


def names_in(path: Any) -> list[str]:
    """The names of the tensors in the weights file at ``path``."""
    return list(read_state_dict(path))


def load_weights(model: nn.Module, path: Any) -> dict[str, list[str]]:
    """Copy the tensors of the ``state_dict`` file at ``path`` into ``model``'s tensors of
    the same name. Returns the names ``loaded``, ``kept`` (the model's, not in the file: they
    keep their values) and ``unused`` (the file's, not in the model). Tensors of the same name
    and another shape raise :class:`WeightsFileError` naming each."""
    data = read_state_dict(path)
    own = model.state_dict()
    wrong = [
        f"{name}: {list(tensor.shape)} in the file, {list(own[name].shape)} in the network"
        for name, tensor in data.items()
        if name in own and tuple(tensor.shape) != tuple(own[name].shape)
    ]
    if wrong:
        raise WeightsFileError(
            f"{path}: {len(wrong)} tensor(s) do not fit the network: "
            + "; ".join(wrong[:10])
            + ("; …" if len(wrong) > 10 else "")
            + ": change the layers to the file's sizes, or rename them so they are not loaded"
        )
    matched = {name: tensor for name, tensor in data.items() if name in own}
    with torch.no_grad():
        for name, tensor in matched.items():
            own[name].copy_(tensor.to(own[name].dtype))
    return {
        "loaded": sorted(matched),
        "kept": sorted(set(own) - set(matched)),
        "unused": sorted(set(data) - set(own)),
    }


def describe(report: dict[str, list[str]], path: Any) -> str:
    """The report in one sentence: what was loaded, what kept its values, what was left."""
    loaded, kept, unused = report["loaded"], report["kept"], report["unused"]

    def names(items: list[str]) -> str:
        return ", ".join(items[:6]) + (f" and {len(items) - 6} more" if len(items) > 6 else "")

    text = f"Loaded {len(loaded)} of the network's {len(loaded) + len(kept)} tensors from {path}"
    if kept:
        text += f"; kept their own values: {names(kept)}"
    if unused:
        text += f"; not in the network, left out: {names(unused)}"
    return text
