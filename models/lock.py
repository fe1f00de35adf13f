"""One trainer per run directory: an exclusive `flock` on `<run_dir>/.lock`, held while training.

The lock file records who holds it (pid, host, start time, command), so a second `factorbench train` on the same
`--out` refuses at once with one line naming the holder, instead of racing it (duplicated log lines, clashing
checkpoint writes). The kernel releases a flock when its holder exits, however it exits, so a killed run never
leaves a stale lock; the file itself stays, harmless.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import os
import socket
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

LOCK_NAME = ".lock"


class RunLocked(ValueError):
    """Another process is training in this run directory."""


def _holder() -> str:
    started = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    return f"pid {os.getpid()} on {socket.gethostname()} since {started}: {' '.join(sys.argv)[:200]}\n"


@contextlib.contextmanager
def locked(run_dirs: Sequence[Path]) -> Iterator[None]:
    """Hold the lock of every run directory (created if needed) for the block; RunLocked if one is taken."""
    with contextlib.ExitStack() as stack:
        for run_dir in sorted(set(map(Path, run_dirs))):
            run_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(run_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o666)
            stack.callback(os.close, fd)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 1024, 0).decode(errors="replace").strip() or "another process"
                raise RunLocked(f"{run_dir} is being trained by {holder}; wait for it to finish, or stop it "
                                "and run the command again (it resumes)") from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, _holder().encode(), 0)
        yield
