"""Where the app keeps its own files: the recent-files list, autosaves and crash recovery.

- **Recent files** (``recent.json`` in the user config dir): the last 10 project files
  opened or saved, newest first.
- **Autosave** (``autosave/`` in the user data dir): each running app is a *session* with
  a folder ``autosave/<session id>/`` holding a lock file (:class:`QLockFile`, held while
  the app runs) and one file per open document that has unsaved changes. An autosave never
  touches the user's own file. A clean exit removes the session's folder.
- **Recovery**: a session folder whose lock is free (its app is gone: it crashed or was
  killed) still holding autosaves is what a later start offers to recover.

``NEURALCANVAS_CONFIG_DIR`` and ``NEURALCANVAS_DATA_DIR`` replace the platform folders
(tests point them at a temporary folder).

Qt is used only for :class:`QLockFile` (which knows whether the process holding a lock is
still running); nothing here imports widgets or torch.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QLockFile

from graph.document import Project
from graph.errors import ProjectFileError
from graph.project_file import (
    MAX_FILE_BYTES,
    atomic_write_text,
    from_dict,
    read_regular_file,
    to_dict,
)

APP_NAME = "NeuralCanvas"
CONFIG_ENV = "NEURALCANVAS_CONFIG_DIR"
DATA_ENV = "NEURALCANVAS_DATA_DIR"
RECENT_MAX = 10
AUTOSAVE_FORMAT = "neuralcanvas-autosave"
LOCK_NAME = "session.lock"


def config_dir() -> Path:
    """The folder of the app's settings (``NEURALCANVAS_CONFIG_DIR`` wins)."""
    override = os.environ.get(CONFIG_ENV)
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def data_dir() -> Path:
    """The folder of the app's data, e.g. autosaves (``NEURALCANVAS_DATA_DIR`` wins)."""
    override = os.environ.get(DATA_ENV)
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def autosave_root() -> Path:
    return data_dir() / "autosave"


# ----------------------------------------------------------------------------- recent files


