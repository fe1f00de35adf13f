"""Orbax checkpoints of one member's training state, one CheckpointManager per run directory.

A checkpoint holds the state's leaves (parameters and optimizer moments) in a flat dict keyed by
position, plus the update count as the orbax step; the tree structure comes from a freshly built
state, so nothing model-specific is pickled. Orbax writes each step into a temporary folder and
renames it when complete, so a run killed mid-write leaves the previous checkpoint intact.
"""

from __future__ import annotations

import contextlib
import io
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
        # The pathname is absl's own file when "absl" was a plain logger before absl set it up (the CLI does).
        return not (quiet and ("orbax" in record.pathname or record.exc_info is not None))


_FILTER = _DropAfterFailure()


def _loop_closed_noise(exc: BaseException | None) -> bool:
    closed = isinstance(exc, RuntimeError) and "Event loop is closed" in str(exc)
    return closed and (_WRITING.is_set() or _WRITE_FAILED.is_set())


def _thread_hook(previous):
    """threading.excepthook without the closed-loop noise of orbax's Python threads."""
    def hook(args) -> None:
        if not _loop_closed_noise(args.exc_value):
            previous(args)

    hook.factorbench_quiet = True  # type: ignore[attr-defined]
    return hook


class _QuietStderr(io.TextIOBase):
    """sys.stderr without the "Event loop is closed" tracebacks that tensorstore's C++ callbacks print (through
    PyErr_Display, which no hook sees) while orbax writes and after a write failed; everything else passes.
    Each thread's text is held apart, since several threads print at once."""

    HEADER = "Traceback (most recent call last):"
    NOISE = "RuntimeError: Event loop is closed"

    def __init__(self, target):
        self.target = target
        self.partial: dict[int, str] = {}
        self.block: dict[int, list[str]] = {}  # per thread: a traceback held until its last line says what it is

    def write(self, text: str) -> int:
        me = threading.get_ident()
        if me not in self.partial and me not in self.block and not (_WRITING.is_set() or _WRITE_FAILED.is_set()):
            return self.target.write(text)
        *lines, rest = (self.partial.pop(me, "") + text).split("\n")
        for line in lines:
            self._line(me, line + "\n")
        if rest:
            self.partial[me] = rest
        return len(text)

    def _line(self, me: int, line: str) -> None:
        block = self.block.get(me)
        if block is None:
            if line.startswith(self.HEADER):
                self.block[me] = [line]
            else:
                self.target.write(line)
            return
        block.append(line)
        if not line[:1].isspace() and not line.startswith(self.HEADER):  # the exception line ends the block
            del self.block[me]
            if line.strip() != self.NOISE:
                self.target.write("".join(block))

    def flush(self) -> None:
        me = threading.get_ident()
        if me in self.partial and me not in self.block:
            self.target.write(self.partial.pop(me))
        self.target.flush()

    def __getattr__(self, name: str):  # fileno, isatty, encoding... of the real stream
        return getattr(self.target, name)


@contextlib.contextmanager
def _quiet_after_failure() -> Iterator[None]:
    """Install (once) the filters that silence orbax's helper threads after a failed write."""
    if not getattr(threading.excepthook, "factorbench_quiet", False):
        threading.excepthook = _thread_hook(threading.excepthook)
    if not isinstance(sys.stderr, _QuietStderr):
        sys.stderr = _QuietStderr(sys.stderr)
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


def set_aside(directory: Path, step: int) -> Path:
    """Move the unreadable checkpoint `step` out of the way (to `<run>/checkpoints-damaged/<step>`, kept for
    inspection, not deleted), so training can write that step again; returns where it went."""
    target = directory.parent / "checkpoints-damaged" / str(step)
    if target.exists():
        import shutil

        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.rename(directory / str(step), target)
    return target


def discard_after(directory: Path, step: int) -> None:
    """Delete the checkpoints after `step` (a resume from `step` writes them again, identically)."""
    import shutil

    for later in steps(directory):
        if later > step:
            shutil.rmtree(directory / str(later))
