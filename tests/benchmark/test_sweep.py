"""The tiny study end to end through `factorbench sweep` (local executor), resume, evaluate and export.

One test on purpose: the sweep trains 8 models, and under pytest-xdist every test of a module may land on another
worker, which would train them again.
"""

from __future__ import annotations

import json
import math

from factorbench import datasets
from factorbench.benchmark import runs
from factorbench.benchmark.cli import main
from factorbench.benchmark.executors import plan_sweep, run_sweep
from factorbench.benchmark.store import ResultsStore
from factorbench.benchmark.studies import get_study

STEPS = 2


def test_tiny_study_end_to_end(tmp_path, capsys):
    db, out = tmp_path / "results.db", tmp_path / "out"
    common = ["--store", str(db), "--out", str(out), "--no-progress"]
    assert main(["sweep", "tiny", "--steps", str(STEPS), *common]) == 0
    assert "tiny: 8 recorded, 0 already done, 0 failed" in capsys.readouterr().out

    store = ResultsStore(db)
    recorded = store.runs(dataset="sprites")
    assert len(recorded) == 8 and {r["model"] for r in recorded} == {"beta_vae", "beta_tc_vae"}
    version = datasets.load("sprites").info.version
    for run in recorded:
        assert run["status"] == "done" and run["shortened"] and run["steps"] == STEPS and run["kind"] == "trained"
        assert run["dataset_version"] == version and run["versions"] and run["provenance"]["study"] == "tiny"
        assert run["run_id"] == f"tiny-{run['provenance']['model_num']:05d}-{STEPS}steps"
        assert runs.read_config(run["run_dir"])["seed"] == run["seed"]
    scores = store.scores(dataset="sprites")
    study = get_study("tiny")
    for run in recorded:
        mine = [s for s in scores if s["run_id"] == run["run_id"]]
        assert {s["metric"] for s in mine} == {*study.metrics, "training"}
        for s in mine:
            assert s["value"] is not None and math.isfinite(s["value"])
            if s["metric"] != "training":
                assert s["protocol"] == "fast" and s["eval_seed"] == 0 and s["sample_sizes"]
    assert {s["key"] for s in scores if s["metric"] == "training"} >= {"reconstruction", "kl", "loss"}

    # Resume: nothing left to do.
    summary = run_sweep(study, study.configs(), store=store, out_dir=out, steps=STEPS, progress=False)
    assert summary["recorded"] == [] and len(summary["skipped"]) == 8

    # A run whose scores went missing is evaluated again (not retrained), with identical numbers (same seed).
    victim = recorded[3]
    before = {(s["metric"], s["key"]): s["value"] for s in store.scores([victim["run_id"]], protocol="fast")}
    with store.transaction() as conn:
        conn.execute("DELETE FROM scores WHERE run_id = ? AND metric != 'training'", (victim["run_id"],))
    plan = plan_sweep(study, study.configs(), store=store, out_dir=out, steps=STEPS)
    assert [(m.run_id, m.train, m.representations) for t in plan.tasks for m in t.members] == [
        (victim["run_id"], False, ["mean"])]
    summary = run_sweep(study, study.configs(), store=store, out_dir=out, steps=STEPS, progress=False)
    assert summary["recorded"] == [victim["run_id"]]
    after = {(s["metric"], s["key"]): s["value"] for s in store.scores([victim["run_id"]], protocol="fast")}
    assert after == before

    # `factorbench evaluate` on a swept run dir: the same run gets the sampled representation; mean scores stay.
    sizes = [f"--sample-size={k}={v}" for k, v in study.sample_sizes]
    assert main(["evaluate", victim["run_dir"], "--protocol", "fast", "--metrics", *study.metrics, *sizes,
                 "--representation", "sampled", "--store", str(db), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert f"recorded run {victim['run_id']}" in printed and "mig" in printed
    assert len(store.runs()) == 8
    again = {(s["metric"], s["key"]): s["value"]
             for s in store.scores([victim["run_id"]], protocol="fast", representation="mean")}
    assert again == before
    sampled = store.scores([victim["run_id"]], representation="sampled")
    assert {s["metric"] for s in sampled} == set(study.metrics)
    assert store.run(victim["run_id"])["provenance"]["study"] == "tiny"  # provenance kept on re-record

    # Export and compare read what the sweep wrote.
    export = tmp_path / "all.json"
    assert main(["results", "--store", str(db), "export", "--format", "json", "--out", str(export)]) == 0
    rows = json.loads(export.read_text())
    assert len(rows) == len(store.scores()) and {r["dataset"] for r in rows} == {"sprites"}
    assert main(["compare", recorded[0]["run_id"], recorded[1]["name"], "--store", str(db)]) == 0
    assert "mig/" in capsys.readouterr().out
