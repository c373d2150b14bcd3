"""File > Open on every kind of file that cannot be opened: a warning box with the reason
(QMessageBox is replaced, so nothing blocks) and the open project kept, unchanged."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

import assets
from graph.project_file import dumps
from widgets import files
from widgets.main_window import DISCARD, MainWindow

BIG = "1" + "0" * 400


def _example() -> dict:
    return json.loads(assets.example("xor_mlp").read_text(encoding="utf-8"))


def _with(change) -> str:
    doc = _example()
    change(doc)
    return json.dumps(doc)  # ASCII escapes, so lone surrogates survive as \ud800


def _node(doc: dict, i: int) -> dict:
    return doc["models"]["main"]["nodes"][i]


def _dropout(doc: dict) -> None:
    doc["models"]["main"]["nodes"].insert(
        3, {"id": "x", "type": "Dropout", "name": "drop", "params": {"p": "BIG"}}
    )


def _text(text: str):
    def write(path: Path) -> Path:
        path.write_text(text.replace('"BIG"', BIG), encoding="utf-8")
        return path

    return write


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _socket(path: Path) -> Path:
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    sock.close()
    return path


def _sparse(path: Path) -> Path:
    with open(path, "wb") as f:
        f.truncate(51 * 2**20)  # no blocks written
    return path


def _folder(path: Path) -> Path:
    path.mkdir()
    return path


CASES = {
    # (write the file at the given path, what the message says)
    "huge-position": (
        _text(_with(lambda d: _node(d, 1).__setitem__("pos", ["BIG", 0]))),
        "models.main.nodes[1].pos[0]: a number of 401 digits is too large",
    ),
    "huge-dropout-p": (_text(_with(_dropout)), "models.main.nodes[3].params.p"),
    "huge-lr": (
        _text(_with(lambda d: d["training"]["optimizer"].__setitem__("lr", "BIG"))),
        "training.optimizer.lr",
    ),
    "huge-seed": (
        _text(_with(lambda d: d["training"].__setitem__("seed", 2**64))),
        "training.seed",
    ),
    "deep-900": (
        _text(
            _with(lambda d: d["training"]["dataset"].__setitem__("x", "DEEP")).replace(
                '"DEEP"', "[" * 900 + "]" * 900
            )
        ),
        "nested too deeply",
    ),
    "deep-unclosed": (
        _text('{"format": "neuralcanvas-project", "models": ' + "[" * 100_000),
        "nested too deeply",
    ),
    "surrogate-name": (
        _text(_with(lambda d: _node(d, 1).__setitem__("name", "h\ud800"))),
        "models.main.nodes[1].name: the text holds an invalid character (\\ud800",
    ),
    "surrogate-network": (
        _text(_with(lambda d: d["models"].__setitem__("n\udc00", d["models"].pop("main")))),
        "the field name holds an invalid character",
    ),
    "infinite-number": (
        _text(
            _with(lambda d: d["training"]["optimizer"].__setitem__("lr", "LR")).replace(
                '"LR"', "1e400"
            )
        ),
        "training.optimizer.lr: NaN and infinite numbers are not allowed",
    ),
    "not-utf8": (lambda p: (p.write_bytes(b"\xff\xfe\x00garbage"), p)[1], "not UTF-8"),
    "malformed": (_text('{"format": "neuralcanvas-project",'), "not valid JSON"),
    "not-an-object": (_text("[1, 2, 3]"), "expected a JSON object"),
    "fifo": (_fifo, "is not a regular file (a named pipe)"),
    "socket": (_socket, "is not a regular file (a socket)"),
    "too-large": (_sparse, "the file is 51 MB; a project file is at most 50 MB"),
    "folder": (_folder, "it is a folder, not a file"),
    "missing": (lambda p: p, "the file does not exist"),
}


@pytest.fixture(autouse=True)
def app_dirs(tmp_path, monkeypatch):
    """Recent files and autosaves go to the test's folder, never the user's."""
    monkeypatch.setenv(files.CONFIG_ENV, str(tmp_path / "config"))
    monkeypatch.setenv(files.DATA_ENV, str(tmp_path / "data"))


@pytest.fixture
def boxes(monkeypatch):
    """Every warning box shown: (title, text, details); none is shown for real."""
    shown: list[tuple[str, str, str]] = []

    def exec_(box):
        shown.append((box.windowTitle(), box.text(), box.informativeText()))
        return int(QMessageBox.StandardButton.Ok)

    monkeypatch.setattr(QMessageBox, "exec", exec_)
    return shown


@pytest.fixture
def window(qtbot, boxes):
    from builder import CATALOG
    from graph.project_file import load

    win = MainWindow(load(assets.example("xor_mlp"), CATALOG), None, autosave_ms=0)
    win.asked_to_save = 0

    def ask_save_changes():
        win.asked_to_save += 1
        return DISCARD

    win.ask_save_changes = ask_save_changes
    qtbot.addWidget(win)
    win.show()
    yield win
    for w in {win, *MainWindow.windows}:
        w.close()
    MainWindow.windows.clear()


@pytest.mark.parametrize("case", list(CASES))
def test_every_file_that_cannot_be_opened_shows_why_and_keeps_the_project(
    window, boxes, tmp_path, case
):
    make, expected = CASES[case]
    window.layer_palette.add_requested.emit("ReLU")  # an unsaved edit that must survive
    doc = window.doc
    before, undo = dumps(doc.project), (doc.undo.count(), doc.undo.index())
    path = make(tmp_path / "bad.json")

    assert window.open_file(path) is False

    assert len(boxes) == 1, boxes
    title, text, details = boxes[0]
    assert title == "Cannot open the project"
    message = f"{text}\n{details}"
    assert expected in message and str(path) in message
    assert window.doc is doc and dumps(doc.project) == before
    assert (doc.undo.count(), doc.undo.index()) == undo
    assert doc.modified and window.asked_to_save == 0  # nothing was about to be replaced


def test_numbers_beyond_the_forms_ranges_open_and_the_project_keeps_them(window, boxes, tmp_path):
    path = tmp_path / "long.json"
    path.write_text(_with(lambda d: d["training"].__setitem__("epochs", 2**62)), "utf-8")

    assert window.open_file(path), boxes
    assert boxes == []
    assert window.doc.project.training["epochs"] == 2**62
    assert window.training.epochs_spin.value() == window.training.epochs_spin.maximum()


def test_a_project_the_editor_cannot_show_leaves_the_open_one_whole(
    window, boxes, tmp_path, monkeypatch
):
    from widgets.training_panel import TrainingPanel

    window.layer_palette.add_requested.emit("ReLU")
    doc, before = window.doc, dumps(window.doc.project)
    other = tmp_path / "other.json"
    other.write_bytes(assets.example("digits_cnn").read_bytes())
    real = TrainingPanel.set_document
    calls = []

    def fails_once(panel, *args):
        calls.append(args[0])
        if len(calls) == 1:
            raise RuntimeError("cannot lay out the form")
        return real(panel, *args)

    monkeypatch.setattr(TrainingPanel, "set_document", fails_once)

    assert window.open_file(other) is False

    assert len(boxes) == 1
    title, text, details = boxes[0]
    assert title == "Cannot open the project"
    assert f"Cannot open {other}" in text and "RuntimeError: cannot lay out the form" in text
    assert details == "The open project is unchanged."
    assert window.doc is doc and dumps(doc.project) == before and doc.modified
    assert calls[-1] is doc  # the panels show the open project again
    assert window.canvas.doc is doc
    # the window still works: an edit, then another file opens
    window.layer_palette.add_requested.emit("Sigmoid")
    assert len(doc.net) == len(json.loads(before)["models"]["main"]["nodes"]) + 1
    window.ask_save_changes = lambda: DISCARD
    assert window.open_file(other)
    assert window.doc.project.name == json.loads(other.read_text("utf-8"))["name"]
