"""Suite-wide set-up: under pytest-xdist (``.ci/dev test`` runs a worker per core) every
worker, and every process its tests start, does torch's and OpenMP's math on one thread, so
that the workers do not fight over the cores (each would otherwise start a thread per core,
and OpenMP's barriers stall when another process holds one)."""

import os

if os.environ.get("PYTEST_XDIST_WORKER"):
    for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_name, "1")
