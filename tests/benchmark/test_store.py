"""The results store on a real SQLite file: round trip, upsert, replacement, atomicity, concurrent writers."""

from __future__ import annotations

import math
import multiprocessing
import sqlite3

import pytest

from factorbench.benchmark.store import ResultsStore, default_path


def _run(**overrides):
    run = {"run_id": "r1", "name": "beta_vae-b4-s0", "dataset": "sprites", "dataset_version": "1.0.0",
           "model": "beta_vae", "hparams": {"beta": 4.0}, "seed": 0, "steps": 300, "status": "done",
           "shortened": True, "run_dir": "/tmp/x/r1", "device": "cpu", "train_seconds": 12.5,
           "provenance": {"study": "tiny", "command": "factorbench sweep tiny"}}
    run.update(overrides)
    return run


def _evaluation(seed=0, protocol="fast", scale=1.0, extra_key=True):
    mig = {"mig": 0.25 * scale}
    if extra_key:
        mig["old_key"] = 1.0
    return {
        "scores": {"mig": mig, "dci": {"disentanglement": 0.5 * scale, "completeness": float("nan")}},
        "details": {"mig": {"mi_matrix": [[0.1, 0.2], [0.3, 0.4]]}, "dci": {"importance_matrix": [[1.0], [0.0]]}},
        "protocol": protocol, "seed": seed, "sample_sizes": {"mig": 1000}, "versions": {"numpy": "2"},
        "seconds": {"mig": 0.5, "dci": 1.5},
    }


def test_round_trip_with_provenance(tmp_path):
    store = ResultsStore(tmp_path / "sub" / "results.db")
    assert store.record_run(_run()) == "r1"
    assert store.record_evaluation("r1", _evaluation()) == 4
    (run,) = store.runs()
    assert run["hparams"] == {"beta": 4.0} and run["shortened"] is True and run["trusted_code"] is False
    assert run["kind"] == "trained" and run["provenance"]["study"] == "tiny" and run["train_seconds"] == 12.5
    assert "python" in run["versions"] and "git_revision" in run and run["created_at"]
    assert store.runs(dataset="other") == [] and store.runs(kind="trained")[0]["run_id"] == "r1"
    scores = {(s["metric"], s["key"]): s for s in store.scores(["r1"])}
    assert scores["mig", "mig"]["value"] == 0.25 and scores["mig", "mig"]["sample_sizes"] == {"mig": 1000}
    assert scores["mig", "mig"]["protocol"] == "fast" and scores["mig", "mig"]["eval_seed"] == 0
    # stored without a protocol version (as before versions were recorded): read back labelled version 1
    assert scores["mig", "mig"]["versions"] == {"numpy": "2", "protocol": "fast/1"}
    assert scores["dci", "disentanglement"]["seconds"] == 1.5
    assert scores["dci", "completeness"]["value"] is None  # NaN is a gap, never a number
    assert store.details("r1") == {"mig": {"mi_matrix": [[0.1, 0.2], [0.3, 0.4]]},
                                   "dci": {"importance_matrix": [[1.0], [0.0]]}}
    assert store.details("r1", "sampled") == {}
    assert store.scores(dataset="sprites") == store.scores() and store.scores([]) == []
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_upsert_merges_and_keeps_created_at(tmp_path):
    store = ResultsStore(tmp_path / "results.db")
    store.record_run(_run(status="running", train_seconds=None))
    store.record_evaluation("r1", _evaluation())
    created = store.run("r1")["created_at"]
    store.record_run({"run_id": "r1", "status": "done", "train_seconds": 3.0})
    assert len(store.scores(["r1"])) == 4 and store.details("r1")  # updating a run keeps its scores
    (run,) = store.runs()
    assert run["status"] == "done" and run["train_seconds"] == 3.0 and run["hparams"] == {"beta": 4.0}
    assert run["created_at"] == created and run["updated_at"] >= created
    fresh = store.record_run({"dataset": "sprites", "model": "vae", "kind": "baseline"})
    assert fresh != "r1" and store.run(fresh)["name"] == fresh
    assert store.find_runs("beta_vae-b4-s0")[0]["run_id"] == "r1" and store.find_runs("r1")[0]["run_id"] == "r1"


