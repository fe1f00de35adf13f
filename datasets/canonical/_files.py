"""Where canonical raw files live, how they are checked, and the one message a missing file gives.

The data root is, in order: the ``data_dir=`` option, ``$FACTORBENCH_DATA``, ``~/factorbench_data``.
A raw file is looked for as ``<root>/<name>``, ``<root>/<dlib folder>/<name>`` and
``<root>/downloads/manual/<name>`` (TFDS's manual directory when the root is a TFDS data dir), so a
disentanglement_lib data folder or a TFDS data dir both work. Nothing is ever downloaded.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path

from factorbench.datasets._base import DatasetError

UNKNOWN_HASH = "not known offline: factorbench checks the array shapes instead"


@dataclasses.dataclass(frozen=True)
class RawFile:
    """One original file: its exact name, size in bytes and sha256 (None where we cannot know them offline)."""

    name: str
    size: int | None
    sha256: str | None
    url: str
    folder: str = ""  # disentanglement_lib's sub-folder of its data root

    def describe(self) -> str:
        size = f"{self.size:,} bytes" if self.size is not None else "size unknown"
        digest = f"sha256 {self.sha256}" if self.sha256 else f"sha256 {UNKNOWN_HASH}"
        return f"{self.name} ({size}, {digest})"


def data_root(data_dir: str | os.PathLike | None = None) -> Path:
    """The folder canonical files are read from and prepared datasets are written to."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    env = os.environ.get("FACTORBENCH_DATA")
    return Path(env).expanduser() if env else Path.home() / "factorbench_data"


def candidates(root: Path, raw: RawFile) -> list[Path]:
    places = [root / raw.name]
    if raw.folder:
        places.append(root / raw.folder / raw.name)
    places.append(root / "downloads" / "manual" / raw.name)
    return places


def locate(dataset: str, root: Path, raw: RawFile) -> Path:
    """The path of `raw` under `root`, or a DatasetError naming the file, its size, hash, source and where it goes."""
    for path in candidates(root, raw):
        if path.is_dir():
            raise DatasetError(f"{dataset}: {path} is a folder; it must be the file {raw.describe()}")
        if path.exists():
            return path
    where = root / raw.folder if raw.folder else root
    raise DatasetError(
        f"{dataset}: missing file {raw.describe()}; put it in {where} (or {root / 'downloads' / 'manual'}), "
        f"or point data_dir= / $FACTORBENCH_DATA at the folder holding it (published at {raw.url}; "
        "factorbench never downloads)"
    )


def sha256_of(path: Path, block: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(block):
            digest.update(chunk)
    return digest.hexdigest()


def verify(dataset: str, path: Path, raw: RawFile) -> None:
    """Reject a file whose size or sha256 differs from the published one (skipped where unknown)."""
    if raw.size is not None and path.stat().st_size != raw.size:
        raise DatasetError(f"{dataset}: {path} has {path.stat().st_size:,} bytes, expected {raw.size:,} "
                           f"({raw.describe()}): the file is truncated or a different release")
    if raw.sha256 is not None:
        actual = sha256_of(path)
        if actual != raw.sha256:
            raise DatasetError(f"{dataset}: {path} has sha256 {actual}, expected {raw.sha256}: the file is corrupt "
                               "or a different release")
