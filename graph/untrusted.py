"""Reading what a user hands over: only regular files, with a cap, and the values of a
parsed JSON document no part of the app could take, each located by its JSON path.

:func:`read_regular_file` never opens a pipe or a device for reading (it could block or
stream without end) and reads at most the cap and one byte. :func:`hostile_values` walks a
document once, without recursion, before anything else recurses into it or turns its
numbers into floats.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from graph.errors import Problem, ProjectFileError

# No file NeuralCanvas writes nests deeper than about ten levels or holds integers beyond 64
# bits; deeper or larger values are refused before anything recurses into them or turns
# them into floats.
MAX_DEPTH = 40
MAX_INTEGER = 2**63 - 1
SURROGATE = re.compile("[\ud800-\udfff]")


# ----------------------------------------------------------------------------- paths


def json_path(parts: Iterable[str | int]) -> str:
    """``["models", "main", "nodes", 3]`` -> ``models.main.nodes[3]``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.isidentifier():
            out += f".{part}" if out else part
        else:
            # a key holding a lone surrogate is written escaped, so the message can be printed
            ascii_only = SURROGATE.search(part) is not None
            out += f"[{json.dumps(part, ensure_ascii=ascii_only)}]"
    return out


# ----------------------------------------------------------------------------- files


_FILE_KINDS = (
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
)


def read_regular_file(path: Path, limit: int, source: str, what: str = "a project file") -> bytes:
    """The bytes of ``path``, refused (:class:`ProjectFileError`) unless it is a regular file
    of at most ``limit`` bytes. A pipe or a device is never opened for reading, so it
    cannot block or stream without end; at most ``limit + 1`` bytes are ever read."""

    def refuse(why: str) -> ProjectFileError:
        return ProjectFileError(source, message=f"Cannot open {source}: {why}")

    def too_large(size: int | None) -> ProjectFileError:
        most = _size(limit)
        shown = _size(size) if size is not None and _size(size) != most else f"over {most}"
        return ProjectFileError(
            source, [Problem("", f"the file is {shown}; {what} is at most {most}")]
        )

    def check(info: os.stat_result) -> None:
        if stat.S_ISDIR(info.st_mode):
            raise refuse("it is a folder, not a file")
        if not stat.S_ISREG(info.st_mode):
            kind = next((word for test, word in _FILE_KINDS if test(info.st_mode)), "special")
            raise refuse(f"it is not a regular file ({kind}): choose a project file (.json)")
        if info.st_size > limit:
            raise too_large(info.st_size)

    try:
        check(os.stat(path))
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
        fd = os.open(path, flags)
        with open(fd, "rb", closefd=True) as file:
            check(os.fstat(file.fileno()))  # the path may have been replaced since the stat
            raw = file.read(limit + 1)
    except (FileNotFoundError, NotADirectoryError):
        raise refuse("the file does not exist") from None
    except IsADirectoryError:
        raise refuse("it is a folder, not a file") from None
    except PermissionError:
        raise refuse("permission denied: check the file's permissions") from None
    except ValueError:  # a NUL character in the path
        raise refuse("the path contains a NUL character") from None
    except OSError as exc:
        raise refuse(str(exc.strerror or exc)) from None
    if len(raw) > limit:
        raise too_large(None)
    return raw


def _size(n: int) -> str:
    return f"{n / 2**20:.0f} MB" if n >= 2**20 else f"{n} bytes"


# ----------------------------------------------------------------------------- values


def hostile_values(data: Any) -> list[Problem]:
    """Every value no layer, setting or view can take, each with its place: NaN and
    infinities, integers beyond 64 bits, text with lone surrogates (not Unicode, so it
    cannot be printed or saved) and nesting deeper than :data:`MAX_DEPTH`.

    One walk with an explicit stack, so a deep document cannot exhaust Python's recursion
    before it is refused; everything after it (migration, the schema) recurses safely."""
    problems: list[Problem] = []
    if not isinstance(data, (dict, list)):
        bad = _bad_scalar(data)
        return [Problem("", bad)] if bad else []
    # entries: (container, parent entry, key in the parent, depth); places are built from
    # the parent chain only for a problem, so the walk allocates little per value
    Entry = tuple[Any, Any, Any, int]
    stack: list[Entry] = [(data, None, None, 0)]

    def place(entry: Entry | None, *keys: Any) -> str:
        parts: list[Any] = list(reversed(keys))
        while entry is not None and entry[1] is not None:
            parts.append(entry[2])
            entry = entry[1]
        return json_path([p if isinstance(p, int) else str(p) for p in reversed(parts)])

    while stack:
        entry = stack.pop()
        container, _, _, depth = entry
        if depth >= MAX_DEPTH:
            msg = (
                f"nested too deeply: a project file nests at most {MAX_DEPTH} levels"
                " (this is not a file NeuralCanvas wrote)"
            )
            problems.append(Problem(place(entry), msg))
            continue
        items = container.items() if isinstance(container, dict) else enumerate(container)
        nested: list[Entry] = []
        for key, value in items:
            if type(key) is str and not key.isascii() and SURROGATE.search(key):
                problems.append(Problem(place(entry, key), _surrogate_message(key, "field name")))
            kind = type(value)
            if kind is str:
                if value.isascii() or not SURROGATE.search(value):
                    continue
            elif kind is dict or kind is list:
                nested.append((value, entry, key, depth + 1))
                continue
            elif kind is float:
                if value - value == 0.0:  # finite (inf - inf and NaN - NaN are NaN)
                    continue
            elif kind is int:
                if -MAX_INTEGER <= value <= MAX_INTEGER:
                    continue
            elif kind is bool or value is None:
                continue
            elif isinstance(value, (dict, list)):
                nested.append((value, entry, key, depth + 1))
                continue
            bad = _bad_scalar(value)
            if bad:
                problems.append(Problem(place(entry, key), bad))
        stack.extend(reversed(nested))  # popped in document order
    return problems


def _bad_scalar(value: Any) -> str:
    """What is wrong with a number or a text (empty if nothing)."""
    if isinstance(value, bool):
        return ""
    if isinstance(value, float):
        if not math.isfinite(value):
            return "NaN and infinite numbers are not allowed: use a finite number"
    elif isinstance(value, int):
        if abs(value) > MAX_INTEGER:
            return (
                f"a number of {len(str(abs(value)))} digits is too large: numbers in a project"
                f" file are between -{MAX_INTEGER} and {MAX_INTEGER}"
            )
    elif isinstance(value, str):
        if SURROGATE.search(value):
            return _surrogate_message(value, "text")
    return ""


def _surrogate_message(text: str, what: str) -> str:
    match = SURROGATE.search(text)
    assert match is not None
    code = f"\\u{ord(match.group()):04x}"
    return (
        f"the {what} holds an invalid character ({code}, half of a surrogate pair, at position"
        f" {match.start() + 1}): it is not Unicode text; retype it"
    )