def test_reevaluation_replaces_by_natural_key(tmp_path):
    store = ResultsStore(tmp_path / "results.db")
    store.record_run(_run())
    store.record_evaluation("r1", _evaluation(seed=0))
    store.record_evaluation("r1", _evaluation(seed=1, scale=2.0))  # another eval seed: kept side by side
    store.record_evaluation("r1", _evaluation(seed=0, scale=3.0, extra_key=False))  # same key: replaces
    rows = store.scores(["r1"], metric="mig")
    by_seed = {(r["eval_seed"], r["key"]): r["value"] for r in rows}
    assert by_seed == {(0, "mig"): 0.75, (1, "mig"): 0.5, (1, "old_key"): 1.0}
    assert len(store.scores(["r1"])) == 3 + 4
    store.record_evaluation("r1", _evaluation(seed=0), representation="sampled")
    assert len(store.scores(["r1"], representation="sampled")) == 4
    assert store.delete_run("r1") and store.scores() == [] and store.details("r1") == {}


def test_user_mistakes_are_value_errors(tmp_path):
    store = ResultsStore(tmp_path / "results.db")
    with pytest.raises(ValueError, match="unknown field"):
        store.record_run(_run(colour="red"))
    with pytest.raises(ValueError, match="needs 'model'"):
        store.record_run({"dataset": "sprites"})
    with pytest.raises(ValueError, match="kind must be"):
        store.record_run(_run(kind="weird"))
    with pytest.raises(ValueError, match="record_run it first"):
        store.record_evaluation("nope", _evaluation())
    with pytest.raises(ValueError, match="no 'protocol'"):
        store.record_run(_run()) and store.record_evaluation("r1", {"scores": {}, "seed": 0})
    with pytest.raises(ValueError, match="is a folder"):
        ResultsStore(tmp_path)
    with sqlite3.connect(store.path) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(ValueError, match="newer"):
        ResultsStore(store.path)


def test_default_path_follows_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("FACTORBENCH_RESULTS", raising=False)
    assert str(default_path()) == "factorbench-results/results.db"
    monkeypatch.setenv("FACTORBENCH_RESULTS", str(tmp_path))
    assert default_path() == tmp_path / "results.db"
    monkeypatch.setenv("FACTORBENCH_RESULTS", str(tmp_path / "x.db"))
    assert ResultsStore().path == tmp_path / "x.db"


def test_transaction_is_all_or_nothing(tmp_path):
    store = ResultsStore(tmp_path / "results.db")
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.record_run(_run())
            store.record_evaluation("r1", _evaluation())
            raise RuntimeError("crash in the middle of a run")
    assert store.runs() == [] and store.scores() == []


def _writer(path, worker, barrier, count):
    store = ResultsStore(path)
    run_id = store.record_run(_run(run_id=f"w{worker}", name=f"worker-{worker}"))
    barrier.wait()
    for i in range(count):
        store.record_evaluation(run_id, {"scores": {f"m{i}": {"value": worker + i / 1000}}, "protocol": "fast",
                                         "seed": 0, "sample_sizes": {"n": i}})


def _atomic_writer(path, runs, per_run):
    store = ResultsStore(path)
    for r in range(runs):
        with store.transaction():
            store.record_run(_run(run_id=f"a{r}"))
            for i in range(per_run):
                store.record_evaluation(f"a{r}", {"scores": {f"m{i}": {"v": 1.0}}, "protocol": "fast", "seed": 0})


def test_eight_processes_writing_100_scores_each_lose_nothing(tmp_path):
    path = tmp_path / "results.db"
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(8)
    workers = [ctx.Process(target=_writer, args=(path, w, barrier, 100)) for w in range(8)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(120)
    assert [p.exitcode for p in workers] == [0] * 8
    rows = ResultsStore(path).scores()
    assert len(rows) == 800
    got = {(r["run_id"], r["metric"]): r["value"] for r in rows}
    assert all(math.isclose(got[f"w{w}", f"m{i}"], w + i / 1000) for w in range(8) for i in range(100))


def test_readers_never_see_half_a_run(tmp_path):
    path = tmp_path / "results.db"
    store = ResultsStore(path)
    writer = multiprocessing.get_context("spawn").Process(target=_atomic_writer, args=(path, 30, 40))
    writer.start()
    seen = set()
    while writer.is_alive() or not seen:
        counts = {}
        for row in store.scores():
            counts[row["run_id"]] = counts.get(row["run_id"], 0) + 1
        runs = {run["run_id"] for run in store.runs()}
        assert set(counts) <= runs
        assert all(counts.get(run_id, 0) == 40 for run_id in runs if run_id in counts)
        seen.update(counts.values())
        if not writer.is_alive() and len(runs) == 30:
            break
    writer.join()
    assert writer.exitcode == 0 and seen <= {40}
    assert len(store.scores()) == 30 * 40
