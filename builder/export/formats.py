"""Other file formats for a compiled network: a plain ``state_dict`` and ONNX.

ONNX export needs packages that NeuralCanvas does not depend on: ``onnx`` for torch's
TorchScript-based exporter, ``onnx`` + ``onnxscript`` for its default (``torch.export``-based)
exporter; ``onnxruntime`` only to check the exported file. They are imported on first use, and
a missing one gives a :class:`FormatError` that says what to install.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from builder.compile import example_inputs
from builder.training.checkpoint import save_weights
from graph.atomic import FileWriteError, atomic_write
from graph.errors import NeuralCanvasError

DEFAULT_OPSET = 18
EXPORTERS = ("auto", "dynamo", "torchscript")


class FormatError(NeuralCanvasError):
    """A network cannot be written in (or checked against) a file format."""


def save_state_dict(module: nn.Module, path: str | os.PathLike[str]) -> Path:
    """Write ``module``'s weights and buffers atomically as a plain ``state_dict``, which
    ``torch.load(path, weights_only=True)`` reads back (and the exported script loads)."""
    path = Path(path)
    save_weights(path, module.state_dict())
    return path


def has_package(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def onnx_exporter(exporter: str = "auto") -> str:
    """The exporter ``export_onnx`` will use: ``dynamo`` (torch's default, needs ``onnx`` and
    ``onnxscript``) or ``torchscript`` (deprecated in torch but needs only ``onnx``).

    Raises :class:`FormatError` naming the packages to install when it cannot run.
    """
    if exporter not in EXPORTERS:
        raise FormatError(f"Unknown ONNX exporter {exporter!r}: use one of {', '.join(EXPORTERS)}")
    missing = [p for p in ("onnx", "onnxscript") if not has_package(p)]
    if exporter == "auto":
        if not missing:
            return "dynamo"
        if "onnx" not in missing:
            return "torchscript"
        raise FormatError(
            "ONNX export needs the 'onnx' package (and 'onnxscript' for torch's default"
            " exporter), which NeuralCanvas does not install: pip install onnx onnxscript"
        )
    if exporter == "dynamo" and missing:
        raise FormatError(
            f"The dynamo ONNX exporter needs {' and '.join(map(repr, missing))}:"
            f" pip install {' '.join(missing)}"
        )
    if exporter == "torchscript" and "onnx" in missing:
        raise FormatError("The TorchScript ONNX exporter needs 'onnx': pip install onnx")
    return exporter


@contextlib.contextmanager
def _eval(module: nn.Module) -> Iterator[None]:
    was_training = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was_training)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The exporters warn about deprecations and optional torchvision ops: not the user's
    business when the export succeeds."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _port_names(module: nn.Module, key: str, count: int, prefix: str) -> list[str]:
    ports = getattr(module, "meta", {}).get(key) if hasattr(module, "meta") else None
    if ports:
        return [p.name for p in ports]
    return [prefix] if count == 1 else [f"{prefix}_{i + 1}" for i in range(count)]


def export_onnx(
    module: nn.Module,
    path: str | os.PathLike[str],
    opset: int = DEFAULT_OPSET,
    inputs: Sequence[torch.Tensor] | None = None,
    net: Any = None,
    exporter: str = "auto",
) -> Path:
    """Write ``module`` (in evaluation mode) as one self-contained ONNX file at ``path``.

    ``inputs`` are example inputs; by default :func:`builder.compile.example_inputs` of a
    compiled module (``net`` keeps token ids below the Embedding's vocabulary). The batch
    dim is dynamic; inputs and outputs are named after the network's Input / Output nodes.
    Written atomically. Raises :class:`FormatError` (missing package, export failure).
    """
    path = Path(path)
    which = onnx_exporter(exporter)
    if inputs is None:
        if not hasattr(module, "meta") or "inputs" not in getattr(module, "meta", {}):
            raise FormatError(
                "export_onnx needs example inputs for a module not compiled by NeuralCanvas"
            )
        inputs = example_inputs(module, batch=2, net=net)
    args = tuple(inputs)
    with _eval(module), torch.no_grad():
        outputs = module(*args)
    n_out = len(outputs) if isinstance(outputs, tuple) else 1
    input_names = _port_names(module, "inputs", len(args), "input")
    output_names = _port_names(module, "outputs", n_out, "output")

    def write(tmp: Path) -> None:
        with _eval(module), _quiet():
            if which == "dynamo":
                batch = torch.export.Dim("batch")
                program = torch.onnx.export(
                    module,
                    args,
                    None,
                    input_names=input_names,
                    output_names=output_names,
                    opset_version=opset,
                    dynamo=True,
                    dynamic_shapes=tuple({0: batch} for _ in args),
                    verbose=False,
                )
                program.save(tmp, external_data=False)
            else:
                torch.onnx.export(
                    module,
                    args,
                    tmp,
                    input_names=input_names,
                    output_names=output_names,
                    opset_version=opset,
                    dynamo=False,
                    dynamic_axes={n: {0: "batch"} for n in (*input_names, *output_names)},
                )

    try:
        atomic_write(path, write)
    except (FormatError, FileWriteError):
        raise
    except Exception as exc:  # the exporters raise many types; the user needs the gist
        first = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
        raise FormatError(
            f"ONNX export ({which} exporter, opset {opset}) failed:"
            f" {exc.__class__.__name__}: {first}"
        ) from exc
    return path


def check_onnx(
    module: nn.Module,
    path: str | os.PathLike[str],
    inputs: Sequence[torch.Tensor] | None = None,
    net: Any = None,
) -> float | None:
    """Run the ONNX file with onnxruntime and torch's ``module`` on the same inputs (by
    default a batch of 3, unlike the export's 2, so the dynamic batch dim is exercised);
    returns the largest absolute difference over all outputs, or ``None`` when onnxruntime
    is not installed."""
    if not has_package("onnxruntime"):
        return None
    import onnxruntime

    if inputs is None:
        inputs = example_inputs(module, batch=3, net=net, seed=1)
    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise FormatError(f"onnxruntime cannot load {path}: {exc}") from exc
    feed = {i.name: t.detach().cpu().numpy() for i, t in zip(session.get_inputs(), inputs)}
    got = session.run(None, feed)
    with _eval(module), torch.no_grad():
        want = module(*inputs)
    want = want if isinstance(want, tuple) else (want,)
    if len(got) != len(want):
        raise FormatError(f"{path} has {len(got)} outputs but the network has {len(want)}")
    return max(
        float((torch.from_numpy(g).to(w.dtype) - w.cpu()).abs().max()) if w.numel() else 0.0
        for g, w in zip(got, want)
    )
