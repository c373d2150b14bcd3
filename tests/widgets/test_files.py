"""The app's own files: recent list, autosave sessions and what a later start recovers."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import assets
from builder import CATALOG
from graph.errors import ProjectFileError
from graph.project_file import dumps, load
from widgets import files
from widgets.files import RecentFiles, Session, config_dir, data_dir, read_autosave


@pytest.fixture(autouse=True)
def app_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv(files.CONFIG_ENV, str(tmp_path / "config"))
    monkeypatch.setenv(files.DATA_ENV, str(tmp_path / "data"))
    return tmp_path


def touch(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("{}", encoding="utf-8")
    return path


def test_environment_overrides_the_platform_folders(tmp_path, monkeypatch):
    assert config_dir() == tmp_path / "config"
    assert data_dir() == tmp_path / "data"
    assert files.autosave_root() == tmp_path / "data" / "autosave"
    monkeypatch.delenv(files.CONFIG_ENV)
    monkeypatch.delenv(files.DATA_ENV)
    assert "NeuralCanvas" in str(config_dir()) and "NeuralCanvas" in str(data_dir())


def test_recent_files_newest_first_once_and_at_most_ten(tmp_path):
    recent = RecentFiles()
    assert recent.path == tmp_path / "config" / "recent.json"
    assert recent.files() == []
    paths = [touch(tmp_path / "p", f"{i}.json") for i in range(12)]
    for p in paths:
        recent.add(p)
    recent.add(paths[5])
    listed = RecentFiles().files()  # another instance reads the same file
    assert len(listed) == 10
    assert listed[0] == paths[5].resolve()
    assert listed[1:] == [p.resolve() for p in reversed(paths[2:]) if p != paths[5]][:9]
    assert json.loads(recent.path.read_text(encoding="utf-8"))["files"][0] == str(listed[0])


def test_recent_files_prune_missing_and_survive_a_damaged_list(tmp_path):
    recent = RecentFiles()
    a, b = touch(tmp_path, "a.json"), touch(tmp_path, "b.json")
    recent.add(a)
    recent.add(b)
    a.unlink()
    assert recent.prune() == [a.resolve()]
    assert recent.files() == [b.resolve()]
    recent.remove(b)
    assert recent.files() == []
    recent.path.write_text("[not json", encoding="utf-8")
    assert recent.files() == []
    recent.path.write_text('{"files": [3, "", null, "x.json"]}', encoding="utf-8")
    assert recent.files() == [Path("x.json")]


def test_an_autosave_holds_the_project_and_its_file(tmp_path):
    project = load(assets.example("gan_digits"), CATALOG)
    session = Session()
    path = session.new_file()
    assert not session.folder.exists()  # nothing is created before the first write
    session.write(path, project, tmp_path / "gan.json")
    assert path.parent == session.folder and session.folder.parent == files.autosave_root()
    restored, original = read_autosave(path, CATALOG)
    assert dumps(restored) == dumps(project) and original == tmp_path / "gan.json"
    assert session.new_file() != path  # one file per open document
    session.close()
    assert not session.folder.exists()


def test_a_damaged_autosave_reports_json_paths(tmp_path):
    session = Session()
    path = session.new_file()
    session.write(path, load(assets.example("xor_mlp"), CATALOG), None)
    data = json.loads(path.read_text(encoding="utf-8"))
    data["project"]["models"]["main"]["nodes"][0]["type"] = "Nope"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ProjectFileError, match=r"models\.main\.nodes\[0\]\.type"):
        read_autosave(path, CATALOG)
    path.write_text('{"format": "something else"}', encoding="utf-8")
    with pytest.raises(ProjectFileError, match="not a NeuralCanvas autosave"):
        read_autosave(path, CATALOG)
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")  # beyond recursion
    with pytest.raises(ProjectFileError, match="Cannot read the autosave"):
        read_autosave(path, CATALOG)
    path.unlink()
    os.mkfifo(path)  # would block forever if opened for reading
    with pytest.raises(ProjectFileError, match="not a regular file"):
        read_autosave(path, CATALOG)
    session.close()


def test_only_sessions_that_did_not_exit_cleanly_are_recoverable(tmp_path):
    project = load(assets.example("xor_mlp"), CATALOG)
    running, crashed, clean = Session(), Session(), Session()
    for session, original in ((running, None), (crashed, tmp_path / "mine.json"), (clean, None)):
        session.write(session.new_file(), project, original)
    clean.close()
    crashed.abandon()
    empty_dead = files.autosave_root() / "empty-session"
    empty_dead.mkdir()
    junk = touch(files.autosave_root() / "junk-session", "notes.json")

    me = Session()
    found = me.recoverable()
    assert [item.file.parent for item in found] == [crashed.folder]
    (item,) = found
    assert item.original == tmp_path / "mine.json" and item.label == "mine.json"
    assert item.project_name == project.name
    assert not empty_dead.exists()  # nothing to recover: tidied away
    assert junk.exists()  # not an autosave: never offered, never deleted
    Session.forget(item)
    assert not crashed.folder.exists()
    assert me.recoverable() == []
    running.close()


def test_current_session_follows_the_data_folder(tmp_path, monkeypatch):
    first = files.current_session()
    assert files.current_session() is first
    monkeypatch.setenv(files.DATA_ENV, str(tmp_path / "elsewhere"))
    second = files.current_session()
    assert second is not first and second.root == tmp_path / "elsewhere" / "autosave"
