"""The results store's schema: its DDL, its version, and the migrations from every earlier version.

Kept apart from how a store file is opened (`factorbench.benchmark.store`): opening decides whether a file may be
used; this module says what the tables are and how an older file becomes the current layout. Every migration runs
inside the opener's write transaction, so a store is either fully migrated or untouched.

Versions:
1. runs, scores, details.
2. Tracks: `tracks` holds every contract an evaluation was recorded under (id, name, version, JSON contract);
   `scores.track_id` says which one (NULL: an ad hoc evaluation); `scores.evaluation` and `details.evaluation`
   (the track id, or "adhoc-<hash of protocol version and sizes>") join the natural keys, so a run keeps one
   evaluation per contract; `runs.training` is the run's training budget and `runs.submitter` a submission's
   declared metadata. The migration rebuilds scores and details with the wider keys, derives the training budget
   from each run's provenance and the track of each stored evaluation where its recorded protocol, protocol
   version, sizes, seed, dataset version and budget meet a built-in track; the rest stays ad hoc.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable

SCHEMA_VERSION = 2

#: The current layout, created in an empty file.
DDL = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    dataset TEXT NOT NULL,
    dataset_version TEXT,
    model TEXT NOT NULL,
    hparams TEXT NOT NULL DEFAULT '{}',
    seed INTEGER,
    steps INTEGER,
    status TEXT NOT NULL DEFAULT 'done',
    kind TEXT NOT NULL DEFAULT 'trained',
    trusted_code INTEGER NOT NULL DEFAULT 0,
    shortened INTEGER NOT NULL DEFAULT 0,
    run_dir TEXT,
    device TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    train_seconds REAL,
    versions TEXT NOT NULL DEFAULT '{}',
    git_revision TEXT,
    provenance TEXT NOT NULL DEFAULT '{}',
    training TEXT NOT NULL DEFAULT '{}',
    submitter TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS runs_dataset ON runs (dataset, kind);
CREATE TABLE IF NOT EXISTS scores (
    run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    representation TEXT NOT NULL,
    metric TEXT NOT NULL,
    key TEXT NOT NULL,
    value REAL,
    protocol TEXT NOT NULL,
    eval_seed INTEGER NOT NULL,
    sample_sizes TEXT NOT NULL DEFAULT '{}',
    versions TEXT NOT NULL DEFAULT '{}',
    seconds REAL,
    created_at TEXT NOT NULL,
    track_id TEXT REFERENCES tracks (track_id),
    evaluation TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (run_id, representation, metric, key, protocol, eval_seed, evaluation)
);
CREATE INDEX IF NOT EXISTS scores_metric ON scores (metric, key);
CREATE TABLE IF NOT EXISTS details (
    run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    representation TEXT NOT NULL,
    metric TEXT NOT NULL,
    protocol TEXT NOT NULL,
    eval_seed INTEGER NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    created_at TEXT NOT NULL,
    evaluation TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (run_id, representation, metric, protocol, eval_seed, evaluation, name)
);
CREATE TABLE IF NOT EXISTS tracks (
    track_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    family TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    contract TEXT NOT NULL,
    created_at TEXT NOT NULL
);
"""


def statements(ddl: str) -> list[str]:
    return [s for s in (part.strip() for part in ddl.split(";")) if s]


def create(conn: sqlite3.Connection) -> None:
    """Lay out an empty file at the current version."""
    for statement in statements(DDL):
        conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def migrate(conn: sqlite3.Connection, found: int) -> list[int]:
    """Bring a store of version `found` (1 <= found <= SCHEMA_VERSION) to the current one; returns the versions
    stepped to. The caller holds the write transaction."""
    stepped = []
    for version in range(found + 1, SCHEMA_VERSION + 1):
        MIGRATIONS[version](conn)
        conn.execute(f"PRAGMA user_version = {version}")
        stepped.append(version)
    return stepped


def _table_ddl(name: str) -> str:
    return next(s for s in statements(DDL) if s.startswith(f"CREATE TABLE IF NOT EXISTS {name} "))


def _rebuild(conn: sqlite3.Connection, name: str, old_columns: str) -> None:
    """Re-create `name` with the current DDL (SQLite cannot widen a primary key in place), keeping its rows."""
    conn.execute(f"ALTER TABLE {name} RENAME TO {name}_old")
    conn.execute(_table_ddl(name))
    conn.execute(f"INSERT INTO {name} ({old_columns}) SELECT {old_columns} FROM {name}_old")
    conn.execute(f"DROP TABLE {name}_old")


def _to_2(conn: sqlite3.Connection) -> None:
    from factorbench.benchmark.store import now
    from factorbench.benchmark.tracks import evaluation_key, resolve, training_of

    conn.execute("ALTER TABLE runs ADD COLUMN training TEXT NOT NULL DEFAULT '{}'")
    conn.execute("ALTER TABLE runs ADD COLUMN submitter TEXT NOT NULL DEFAULT '{}'")
    conn.execute(_table_ddl("tracks"))
    conn.execute("DROP INDEX IF EXISTS scores_metric")
    _rebuild(conn, "scores", "run_id, representation, metric, key, value, protocol, eval_seed, sample_sizes, "
                             "versions, seconds, created_at")
    _rebuild(conn, "details", "run_id, representation, metric, protocol, eval_seed, name, value, created_at")
    for statement in statements(DDL):  # the indexes
        if statement.startswith("CREATE INDEX"):
            conn.execute(statement)
    runs = {}
    for row in conn.execute("SELECT run_id, dataset, dataset_version, kind, steps, provenance FROM runs").fetchall():
        run = {"dataset": row[1], "dataset_version": row[2], "kind": row[3], "steps": row[4],
               "provenance": json.loads(row[5] or "{}")}
        run["training"] = training_of(run)
        runs[row[0]] = run
        conn.execute("UPDATE runs SET training = ? WHERE run_id = ?", (json.dumps(run["training"], sort_keys=True),
                                                                     row[0]))
    # Schema 1 kept one evaluation per (run, representation, protocol, eval seed): its sizes and versions.
    groups = conn.execute(
        "SELECT DISTINCT run_id, representation, protocol, eval_seed, sample_sizes, versions FROM scores "
        "WHERE protocol != 'training'").fetchall()
    stamp = now()
    for run_id, representation, protocol, eval_seed, sizes, versions in groups:
        evaluation = {"protocol": protocol, "seed": eval_seed, "sample_sizes": json.loads(sizes or "{}"),
                      "versions": json.loads(versions or "{}")}
        track = resolve(runs[run_id], evaluation, representation)
        if track is not None:
            record_track(conn, track.as_record(), stamp=stamp)
        where = "run_id = ? AND representation = ? AND protocol = ? AND eval_seed = ?"
        key = evaluation_key(track, evaluation)
        conn.execute(f"UPDATE scores SET track_id = ?, evaluation = ? WHERE {where} AND sample_sizes = ? AND "
                     "versions = ?", (track.id if track else None, key, run_id, representation, protocol, eval_seed,
                                      sizes, versions))
        conn.execute(f"UPDATE details SET evaluation = ? WHERE {where}", (key, run_id, representation, protocol,
                                                                           eval_seed))


def record_track(conn: sqlite3.Connection, record: dict, *, stamp: str) -> None:
    """Insert a track's contract once (a track id never changes meaning)."""
    conn.execute("INSERT OR IGNORE INTO tracks (track_id, name, version, family, description, contract, created_at) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?)",
                 (record["track_id"], record["name"], int(record["version"]), record.get("family") or "",
                  record.get("description") or "", json.dumps(record["contract"], sort_keys=True), stamp))


MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {2: _to_2}
