"""``neuralcanvas export``, run as ``python -m widgets export`` in a subprocess: the script
it writes trains with plain python, and under torchrun on two CPU processes (gloo) the
processes end with identical weights; bad input exits with status 2 and a message."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import assets
from builder import CATALOG, compile_network
from graph.project_file import load

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 120
TORCHRUN_TIMEOUT = 180
TORCHRUN = Path(sys.executable).parent / "torchrun"


def env(**extra: str) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    out["PYTHONPATH"] = os.pathsep.join([str(ROOT), out.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    out["QT_QPA_PLATFORM"] = "offscreen"
    out["OMP_NUM_THREADS"] = "1"
    out.update(extra)
    return out


def cli(*args: object, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "widgets", "export", *map(str, args)],
        cwd=cwd,
        env=env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def script_env() -> dict[str, str]:
    """The script needs no NeuralCanvas: run it without the source tree on the path."""
    out = env()
    out.pop("PYTHONPATH")
    return out


def weights_fit(path: Path, project_path: Path) -> dict[str, torch.Tensor]:
    state = torch.load(path, weights_only=True)
    compile_network(load(project_path, CATALOG).network(), seed=1).load_state_dict(state)
    return state


def test_export_writes_a_script_that_trains(tmp_path):
    source = assets.example("xor_mlp")
    out = tmp_path / "model.py"
    done = cli(source, "-o", out)
    assert done.returncode == 0, done.stderr
    assert out.is_file() and str(out) in done.stdout
    assert f"python {out}" in done.stdout
    assert f"torchrun --standalone --nproc_per_node=2 {out}" in done.stdout
    assert not [p for p in tmp_path.iterdir() if p.name != "model.py"], "temporary files left"
    run = subprocess.run(
        [sys.executable, str(out), "--epochs", "1", "--out", "run"],
        cwd=tmp_path,
        env=script_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "epoch 1/1" in run.stdout
    weights_fit(tmp_path / "run" / "weights.pt", source)


def test_export_replaces_an_existing_file_and_picks_the_network(tmp_path):
    out = tmp_path / "disc.py"
    out.write_text("old", encoding="utf-8")
    done = cli(assets.example("gan_digits"), "-o", out, "--network", "discriminator")
    assert done.returncode == 0, done.stderr
    code = out.read_text(encoding="utf-8")
    # a GAN's script holds both networks and trains them; the one asked for is named
    assert "class Discriminator(nn.Module):" in code and "class Generator(nn.Module):" in code
    assert 'MODELS = {"generator": Generator, "discriminator": Discriminator}' in code
    assert "class Discriminator" in done.stdout and "Train it:" in done.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["disc.py"]


@pytest.mark.skipif(not TORCHRUN.exists(), reason="torchrun is not installed")
def test_torchrun_two_cpu_processes_end_with_identical_weights(tmp_path):
    """deep_relu_bn (moons, BatchNorm): DDP over gloo; every rank saves its state_dict."""
    source = assets.example("deep_relu_bn")
    out = tmp_path / "model.py"
    assert cli(source, "-o", out).returncode == 0
    run = subprocess.run(
        [str(TORCHRUN), "--standalone", "--nproc_per_node=2", str(out)]
        + ["--epochs", "2", "--device", "cpu", "--out", "run", "--save-every-rank"]
        + ["--log-json", "log.json"],
        cwd=tmp_path,
        env=script_env(),
        capture_output=True,
        text=True,
        timeout=TORCHRUN_TIMEOUT,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    assert run.stdout.count("epoch 2/2") == 1, "only rank 0 reports"
    ranks = [
        torch.load(tmp_path / "run" / f"weights-rank{r}.pt", weights_only=True) for r in (0, 1)
    ]
    final = weights_fit(tmp_path / "run" / "weights.pt", source)
    assert list(ranks[0]) == list(ranks[1]) == list(final)
    for key in final:
        assert torch.equal(ranks[0][key], ranks[1][key]), key
        assert torch.equal(ranks[0][key], final[key]), key
    log = json.loads((tmp_path / "log.json").read_text())
    assert log["outcome"] == "finished" and len(log["epochs"]) == 2
    # 320 training rows, batch 32 split over 2 processes: 10 steps an epoch
    assert len(log["steps"]) == 20


def test_bad_input_exits_2_with_the_message(tmp_path):
    done = cli(tmp_path / "missing.json", "-o", tmp_path / "m.py")
    assert done.returncode == 2
    assert "does not exist" in done.stderr and "Traceback" not in done.stderr

    doc = json.loads(assets.example("digits_cnn").read_text(encoding="utf-8"))
    nodes = doc["models"]["main"]["nodes"]
    flatten = next(n for n in nodes if n["type"] == "Flatten")
    flatten["type"], flatten["params"] = "Identity", {}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc), encoding="utf-8")
    done = cli(bad, "-o", tmp_path / "m.py")
    assert done.returncode == 2
    assert "cannot be built" in done.stderr and "add a Flatten before it" in done.stderr
    assert not (tmp_path / "m.py").exists()

    done = cli(assets.example("xor_mlp"), "-o", tmp_path / "m.py", "--network", "nope")
    assert done.returncode == 2 and "no network named 'nope'" in done.stderr

    done = cli(assets.example("xor_mlp"), "-o", tmp_path / "no" / "such" / "dir" / "m.py")
    assert done.returncode == 2 and "Cannot write" in done.stderr

    done = cli(assets.example("xor_mlp"))
    assert done.returncode == 2 and "-o" in done.stderr
