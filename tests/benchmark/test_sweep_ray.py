"""A tiny sweep through Ray: a local cluster on 2 CPUs, tasks train and evaluate, the driver alone writes the store."""

from __future__ import annotations

import math

import pytest

from factorbench.benchmark.executors import RayExecutor, run_sweep
from factorbench.benchmark.store import ResultsStore
from factorbench.benchmark.studies import get_study

ray = pytest.importorskip("ray", reason="LOUD SKIP: Ray is not installed (pip install 'factorbench[ray]'); "
                          "the ray executor is untested")


# ray.init starts its daemons with fork+exec (safe: nothing runs between them); JAX warns about any fork.
@pytest.mark.filterwarnings("ignore:os.fork\\(\\) was called:RuntimeWarning")
def test_tiny_sweep_through_ray(tmp_path):
    study = get_study("tiny")
    configs = study.configs(seeds=[0], hparams={"beta": [1.0]})  # one model of each method: two ensembles
    assert len({c.group for c in configs}) == 2
    store = ResultsStore(tmp_path / "results.db")
    summary = run_sweep(study, configs, store=store, out_dir=tmp_path / "out", steps=2, progress=False,
                        executor=RayExecutor(num_cpus=2))
    assert summary["failed"] == {} and len(summary["recorded"]) == 2
    assert not ray.is_initialized()  # the executor stopped the cluster it started
    recorded = store.runs()
    assert {r["model"] for r in recorded} == {"beta_vae", "beta_tc_vae"}
    assert all(r["provenance"]["executor"] == "ray" and r["status"] == "done" for r in recorded)
    scores = [s for s in store.scores() if s["metric"] in study.metrics]
    assert {(s["run_id"], s["metric"]) for s in scores} == {(r["run_id"], m) for r in recorded for m in study.metrics}
    assert all(math.isfinite(s["value"]) for s in scores)
