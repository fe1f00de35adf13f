"""Time rendering the whole `sprites` grid (737,280 images) on one CPU core; the issue's bound is 10 s.

Run: .venv/bin/python tests/perf/sprites_generation.py
"""

from __future__ import annotations

import os
import platform
import time

import numpy as np

from factorbench import datasets
from factorbench.datasets.sprites import base_sprites, full_grid_sha256


def main() -> None:
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the bound says
    ds = datasets.load("sprites")
    t0 = time.perf_counter()
    base_sprites.cache_clear()
    base_sprites()
    t_base = time.perf_counter() - t0
    t0 = time.perf_counter()
    for start in range(0, ds.num_observations, 73_728):
        ds.images(ds.index_to_factors(np.arange(start, min(start + 73_728, ds.num_observations))))
    t_render = time.perf_counter() - t0
    t0 = time.perf_counter()
    digest = full_grid_sha256(ds)
    t_hash = time.perf_counter() - t0
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores visible, pinned to 1")
    print("| step | seconds |")
    print("|---|---|")
    print(f"| 720 base sprites (3 shapes x 6 scales x 40 orientations) | {t_base:.2f} |")
    print(f"| whole grid, 737,280 images, chunks of 73,728 | {t_render:.2f} |")
    print(f"| whole grid again + sha256 | {t_hash:.2f} |")
    print(f"sha256 {digest}")
    print("within the 10 s bound" if t_base + t_render <= 10 else "OVER the 10 s bound")


if __name__ == "__main__":
    main()
