"""The command line's error boundary: every failure a user can cause becomes one line on stderr and exit code 2.

`describe(err)` says an exception in words, the file or flag named where the exception knows it. The formatters are
a registry, most specific class first; anything not in it is still one line (its type and message) and exit 2,
never a traceback (FACTORBENCH_DEBUG=1 shows the traceback instead).
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable

EXIT_USER_ERROR = 2


class UserError(Exception):
    """A mistake the user can fix; printed as one line, no traceback."""
_MAX_LINE = 400


def _first_line(text: str) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    line = re.sub(r"\s+", " ", lines[0]) if lines else ""
    return line if len(line) <= _MAX_LINE else line[: _MAX_LINE - 3] + "..."


def _plain(err: BaseException) -> str:
    return _first_line(err.args[0] if isinstance(err, KeyError) and err.args else str(err)) or type(err).__name__


def _os_error(err: OSError) -> str:
    what = err.strerror or _plain(err)
    names = [str(n) for n in (err.filename, err.filename2) if n is not None]
    return f"{what}: {' -> '.join(names)}" if names else what


def _bad_zip(err: BaseException) -> str:
    return f"not a readable zip/npz file ({_plain(err)}); the file is truncated, corrupt or of another format"


def out_of_memory_bytes(err: BaseException) -> int | None:
    """The allocation an out-of-memory error reports, in bytes, when it says."""
    match = re.search(r"allocat\w*\s+(?:of\s+)?([\d,]+)\s*bytes", str(err), re.IGNORECASE)
    return int(match.group(1).replace(",", "")) if match else None


def is_out_of_memory(err: BaseException) -> bool:
    """MemoryError, or XLA's RESOURCE_EXHAUSTED (an allocation on the device or host that failed)."""
    return isinstance(err, MemoryError) or "RESOURCE_EXHAUSTED" in str(err) or "Out of memory" in str(err)


def _memory(err: BaseException) -> str:
    asked = out_of_memory_bytes(err)
    amount = f" (an allocation of {asked / 2**30:,.2f} GiB failed)" if asked else ""
    return f"out of memory{amount}; lower --batch-size or the number of models trained at once"


def _unexpected(err: BaseException) -> str:
    return f"unexpected {type(err).__name__}: {_plain(err)} (FACTORBENCH_DEBUG=1 shows the traceback)"


#: (exception classes, formatter), most specific first; the first match says the error.
FORMATTERS: list[tuple[tuple[type[BaseException], ...], Callable]] = [
    ((zipfile.BadZipFile,), _bad_zip),
    ((FileNotFoundError,), lambda err: _os_error(err) if err.filename else _plain(err)),
    ((OSError,), _os_error),
    ((UserError, ValueError, KeyError, NotImplementedError, ArithmeticError), _plain),
]


def describe(err: BaseException) -> str:
    """One line saying what went wrong."""
    if not isinstance(err, (UserError, ValueError)) and is_out_of_memory(err):  # ours already say it in words
        return _memory(err)
    for classes, formatter in FORMATTERS:
        if isinstance(err, classes):
            return formatter(err)
    return _unexpected(err)
