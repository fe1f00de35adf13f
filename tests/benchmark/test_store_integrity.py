"""The store and the files made from it survive hostile disks: foreign and damaged databases, full filesystems,
read-only stores and folders. Refusals are one line and exit 2; what was there before is left exactly as it was."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat
from pathlib import Path

import pytest
from integrity_helpers import assert_one_line_refusal, cli

from factorbench.benchmark.cli import main
from factorbench.benchmark.store import APPLICATION_ID, ResultsStore, StoreError
from factorbench.models.files import TEMP_PREFIX, write_atomic

READ_COMMANDS = (["results", "list"], ["results", "export", "--format", "json"], ["compare", "r0"],
                 ["leaderboard", "build", "--no-progress", "--bootstrap", "2"])


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _fill(store: ResultsStore, runs: int, scores: int = 40, *, first: int = 0) -> None:
    with store.transaction():
        for r in range(first, first + runs):
            store.record_run({"run_id": f"r{r}", "dataset": "sprites", "model": "beta_vae", "hparams": {"beta": 4.0},
                              "seed": r, "steps": 10})
            store.record_evaluation(f"r{r}", {"scores": {"mig": {f"k{i:03d}": i / 100 for i in range(scores)}},
                                              "protocol": "fast", "seed": 0, "details": {"mig": {"m": [[r] * 50]}}})


@pytest.fixture
def foreign_db(tmp_path):
    path = tmp_path / "inventory.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE items (name TEXT, count INTEGER)")
        conn.execute("INSERT INTO items VALUES ('bolts', 12)")
    conn.close()
    return path


@pytest.mark.parametrize("command", READ_COMMANDS + (["evaluate", "RUN"],), ids=lambda c: " ".join(c[:2]))
def test_a_foreign_sqlite_database_is_refused_and_left_untouched(foreign_db, tmp_path, capsys, command):
    before = _digest(foreign_db)
    command = [str(tmp_path) if c == "RUN" else c for c in command]
    if command[0] == "evaluate":  # a run directory that passes its own checks, so the store is what is refused
        (tmp_path / "config.json").write_text(json.dumps({"status": "done"}))
    out = ["--out", str(tmp_path / "out")] if command[:2] in (["results", "export"], ["leaderboard", "build"]) else []
    assert main([*command, *out, "--store", str(foreign_db)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a factorbench results store" in err and "tables items" in err
    assert _digest(foreign_db) == before and not (tmp_path / "out").exists()
    with pytest.raises(StoreError, match="not a factorbench results store"):
        ResultsStore(foreign_db)  # writers refuse it too
    assert _digest(foreign_db) == before


def test_a_file_that_is_no_database_is_refused(tmp_path, capsys):
    notes = tmp_path / "notes.db"
    notes.write_text("shopping list: eggs, milk\n" * 200)
    before = _digest(notes)
    assert main(["results", "list", "--store", str(notes)]) == 2
    assert "is not an SQLite database" in capsys.readouterr().err
    with pytest.raises(StoreError, match="not an SQLite database"):
        ResultsStore(notes)
    assert _digest(notes) == before


def test_readers_never_create_a_store(tmp_path, capsys):
    missing, empty = tmp_path / "missing.db", tmp_path / "empty.db"
    empty.touch()
    for command in (["results", "list"], ["compare", "x"], ["leaderboard", "build", "--out", str(tmp_path / "s")]):
        for path in (missing, empty):
            assert main([*command, "--store", str(path)]) == 2
            assert "no results store at" in capsys.readouterr().err
    assert not missing.exists() and empty.stat().st_size == 0
    store = ResultsStore(empty)  # a writer makes the empty file a store, marked as one
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID


def test_a_store_made_before_the_mark_is_recognised_and_stamped(tmp_path):
    path = tmp_path / "old.db"
    _fill(ResultsStore(path), 2)
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA application_id = 0")
    assert len(ResultsStore(path, create=False).runs()) == 2  # reading writes nothing
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == 0
    ResultsStore(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID


def test_damaged_pages_are_one_line_for_every_command(tmp_path, capsys):
    path = tmp_path / "results.db"
    _fill(ResultsStore(path), 30)
    size = path.stat().st_size
    assert size > 20 * 4096 and not Path(f"{path}-wal").exists()  # closed: everything is in the main file
    with open(path, "r+b") as handle:  # keep the header page, scribble over the rest
        for offset in range(4096, size, 4096 * 3):
            handle.seek(offset)
            handle.write(os.urandom(4096))
    for command in READ_COMMANDS:
        out = ["--out", str(tmp_path / "out")] if command[0] in ("leaderboard",) or command[1] == "export" else []
        assert main([*command, *out, "--store", str(path)]) == 2, command
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "is damaged" in err and ".recover" in err, err
    with pytest.raises(StoreError, match="is damaged"):
        ResultsStore(path).check_writable()  # evaluate and submit refuse before their work


STORE_WRITER = """
import sys
from factorbench.benchmark.store import ResultsStore, StoreError
store = ResultsStore(sys.argv[1])
try:
    with store.transaction():
        for r in range(200):
            store.record_run({"run_id": f"new{r}", "dataset": "sprites", "model": "vae"})
            store.record_evaluation(f"new{r}", {"scores": {"mig": {f"k{i}": 0.5 for i in range(200)}},
                                                "protocol": "fast", "seed": 0})
