"""One random stream per use of the seed (each generated dataset, the splits, k-fold).

Imports only the standard library: the exported script copies its source."""

from __future__ import annotations

import zlib


def rng_seed(seed: int, salt: str) -> int:
    """``seed`` plus a fixed offset per use, so each dataset / split draws its own stream."""
    return (seed + zlib.crc32(salt.encode())) % 2**32
