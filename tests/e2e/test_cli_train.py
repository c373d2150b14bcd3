"""``neuralcanvas train``, run as ``python -m widgets train`` in a subprocess (no Qt needed):
the run's files, resuming, Ctrl-C, and the refusals of bad input (exit 2, no traceback)."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch

import assets
from builder import CATALOG, compile_network
from builder.training.checkpoint import load_checkpoint
from builder.training.records import EpochRecord
from builder.training.trainer import Trainer
from graph.project_file import load
from widgets.cli import main

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 120
STOP_TIMEOUT = 15  # Ctrl-C must end the run well within this


def env() -> dict[str, str]:
    out = dict(os.environ)
    out["PYTHONPATH"] = os.pathsep.join([str(ROOT), out.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    out["QT_QPA_PLATFORM"] = "offscreen"
    return out


def command(*args: object) -> list[str]:
    return [sys.executable, "-m", "widgets", "train", *map(str, args)]


def cli(*args: object, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(*args), cwd=cwd, env=env(), capture_output=True, text=True, timeout=TIMEOUT
    )


def example_doc(name: str) -> dict:
    return json.loads(assets.example(name).read_text(encoding="utf-8"))


def write(folder: Path, name: str, doc: dict | str) -> Path:
    path = folder / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return path


def metrics_rows(folder: Path) -> list[dict[str, str]]:
    with open(folder / "metrics.csv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def records(folder: Path) -> list[dict]:
    lines = (folder / "records.jsonl").read_text(encoding="utf-8").splitlines()
    out = [json.loads(line) for line in lines]
    assert all(
        isinstance(r, dict) and r.get("kind") in {"step", "epoch", "evaluation", "status", "error"}
        for r in out
    )
    return out


def assert_weights_fit(folder: Path, project_path: Path) -> dict[str, torch.Tensor]:
    """weights.pt is a plain state_dict that loads into a freshly compiled model, strictly."""
    state = torch.load(folder / "weights.pt", weights_only=True)
    model = compile_network(load(project_path, CATALOG).network(), seed=123)
    model.load_state_dict(state, strict=True)
    return state


def assert_no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stdout + result.stderr, result.stderr


# --------------------------------------------------------------------------- a full run


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory) -> tuple[Path, Path, subprocess.CompletedProcess[str]]:
    """A copy of the digits CNN example trained for 2 epochs into ``run/``."""
    folder = tmp_path_factory.mktemp("digits")
    project = write(folder, "digits.json", example_doc("digits_cnn"))
    result = cli(project, "--epochs", "2", "--out", folder / "run")
    return project, folder / "run", result


def test_train_prints_the_figures_and_writes_the_run_files(digits_run):
    project, run, result = digits_run
    assert result.returncode == 0, result.stderr
    assert_no_traceback(result)
    out = result.stdout
    assert "Epoch 2, step 46: train loss " in out  # 1797 digits, 20% validation, batches of 64
    assert "validation loss " in out and "accuracy " in out
    assert "Finished 2 epochs (46 steps)" in out
    for name in ("metrics.csv", "records.jsonl", "weights.pt", "checkpoint.pt"):
        assert str(run / name) in out

    rows = metrics_rows(run)
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert [r["step"] for r in rows] == ["23", "46"]
    assert {"train_loss", "val_loss", "accuracy"} <= set(rows[0])
    assert all(float(r["train_loss"]) > 0 and float(r["val_loss"]) > 0 for r in rows)
    assert all(0 <= float(r["accuracy"]) <= 1 for r in rows)

    recs = records(run)
    assert recs[0] == {"kind": "status", "state": "running", "epoch": 0, "step": 0, "message": ""}
    assert recs[-1]["kind"] == "status" and recs[-1]["state"] == "finished"
    steps = [r for r in recs if r["kind"] == "step"]
    assert sum(len(r["losses"]) for r in steps) == 46  # every step's loss, once
    assert [r["epoch"] for r in recs if r["kind"] == "epoch"] == [1, 2]

    state = assert_weights_fit(run, project)
    checkpoint = load_checkpoint(run / "checkpoint.pt")  # weights_only=True inside
    assert (checkpoint["epoch"], checkpoint["step"]) == (2, 46)
    assert state.keys() == checkpoint["models"]["model"].keys()
    assert all(torch.equal(state[k], checkpoint["models"]["model"][k]) for k in state)


def test_resume_continues_from_epoch_2_to_4(digits_run, tmp_path):
    project, run, first = digits_run
    assert first.returncode == 0, first.stderr
    # Resume into a copy of the run's folder: the files go on where they stopped.
    resumed = tmp_path / "run"
    shutil.copytree(run, resumed)
    result = cli(project, "--resume", resumed / "checkpoint.pt", "--epochs", 4, "--out", resumed)
    assert result.returncode == 0, result.stderr
    assert_no_traceback(result)
    assert "Epoch 4, step 92: " in result.stdout

    rows = metrics_rows(resumed)
    assert [r["epoch"] for r in rows] == ["1", "2", "3", "4"]
    assert [r["step"] for r in rows] == ["23", "46", "69", "92"]
    assert rows[:2] == metrics_rows(run)  # the first two epochs are kept as they were
    recs = records(resumed)
    second = recs[len(records(run)) :]
    assert second[0]["kind"] == "status" and second[0]["state"] == "running"
    assert (second[0]["epoch"], second[0]["step"]) == (2, 46)
    assert next(r for r in second if r["kind"] == "step")["first_step"] == 47
    assert [r["epoch"] for r in second if r["kind"] == "epoch"] == [3, 4]

    checkpoint = load_checkpoint(resumed / "checkpoint.pt")
    assert (checkpoint["epoch"], checkpoint["step"]) == (4, 92)
    assert_weights_fit(resumed, project)
    # The same run as 4 epochs at once (in this process: the trainer the command drives).
    doc = load(project, CATALOG)
    doc.training["epochs"] = 4
    whole = Trainer(doc, device="cpu").run()
    expected = [r.train_loss for r in whole if isinstance(r, EpochRecord)]
    assert [float(r["train_loss"]) for r in rows] == pytest.approx(expected, rel=1e-6)


# --------------------------------------------------------------------------- Ctrl-C


@pytest.mark.parametrize(
    "signum, code, said",
    [(signal.SIGINT, 130, "Stopped by Ctrl-C"), (signal.SIGTERM, 143, "Stopped by SIGTERM")],
    ids=["ctrl-c", "sigterm"],
)
def test_ctrl_c_and_sigterm_stop_cleanly_and_keep_the_files(tmp_path, signum, code, said):
    project = write(tmp_path, "digits.json", example_doc("digits_cnn"))
    run = tmp_path / "run"
    proc = subprocess.Popen(
        command(project, "--epochs", 1000, "--out", run),
        cwd=ROOT,
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + TIMEOUT
        jsonl = run / "records.jsonl"
        while not (jsonl.is_file() and '"kind": "step"' in jsonl.read_text(encoding="utf-8")):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no step record arrived"
            time.sleep(0.05)
        proc.send_signal(signum)
        proc.send_signal(signum)  # a second one, while it stops and saves, changes nothing
        try:
            stdout, stderr = proc.communicate(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the run did not stop within {STOP_TIMEOUT} s of Ctrl-C")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == code, stderr
    assert "Traceback" not in stdout + stderr
    assert said in stderr
    assert "Stopped by the user at step" in stdout

    recs = records(run)
    assert recs[-1]["kind"] == "status" and recs[-1]["state"] == "stopped"
    done = recs[-1]["step"]
    assert 0 < done < 1000 * 23
    assert sum(len(r["losses"]) for r in recs if r["kind"] == "step") == done
    epochs = [r["epoch"] for r in recs if r["kind"] == "epoch"]
    assert [r["epoch"] for r in metrics_rows(run)] == [str(e) for e in epochs]
    assert_weights_fit(run, project)
    checkpoint = load_checkpoint(run / "checkpoint.pt")
    assert checkpoint["step"] == done


# --------------------------------------------------------------------------- refusals


def _csv_project(folder: Path, name: str, csv_name: str) -> Path:
    doc = example_doc("xor_mlp")
    doc["training"]["dataset"] = {"name": "csv", "path": csv_name, "validation": 0}
    return write(folder, name, doc)


def _refusal_cases(folder: Path) -> dict[str, tuple[list[object], list[str]]]:
    """``{case: (arguments, texts the error must contain)}``; files are made in ``folder``."""
    xor = example_doc("xor_mlp")
    xor_path = write(folder, "xor.json", xor)
    write(folder, "text.csv", "a,b,label\n1,2,0\n3,x,1\n5,6,0\n7,8,1\n")
    write(folder, "nan.csv", "a,b,label\n1,2,0\n3,nan,1\n5,6,0\n7,8,1\n")

    sine = example_doc("xor_mlp")
    sine["models"]["main"]["nodes"][0]["params"]["shape"] = [1]
    sine["training"].update(dataset={"name": "sine"}, loss="cross_entropy")

    wide = example_doc("xor_mlp")
    wide["models"]["main"]["nodes"][0]["params"]["shape"] = [3]

    bad_lr = example_doc("xor_mlp")
    bad_lr["training"]["optimizer"] = {"name": "adam", "lr": -1}

    out = folder / "out"
    cases: dict[str, tuple[list[object], list[str]]] = {
        "missing file": ([folder / "nowhere.json"], ["nowhere.json", "does not exist"]),
        "missing csv": (
            [_csv_project(folder, "missing_csv.json", "no_such.csv"), "--out", out],
            ["training.dataset.path", "no_such.csv", "not found", str(folder)],
        ),
        "non-numeric csv": (
            [_csv_project(folder, "text_csv.json", "text.csv"), "--out", out],
            ["text.csv", "column 'b' is not numeric", "'x'", "line 3"],
        ),
        "nan in csv": (
            [_csv_project(folder, "nan_csv.json", "nan.csv"), "--out", out],
            ["nan.csv", "column 'b'", "NaN", "line 3"],
        ),
        "cross_entropy on regression": (
            [write(folder, "sine.json", sine), "--out", out],
            ["cross_entropy needs class labels", "'sine'", "mse"],
        ),
        "input shape": (
            [write(folder, "wide.json", wide), "--out", out],
            ["Input 'inputs'", "(N, 3)", "'xor'", "set the Input's shape to [2]"],
        ),
        "invalid training": (
            [write(folder, "bad_lr.json", bad_lr), "--out", out],
            ["training.optimizer.lr", "> 0", "-1"],
        ),
    }
    if not torch.cuda.is_available():
        cases["cuda without a GPU"] = (
            [xor_path, "--device", "cuda", "--out", out],
            ["CUDA", "no CUDA GPU", "cpu or auto"],
        )
    return cases


@pytest.fixture(scope="module")
def refusals(tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess[str], list[str]]]:
    """Every refusal case, run as a subprocess (in parallel: each one mostly imports torch)."""
    folder = tmp_path_factory.mktemp("refusals")
    cases = _refusal_cases(folder)
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        futures = {name: pool.submit(cli, *args, cwd=folder) for name, (args, _) in cases.items()}
        results = {name: (f.result(), cases[name][1]) for name, f in futures.items()}
    assert not (folder / "out").exists()  # nothing is written before the run can start
    return results


def check_refusal(result: subprocess.CompletedProcess[str], expected: list[str]) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert_no_traceback(result)
    assert result.stderr.startswith("neuralcanvas: error: "), result.stderr
    for text in expected:
        assert text in result.stderr, f"{text!r} not in {result.stderr!r}"


@pytest.mark.parametrize(
    "case",
    [
        "missing file",
        "missing csv",
        "non-numeric csv",
        "nan in csv",
        "cross_entropy on regression",
        "input shape",
        "invalid training",
    ],
)
def test_bad_input_exits_2_with_a_clear_message(refusals, case):
    check_refusal(*refusals[case])


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_cuda_without_a_gpu_exits_2(refusals):
    check_refusal(*refusals["cuda without a GPU"])


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--epochs", "0"], ["--epochs must be a positive integer"]),
        (["--resume", "gone.pt"], ["gone.pt", "does not exist"]),
        (["--network", "critic"], ["'critic'", "'main'"]),
    ],
    ids=["epochs 0", "missing checkpoint", "unknown network"],
)
def test_bad_options_exit_2(tmp_path, capsys, args, expected):
    # in-process (the subprocess runs above cover the real command)
    project = write(tmp_path, "xor.json", example_doc("xor_mlp"))
    assert main(["train", str(project), "--out", str(tmp_path / "out"), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("neuralcanvas: error: ") and "Traceback" not in err
    for text in expected:
        assert text in err, err
    assert not (tmp_path / "out").exists()


def test_a_diverged_run_exits_2_and_keeps_no_nan_weights(tmp_path, capsys):
    # in-process; exploding_lr's learning rate makes the loss overflow within a few steps
    project = write(tmp_path, "boom.json", example_doc("exploding_lr"))
    run = tmp_path / "run"
    assert main(["train", str(project), "--quiet", "--out", str(run)]) == 2
    out, err = capsys.readouterr()
    assert err.startswith("neuralcanvas: error: Training stopped at step ")
    assert "the loss became" in err and "learning rate" in err and "Traceback" not in err
    assert "The run diverged. No weights.pt written. No checkpoint was written." in out
    assert not (run / "weights.pt").exists() and not (run / "checkpoint.pt").exists()
    last = records(run)[-1]
    assert last["kind"] == "error" and last["diverged"] is True


def test_a_test_split_is_evaluated_at_the_end(tmp_path, capsys):
    doc = example_doc("xor_mlp")
    doc["training"].update(dataset={"name": "moons", "samples": 200, "test": 0.2}, epochs=3)
    project = write(tmp_path, "moons.json", doc)
    run = tmp_path / "run"
    assert main(["train", str(project), "--quiet", "--out", str(run)]) == 0
    out = capsys.readouterr().out
    assert "Epoch 3, step 3: " in out and "The test split: loss " in out
    evaluation = [r for r in records(run) if r["kind"] == "evaluation"]
    assert len(evaluation) == 1 and evaluation[0]["split"] == "test"
    assert f"accuracy {evaluation[0]['metrics']['accuracy']:.4g}" in out.split("The test split")[1]
    assert len(metrics_rows(run)) == 3


def test_procedure_overrides_the_files_and_an_unknown_one_is_refused(tmp_path, capsys):
    # in-process; xor_mlp learns by supervised backprop whether the file says so or not
    project = write(tmp_path, "xor.json", example_doc("xor_mlp"))
    out = tmp_path / "out"
    assert main(["train", str(project), "--quiet", "--procedure", "vea", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith('neuralcanvas: error: --procedure: unknown procedure "vea"')
    assert 'did you mean "vae"' in err and '"supervised"' in err and "Traceback" not in err
    assert not out.exists()
    args = ["train", str(project), "--quiet", "--epochs", "2", "--procedure", "supervised"]
    assert main([*args, "--out", str(out)]) == 0
    assert "Epoch 2, step 2: train loss " in capsys.readouterr().out
    assert [r["epoch"] for r in records(out) if r["kind"] == "epoch"] == [1, 2]
    # another procedure's settings in the file are left out, not refused
    doc = example_doc("xor_mlp")
    doc["training"].update(procedure="vae", procedure_settings={"beta": 2.0})
    vae = write(tmp_path, "said_vae.json", doc)
    assert main([*args[:1], str(vae), *args[2:], "--out", str(tmp_path / "out2")]) == 0
    capsys.readouterr()
