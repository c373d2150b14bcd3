"""The xcb check names the system libraries Qt's X11 platform lacks and the one command that
installs them, and stays out of the way elsewhere (offscreen, Wayland, other systems)."""

from __future__ import annotations

import sys

import pytest

from widgets import xcb_check


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"QT_QPA_PLATFORM": "xcb"}, True),
        ({"QT_QPA_PLATFORM": "offscreen", "DISPLAY": ":0"}, False),
        ({"DISPLAY": ":0"}, True),
        ({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}, False),
        ({}, False),
    ],
)
def test_xcb_is_checked_only_when_qt_will_use_it(environ, expected, monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    assert xcb_check.uses_xcb(environ) is expected
    monkeypatch.setattr(sys, "platform", "darwin")
    assert xcb_check.uses_xcb(environ) is False


@pytest.mark.parametrize(
    ("soname", "package"),
    [
        ("libxcb-icccm.so.4", "libxcb-icccm4"),
        ("libxcb-keysyms.so.1", "libxcb-keysyms1"),
        ("libxcb-cursor.so.0", "libxcb-cursor0"),
        ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"),
        ("libGL.so.1", "libgl1"),
    ],
)
def test_a_library_maps_to_its_debian_package(soname, package):
    assert xcb_check.package_of(soname) == package


def test_missing_libraries_come_from_ldd_once_each_with_one_install_command(tmp_path, monkeypatch):
    ldd = tmp_path / "ldd"
    ldd.write_text(
        "#!/bin/sh\necho '\tlibxcb.so.1 => /usr/lib/libxcb.so.1 (0x1)'\n"
        "echo '\tlibxcb-icccm.so.4 => not found'\necho '\tlibxcb-keysyms.so.1 => not found'\n"
        "echo '\tlibxcb-icccm.so.4 => not found'\n",
        encoding="utf-8",
    )
    ldd.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    plugin = tmp_path / "libqxcb.so"
    plugin.write_bytes(b"")
    missing = xcb_check.missing_libraries([plugin, plugin])
    assert missing == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
    text = xcb_check.advice(missing)
    assert "sudo apt-get install libxcb-icccm4 libxcb-keysyms1\n" in text
    assert "QT_QPA_PLATFORM=offscreen" in text
