"""Running `factorbench` in a child process under hostile conditions: a small full filesystem (RLIMIT_FSIZE) or
without root's power to ignore file modes (so read-only files refuse even when the tests run as root)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# The CLI without the huge-page re-execution (argv given), so the child's limits stay exactly as set.
CLI = "import sys; from factorbench.benchmark.cli import main; sys.exit(main(sys.argv[1:]))"


# Set by the child itself (a preexec_fn would fork this multithreaded JAX process): a write past the limit then
# fails with EFBIG ("File too large"), as on a full disk, instead of the signal killing the process.
LIMIT_FILE_SIZE = ("import resource, signal; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
                   "resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))\n")


def without_root(command: list[str]) -> list[str]:
    """`command` unable to override file modes: as root, through setpriv dropping CAP_DAC_OVERRIDE."""
    if os.geteuid() != 0:
        return command
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv (util-linux): cannot make a read-only file refuse root")
    drop = "-dac_override,-dac_read_search"
    return [setpriv, f"--inh-caps={drop}", f"--bounding-set={drop}", *command]


def cli(*args: str | os.PathLike, cwd: Path | None = None, file_size_limit: int | None = None,
        unprivileged: bool = False, code: str = CLI, timeout: float = 240) -> subprocess.CompletedProcess:
    """Run `factorbench ARGS` (or python `code` with ARGS) in a child process; returns the completed process."""
    if file_size_limit:
        code = LIMIT_FILE_SIZE.format(limit=int(file_size_limit)) + code
    command = [sys.executable, "-c", code, *map(str, args)]
    if unprivileged:
        command = without_root(command)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for name in ("FACTORBENCH_DEBUG", "FACTORBENCH_RESULTS"):
        env.pop(name, None)
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


def assert_one_line_refusal(done: subprocess.CompletedProcess, *needles: str) -> str:
    """Exit 2, stderr one `factorbench: error:` line (no traceback) containing every needle; returns the line."""
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2, (done.returncode, done.stderr[-3000:])
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    errors = [line for line in lines if line.startswith("factorbench: error:")]
    assert len(errors) == 1, lines
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]
