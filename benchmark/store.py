"""The results store: one SQLite file holding every run and every score, with provenance.

>>> store = ResultsStore("/tmp/results.db")
>>> run_id = store.record_run({"dataset": "sprites", "dataset_version": "1.0.0", "model": "beta_vae",
...                            "hparams": {"beta": 4.0}, "seed": 0, "steps": 300})
>>> store.record_evaluation(run_id, evaluation)          # the dict `factorbench.metrics.evaluate` returns
>>> [(s["metric"], s["key"], s["value"]) for s in store.scores([run_id])]

Tables:
- `runs`: one row per run (trained model, baseline or submission): dataset and its version, model (the
  objective name), hyperparameters, seed, steps, status, kind, timings, package versions, git revision and a
  free-form provenance dict (study, model number, command, date...). `record_run` upserts by `run_id`.
- `scores`: one row per number, natural key (run_id, representation, metric, key, protocol, eval_seed, evaluation),
  with the evaluation's sample sizes and package versions; `evaluation` is the track id or an ad hoc contract's
  key (`factorbench.benchmark.tracks.evaluation_key`). Re-evaluating a run replaces the rows of each re-evaluated
  metric under the same (representation, protocol, eval_seed, evaluation), so keys a new version no longer emits
  vanish too, while an evaluation under another contract is kept beside it.
  Training statistics are scores of metric "training" (keys reconstruction, kl, loss), representation "mean",
  protocol "training" (`TRAINING_PROTOCOL`), eval_seed 0.
- `tracks`: every contract an evaluation was recorded under (`factorbench.benchmark.tracks`); each score row's
  `track_id` names its track, NULL for an ad hoc evaluation. `runs.training` holds a run's training budget and
  `runs.submitter` a submission's declared metadata. Layout and migrations: `factorbench.benchmark.store_schema`.
- `details`: the evaluation's non-scalar outputs (MI and importance matrices...), one JSON value per
  (run_id, representation, metric, protocol, eval_seed, name).

Identity: a store marks itself with `PRAGMA application_id = APPLICATION_ID` when it is created. Only a missing or
empty file, a file carrying that mark, or a store made before the mark (user_version >= 1 with factorbench's
tables, stamped on its next write) is opened; any other SQLite database, or a file that is not one, is refused, so
factorbench never adds its tables to someone else's database. `create=False` (the read-only commands) never creates
a store. Every SQLite failure (damaged pages, a full disk, a read-only file) is a `StoreError`: one line naming the
store and what to do. `check_writable()` fails before hours of work rather than after them.

Concurrency: WAL journal (readers never block the writer and always see a committed snapshot), every write in one
`BEGIN IMMEDIATE` transaction with a long busy timeout, so several processes may write at once and nothing is lost.
Group writes that belong together with `with store.transaction(): ...`: readers never see half of it. A NaN score
is stored as NULL and read back as None (a gap, never a number).
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import json
import math
import os
import sqlite3
import subprocess
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from factorbench.benchmark import store_schema
from factorbench.benchmark.store_schema import SCHEMA_VERSION
from factorbench.metrics.driver import PROTOCOLS

#: PRAGMA application_id of every factorbench store ("FBrs"): how a file says it is one.
APPLICATION_ID = 0x46427273
#: Tables and columns a store made before APPLICATION_ID existed must have to be recognised as one.
_LEGACY_SIGNATURE = {"runs": ("run_id", "dataset", "model", "hparams", "provenance"),
                     "scores": ("run_id", "representation", "metric", "key", "value", "protocol", "eval_seed"),
                     "details": ("run_id", "metric", "name", "value")}
#: SQLite messages and what they mean for the user (first match wins).
_SQLITE_HINTS = (
    ("malformed", "is damaged ({error}): restore it from a backup, or salvage it with `sqlite3 {path} .recover`"),
    ("not a database", "is not an SQLite database ({error}): give a factorbench results store, or a new path"),
    ("full", "cannot be written: the disk is full ({error}); free some space and run the command again"),
    ("readonly", "is read-only ({error}): make it writable, or pass --store PATH to a writable copy"),
    ("unable to open", "cannot be opened ({error}): check that its folder exists and is writable, or pass "
                       "--store PATH / set $FACTORBENCH_RESULTS"),
    ("disk i/o", "cannot be read or written ({error}): check the disk, or pass --store PATH"),
)
DEFAULT_PATH = Path("factorbench-results") / "results.db"
ENV_VAR = "FACTORBENCH_RESULTS"
TRAINING_METRIC = "training"
TRAINING_PROTOCOL = "training"
KINDS = ("trained", "baseline", "submission")
#: Leaderboard columns, as "metric/key".
HEADLINE_KEYS = (
    "beta_vae/eval_accuracy", "factor_vae/eval_accuracy", "mig/mig", "dci/disentanglement", "sap/sap",
    "modularity_explicitness/modularity", "irs/irs", "infomec/infom", "training/reconstruction",
)

_RUN_COLUMNS = (
    "run_id", "name", "dataset", "dataset_version", "model", "hparams", "seed", "steps", "status", "kind",
    "trusted_code", "shortened", "run_dir", "device", "created_at", "updated_at", "train_seconds", "versions",
    "git_revision", "provenance", "training", "submitter",
)
_JSON_RUN_COLUMNS = ("hparams", "versions", "provenance", "training", "submitter")
_BOOL_RUN_COLUMNS = ("trusted_code", "shortened")
_SCORE_COLUMNS = (
    "run_id", "representation", "metric", "key", "value", "protocol", "eval_seed", "sample_sizes", "versions",
    "seconds", "created_at", "track_id", "evaluation",
)


def default_path() -> Path:
    """$FACTORBENCH_RESULTS (a .db file, or a folder that gets results.db) or ./factorbench-results/results.db."""
    env = os.environ.get(ENV_VAR)
    if not env:
        return DEFAULT_PATH
    path = Path(env).expanduser()
    if path.is_dir() or env.endswith(os.sep):
        return path / "results.db"
    return path


def now() -> str:
    """The current UTC time as an ISO-8601 string with microseconds (sorts as text)."""
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="microseconds")


@functools.cache
def git_revision() -> str | None:
    """The git commit of the factorbench checkout this code runs from (with "+dirty" for local edits), or None."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


