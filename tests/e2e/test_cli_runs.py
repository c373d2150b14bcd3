"""Runs that lose nothing: a finite blow-up stops with the best weights kept, a folder with
an earlier run is never written over, kills lose at most one epoch and a resume lists each
epoch once, a full or unwritable disk is a message."""

from __future__ import annotations

import errno
import json
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from builder.training.checkpoint import load_checkpoint
from tests.e2e.test_cli_train import (
    ROOT,
    TIMEOUT,
    assert_no_traceback,
    assert_weights_fit,
    cli,
    command,
    env,
    example_doc,
    metrics_rows,
    records,
    write,
)
from widgets.cli import main


def xor(tmp_path: Path, name: str = "xor.json", **training) -> Path:
    doc = example_doc("xor_mlp")
    doc["training"].update(training)
    return write(tmp_path, name, doc)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# --------------------------------------------------------------------------- blow-ups


def test_a_finite_blow_up_stops_and_leaves_the_earlier_run_as_it_was(tmp_path, capsys):
    good = xor(tmp_path, "good.json", epochs=20)
    run = tmp_path / "run"
    assert main(["train", str(good), "--quiet", "--out", str(run)]) == 0
    before = snapshot(run)
    doc = example_doc("xor_mlp")
    doc["training"]["epochs"] = 50
    doc["training"]["optimizer"]["lr"] = 1e6  # the loss stays finite; the weights explode
    bad = write(tmp_path, "bad.json", doc)
    capsys.readouterr()
    assert main(["train", str(bad), "--quiet", "--out", str(run)]) == 2
    out, err = capsys.readouterr()
    assert "holds an earlier run, kept as it is" in err and str(tmp_path / "run-2") in err
    assert "the weights' norm blew up" in err and "learning rate (1e+06)" in err
    assert "Traceback" not in out + err
    assert snapshot(run) == before  # the earlier run's files are untouched
    last = records(tmp_path / "run-2")[-1]
    assert last["kind"] == "error" and last["diverged"] is True and last["step"] == 1


def test_a_loss_that_grows_far_beyond_its_best_is_caught(tmp_path, capsys):
    doc = example_doc("digits_cnn")
    doc["training"]["optimizer"]["lr"] = 10.0  # Adam: the loss grows to ~1e4, finite
    project = write(tmp_path, "digits.json", doc)
    run = tmp_path / "run"
    assert main(["train", str(project), "--quiet", "--epochs", "3", "--out", str(run)]) == 2
    out, err = capsys.readouterr()
    assert "the loss blew up to " in err and "times its lowest" in err
    assert "learning rate (10) may be too high" in err
    assert "No weights.pt written" in out  # no epoch ended well before it
    assert not (run / "weights.pt").exists()


# --------------------------------------------------------------------------- run folders


def test_a_second_run_goes_to_a_new_folder_and_a_resume_continues_its_own(tmp_path, capsys):
    project = xor(tmp_path, epochs=4)
    default = tmp_path / "xor-run"
    assert main(["train", str(project), "--quiet"]) == 0
    first = snapshot(default)
    assert main(["train", str(project), "--quiet"]) == 0
    assert main(["train", str(project), "--quiet"]) == 0
    assert snapshot(default) == first
    assert [len(metrics_rows(tmp_path / f"xor-run{s}")) for s in ("", "-2", "-3")] == [4, 4, 4]
    capsys.readouterr()
    # --resume a run folder: its own files continue (the default --out is that folder).
    checkpoint = tmp_path / "xor-run-2" / "checkpoint.pt"
    assert (
        main(["train", str(project), "--quiet", "--epochs", "7", "--resume", str(checkpoint)]) == 0
    )
    assert "earlier run" not in capsys.readouterr().err
    assert [r["epoch"] for r in metrics_rows(tmp_path / "xor-run-2")] == [
        str(e) for e in range(1, 8)
    ]
    assert not (tmp_path / "xor-run-4").exists()


