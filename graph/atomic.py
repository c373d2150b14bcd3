"""Every file the app writes goes through :func:`atomic_write`: a temporary file beside the
target, flushed and fsynced, renamed over it, then the folder fsynced, so a crash or a kill
at any moment leaves either the old file or the new one, never a torn one.

- A symlink is written through: the link's target gets the new content, the link stays.
- The replaced file keeps its permissions; a new file gets the usual ones (0666 less the
  umask), whatever the writer (project, weights, checkpoint, export).
- Temporary files left by an interrupted save (their writer's process is gone) are
  removed on the next save of the same file.
- A failure (full disk, no permission, read-only filesystem, a path too long) raises
  :class:`FileWriteError`, an ``OSError`` with a message that says what to do; the
  temporary file is removed and the target is untouched.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

from graph.errors import NeuralCanvasError

_UMASK = os.umask(0)
os.umask(_UMASK)

ADVICE = {
    errno.ENOSPC: "the disk is full: free some space or write to another folder",
    errno.EDQUOT: "the disk quota is used up: free some space or write to another folder",
    errno.EACCES: "no permission to write there: choose a folder you can write to",
    errno.EPERM: "no permission to write there: choose a folder you can write to",
    errno.EROFS: "the filesystem is read-only: choose a folder on a writable disk",
    errno.ENAMETOOLONG: "the path is too long: choose a shorter folder or file name",
    errno.ENOENT: "its folder does not exist: create it or choose another",
    errno.ENOTDIR: "a part of the path is a file, not a folder: choose another path",
    errno.EISDIR: "it is a folder: give a file name",
    errno.EFBIG: "the file would pass the size limit set for this process or disk",
}


class FileWriteError(NeuralCanvasError, OSError):
    """A file could not be written; the message names it, says why and what to do."""


def write_error(path: str | os.PathLike[str], exc: BaseException) -> FileWriteError:
    """The :class:`FileWriteError` for ``exc`` raised while writing ``path``."""
    if isinstance(exc, FileWriteError):
        return exc
    code = getattr(exc, "errno", None)
    shown = str(path) if len(str(path)) <= 200 else str(path)[:100] + "..." + str(path)[-60:]
    reason = ADVICE.get(code) if code is not None else None
    if reason is None:
        text = getattr(exc, "strerror", None) or (str(exc).strip().splitlines() or [""])[0]
        reason = text or exc.__class__.__name__
    error = FileWriteError(f"Cannot write {shown}: {reason}")
    error.errno = code
    return error


def target(path: str | os.PathLike[str]) -> Path:
    """The file a write to ``path`` changes: a symlink's (final) target, else ``path``."""
    path = Path(path)
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # someone else's process, or not a pid: leave its file alone
    return True


def clean_stale(path: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporary files of interrupted saves of ``path``
    (``.NAME.PID.*.tmp`` whose process is gone); returns those removed."""
    path = Path(path)
    removed = []
    try:
        candidates = list(path.parent.glob(f".{path.name}.*.tmp"))
    except OSError:
        return removed
    for tmp in candidates:
        pid = tmp.name[len(path.name) + 2 :].split(".", 1)[0]
        if pid.isdigit() and (int(pid) == os.getpid() or _alive(int(pid))):
            continue  # a save in progress (ours, or another live process's)
        try:
            tmp.unlink()
            removed.append(tmp)
        except OSError:
            pass
    return removed


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems cannot sync a folder; the rename is done
    finally:
        os.close(fd)


_counter = iter(range(1 << 62))


def atomic_write(
    path: str | os.PathLike[str], write: Callable[[Path], object], durable: bool = True
) -> Path:
    """Write a file atomically: ``write(tmp)`` writes the content to the temporary path
    ``tmp``; it is then fsynced and renamed over ``path`` (through a symlink, to its target).
    Returns the path written; raises :class:`FileWriteError` on failure.

    ``durable=False`` leaves out the two fsyncs: the rename still replaces the file whole
    (a killed process leaves the old or the new one), but a crash of the whole system may
    lose the newest version (a checkpoint written after every epoch, synced now and then)."""
    try:
        dest = target(path)
        if dest.is_dir():
            raise IsADirectoryError(errno.EISDIR, "is a folder")
    except OSError as exc:  # a path too long, a loop of links, a folder
        raise write_error(path, exc) from None
    folder = dest.parent if str(dest.parent) else Path(".")
    clean_stale(dest)
    try:
        mode = dest.stat().st_mode & 0o777  # keep the permissions of the file we replace
    except OSError:
        mode = 0o666 & ~_UMASK
    tmp = folder / f".{dest.name}.{os.getpid()}.{next(_counter)}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        write(tmp)
        if durable:
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.chmod(tmp, mode)
        os.replace(tmp, dest)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        if isinstance(exc, OSError) or _is_write_failure(exc):
            raise write_error(path, exc) from exc
        raise
    if durable:
        _fsync_dir(folder)
    return dest


def _is_write_failure(exc: BaseException) -> bool:
    """torch.save reports a failed write (a full disk) as a RuntimeError naming the writer."""
    return isinstance(exc, RuntimeError) and (
        "PytorchStreamWriter" in str(exc) or "unexpected pos" in str(exc)
    )


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            fh.write(data)

    return atomic_write(path, write)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8, ``\\n`` line ends) to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))
