"""Other file formats (builder.export.formats): a plain state_dict and ONNX.

The ONNX export runs whenever its packages are installed (``onnx`` + ``onnxscript`` for
torch's default exporter, ``onnx`` alone for the TorchScript one); without them it must fail
with a message that says what to install. Comparing outputs needs ``onnxruntime`` too.
"""

from __future__ import annotations

import pytest
import torch

import assets
from builder import CATALOG, compile_network
from builder.compile import example_inputs
from builder.export import formats
from builder.export.formats import (
    FormatError,
    check_onnx,
    export_onnx,
    onnx_exporter,
    save_state_dict,
)
from graph import project_file

ONNX_EXAMPLES = ["xor_mlp", "digits_cnn", "lstm_classifier", "resnet_blocks", "attention_text"]


def _compiled(example: str):
    project = project_file.load(assets.example(example), CATALOG)
    net = project.network()
    return compile_network(net, seed=0).eval(), net


def _exporter_available() -> bool:
    try:
        onnx_exporter()
    except FormatError:
        return False
    return True


def test_state_dict_round_trip_with_weights_only(tmp_path):
    module, net = _compiled("resnet_blocks")
    module.train()
    module(*example_inputs(module, batch=4, net=net))  # move the BatchNorm running stats
    module.eval()
    path = save_state_dict(module, tmp_path / "weights.pt")
    loaded = torch.load(path, weights_only=True)
    original = module.state_dict()
    assert list(loaded) == list(original)
    assert all(torch.equal(loaded[k], original[k]) for k in original)
    fresh = compile_network(net, seed=1).eval()
    fresh.load_state_dict(loaded)
    inputs = example_inputs(module, batch=3, net=net)
    with torch.no_grad():
        assert torch.equal(fresh(*inputs), module(*inputs))
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically, nothing left behind


@pytest.mark.parametrize("example", ONNX_EXAMPLES)
def test_onnx_export(example, tmp_path):
    module, net = _compiled(example)
    path = tmp_path / f"{example}.onnx"
    if not _exporter_available():
        with pytest.raises(FormatError, match=r"needs the 'onnx' package.*pip install onnx"):
            export_onnx(module, path, net=net)
        assert not path.exists()
        return
    assert export_onnx(module, path, net=net) == path
    assert path.stat().st_size > 0
    assert not list(tmp_path.glob(".*.tmp")) and not list(tmp_path.glob("*.data"))
    pytest.importorskip("onnxruntime")
    diff = check_onnx(module, path, net=net)  # batch 3, exported with batch 2
    assert diff is not None and diff < 1e-5


def test_onnx_torchscript_exporter_when_onnx_is_installed(tmp_path):
    module, net = _compiled("digits_cnn")
    path = tmp_path / "cnn.onnx"
    if not formats.has_package("onnx"):
        with pytest.raises(FormatError, match="needs 'onnx': pip install onnx"):
            export_onnx(module, path, exporter="torchscript")
        return
    export_onnx(module, path, exporter="torchscript")
    pytest.importorskip("onnxruntime")
    assert check_onnx(module, path) < 1e-5


def test_exporter_choice_follows_the_installed_packages(monkeypatch):
    def installed(*names):
        monkeypatch.setattr(formats, "has_package", lambda name: name in names)

    installed("onnx", "onnxscript")
    assert onnx_exporter() == "dynamo"
    installed("onnx")
    assert onnx_exporter() == "torchscript"
    with pytest.raises(FormatError, match="needs 'onnxscript': pip install onnxscript"):
        onnx_exporter("dynamo")
    installed()
    with pytest.raises(FormatError, match="pip install onnx onnxscript"):
        onnx_exporter()
    with pytest.raises(FormatError, match="Unknown ONNX exporter 'tflite'"):
        onnx_exporter("tflite")


def test_check_onnx_without_onnxruntime_returns_none(monkeypatch, tmp_path):
    monkeypatch.setattr(formats, "has_package", lambda name: name != "onnxruntime")
    module, _ = _compiled("xor_mlp")
    assert check_onnx(module, tmp_path / "missing.onnx") is None