# --------------------------------------------------------------------------- kills


def _train_until_killed(project: Path, run: Path, epoch: int, delay: float, *extra) -> None:
    """Start a run and SIGKILL it once its records reach ``epoch`` (then ``delay`` s more)."""
    proc = subprocess.Popen(
        command(project, "--quiet", "--checkpoint-every", 0, "--out", run, *extra),
        cwd=ROOT,
        env=env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + TIMEOUT
        jsonl = run / "records.jsonl"
        needle = f'"kind": "epoch", "epoch": {epoch},'
        while not (jsonl.is_file() and needle in jsonl.read_text(encoding="utf-8")):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, f"epoch {epoch} never arrived"
            time.sleep(0.01)
        time.sleep(delay)
        proc.kill()
        proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def _epochs(run: Path) -> list[int]:
    return [r["epoch"] for r in records(run) if r["kind"] == "epoch"]


def test_kills_at_random_moments_lose_at_most_one_epoch_and_resume_lists_each_once(tmp_path):
    doc = example_doc("digits_cnn")
    doc["training"]["epochs"] = 400  # far more than a kill lets it reach
    project = write(tmp_path, "digits.json", doc)
    run = tmp_path / "run"
    rng = random.Random(12)
    _train_until_killed(project, run, rng.randint(2, 4), rng.uniform(0, 0.3))
    for _ in range(1):  # killed, resumed, killed again while resumed
        seen = max(_epochs(run))
        checkpoint = load_checkpoint(run / "checkpoint.pt")
        assert checkpoint["epoch"] >= seen - 1  # at most one epoch lost
        target = checkpoint["epoch"] + rng.randint(2, 3)
        _train_until_killed(
            project, run, target, rng.uniform(0, 0.3), "--resume", run / "checkpoint.pt"
        )
    checkpoint = load_checkpoint(run / "checkpoint.pt")
    end = checkpoint["epoch"] + 2
    result = cli(project, "--quiet", "--epochs", end, "--resume", run / "checkpoint.pt")
    assert result.returncode == 0, result.stderr
    assert_no_traceback(result)
    assert _epochs(run) == list(range(1, end + 1))
    assert [int(r["epoch"]) for r in metrics_rows(run)] == list(range(1, end + 1))
    steps = [s for r in records(run) if r["kind"] == "step" for s in (r["first_step"], r["step"])]
    assert steps == sorted(steps)  # no step is listed twice either
    assert_weights_fit(run, project)


# --------------------------------------------------------------------------- full disks

FULL_DISK = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (40000, 40000))
from widgets.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_a_file_that_cannot_grow_stops_the_run_with_its_files_whole(tmp_path):
    # records.jsonl passes the 40 kB limit after ~70 XOR epochs, as on a disk that fills up
    project = xor(tmp_path, epochs=1000)
    run = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-c", FULL_DISK, "train", str(project), "--quiet"]
        + ["--checkpoint-every", "0", "--out", str(run)],
        cwd=ROOT,
        env=env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 2, result.stderr
    assert_no_traceback(result)
    assert "terminate called" not in result.stderr
    assert (
        f"Cannot write {run / 'records.jsonl'}: the file would pass the size limit" in result.stderr
    )
    assert "continue with --resume" in result.stderr
    text = (run / "records.jsonl").read_text(encoding="utf-8")
    assert text.endswith("\n")  # cut back to its last whole line
    seen = max(_epochs(run))
    assert 10 < seen < 1000
    checkpoint = load_checkpoint(run / "checkpoint.pt")
    assert seen - 1 <= checkpoint["epoch"] <= seen  # never ahead of the records
    assert [int(r["epoch"]) for r in metrics_rows(run)] == list(range(1, seen + 1))


