"""What a published page may say about a run: no file-system path, provenance as named fields.

A site is built on one machine and read on others: absolute paths (run folders, the store file, a baseline's
install location, a submitted file) say nothing to a reader and leak the builder's layout, so every string that is
one is reduced to its last component before it reaches a page or a download.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

# An absolute POSIX path ("/home/x/runs"), a home-relative one ("~/runs") or a Windows one ("C:\\runs", "\\\\host\\s").
_ABSOLUTE = re.compile(r"^(?:/|~[/\\]|[A-Za-z]:[\\/]|\\\\)")
# Any such path inside a longer text (a command line): from a separator-led token to the next space or quote.
_EMBEDDED = re.compile(r"(?<![\w.:/])(?:~?/|[A-Za-z]:[\\/])[^\s'\"]*")


def scrub(value: Any) -> Any:
    """`value` with every absolute path (whole strings and paths inside strings) reduced to its last component,
    recursively through dicts, lists and tuples."""
    if isinstance(value, str):
        if _ABSOLUTE.match(value) and not any(c.isspace() for c in value):
            return _last(value)
        return _EMBEDDED.sub(lambda m: _last(m.group(0)), value)
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(scrub(v) for v in value)
    return value


def _last(path: str) -> str:
    name = (PureWindowsPath(path) if "\\" in path else PurePosixPath(path)).name
    return name or "\u2026"


def fields(mapping: dict | None, prefix: str = "") -> list[tuple[str, str]]:
    """A nested dict as (dotted name, text) pairs, in key order, for a two-column table; lists as comma lists."""
    out: list[tuple[str, str]] = []
    for key, value in (mapping or {}).items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out += fields(value, prefix=f"{name}.")
        elif isinstance(value, list | tuple):
            out.append((name, ", ".join(str(v) for v in value) if value else "\u2014"))
        else:
            out.append((name, "\u2014" if value is None or value == {} else str(value)))
    return out
