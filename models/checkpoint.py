"""Orbax checkpoints of one member's training state, one CheckpointManager per run directory.

A checkpoint holds the state's leaves (parameters and optimizer moments) in a flat dict keyed by
position, plus the update count as the orbax step; the tree structure comes from a freshly built
state, so nothing model-specific is pickled. Orbax writes each step into a temporary folder and
renames it when complete, so a run killed mid-write leaves the previous checkpoint intact.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jax
import numpy as np

# Orbax writes from helper threads with their own event loops; after a failed write (a full disk) those threads
# log the error with a traceback and then raise "Event loop is closed" tracebacks of their own. The one-line
# CheckpointError says it all, so during a write and once one has failed their noise is dropped.
_WRITE_FAILED = threading.Event()
_WRITING = threading.Event()
_OS_ERROR = re.compile(r"os_error_code='?(\d+)")


class CheckpointError(OSError):
    """A checkpoint could not be written (full disk, quota, read-only folder): one line, the run can resume."""


def _manager(directory: Path, max_to_keep: int = 2):
    import orbax.checkpoint as ocp

    options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True, enable_async_checkpointing=False)
    return ocp.CheckpointManager(directory.absolute(), options=options)


def save(directory: Path, step: int, state: Any) -> None:
    """Write `state` (a pytree of arrays) as checkpoint `step` under `directory`."""
    import orbax.checkpoint as ocp

    leaves = {f"{i:05d}": np.asarray(leaf) for i, leaf in enumerate(jax.tree.leaves(state))}
    with _quiet_after_failure():
        try:
            with _manager(directory) as mgr:
                mgr.save(step, args=ocp.args.StandardSave(leaves), force=True)
                mgr.wait_until_finished()
        except Exception as err:
            _WRITE_FAILED.set()
            raise CheckpointError(f"cannot write checkpoint {step} in {directory} ({_reason(err)}); free some disk "
                                  "space and run the command again: it resumes from the last complete "
                                  "checkpoint") from None


def _reason(err: BaseException) -> str:
    """The system's words for an orbax/tensorstore write failure ("No space left on device"), else its first line."""
    code = _OS_ERROR.search(str(err))
    if code:
        return os.strerror(int(code.group(1)))
    text = " ".join(str(err).split())
    return text[:160] or type(err).__name__


class _DropAfterFailure(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        quiet = _WRITE_FAILED.is_set() or (_WRITING.is_set() and record.levelno >= logging.ERROR)
        return not (quiet and "orbax" in record.pathname)


_FILTER = _DropAfterFailure()


def _loop_closed_noise(exc: BaseException | None) -> bool:
    closed = isinstance(exc, RuntimeError) and "Event loop is closed" in str(exc)
    return closed and (_WRITING.is_set() or _WRITE_FAILED.is_set())


def _thread_hook(previous):
    """For threading.excepthook (Python threads) and sys.excepthook (tensorstore's callbacks print through it)."""
    def hook(*args) -> None:
        exc = args[0].exc_value if len(args) == 1 else args[1]
        if not _loop_closed_noise(exc):
            previous(*args)

    hook.factorbench_quiet = True  # type: ignore[attr-defined]
    return hook


@contextlib.contextmanager
def _quiet_after_failure() -> Iterator[None]:
    """Install (once) the filters that silence orbax's helper threads after a failed write."""
    if not getattr(threading.excepthook, "factorbench_quiet", False):
        threading.excepthook = _thread_hook(threading.excepthook)
    if not getattr(sys.excepthook, "factorbench_quiet", False):
        sys.excepthook = _thread_hook(sys.excepthook)
    for name in ("absl", "orbax"):
        if _FILTER not in logging.getLogger(name).filters:
            logging.getLogger(name).addFilter(_FILTER)
    _WRITING.set()
    try:
        yield
    finally:
        _WRITING.clear()


def steps(directory: Path) -> list[int]:
    """The complete checkpoints under `directory` (empty if none)."""
    if not directory.is_dir():
        return []
    with _manager(directory) as mgr:
        return sorted(mgr.all_steps())


def restore(directory: Path, step: int, like: Any) -> Any:
    """Checkpoint `step` as a pytree shaped like `like` (leaves as numpy arrays)."""
    import orbax.checkpoint as ocp

    treedef = jax.tree.structure(like)
    template = {f"{i:05d}": np.asarray(leaf) for i, leaf in enumerate(jax.tree.leaves(like))}
    with _manager(directory) as mgr:
        leaves = mgr.restore(step, args=ocp.args.StandardRestore(template))
    return jax.tree.unflatten(treedef, [np.asarray(leaves[k]) for k in sorted(leaves)])


def leaves(directory: Path, step: int) -> list[np.ndarray]:
    """The raw leaves of checkpoint `step`, in tree order (for comparisons and inspection)."""
    import orbax.checkpoint as ocp

    with _manager(directory) as mgr:
        flat = mgr.restore(step, args=ocp.args.StandardRestore())
    return [np.asarray(flat[k]) for k in sorted(flat)]