def test_a_checkpoint_that_cannot_be_written_stops_the_run(tmp_path, capsys, monkeypatch):
    from builder.training import trainer as trainer_module

    calls = []

    def full(path, state, durable=True):
        calls.append(state["epoch"])
        if len(calls) == 3:
            raise trainer_module.FileWriteError(f"Cannot write {path}: the disk is full")
        torch.save(state, path)

    monkeypatch.setattr(trainer_module, "save_checkpoint", full)
    project = xor(tmp_path, epochs=50)
    run = tmp_path / "run"
    assert (
        main(["train", str(project), "--quiet", "--checkpoint-every", "0", "--out", str(run)]) == 2
    )
    err = capsys.readouterr().err
    assert "the disk is full" in err and "The run stopped after epoch 3" in err
    assert "Traceback" not in err
    assert calls == [1, 2, 3]
    assert torch.load(run / "checkpoint.pt", weights_only=False)["epoch"] == 2


@pytest.mark.parametrize("case", ["a file", "a long path", "read-only", "not a folder"])
def test_an_unwritable_out_is_a_message(tmp_path, capsys, monkeypatch, case):
    project = xor(tmp_path, epochs=2)
    if case == "a file":
        out = write(tmp_path, "taken", "not a folder")
        expected = "it is a file, not a folder: choose a folder with --out"
    elif case == "a long path":
        out = tmp_path.joinpath(*["d" * 200] * 30)  # 6,000 characters
        expected = "the path is too long"
    elif case == "not a folder":
        out = write(tmp_path, "file", "x") / "run"
        expected = "a part of the path is a file"
    else:
        real_mkdir = Path.mkdir

        def read_only(self, *args, **kwargs):
            if self.name == "run":
                raise OSError(errno.EROFS, "Read-only file system", str(self))
            return real_mkdir(self, *args, **kwargs)

        monkeypatch.setattr(Path, "mkdir", read_only)
        out = tmp_path / "run"
        expected = "the filesystem is read-only: choose a folder on a writable disk"
    assert main(["train", str(project), "--quiet", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("neuralcanvas: error: Cannot write ") and expected in err, err
    assert "Traceback" not in err and len(err) < 600


def test_a_records_line_that_fails_is_cut_back(tmp_path):
    from builder.training.runfiles import _Lines

    lines = _Lines(tmp_path / "r.jsonl", None)
    lines.write('{"a": 1}\n')

    class Full:
        def __init__(self, file):
            self.file = file

        def write(self, data):
            self.file.write(bytes(data[:3]))  # part of the line reaches the disk
            raise OSError(errno.ENOSPC, "No space left on device")

        def __getattr__(self, name):
            return getattr(self.file, name)

    lines.file = Full(lines.file)
    with pytest.raises(OSError, match="the disk is full: free some space"):
        lines.write('{"b": 2}\n')
    lines.close()
    assert (tmp_path / "r.jsonl").read_text() == '{"a": 1}\n'
    assert json.loads((tmp_path / "r.jsonl").read_text()) == {"a": 1}


def test_a_resume_cuts_the_files_back_to_the_checkpoint(tmp_path):
    from builder.training.runfiles import RunWriter

    folder = tmp_path / "run"
    folder.mkdir()
    steps = [{"kind": "step", "epoch": e, "step": 2 * e} for e in range(1, 6)]
    text = "".join(json.dumps(r) + "\n" for r in steps) + '{"kind": "ep'  # torn last line
    (folder / "records.jsonl").write_text(text)
    rows = ["epoch,step,train_loss"] + [f"{e},{2 * e},0.5" for e in range(1, 6)]
    (folder / "metrics.csv").write_text("\n".join(rows) + "\n4,8,0.")
    writer = RunWriter(folder, resume_at=(3, 6))
    writer.close()
    kept = [json.loads(line) for line in (folder / "records.jsonl").read_text().splitlines()]
    assert [r["step"] for r in kept] == [2, 4, 6]
    assert (folder / "metrics.csv").read_text().splitlines() == rows[:4]
    assert writer.columns == ["epoch", "step", "train_loss"]
