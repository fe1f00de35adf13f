"""`factorbench results list|export` and `factorbench compare` on a real store filled through the write API."""

from __future__ import annotations

import csv
import json

import pyarrow.parquet as pq
import pytest

from factorbench.benchmark.cli import main
from factorbench.benchmark.store import ResultsStore


@pytest.fixture()
def store(tmp_path):
    store = ResultsStore(tmp_path / "results.db")
    for seed, beta in ((0, 1.0), (1, 4.0)):
        run_id = store.record_run({"run_id": f"tiny-{seed}", "name": f"tiny-beta{beta:g}-s{seed}",
                                   "dataset": "sprites", "dataset_version": "1.0.0", "model": "beta_vae",
                                   "hparams": {"beta": beta}, "seed": seed, "steps": 4, "shortened": True,
                                   "run_dir": str(tmp_path / f"runs/beta_vae-s{seed}")})
        store.record_training(run_id, {"reconstruction": 2000.0 + seed, "kl": 3.0, "loss": 2003.0})
        store.record_evaluation(run_id, {
            "scores": {"mig": {"mig": 0.1 * (seed + 1)}, "dci": {"disentanglement": 0.2, "completeness": 0.3}},
            "details": {"mig": {"mi_matrix": [[0.5, 0.0], [0.0, 0.25], [0.1, 0.1], [0, 0], [0, 0]]},
                        "dci": {"importance_matrix": [[0.9, 0.1, 0, 0, 0], [0.1, 0.9, 0, 0, 0]]}},
            "protocol": "fast", "seed": 0, "sample_sizes": {"train": 100}, "versions": {"numpy": "2"}})
    return store


def test_export_formats_round_trip(store, tmp_path, capsys):
    for fmt in ("csv", "json", "parquet"):
        out = tmp_path / f"export.{fmt}"
        assert main(["results", "--store", str(store.path), "export", "--format", fmt, "--out", str(out)]) == 0
        assert "wrote 12 scores of 2 runs" in capsys.readouterr().out
        if fmt == "csv":
            rows = list(csv.DictReader(out.open()))
        elif fmt == "json":
            rows = json.loads(out.read_text())
        else:
            rows = pq.read_table(out).to_pylist()
        assert len(rows) == 12
        mig = [r for r in rows if r["metric"] == "mig" and r["run_id"] == "tiny-1"][0]
        assert float(mig["value"]) == pytest.approx(0.2) and mig["dataset_version"] == "1.0.0"
        assert json.loads(mig["hparams"]) == {"beta": 4.0} and json.loads(mig["sample_sizes"]) == {"train": 100}
        assert mig["protocol"] == "fast" and str(mig["shortened"]) in ("True", "true", "1")
    assert main(["results", "--store", str(store.path), "list"]) == 0
    assert "2 runs" in capsys.readouterr().out
    assert main(["results", "--store", str(tmp_path / "nope.db"), "list"]) == 2


def test_compare_side_by_side(store, tmp_path, capsys):
    assert main(["compare", "tiny-0", "tiny-beta4-s1", "--store", str(store.path)]) == 0
    out = capsys.readouterr().out
    assert "mean/fast/seed 0" in out and "mean/training/seed 0" in out
    mig_line = next(line for line in out.splitlines() if line.strip().startswith("mig/mig"))
    assert mig_line.split()[1:] == ["0.1000", "0.2000"]
    assert "mig/mi_matrix (factors x codes, mean)" in out and "dci/importance_matrix" in out
    assert "\n  shape " in out and "\n  scale " in out  # rows labelled with the dataset's factor names
    assert main(["compare", "tiny-0", "--json", "--store", str(store.path)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["matrices"]["tiny-0"]["mig/mi_matrix"][0] == [0.5, 0.0]
    assert main(["compare", "nothing", "--store", str(store.path)]) == 2
    assert "no run 'nothing'" in capsys.readouterr().err
    store.record_run({"run_id": "other", "name": "tiny-0", "dataset": "sprites", "model": "vae"})
    assert main(["compare", "tiny-0", "--store", str(store.path)]) == 2
    assert "matches 2 runs" in capsys.readouterr().err


def test_results_takes_store_after_the_action_too(tmp_path, capsys):
    store = ResultsStore(tmp_path / "after.db")
    store.record_run({"dataset": "sprites", "model": "vae", "seed": 0})
    assert main(["results", "list", "--store", str(store.path)]) == 0
    assert "1 runs in" in capsys.readouterr().out
