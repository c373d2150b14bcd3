"""One atomic write for every file the app writes: through symlinks, with the same
permissions whoever writes, fsynced (file and folder), stale temporaries cleaned up,
failures as clear errors that leave the target as it was."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys

import pytest
import torch

from builder.training.checkpoint import save_checkpoint, save_weights
from graph import atomic
from graph.atomic import FileWriteError, atomic_write, atomic_write_text

USUAL = 0o666 & ~atomic._UMASK


def test_a_symlink_is_written_through(tmp_path):
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    atomic_write_text(link, "new")
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.json", "real.json"]


def test_every_writer_gives_the_usual_permissions(tmp_path):
    save_weights(tmp_path / "weights.pt", {"w": torch.ones(2)})
    save_checkpoint(tmp_path / "checkpoint.pt", {"epoch": 1})
    atomic_write_text(tmp_path / "p.json", "{}")
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    assert modes == {"weights.pt": USUAL, "checkpoint.pt": USUAL, "p.json": USUAL}
    os.chmod(tmp_path / "weights.pt", 0o640)
    save_weights(tmp_path / "weights.pt", {"w": torch.zeros(2)})
    assert stat.S_IMODE((tmp_path / "weights.pt").stat().st_mode) == 0o640
    assert torch.load(tmp_path / "weights.pt", weights_only=True)["w"].sum() == 0


def test_stale_temporaries_of_dead_writers_are_removed(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    path = tmp_path / "p.json"
    stale = tmp_path / f".p.json.{dead.pid}.0.tmp"
    old_style = tmp_path / ".p.json.k3j4h2.tmp"  # an older writer's mkstemp name
    live = tmp_path / f".p.json.{os.getppid()}.0.tmp"  # a live process: a save in progress
    other = tmp_path / f".q.json.{dead.pid}.0.tmp"  # another file's
    for p in (stale, old_style, live, other):
        p.write_text("partial")
    atomic_write_text(path, "whole")
    assert path.read_text() == "whole"
    assert not stale.exists() and not old_style.exists()
    assert live.exists() and other.exists()


def test_file_and_folder_are_fsynced(tmp_path, monkeypatch):
    synced = []
    real = os.fsync

    def spy(fd):
        synced.append(stat.S_ISDIR(os.fstat(fd).st_mode))
        real(fd)

    monkeypatch.setattr(os, "fsync", spy)
    atomic_write_text(tmp_path / "p.json", "x")
    assert synced == [False, True]  # the file, then its folder after the rename


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (errno.ENOSPC, "the disk is full"),
        (errno.EROFS, "read-only"),
        (errno.EACCES, "no permission"),
    ],
)
def test_a_failed_write_leaves_the_target_and_says_what_to_do(tmp_path, code, words):
    path = tmp_path / "weights.pt"
    path.write_bytes(b"good")

    def fail(tmp):
        tmp.write_bytes(b"half")
        raise OSError(code, os.strerror(code))

    with pytest.raises(FileWriteError, match=words) as info:
        atomic_write(path, fail)
    assert isinstance(info.value, OSError) and info.value.errno == code
    assert path.read_bytes() == b"good"
    assert [p.name for p in tmp_path.iterdir()] == ["weights.pt"]


def test_a_folder_or_a_missing_folder_is_a_message(tmp_path):
    with pytest.raises(FileWriteError, match="it is a folder"):
        atomic_write_text(tmp_path, "x")
    with pytest.raises(FileWriteError, match="folder does not exist"):
        atomic_write_text(tmp_path / "nope" / "p.json", "x")
    with pytest.raises(FileWriteError, match="too long"):
        atomic_write_text(tmp_path / ("x" * 300), "x")
