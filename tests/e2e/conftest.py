"""End-to-end tests run the real command in a subprocess, Qt offscreen."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
