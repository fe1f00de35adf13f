"""Files factorbench writes for a user appear whole or not at all: a temporary name beside the target, then a rename.

A full disk, a killed process or a write error leaves the previous file (or no file) in place, never a 0-byte or
half-written one, and removes the temporary. The file is created with mode 0o666 and the kernel applies the umask,
so a shared run can be read by whoever the umask lets in (`tempfile.mkstemp` would force 0o600).

>>> write_atomic(Path("out/results.json"), json.dumps(rows))
>>> with atomic_path(Path("out/results.parquet")) as tmp:
...     pq.write_table(table, tmp)                 # any writer that takes a path
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

TEMP_PREFIX = ".factorbench-tmp-"  # temporaries start with this, so a failed write's leftovers are recognisable


def temporary_name(path: Path) -> Path:
    """A fresh hidden name in `path`'s folder (the same filesystem, so the rename is atomic)."""
    return path.with_name(f"{TEMP_PREFIX}{secrets.token_hex(6)}-{path.name}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write; on success it is flushed to disk and renamed to `path`, on any error it is
    removed and `path` keeps what it held."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(path)
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # the umask applies here
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)  # the data is on disk before the name points at it
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as err:  # name the file the user asked for, not the temporary (same errno, same subclass)
        tmp.unlink(missing_ok=True)
        raise OSError(err.errno, f"{err.strerror or err} (left as it was)", str(path)) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(path: str | os.PathLike, data: bytes | str) -> Path:
    """Write `data` (text as UTF-8) to `path` atomically; returns `path`."""
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        handle.write(payload)
    return path


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", **kwargs) -> Iterator:
    """`open(path, mode)` for writing through a temporary name (kwargs as for `open`, e.g. newline="")."""
    if not mode.startswith("w"):
        raise ValueError(f"atomic_open writes whole files; mode must start with 'w', got {mode!r}")
    with atomic_path(path) as tmp, open(tmp, mode, **kwargs) as handle:
        yield handle
