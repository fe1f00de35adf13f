"""Publish a built folder in one step: build beside the target, then swap it in only when complete.

A build that fails half-way (a full disk, an error in a page, Ctrl-C) removes its staging folder and leaves the
previous site exactly as it was, marker included, so the next build still recognises the folder as its own.

>>> with publishing(Path("site"), marker=".factorbench-site") as staging:
...     (staging / "index.html").write_text(html)
...     (staging / ".factorbench-site").write_text(stamp)     # the marker, written last
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

STAGING = ".{name}.building-{token}"
RETIRED = ".{name}.old-{token}"


def check_target(out: Path, *, marker: str) -> None:
    """Refuse an output that is not a folder this builder may replace: a symbolic link, a file, or a non-empty
    folder without `marker` (so a typo cannot wipe unrelated files)."""
    if out.is_symlink():
        raise ValueError(f"--out {out} is a symbolic link (to {os.readlink(out)}); give the real folder, or a new "
                         "one, so the build does not replace the link")
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file; give a folder for the site")
    if out.is_dir() and any(out.iterdir()) and not (out / marker).exists():
        raise ValueError(f"--out {out} is not empty and was not made by `factorbench leaderboard build`; give an "
                         "empty or new folder")


@contextlib.contextmanager
def publishing(out: str | os.PathLike, *, marker: str) -> Iterator[Path]:
    """Yield an empty staging folder beside `out`; when the block completes it replaces `out` (the previous
    build is removed after the swap); when the block raises, `out` is untouched and the staging folder removed."""
    out = Path(out).absolute()
    check_target(out, marker=marker)
    token = secrets.token_hex(4)
    staging = out.parent / STAGING.format(name=out.name, token=token)
    try:
        staging.mkdir(parents=True)
    except OSError as err:  # name the folder the user chose, not the staging name
        raise OSError(err.errno, f"{err.strerror} (cannot build the site beside it)", str(out)) from None
    try:
        yield staging
        check_target(out, marker=marker)  # the folder may have changed during a long build
        _swap(staging, out, out.parent / RETIRED.format(name=out.name, token=token))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _swap(staging: Path, out: Path, retired: Path) -> None:
    """Rename `staging` to `out`, moving an existing `out` aside first and back if the second rename fails."""
    if not out.exists():
        os.rename(staging, out)
        return
    os.rename(out, retired)
    try:
        os.rename(staging, out)
    except BaseException:
        os.rename(retired, out)
        raise
    shutil.rmtree(retired, ignore_errors=True)
