"""Write store_v1.db with the schema-1 store code, as a store written before tracks existed looks.

    git show 81ab432:benchmark/store.py > /tmp/store_v1.py
    python tests/benchmark/data/make_store_v1.py tests/benchmark/data/store_v1.db /tmp
"""
import sys
from pathlib import Path

sys.path.insert(0, sys.argv[2])
from store_v1 import SCHEMA_VERSION, ResultsStore  # noqa: E402

assert SCHEMA_VERSION == 1
out = Path(sys.argv[1])
out.unlink(missing_ok=True)
store = ResultsStore(out)
full = {"train": 10000, "test": 5000}
quick = {"train": 1000, "test": 500}


def config(steps, lr, batch):
    return {"dataset": "sprites", "dataset_version": "1.0.0", "objective": "beta_vae", "steps": steps,
            "batch_size": batch, "learning_rate": lr, "architecture": "conv", "num_latents": 10,
            "dlib_step_counter": False}


runs = [
    # run id, kind, steps, provenance, evaluation protocol, sizes, protocol version recorded
    ("study", "trained", 300000, {"config": config(300000, 1e-4, 64)}, "fast", full, "fast/2"),
    ("study-dlib", "trained", 300000, {"config": config(300000, 1e-4, 64)}, "dlib", full, None),
    ("live", "trained", 200, {"config": config(200, 1e-3, 64)}, "fast", quick, "fast/2"),
    ("short", "trained", 100, {"config": config(100, 1e-3, 16)}, "fast", full, "fast/2"),
    ("old-fast", "trained", 300000, {"config": config(300000, 1e-4, 64)}, "fast", full, None),
    ("baseline-x", "baseline", 600, {"learning_rate": 1e-3, "batch_size": 64, "steps": 600}, "fast", quick, "fast/2"),
]
for run_id, kind, steps, provenance, protocol, sizes, pv in runs:
    store.record_run({"run_id": run_id, "dataset": "sprites", "dataset_version": "1.0.0", "model": "beta_vae",
                      "hparams": {"beta": 4.0}, "seed": 0, "steps": steps, "kind": kind, "provenance": provenance})
    versions = {"numpy": "2.4"} | ({"protocol": pv} if pv else {})
    store.record_evaluation(run_id, {"scores": {"mig": {"mig": 0.25}, "sap": {"sap": 0.1}}, "protocol": protocol,
                                     "seed": 0, "sample_sizes": sizes, "versions": versions})
    store.record_training(run_id, {"reconstruction": 30.0, "kl": 5.0, "loss": 35.0})
store.record_evaluation("study", {"scores": {"mig": {"mig": 0.2}}, "protocol": "fast", "seed": 0,
                                  "sample_sizes": full, "versions": {"protocol": "fast/2"}}, representation="sampled")
print(out, out.stat().st_size)