@functools.cache
def package_versions(packages: tuple[str, ...] = ("factorbench", "jax", "jaxlib", "flax", "optax", "numpy",
                                                  "scikit-learn")) -> dict[str, str]:
    """Installed versions of `packages` (missing ones left out) plus python; cheap, imports nothing."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for name in packages:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            pass
    return found


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=_jsonable)


def _jsonable(value: Any) -> Any:
    """numpy and jax scalars/arrays, paths and tuples to plain JSON values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"cannot store a {type(value).__name__} in the results store")


class StoreError(ValueError):
    """The results store cannot be used (not a store, damaged, read-only, full disk); the message is one line."""


def describe_sqlite_error(path: Path, err: BaseException) -> str:
    """One line for an SQLite failure on the store at `path`: what happened and what to do."""
    text = str(err).strip() or type(err).__name__
    for needle, hint in _SQLITE_HINTS:
        if needle in text.lower():
            return f"results store {path} " + hint.format(error=text, path=path)
    return f"results store {path} failed: {text}"


def _float_or_none(value: Any) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


class ResultsStore:
    """Runs and scores in one SQLite file (WAL); safe to share between processes.

    Args:
        path: the database file; None means `default_path()`. Its folder is created, and the schema with it.
        timeout: seconds a writer waits for another writer's transaction before giving up.
        create: False for readers: a missing or empty file is refused (StoreError) instead of becoming a store.
    """

    def __init__(self, path: str | os.PathLike | None = None, *, timeout: float = 120.0, create: bool = True):
        self.path = Path(path) if path is not None else default_path()
        self.timeout = float(timeout)
        self._local = threading.local()
        self._check_path(create=create)
        self._init_schema(create=create)

    def __repr__(self) -> str:
        return f"ResultsStore({str(self.path)!r})"

    # ------------------------------------------------------------------ connections and transactions
    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.Error as err:
            raise StoreError(describe_sqlite_error(self.path, err)) from None
        return conn

    # ------------------------------------------------------------------ opening: what the file is
    def _check_path(self, *, create: bool) -> None:
        """Refuse a folder, a missing store for a reader, and a folder that cannot be made, before SQLite runs."""
        if self.path.is_dir():
            raise StoreError(f"results store {self.path} is a folder; pass a file such as {self.path / 'results.db'}")
        if not create and (not self.path.is_file() or self.path.stat().st_size == 0):
            what = "is empty" if self.path.is_file() else "does not exist"
            raise StoreError(f"no results store at {self.path} (the file {what}): pass --store PATH or set "
                             "$FACTORBENCH_RESULTS (runs are recorded there by train, evaluate and submit)")
        if create:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise StoreError(f"cannot create the folder of results store {self.path} ({err.strerror}): pass "
                                 "--store PATH or set $FACTORBENCH_RESULTS to a writable place") from None

    def _identify(self, conn: sqlite3.Connection) -> str:
        """What the open file is, read without writing: "store" (marked as ours), "legacy" (ours, made before
        the mark) or "empty" (a new or empty file); anything else raises StoreError."""
        application_id = conn.execute("PRAGMA application_id").fetchone()[0]
        if application_id == APPLICATION_ID:
            return "store"
        objects = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        if application_id == 0 and not objects:
            return "empty"
        if application_id == 0 and conn.execute("PRAGMA user_version").fetchone()[0] >= 1 and all(
                set(columns) <= {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
                for table, columns in _LEGACY_SIGNATURE.items()):
            return "legacy"
        shown = ", ".join(sorted(objects)[:4]) + (", ..." if len(objects) > 4 else "")
        mark = f"application id {application_id:#x}" if application_id else f"tables {shown}"
        raise StoreError(f"{self.path} is an SQLite database but not a factorbench results store ({mark}); it was "
                         "left untouched: pass --store PATH to a factorbench store or a new file")

    def _init_schema(self, *, create: bool = True) -> None:
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                conn = self._connect()
                try:
                    kind = self._identify(conn)
                    found = conn.execute("PRAGMA user_version").fetchone()[0]
                    if found > SCHEMA_VERSION:
                        raise StoreError(f"results store {self.path} has schema version {found}, newer than this "
                                         f"factorbench understands ({SCHEMA_VERSION}); upgrade factorbench")
                    if found == SCHEMA_VERSION and (kind == "store" or (kind == "legacy" and not create)):
                        return  # nothing to write, so a read-only store opens for reading (stamped by a writer)
                    if kind == "empty" and not create:
                        raise StoreError(f"no results store at {self.path} (the file holds no tables yet): pass "
                                         "--store PATH or set $FACTORBENCH_RESULTS")
                    self._write_schema(conn)
                finally:
                    conn.close()
                return
            except sqlite3.OperationalError as err:
                if "locked" in str(err) and time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                raise StoreError(describe_sqlite_error(self.path, err)) from None
            except sqlite3.DatabaseError as err:
                raise StoreError(describe_sqlite_error(self.path, err)) from None

    def _write_schema(self, conn: sqlite3.Connection) -> None:
        """Create the tables in an empty file, or migrate an older schema and stamp a store made before the mark,
        in one transaction, identifying the file again under the write lock: another process may have created or
        migrated the store meanwhile."""
        if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("BEGIN IMMEDIATE")
        try:
            if self._identify(conn) == "empty":
                store_schema.create(conn)
            else:
                found = conn.execute("PRAGMA user_version").fetchone()[0]
                if found < SCHEMA_VERSION:
                    store_schema.migrate(conn, found)
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def check_writable(self) -> None:
        """Raise StoreError now if this process cannot write the store (read-only file, folder or mount, damaged
        pages), so `evaluate` and `submit` refuse before their work instead of failing to record it after."""
        for target, what in ((self.path, "file"), (self.path.parent, "folder")):
            if not os.access(target, os.W_OK):
                raise StoreError(f"results store {self.path} is read-only (its {what} is not writable by this "
                                 "user): make it writable, or pass --store PATH to a writable store")
        with self._reader() as conn:
            problem = conn.execute("PRAGMA quick_check(1)").fetchone()[0]
            conn.execute("BEGIN IMMEDIATE")  # takes the write lock, changing nothing: the file stays byte-identical
            conn.execute("ROLLBACK")
        if problem != "ok":
            raise StoreError(describe_sqlite_error(self.path, sqlite3.DatabaseError(
                f"database disk image is malformed: {problem}")))

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction for everything inside the block (nested blocks join the outer one).

        Readers see all of it or none of it; an exception rolls all of it back.
        """
        current = getattr(self._local, "conn", None)
        if current is not None:
            yield current
            return
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            self._local.conn = conn
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:  # SQLite has already rolled back after a full disk
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.Error as err:
            raise StoreError(describe_sqlite_error(self.path, err)) from None
        finally:
            self._local.conn = None
            conn.close()

    @contextlib.contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        current = getattr(self._local, "conn", None)
        if current is not None:  # inside our own transaction: see our own writes
            yield current
            return
        conn = self._connect()
        try:
            yield conn
        except sqlite3.Error as err:
            raise StoreError(describe_sqlite_error(self.path, err)) from None
        finally:
            conn.close()

    # ------------------------------------------------------------------ writes
    def record_run(self, run: Mapping[str, Any]) -> str:
        """Insert or update a run (upsert by `run["run_id"]`, a fresh id when absent); returns the run id.

        Required: dataset, model. Updating merges: fields not given keep their stored value, `created_at` stays.
        `versions` defaults to this process's package versions and `git_revision` to this checkout's revision.
        """
        run = dict(run)
        unknown = sorted(set(run) - set(_RUN_COLUMNS))
        if unknown:
            raise ValueError(f"record_run: unknown field(s) {', '.join(unknown)}; known: {', '.join(_RUN_COLUMNS)}")
        run_id = str(run.get("run_id") or uuid.uuid4().hex[:16])
        with self.transaction() as conn:
            row = conn.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            merged: dict[str, Any] = self._decode_run(row) if row is not None else {
                "versions": package_versions(), "git_revision": git_revision(), "created_at": now(),
                "status": "done", "kind": "trained", "hparams": {}, "provenance": {},
                "trusted_code": False, "shortened": False,
            }
            merged.update({k: v for k, v in run.items() if k != "created_at" or row is None})
            merged["run_id"] = run_id
            merged["updated_at"] = now()
            for field in ("dataset", "model"):
                if not merged.get(field):
                    raise ValueError(f"record_run: a run needs {field!r} (got {merged.get(field)!r})")
            if merged["kind"] not in KINDS:
                raise ValueError(f"record_run: kind must be one of {', '.join(KINDS)}, got {merged['kind']!r}")
            from factorbench.benchmark.tracks import normalise_training, training_of

            # The training budget decides which tracks a trained run can meet: derived when not given.
            merged["training"] = normalise_training(merged.get("training") or training_of({**merged, "training": {}}))
            merged.setdefault("name", run_id)
            merged["name"] = merged["name"] or run_id
            values = [self._encode_run_field(column, merged.get(column)) for column in _RUN_COLUMNS]
            placeholders = ", ".join("?" * len(_RUN_COLUMNS))
            # A true upsert: INSERT OR REPLACE would delete the row first and cascade to its scores.
            updates = ", ".join(f"{c} = excluded.{c}" for c in _RUN_COLUMNS if c != "run_id")
            conn.execute(f"INSERT INTO runs ({', '.join(_RUN_COLUMNS)}) VALUES ({placeholders}) "
                         f"ON CONFLICT (run_id) DO UPDATE SET {updates}", values)
        return run_id

    def record_evaluation(self, run_id: str, evaluation: Mapping[str, Any], representation: str = "mean") -> int:
        """Store one metrics-driver result for `run_id` in one transaction; returns the number of scores written.

        `evaluation` is the dict of `factorbench.metrics.evaluate`: "scores" {metric: {key: float}}, "details"
        {metric: {name: nested lists}}, "protocol", "seed", "sample_sizes", "versions", "seconds" {metric: s}.
        Each metric in it replaces that metric's earlier scores and details for the same (representation,
        protocol, seed). The scores record the track the evaluation meets (`factorbench.benchmark.tracks.resolve`;
        none: ad hoc); an evaluation carrying "track" (a track name) must meet that track, or nothing is written.
        """
        for field in ("scores", "protocol", "seed"):
            if field not in evaluation:
                raise ValueError(f"record_evaluation: the evaluation has no {field!r} (is it the dict "
                                 "factorbench.metrics.evaluate returned?)")
        protocol, eval_seed = str(evaluation["protocol"]), int(evaluation["seed"])
        sample_sizes = _dumps(evaluation.get("sample_sizes") or {})
        versions = _dumps(evaluation.get("versions") or {})
        seconds = evaluation.get("seconds") or {}
        details = evaluation.get("details") or {}
        stamp = now()
        written = 0
        with self.transaction() as conn:
            row = conn.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if row is None:
                raise ValueError(f"record_evaluation: no run {run_id!r} in {self.path}; record_run it first")
            track_id, contract = None, ""
            if protocol != TRAINING_PROTOCOL:
                from factorbench.benchmark.tracks import evaluation_key, resolve

                track = resolve(self._decode_run(row), evaluation, representation, requested=evaluation.get("track"))
                if track is not None:
                    store_schema.record_track(conn, track.as_record(), stamp=stamp)
                    track_id = track.id
                contract = evaluation_key(track, evaluation)
            for metric in sorted(set(evaluation["scores"]) | set(details)):
                key = (run_id, representation, metric, protocol, eval_seed, contract)
                where = ("run_id = ? AND representation = ? AND metric = ? AND protocol = ? AND eval_seed = ? AND "
                         "evaluation = ?")
                conn.execute(f"DELETE FROM scores WHERE {where}", key)
                conn.execute(f"DELETE FROM details WHERE {where}", key)
                metric_seconds = seconds.get(metric)
                rows = [
                    (run_id, representation, metric, str(name), _float_or_none(value), protocol, eval_seed,
                     sample_sizes, versions, None if metric_seconds is None else float(metric_seconds), stamp,
                     track_id, contract)
                    for name, value in (evaluation["scores"].get(metric) or {}).items()
                ]
                conn.executemany(f"INSERT INTO scores ({', '.join(_SCORE_COLUMNS)}) VALUES "
                                 f"({', '.join('?' * len(_SCORE_COLUMNS))})", rows)
                written += len(rows)
                conn.executemany(
                    "INSERT INTO details (run_id, representation, metric, protocol, eval_seed, evaluation, name, "
                    "value, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(*key, str(name), _dumps(value), stamp) for name, value in (details.get(metric) or {}).items()],
                )
        return written

    def record_training(self, run_id: str, statistics: Mapping[str, float]) -> int:
        """Store training statistics (final_metrics.json: reconstruction, kl, loss) as metric "training"."""
        evaluation = {"scores": {TRAINING_METRIC: dict(statistics)}, "protocol": TRAINING_PROTOCOL, "seed": 0,
                      "versions": package_versions()}
        return self.record_evaluation(run_id, evaluation, representation="mean")

    def delete_run(self, run_id: str) -> bool:
        """Remove a run with its scores and details; True when it existed."""
        with self.transaction() as conn:
            return conn.execute("DELETE FROM runs WHERE run_id = ?", (run_id,)).rowcount > 0

    # ------------------------------------------------------------------ reads
    def runs(self, dataset: str | None = None, kind: str | None = None, *, status: str | None = None,
             model: str | None = None) -> list[dict[str, Any]]:
        """Every run (oldest first), optionally only those of one dataset / kind / status / model."""
        where, args = self._filters(dataset=dataset, kind=kind, status=status, model=model)
        with self._reader() as conn:
            rows = conn.execute(f"SELECT * FROM runs {where} ORDER BY created_at, run_id", args).fetchall()
        return [self._decode_run(row) for row in rows]

    def run(self, run_id: str) -> dict[str, Any] | None:
        """One run by id, or None."""
        with self._reader() as conn:
            row = conn.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return None if row is None else self._decode_run(row)

    def find_runs(self, id_or_name: str) -> list[dict[str, Any]]:
        """Runs whose id equals, or whose name or run dir equals or ends with, `id_or_name`."""
        with self._reader() as conn:
            rows = conn.execute(
                "SELECT * FROM runs WHERE run_id = ? OR name = ? OR run_dir = ? OR run_dir LIKE ? ESCAPE '\\' "
                "ORDER BY created_at", (id_or_name, id_or_name, id_or_name,
                                        "%/" + id_or_name.replace("%", "\\%").replace("_", "\\_").rstrip("/")),
            ).fetchall()
        return [self._decode_run(row) for row in rows]

    def scores(self, run_ids: Iterable[str] | None = None, dataset: str | None = None, *,
               metric: str | None = None, representation: str | None = None,
               protocol: str | None = None) -> list[dict[str, Any]]:
        """Score rows (run_id, representation, metric, key, value, protocol, eval_seed, sample_sizes, versions,
        seconds, created_at), optionally filtered; one consistent snapshot. `versions["protocol"]` is the protocol's
        version the score was made by ("fast/2"; "fast/1" for scores stored before versions were recorded)."""
        clauses, args = [], []
        if run_ids is not None:
            run_ids = list(run_ids)
            if not run_ids:
                return []
            clauses.append(f"s.run_id IN ({', '.join('?' * len(run_ids))})")
            args += run_ids
        for column, value in (("r.dataset", dataset), ("s.metric", metric), ("s.representation", representation),
                              ("s.protocol", protocol)):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        columns = ", ".join(f"s.{c}" for c in _SCORE_COLUMNS)
        with self._reader() as conn:
            rows = conn.execute(
                f"SELECT {columns} FROM scores s JOIN runs r ON r.run_id = s.run_id {where} "
                "ORDER BY s.run_id, s.representation, s.metric, s.key, s.protocol, s.eval_seed", args,
            ).fetchall()
        out = []
        for row in rows:
            item = dict(row)
            item["sample_sizes"] = json.loads(item["sample_sizes"])
            item["versions"] = json.loads(item["versions"])
            if item["protocol"] in PROTOCOLS:  # scores stored before protocols had versions were made by version 1
                item["versions"].setdefault("protocol", f"{item['protocol']}/1")
            out.append(item)
        return out

    def details(self, run_id: str, representation: str = "mean", *, protocol: str | None = None,
                eval_seed: int | None = None) -> dict[str, dict[str, Any]]:
        """{metric: {name: value}} for a run; per metric the latest evaluation unless protocol/eval_seed pick one."""
        clauses, args = ["run_id = ?", "representation = ?"], [run_id, representation]
        if protocol is not None:
            clauses.append("protocol = ?")
            args.append(protocol)
        if eval_seed is not None:
            clauses.append("eval_seed = ?")
            args.append(int(eval_seed))
        with self._reader() as conn:
            rows = conn.execute(
                "SELECT metric, protocol, eval_seed, name, value, created_at FROM details "
                f"WHERE {' AND '.join(clauses)} ORDER BY metric, created_at, name", args,
            ).fetchall()
        latest: dict[str, tuple[str, str, int]] = {}
        for row in rows:  # ordered by created_at: the last evaluation of each metric wins
            latest[row["metric"]] = (row["created_at"], row["protocol"], row["eval_seed"])
        out: dict[str, dict[str, Any]] = {}
        for row in rows:
            if latest[row["metric"]] == (row["created_at"], row["protocol"], row["eval_seed"]):
                out.setdefault(row["metric"], {})[row["name"]] = json.loads(row["value"])
        return out

    def tracks(self) -> dict[str, dict[str, Any]]:
        """Every track an evaluation was recorded under: {track_id: {track_id, name, version, family, description,
        contract}}."""
        with self._reader() as conn:
            rows = conn.execute("SELECT track_id, name, version, family, description, contract FROM tracks "
                                "ORDER BY name, version").fetchall()
        return {row["track_id"]: {**dict(row), "contract": json.loads(row["contract"])} for row in rows}

    def table(self, *, dataset: str | None = None) -> list[dict[str, Any]]:
        """Flat rows for export: every score joined with its run's provenance and its track's name (None: ad hoc),
        JSON fields as JSON text."""
        runs = {run["run_id"]: run for run in self.runs(dataset=dataset)}
        tracks = self.tracks()
        rows = []
        for score in self.scores(dataset=dataset):
            run = runs.get(score["run_id"])
            if run is None:  # written between the two reads
                continue
            row = {f"run_{k}" if k in ("versions", "created_at") else k: v for k, v in run.items()}
            row.update({k: v for k, v in score.items() if k != "run_id"})
            track = tracks.get(score["track_id"]) if score["track_id"] else None
            row["track"] = track["name"] if track else None
            for key in ("hparams", "provenance", "run_versions", "versions", "sample_sizes", "training", "submitter"):
                row[key] = _dumps(row[key])
            rows.append(row)
        return rows

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _filters(**values: Any) -> tuple[str, list[Any]]:
        clauses = [f"{column} = ?" for column, value in values.items() if value is not None]
        args = [value for value in values.values() if value is not None]
        return (("WHERE " + " AND ".join(clauses)) if clauses else ""), args

    @staticmethod
    def _encode_run_field(column: str, value: Any) -> Any:
        if column in _JSON_RUN_COLUMNS:
            return _dumps(value or {})
        if column in _BOOL_RUN_COLUMNS:
            return int(bool(value))
        if column in ("seed", "steps") and value is not None:
            return int(value)
        if column == "train_seconds" and value is not None:
            return float(value)
        if column in ("run_dir", "device", "git_revision", "dataset_version", "name") and value is not None:
            return str(value)
        return value

    @staticmethod
    def _decode_run(row: sqlite3.Row) -> dict[str, Any]:
        run = dict(row)
        for column in _JSON_RUN_COLUMNS:
            run[column] = json.loads(run[column])
        for column in _BOOL_RUN_COLUMNS:
            run[column] = bool(run[column])
        return run
