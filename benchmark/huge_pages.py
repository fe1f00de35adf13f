"""Back XLA:CPU's per-call scratch memory with transparent huge pages (Linux, glibc).

Every call of a compiled program on XLA:CPU allocates its temporary buffer (124 MiB for one batch-64 training
step of the conv VAE) with malloc and frees it at the end. glibc serves an allocation that large with a fresh
`mmap`, so each call touches ~32,000 new 4 KiB pages; the page faults and the zeroing cost ~80 ms of a 265 ms
step on 2 cores (tests/perf/train_throughput.py docstring: 184 ms with huge pages). glibc's tunable
`glibc.malloc.hugetlb=1` (glibc >= 2.35; older ones ignore it) asks the kernel for transparent huge pages on
those mappings, which cuts the faults 60-fold. Tunables are read once at process start, so the `factorbench`
command re-executes itself with the tunable set; a user's own `glibc.malloc.hugetlb` setting (e.g. `=0`) wins.
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Mapping

TUNABLE = "glibc.malloc.hugetlb"


def huge_page_environment(environ: Mapping[str, str], system: str, libc: str) -> dict[str, str] | None:
    """The environment to re-execute with, or None when there is nothing to do (not glibc on Linux, or the
    tunable is already set either way)."""
    if system != "Linux" or libc != "glibc":
        return None
    tunables = environ.get("GLIBC_TUNABLES", "")
    if any(item.split("=", 1)[0] == TUNABLE for item in tunables.split(":")):
        return None
    return {**environ, "GLIBC_TUNABLES": ":".join(filter(None, (tunables, f"{TUNABLE}=1")))}


def reexec_with_huge_pages() -> None:
    """Replace this process by the same command line with `glibc.malloc.hugetlb=1`; return if not needed."""
    env = huge_page_environment(os.environ, platform.system(), platform.libc_ver()[0])
    if env is None or not sys.executable or not sys.orig_argv:  # an embedded interpreter: nothing to re-run
        return
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(sys.executable, sys.orig_argv, env)
    except OSError as err:  # the interpreter path cannot be executed again (moved, noexec mount, permissions)
        print(f"factorbench: warning: running without huge pages (cannot re-execute {sys.executable}: "
              f"{err.strerror or err})", file=sys.stderr)
