"""The ``neuralcanvas`` command, run as ``python -m widgets`` in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import assets
from builder import CATALOG, compile_network
from graph.project_file import load
from widgets.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = assets.example_paths()
TIMEOUT = 120


def env() -> dict[str, str]:
    out = dict(os.environ)
    out["PYTHONPATH"] = os.pathsep.join([str(ROOT), out.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    out["QT_QPA_PLATFORM"] = "offscreen"
    return out


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "widgets", *map(str, args)],
        cwd=ROOT,
        env=env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def torch_count(net) -> int:
    return sum(p.numel() for p in compile_network(net, seed=0).parameters())


def assert_clean_failure(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr.startswith("neuralcanvas: error: ")
    for text in expected:
        assert text in result.stderr


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_summary_table_of_each_example(path, capsys):
    # in-process (the subprocess runs below cover the real command)
    project = load(path, CATALOG)
    assert main(["summary", str(path)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    for net in project.networks.values():
        assert f"Network {net.name!r}" in out
        assert f"Total: {torch_count(net):,} parameters" in out


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_summary_json_of_each_example(path):
    project = load(path, CATALOG)
    result = cli("summary", path, "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["project"] == project.name
    assert [s["network"] for s in doc["networks"]] == list(project.networks)
    for s, net in zip(doc["networks"], project.networks.values()):
        assert s["valid"] and s["problems"] == []
        assert s["totals"]["parameters"] == torch_count(net)
        assert s["totals"]["nodes"] == len(net) == len(s["nodes"])
        assert s["totals"]["errors"] == 0


def test_summary_of_one_network():
    result = cli("summary", assets.example("gan_digits"), "--json", "--network", "discriminator")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert [s["network"] for s in doc["networks"]] == ["discriminator"]


def test_summary_of_an_unknown_network():
    result = cli("summary", assets.example("gan_digits"), "--network", "critic")
    assert_clean_failure(result, "'critic'", "'generator'", "'discriminator'")


@pytest.fixture
def xor_doc() -> dict:
    return json.loads(assets.example("xor_mlp").read_text(encoding="utf-8"))


def write(tmp_path: Path, doc: dict | str, name: str = "project.json") -> Path:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return path


def test_malformed_json(tmp_path):
    path = write(
        tmp_path, '{"format": "neuralcanvas-project",\n  "version": 1,\n  "models": {,}\n}'
    )
    result = cli("summary", path)
    assert_clean_failure(result, str(path), "not valid JSON at line 3")


def test_unknown_layer_type(tmp_path, xor_doc):
    xor_doc["models"]["main"]["nodes"][1]["type"] = "Linaer"
    path = write(tmp_path, xor_doc)
    result = cli("summary", path)
    assert_clean_failure(result, str(path), "models.main.nodes[1].type", "'Linaer'", "'Linear'")


def test_cycle(tmp_path, xor_doc):
    xor_doc["models"]["main"]["edges"].append({"from": "n4", "to": "n2", "to_port": "in"})
    # n2's input is taken by the Input layer: free it so the cycle is the only problem
    xor_doc["models"]["main"]["edges"] = [
        e for e in xor_doc["models"]["main"]["edges"] if not (e["from"] == "n1" and e["to"] == "n2")
    ]
    path = write(tmp_path, xor_doc)
    result = cli("summary", path)
    index = len(xor_doc["models"]["main"]["edges"]) - 1
    assert_clean_failure(result, str(path), f"models.main.edges[{index}]", "cycle")


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere.json"
    result = cli("summary", path)
    assert_clean_failure(result, str(path), "does not exist")


def test_network_that_cannot_be_built(tmp_path, xor_doc):
    # Input (1, 8, 8) straight into a Linear: loads, but shape inference rejects it.
    xor_doc["models"]["main"]["nodes"][0]["params"]["shape"] = [1, 8, 8]
    path = write(tmp_path, xor_doc)
    result = cli("summary", path)
    assert_clean_failure(result, "Linear 'hidden'", "Flatten")
    assert "hidden" in result.stdout and "error" in result.stdout  # the table still shows where


def test_network_that_cannot_be_built_json(tmp_path, xor_doc, capsys):
    xor_doc["models"]["main"]["nodes"][0]["params"]["shape"] = [1, 8, 8]
    path = write(tmp_path, xor_doc)
    assert main(["summary", str(path), "--json"]) == 2
    out, err = capsys.readouterr()
    assert "Linear 'hidden'" in err
    doc = json.loads(out)
    assert doc["networks"][0]["valid"] is False
    assert doc["networks"][0]["totals"]["errors"] == 1


def test_summary_does_not_import_qt():
    path = assets.example("digits_cnn")
    code = (
        "import sys\n"
        "from widgets.cli import main\n"
        f"rc = main(['summary', {str(path)!r}, '--json'])\n"
        "qt = sorted(m for m in sys.modules if m.startswith(('PySide6', 'shiboken', 'pyqtgraph')))\n"
        "print('QT-MODULES', qt, file=sys.stderr)\n"
        "sys.exit(rc if not qt else 99)\n"
    )
    result = python(code)
    assert result.returncode == 0, result.stderr
    assert "QT-MODULES []" in result.stderr


def test_bad_file_exits_before_any_window(tmp_path):
    path = write(tmp_path, "[1, 2]")
    code = (
        "import sys\n"
        "from widgets.cli import main\n"
        f"rc = main([{str(path)!r}])\n"
        "sys.exit(rc if 'PySide6' not in sys.modules else 99)\n"
    )
    result = python(code)
    assert_clean_failure(result, str(path), "expected a JSON object")


def test_open_missing_file(capsys):
    assert main(["no/such/project.json"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("neuralcanvas: error: ")
    assert "no/such/project.json" in err and "does not exist" in err


def test_open_renders_a_window(tmp_path):
    png = tmp_path / "window.png"
    result = cli(assets.example("resnet_blocks"), "--screenshot", png)
    assert result.returncode == 0, result.stderr
    assert png.stat().st_size > 1000


def test_open_without_a_file_shows_the_xor_example(tmp_path):
    png = tmp_path / "window.png"
    code = (
        "import sys\n"
        "import widgets.app\n"
        "titles = []\n"
        "original = widgets.app.MainWindow.__init__\n"
        "def spy(self, *a, **k):\n"
        "    original(self, *a, **k)\n"
        "    titles.append((self.windowTitle(), self.doc.project.name))\n"
        "widgets.app.MainWindow.__init__ = spy\n"
        "from widgets.cli import main\n"
        f"rc = main(['--screenshot', {str(png)!r}])\n"
        "print(titles)\n"
        "sys.exit(rc)\n"
    )
    result = python(code)
    assert result.returncode == 0, result.stderr
    # the example opens as an unsaved copy, so Save never overwrites the shipped file
    assert "('Untitled[*] — NeuralCanvas', 'XOR with a small MLP')" in result.stdout
    assert png.is_file()


def test_version_and_help(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("neuralcanvas ")
    assert main(["summary", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--network" in out and "--json" in out
    assert main(["--help"]) == 0
    assert "summary" in capsys.readouterr().out


def test_usage_error_exits_2(capsys):
    assert main(["summary"]) == 2
    assert "usage:" in capsys.readouterr().err
    assert main(["a.json", "b.json"]) == 2
