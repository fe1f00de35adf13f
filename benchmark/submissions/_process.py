"""Run an encoder in a child process the scorer can kill, so every limit really stops it.

A thread cannot stop native code: an ONNX or XLA call left running past its timeout keeps its threads busy and
aborts the interpreter at exit (SIGABRT after the right error line), and a ``python:`` encoder may call
``os._exit``. So every loaded artefact is called through `EncoderProcess`: a child Python process that loads the
artefact and answers calls over a pipe. The parent waits for each answer with a deadline (the per-call limit, or
what is left of the total limit); past it, it kills the child's process group and raises SubmissionError. A child
that exits or dies during a call, whatever its exit code, is a SubmissionError too.

The child's stdout and stderr go to a private log, so nothing an encoder prints reaches the terminal (the scorer's
one error line stays one line); the log's last line is quoted when the child dies. The pipe carries frames of a JSON
header and raw bytes: ``{"op": "call", "shape": [...]}`` + float32 images, answered by ``{"ok": true, "shape": [...]}``
+ float32 codes (already checked with `check_codes`) or ``{"ok": false, "error": "..."}``.
"""

from __future__ import annotations

import json
import os
import select
import signal
import struct
import subprocess
import sys
import tempfile
import time
import weakref
from pathlib import Path
from typing import Any

import numpy as np

from factorbench.benchmark.submissions._contract import Limits, SubmissionError

_FRAME = struct.Struct("<IQ")  # header length, payload length
_READ_BLOCK = 1 << 20


class _Ended(Exception):
    """The child closed its end of the pipe (it exited or died)."""


class _Late(Exception):
    """The deadline passed before the child answered."""


