"""Before the first window on Linux: the system libraries Qt's xcb platform (X11) needs and
the machine lacks, with the one command that installs them. Without them Qt aborts with a
message that names only libxcb-cursor0, even when that one is installed and others are
missing (libxcb-icccm4 and libxcb-keysyms1 on a bare Debian or Ubuntu).

No Qt import here: it runs before Qt loads its platform plugin."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

NOT_FOUND = re.compile(r"^\s*(\S+) => not found", re.MULTILINE)


def uses_xcb(environ: dict[str, str] | None = None) -> bool:
    """Whether Qt will start on xcb: asked for by name, or the default on an X display
    without Wayland."""
    env = os.environ if environ is None else environ
    if not sys.platform.startswith("linux"):
        return False
    asked = env.get("QT_QPA_PLATFORM", "")
    if asked:
        return asked.split(":")[0] == "xcb"
    return bool(env.get("DISPLAY")) and not env.get("WAYLAND_DISPLAY")


def plugin_files() -> list[Path]:
    """Qt's xcb platform plugin and its xcb library, in the installed PySide6."""
    spec = importlib.util.find_spec("PySide6")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return []
    qt = Path(next(iter(spec.submodule_search_locations))) / "Qt"
    files = [qt / "plugins" / "platforms" / "libqxcb.so", qt / "lib" / "libQt6XcbQpa.so.6"]
    return [f for f in files if f.exists()]


def missing_libraries(files: list[Path] | None = None) -> list[str]:
    """The shared libraries ``ldd`` cannot find for ``files`` (the xcb plugin's)."""
    ldd = shutil.which("ldd")
    if ldd is None:
        return []
    missing: list[str] = []
    for file in plugin_files() if files is None else files:
        try:
            out = subprocess.run(
                [ldd, str(file)], capture_output=True, text=True, timeout=10, check=False
            ).stdout
        except (OSError, subprocess.SubprocessError):
            continue
        for name in NOT_FOUND.findall(out):
            if name not in missing:
                missing.append(name)
    return missing


def package_of(soname: str) -> str:
    """The Debian / Ubuntu package of a library: libxcb-icccm.so.4 -> libxcb-icccm4,
    libxkbcommon-x11.so.0 -> libxkbcommon-x11-0 (a dash when the name ends in a digit)."""
    match = re.match(r"^(lib.+?)\.so\.(\d+)", soname)
    if match is None:
        return soname
    name, major = match.group(1).lower(), match.group(2)
    return f"{name}-{major}" if name[-1].isdigit() else f"{name}{major}"


def advice(missing: list[str]) -> str:
    packages = " ".join(dict.fromkeys(package_of(m) for m in missing))
    return (
        "neuralcanvas: error: Qt's X11 (xcb) platform needs system libraries this machine"
        f" lacks: {', '.join(missing)}.\nInstall them with:\n\n    sudo apt-get install"
        f" {packages}\n\n(or run without a display: QT_QPA_PLATFORM=offscreen)"
    )


def check() -> str | None:
    """The message to print before starting on xcb, None when nothing is missing."""
    if not uses_xcb():
        return None
    missing = missing_libraries()
    return advice(missing) if missing else None