class RecentFiles:
    """The recent-files list, stored as JSON (``{"files": [absolute paths]}``).

    Every call reads the file again, so several windows (or apps) share one list.
    """

    def __init__(self, path: Path | None = None, limit: int = RECENT_MAX):
        self.path = path if path is not None else config_dir() / "recent.json"
        self.limit = limit

    def files(self) -> list[Path]:
        """The stored list, newest first (missing files included: see :meth:`prune`)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        entries = data.get("files") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            return []
        out: list[Path] = []
        for entry in entries:
            if isinstance(entry, str) and entry and Path(entry) not in out:
                out.append(Path(entry))
        return out[: self.limit]

    def add(self, path: str | os.PathLike[str]) -> list[Path]:
        """Put ``path`` first (once); keep the newest :attr:`limit` entries."""
        path = Path(path).resolve()
        files = [path] + [p for p in self.files() if p != path]
        self._write(files[: self.limit])
        return files[: self.limit]

    def remove(self, path: str | os.PathLike[str]) -> None:
        path = Path(path).resolve()
        files = self.files()
        if path in files:
            self._write([p for p in files if p != path])

    def prune(self) -> list[Path]:
        """Drop the files that no longer exist; returns those dropped."""
        files = self.files()
        gone = [p for p in files if not p.is_file()]
        if gone:
            self._write([p for p in files if p not in gone])
        return gone

    def clear(self) -> None:
        self._write([])

    def _write(self, files: list[Path]) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            text = json.dumps({"files": [str(p) for p in files]}, indent=2, ensure_ascii=False)
            atomic_write_text(self.path, text + "\n")
        except OSError:
            pass  # a read-only config folder must not stop the app: the list is a convenience


# ----------------------------------------------------------------------------- autosave


@dataclass(frozen=True)
class Recoverable:
    """An autosave left by a session that did not exit cleanly."""

    file: Path
    original: Path | None  # the user's file it belongs to (None: never saved)
    project_name: str
    saved_at: float  # seconds since the epoch

    @property
    def label(self) -> str:
        """How the question names it: the user's file name, or the project's name."""
        return self.original.name if self.original is not None else self.project_name


def autosave_text(project: Project, original: Path | None) -> str:
    """The autosave document: the project as in its file, plus where it belongs."""
    return json.dumps(
        {
            "format": AUTOSAVE_FORMAT,
            "version": 1,
            "original_path": str(original) if original is not None else None,
            "saved_at": time.time(),
            "project": to_dict(project),
        },
        ensure_ascii=False,
    )


def read_autosave(path: Path, specs: Any) -> tuple[Project, Path | None]:
    """The project in an autosave file and the user's file it belongs to.

    Raises :class:`ProjectFileError` (JSON paths under ``project``) if it is damaged.
    """
    data = _read_header(path)
    project = from_dict(data.get("project"), specs, str(path))
    original = data.get("original_path")
    return project, Path(original) if isinstance(original, str) and original else None


def _read_header(path: Path) -> dict[str, Any]:
    raw = read_regular_file(path, 2 * MAX_FILE_BYTES, str(path), "an autosave")  # no pipe
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise ProjectFileError(
            str(path), message=f"Cannot read the autosave {path}: {exc}"
        ) from None
    if not isinstance(data, dict) or data.get("format") != AUTOSAVE_FORMAT:
        raise ProjectFileError(str(path), message=f"{path} is not a NeuralCanvas autosave")
    return data


class Session:
    """This app's autosave folder and lock; one per running app (tests make their own).

    ``root`` defaults to :func:`autosave_root`. The folder is created, and the lock taken,
    on the first autosave (or :meth:`start`), so a screenshot run leaves nothing behind.
    """

    def __init__(self, root: Path | None = None):
        self.root = root if root is not None else autosave_root()
        self.id = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.folder = self.root / self.id
        self._lock: QLockFile | None = None
        self._counter = 0

    # ------------------------------------------------------------------ own files
    def start(self) -> None:
        """Create the folder and take its lock (idempotent)."""
        if self._lock is not None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        lock = QLockFile(str(self.folder / LOCK_NAME))
        lock.setStaleLockTime(0)  # stale only when the process holding it is gone
        lock.tryLock(0)
        self._lock = lock

    def new_file(self) -> Path:
        """A fresh autosave path for one open document (not created yet)."""
        self._counter += 1
        return self.folder / f"document-{self._counter}.json"

    def write(self, path: Path, project: Project, original: Path | None) -> None:
        """Autosave ``project`` to ``path`` (one of :meth:`new_file`'s), atomically."""
        self.start()
        atomic_write_text(path, autosave_text(project, original))

    @staticmethod
    def discard(path: Path | None) -> None:
        if path is not None:
            try:
                path.unlink()
            except FileNotFoundError:
                pass

    def close(self) -> None:
        """A clean exit: remove this session's folder (its autosaves) and free the lock."""
        if self._lock is not None:
            self._lock.unlock()
            self._lock = None
        shutil.rmtree(self.folder, ignore_errors=True)

    def abandon(self) -> None:
        """Free the lock but keep the files, as a crash would (for tests)."""
        if self._lock is not None:
            self._lock.unlock()
            self._lock = None

    # ------------------------------------------------------------------ other sessions
    def recoverable(self) -> list[Recoverable]:
        """Autosaves of earlier sessions that did not exit cleanly, oldest first.

        A session whose lock is still held (another running app) is left alone; an
        abandoned session folder with nothing to recover is removed.
        """
        found: list[Recoverable] = []
        if not self.root.is_dir():
            return found
        for folder in sorted(self.root.iterdir()):
            if folder == self.folder or not folder.is_dir() or not self._is_abandoned(folder):
                continue
            files = sorted(folder.glob("*.json"))
            if not files:
                shutil.rmtree(folder, ignore_errors=True)
                continue
            for file in files:
                try:
                    data = _read_header(file)
                except ProjectFileError:
                    continue  # not ours, or damaged beyond reading: never offered
                project = data.get("project")
                name = project.get("name") if isinstance(project, dict) else None
                original = data.get("original_path")
                found.append(
                    Recoverable(
                        file=file,
                        original=Path(original) if isinstance(original, str) and original else None,
                        project_name=name if isinstance(name, str) and name else "Untitled",
                        saved_at=float(data.get("saved_at") or file.stat().st_mtime),
                    )
                )
        return sorted(found, key=lambda r: r.saved_at)

    @staticmethod
    def forget(item: Recoverable) -> None:
        """Delete a recoverable autosave (recovered or declined); its folder goes when empty."""
        Session.discard(item.file)
        folder = item.file.parent
        if not any(folder.glob("*.json")):
            shutil.rmtree(folder, ignore_errors=True)

    @staticmethod
    def _is_abandoned(folder: Path) -> bool:
        lock_path = folder / LOCK_NAME
        if not lock_path.exists():
            return True
        lock = QLockFile(str(lock_path))
        lock.setStaleLockTime(0)
        if lock.tryLock(0):  # free, or held by a process that is gone (QLockFile checks)
            lock.unlock()
            return True
        return False


_current: Session | None = None


def current_session() -> Session:
    """The running app's session (a new one when the autosave folder changed, e.g. when a
    test points ``NEURALCANVAS_DATA_DIR`` elsewhere)."""
    global _current
    root = autosave_root()
    if _current is None or _current.root != root:
        _current = Session(root)
    return _current