class EncoderProcess:
    """One artefact loaded in a child process; `call(images)` runs it there under the limits.

    Args:
        request: what the child loads: {"format": "onnx" | "jax.export" | "python", "target": path or spec,
            "channels": int, "name": str}.
        limits: call_timeout_s bounds each call, load_timeout_s the start, time_limit_s all calls together.
    """

    def __init__(self, request: dict[str, Any], limits: Limits) -> None:
        self.request = request
        self.limits = limits
        self.used_seconds = 0.0  # time spent in calls, against limits.time_limit_s
        self.meta: dict[str, Any] | None = None
        self._proc: subprocess.Popen | None = None
        self._log = None
        self._finalizer = None

    # ---------------------------------------------------------------------------------------- parent side
    def start(self) -> dict[str, Any]:
        """Start the child and load the artefact there; returns what the child reports (batch_size, sha256, info)."""
        if self.meta is not None:
            return self.meta
        if self._proc is not None:
            raise SubmissionError("the encoder's process was stopped (after an error or a limit); load it again")
        self._log = tempfile.TemporaryFile()
        env = dict(os.environ)
        # The child imports what this process can (a python: spec's module, an uninstalled checkout), and leaves
        # the accelerator's memory to the scorer: XLA would otherwise reserve most of it at start.
        env["PYTHONPATH"] = os.pathsep.join([os.getcwd(), *(p for p in sys.path if p)])
        env["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
        env.pop("FACTORBENCH_DEBUG", None)
        self._proc = subprocess.Popen([sys.executable, "-m", __name__], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=self._log, start_new_session=True, env=env)
        self._finalizer = weakref.finalize(self, _kill, self._proc)
        try:
            header, _ = self._exchange(self.request, b"", self.limits.load_timeout_s,
                                       f"the encoder did not load within {self.limits.load_timeout_s:g} s "
                                       "(--load-timeout)", "while loading")
        except SubmissionError:
            self.close()  # a child that could not load has nothing more to do
            raise
        self.meta = header
        return header

    def call(self, images: np.ndarray) -> np.ndarray:
        """Codes float32 [B, D] (checked by `check_codes` in the child) for float32 images [B, 64, 64, C]."""
        self.start()
        images = np.ascontiguousarray(images, dtype=np.float32)
        left = self.limits.time_limit_s - self.used_seconds
        if left <= 0:
            raise SubmissionError(self._over_total())
        per_call = self.limits.call_timeout_s
        timeout = min(per_call, left)
        late = (f"the encoder did not return within {per_call:g} s (--call-timeout)" if per_call <= left
                else self._over_total())
        started = time.perf_counter()
        try:
            header, payload = self._exchange({"op": "call", "shape": list(images.shape)}, images.tobytes(), timeout,
                                             late, f"on a batch of {len(images)} images")
        finally:
            self.used_seconds += time.perf_counter() - started
        return np.frombuffer(payload, np.float32).reshape(header["shape"])

    def close(self) -> None:
        """Stop the child (idempotent); later calls raise SubmissionError."""
        self.meta = None
        if self._finalizer is not None:
            self._finalizer()
        if self._log is not None:
            self._log.close()
            self._log = None

    def _over_total(self) -> str:
        return (f"the encoder used up its total time of {self.limits.time_limit_s:g} s (--time-limit) after "
                f"{self.used_seconds:.1f} s of calls")

    def _exchange(self, header: dict, payload: bytes, timeout: float, late: str, when: str) -> tuple[dict, bytes]:
        assert self._proc is not None
        deadline = time.monotonic() + timeout
        try:
            _write_frame(self._proc.stdin.fileno(), header, payload, deadline)
            answer, data = _read_frame(self._proc.stdout.fileno(), deadline)
        except _Late:
            self.close()
            raise SubmissionError(late) from None
        except (_Ended, BrokenPipeError, ConnectionResetError):
            raise SubmissionError(self._ended(when)) from None
        if not answer.get("ok"):
            raise SubmissionError(answer.get("error") or "the encoder failed")
        return answer, data

    def _ended(self, when: str) -> str:
        """Why the child is gone, in words, and then it is reaped."""
        assert self._proc is not None
        try:
            code = self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        last = _last_line(self._log_text())
        self.close()
        if code is None:
            how = "closed its pipe"
        elif code < 0:
            how = f"was killed by {signal.Signals(-code).name}"
        else:
            how = f"exited with code {code}"
        said = f"; its last words: {last}" if last else ""
        return (f"the encoder's process {how} {when}; an encoder must return its codes, not exit{said}")

    def _log_text(self) -> str:
        if self._log is None or self._log.closed:
            return ""
        self._log.seek(0)
        return self._log.read()[-4096:].decode("utf-8", "replace")


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the child and anything it started (its own session)
        except (ProcessLookupError, PermissionError):
            proc.kill()
    for stream in (proc.stdin, proc.stdout):
        try:
            stream.close()
        except OSError:
            pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def _last_line(text: str) -> str:
    from factorbench.benchmark.submissions._artefact import one_line

    lines = [line for line in text.splitlines() if line.strip()]
    return one_line(lines[-1], limit=160) if lines else ""


# ---------------------------------------------------------------------------------------------- framing
def _write_frame(fd: int, header: dict, payload: bytes, deadline: float | None) -> None:
    head = json.dumps(header).encode()
    data = memoryview(_FRAME.pack(len(head), len(payload)) + head + payload)
    if deadline is None:
        while data:
            data = data[os.write(fd, data):]
        return
    os.set_blocking(fd, False)
    while data:
        left = deadline - time.monotonic()
        if left <= 0:
            raise _Late
        _, writable, _ = select.select([], [fd], [], left)
        if writable:
            try:
                data = data[os.write(fd, data[:_READ_BLOCK]):]
            except BlockingIOError:
                continue


def _read_exact(fd: int, size: int, deadline: float | None) -> bytes:
    parts, got = [], 0
    while got < size:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _Late
            readable, _, _ = select.select([fd], [], [], left)
            if not readable:
                continue
        chunk = os.read(fd, min(size - got, _READ_BLOCK))
        if not chunk:
            raise _Ended
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def _read_frame(fd: int, deadline: float | None) -> tuple[dict, bytes]:
    head_len, payload_len = _FRAME.unpack(_read_exact(fd, _FRAME.size, deadline))
    header = json.loads(_read_exact(fd, head_len, deadline))
    return header, _read_exact(fd, payload_len, deadline)


# ------------------------------------------------------------------------------------------- child side
def _load_here(request: dict[str, Any]):
    """Load the artefact in this (the child) process, with the in-process loaders."""
    fmt, target = request["format"], request["target"]
    channels, name = int(request["channels"]), request.get("name", "artefact")
    if fmt == "python":
        from factorbench.benchmark.submissions._python import load_python

        return load_python(target)
    if fmt == "onnx":
        from factorbench.benchmark.submissions._onnx import load_onnx

        return load_onnx(Path(target), channels, name=name)
    from factorbench.benchmark.submissions._jax_export import load_jax_export

    return load_jax_export(Path(target).read_bytes(), channels, name=name)


def _failure(err: BaseException) -> dict[str, Any]:
    from factorbench.benchmark.submissions._artefact import one_line

    if isinstance(err, SubmissionError):
        return {"ok": False, "error": str(err)}
    return {"ok": False, "error": f"the encoder failed: {type(err).__name__}: {one_line(err)}"}


def _serve() -> None:
    # Our frames own the original stdout; the encoder's prints go to stderr (the parent's log), and it cannot read
    # our requests from stdin.
    replies = os.dup(1)
    requests = os.dup(0)
    os.dup2(2, 1)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    from factorbench.benchmark.submissions._encode import check_codes

    request, _ = _read_frame(requests, None)
    try:
        artefact = _load_here(request)
    except BaseException as err:  # SystemExit from an imported module included: the parent gets one line
        _write_frame(replies, _failure(err), b"", None)
        return
    _write_frame(replies, {"ok": True, "batch_size": artefact.batch_size, "sha256": artefact.sha256,
                           "info": artefact.info}, b"", None)
    while True:
        try:
            header, payload = _read_frame(requests, None)
        except (_Ended, struct.error):
            return
        images = np.frombuffer(payload, np.float32).reshape(header["shape"])
        try:
            codes = check_codes(artefact.call(images), len(images))
        except BaseException as err:
            _write_frame(replies, _failure(err), b"", None)
            continue
        _write_frame(replies, {"ok": True, "shape": list(codes.shape)}, codes.tobytes(), None)


if __name__ == "__main__":
    _serve()