except StoreError as err:
    print(f"factorbench: error: {err}", file=sys.stderr)
    sys.exit(2)
"""


def test_a_full_disk_under_the_store_loses_nothing(tmp_path):
    path = tmp_path / "results.db"
    _fill(ResultsStore(path), 3)
    before = {r["run_id"] for r in ResultsStore(path).runs()}
    done = cli(path, code=STORE_WRITER, file_size_limit=path.stat().st_size + 64 * 1024)
    assert_one_line_refusal(done, str(path))
    store = ResultsStore(path)
    assert {r["run_id"] for r in store.runs()} == before and len(store.scores()) == 3 * 40
    store.check_writable()  # and it still works


def test_results_export_on_a_full_disk_keeps_the_previous_export(tmp_path):
    path, export = tmp_path / "results.db", tmp_path / "exports" / "results.json"
    store = ResultsStore(path)
    _fill(store, 4)
    assert main(["results", "export", "--format", "json", "--out", str(export), "--store", str(path)]) == 0
    good = export.read_bytes()
    _fill(store, 20, first=4)  # the next export is five times larger than what the disk has room for
    done = cli("results", "export", "--format", "json", "--out", export, "--store", path,
               file_size_limit=len(good) + 4096)
    assert_one_line_refusal(done, "File too large", str(export.parent))
    assert export.read_bytes() == good and os.listdir(export.parent) == ["results.json"]  # no temporary left
    done = cli("results", "export", "--format", "csv", "--out", tmp_path / "new.csv", "--store", path,
               file_size_limit=len(good) + 4096)
    assert_one_line_refusal(done, "File too large")
    assert not (tmp_path / "new.csv").exists() and not any(p.name.startswith(TEMP_PREFIX) for p in tmp_path.iterdir())


def test_a_read_only_store_refuses_before_any_work(tmp_path):
    path = tmp_path / "results.db"
    _fill(ResultsStore(path), 1)
    before = _digest(path)
    path.chmod(0o444)
    done = cli("submit", "python:numpy:zeros", "--dataset", "sprites", "--name", "x", "--store", path,
               unprivileged=True, timeout=120)
    assert_one_line_refusal(done, "is read-only")
    assert "scores on" not in done.stdout  # refused before scoring, not after
    done = cli("results", "list", "--store", path, unprivileged=True)  # reading a read-only store works
    assert done.returncode == 0 and "1 runs in" in done.stdout, done.stderr
    assert _digest(path) == before


def test_an_unwritable_current_directory_with_the_default_store(tmp_path):
    here, store = tmp_path / "readonly-cwd", tmp_path / "results.db"
    _fill(ResultsStore(store), 1)
    here.mkdir()
    (here / "config.json").write_text("{}")
    here.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        done = cli("submit", "python:numpy:zeros", "--dataset", "sprites", "--name", "x", cwd=here,
                   unprivileged=True, timeout=120)
        assert_one_line_refusal(done, "factorbench-results", "writable")
        done = cli("results", "export", "--store", store, cwd=here, unprivileged=True)  # default --out
        assert_one_line_refusal(done, "Permission denied", "factorbench-results")
    finally:
        here.chmod(0o755)
    assert sorted(os.listdir(here)) == ["config.json"]


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_written_files_follow_the_umask(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        path = write_atomic(tmp_path / "a" / "file.json", "{}")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == mode and path.read_text() == "{}"
