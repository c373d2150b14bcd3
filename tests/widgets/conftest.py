"""Qt tests run offscreen: no display needed, nothing pops up."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
