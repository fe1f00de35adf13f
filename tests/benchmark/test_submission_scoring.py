"""Submissions end to end: the metrics driver scores them, the store records them, the leaderboard ranks them.

The same small encoder, once as a jax.export artefact and once as ONNX (fixed batch, so the scorer pads), must
score identically on the same protocol and seed.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np

from factorbench.benchmark import cli, export_encoder, tracks
from factorbench.benchmark.store import ResultsStore
from factorbench.benchmark.submissions import submit
from factorbench.metrics.driver import PROTOCOL_VERSIONS

METRICS = ["mig", "sap"]  # cheap and both headline columns, so the submissions get a leaderboard rank
SIZES = {"train": 2000, "test": 1000}  # the driver's sample sizes, shrunk (the CLI run below uses the protocol's)
MODULE_NAME = "make"  # tests/benchmark/bad_artefacts/make.py, imported by name (python: specs run in a child)
# A track on the identity fixture dataset with the small sizes above (the built-in tracks use the study's).
SMALL = tracks.every().get("identity-small") or tracks.register(tracks.Track(
    name="identity-small", version=1, dataset="identity", dataset_version="1.0.0", protocol="fast",
    protocol_version=PROTOCOL_VERSIONS["fast"], sample_sizes=tuple(sorted(SIZES.items())),
    description="test track: identity factors, small samples"))


def _load_make():
    folder = str(Path(__file__).parent / "bad_artefacts")
    if folder not in sys.path:
        sys.path.insert(0, folder)  # the encoder's process inherits sys.path, so it finds python:make:... too
    return importlib.import_module(MODULE_NAME)


make = _load_make()


def test_jax_export_and_onnx_score_identically_and_are_recorded_and_ranked(tmp_path):
    # One test, not a module fixture shared by several: under xdist each worker would score them again.
    store = ResultsStore(tmp_path / "results.db")
    jax_file = export_encoder(make.encoder_fn, make.encoder_params(), make.CHANNELS, tmp_path / "enc.jaxexport")
    onnx_file = make.write_onnx(tmp_path / "enc.onnx", batch=7)  # fixed batch: the scorer pads
    results = {
        kind: submit(path, "identity", name=f"linear ({kind})", track=SMALL.name, metrics=METRICS, store=store,
                     progress=False, submitter={"authors": "Ada", "training_steps": 1000} if kind == "jax" else None)
        for kind, path in (("jax", jax_file), ("onnx", onnx_file))
    }

    # Same encoder, same protocol and seed: same scores.
    a, b = results["jax"].evaluation, results["onnx"].evaluation
    assert set(a["scores"]) == set(METRICS) and a["protocol"] == b["protocol"] == "fast" and a["seed"] == b["seed"]
    assert a["sample_sizes"] == b["sample_sizes"] and a["sample_sizes"]["train"] == SIZES["train"]
    for metric in METRICS:
        assert a["scores"][metric].keys() == b["scores"][metric].keys()
        for key, value in a["scores"][metric].items():
            np.testing.assert_allclose(b["scores"][metric][key], value, rtol=1e-4, atol=1e-6, err_msg=f"{metric}/{key}")
    assert a["scores"]["mig"]["mig"] > 0.5  # the band-mean encoder is the identity representation, squashed

    # Recorded as submissions, with provenance and every score.
    runs = {r["run_id"]: r for r in store.runs(dataset="identity", kind="submission")}
    assert set(runs) == {results["jax"].run_id, results["onnx"].run_id}
    for kind, result in results.items():
        run = runs[result.run_id]
        assert run["name"] == f"linear ({kind})" and run["kind"] == "submission" and not run["trusted_code"]
        assert run["dataset_version"] and run["provenance"]["sha256"] == result.artefact.sha256
        assert run["provenance"]["format"] == {"jax": "jax.export", "onnx": "onnx"}[kind]
        stored = {(s["metric"], s["key"]): s["value"] for s in store.scores([result.run_id])}
        expected = {(m, k): v for m, keys in result.evaluation["scores"].items() for k, v in keys.items()}
        assert stored.keys() == expected.keys()
        np.testing.assert_allclose([stored[k] for k in expected], [expected[k] for k in expected], rtol=1e-9)

    # Ranked as the leaderboard ranks: each right after its submission; a tie shares the average rank.
    first, second = results["jax"].standing, results["onnx"].standing
    assert first.position == 1 and first.of == 1 and first.aggregate == 1.0
    assert second.position == 1 and second.of == 2 and second.aggregate == 1.5
    assert {"mig.mig", "sap.sap"} <= set(second.columns) and "rank 1 of 2" in second.describe()
    first_id = results["jax"].run_id
    assert runs[first_id]["submitter"] == {"authors": ["Ada"], "training_steps": 1000}
    assert runs[first_id]["training"] == {"steps": 1000} and runs[results["onnx"].run_id]["submitter"] == {}
    assert {s["track_id"] for s in store.scores([first_id])} == {SMALL.id}

    # Ranked only within its track: the same encoder scored ad hoc (other sizes) ranks nowhere and moves no rank.
    adhoc = submit(jax_file, "identity", name="linear (ad hoc)", metrics=METRICS, store=store, progress=False,
                   sizes={"train": 500, "test": 250})
    assert adhoc.standing is None and adhoc.track is None
    assert {s["track_id"] for s in store.scores([adhoc.run_id])} == {None}
    again = submit(onnx_file, "identity", name="linear (onnx)", track=SMALL.name, metrics=METRICS, store=store,
                   progress=False)
    assert again.standing.of == 2


def test_cli_scores_trusted_python_and_prints_rank(tmp_path, capsys):
    store = ResultsStore(tmp_path / "results.db")
    code = cli.main(["submit", f"python:{MODULE_NAME}:numpy_encoder", "--dataset", "identity", "--name", "numpy",
                     "--track", SMALL.name, "--metrics", "mig", "--results", str(store.path), "--author", "Ada",
                     "--author", "Grace", "--framework", "numpy", "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0, out
    lines = out.splitlines()
    validated = next(i for i, line in enumerate(lines) if "validated python encoder, trusted code, D=4" in line)
    track = next(i for i, line in enumerate(lines) if line.startswith("track: identity-small v1 (given)"))
    scores = next(i for i, line in enumerate(lines) if line.startswith("scores on identity"))
    assert validated < track < scores  # said before scoring started
    assert "train 2,000 / test 1,000 points" in lines[track] and "mig/mig" in out
    assert "leaderboard (identity-small, ranked against that track only): rank 1 of 1" in out
    assert "no --training-steps declared" in out
    (run,) = store.runs(kind="submission")
    assert run["name"] == "numpy" and run["trusted_code"] and run["provenance"]["format"] == "python"
    assert run["submitter"] == {"authors": ["Ada", "Grace"], "framework": "numpy"}
    ours = {(s["metric"], s["key"]): s for s in store.scores([run["run_id"]])}
    assert ("mig", "mig") in ours and ours["mig", "mig"]["value"] > 0.5
    assert ours["mig", "mig"]["protocol"] == "fast" and ours["mig", "mig"]["sample_sizes"]["train"] == 2000
    assert ours["mig", "mig"]["track_id"] == SMALL.id
    # A track of another dataset: one line saying so.
    assert cli.main(["submit", f"python:{MODULE_NAME}:numpy_encoder", "--dataset", "identity", "--name", "x",
                     "--track", "sprites-fast", "--results", str(store.path), "--no-progress"]) == 2
    assert "track sprites-fast is for dataset sprites, not identity" in capsys.readouterr().err


def test_run_folder_sampled_and_mean_share_one_run(tmp_path):
    import jax.numpy as jnp

    params = make.encoder_params()
    export_encoder(make.encoder_fn, params, 1, tmp_path / "encoder_mean.jaxexport")
    export_encoder(lambda p, x: jnp.concatenate([make.encoder_fn(p, x), jnp.full((x.shape[0], make.CODE_DIM), -6.0)],
                                                axis=1), params, 1, tmp_path / "encoder_gaussian.jaxexport")
    store = ResultsStore(tmp_path / "results.db")
    sampled = submit(tmp_path, "identity", name="run", track=SMALL.name, representation="sampled", metrics=["mig"],
                     store=store, progress=False)
    mean = submit(tmp_path, "identity", name="run", track=SMALL.name, metrics=["mig"], store=store, progress=False)
    assert sampled.run_id == mean.run_id and sampled.standing is None and mean.standing.position == 1
    (run,) = store.runs()
    assert run["run_dir"] == str(tmp_path.resolve()) and run["provenance"]["representation"] == "sampled"
    by_rep = {s["representation"]: s["value"] for s in store.scores([run["run_id"]])}
    assert set(by_rep) == {"mean", "sampled"}
    assert 0.3 < by_rep["sampled"] < by_rep["mean"]  # noise of std exp(-3) costs a little MIG


def test_evaluate_and_submit_draw_the_same_sampled_codes(tmp_path):
    """The same model and seed: `evaluate`'s and `submit`'s sampled representations are the same codes."""
    import jax.numpy as jnp

    from factorbench.benchmark.runs import load_representation
    from factorbench.benchmark.submissions import load_artefact, make_encoder

    params = make.encoder_params()
    export_encoder(lambda p, x: jnp.concatenate([make.encoder_fn(p, x), jnp.full((x.shape[0], make.CODE_DIM), -2.0)],
                                                axis=1), params, 1, tmp_path / "encoder_gaussian.jaxexport")
    images = np.random.default_rng(0).uniform(size=(40, 64, 64, 1)).astype(np.float32)
    by_evaluate = load_representation(tmp_path, "sampled", seed=3)
    loaded = load_artefact(tmp_path / "encoder_gaussian.jaxexport", 1, representation="sampled")
    try:
        by_submit = make_encoder(loaded, representation="sampled", seed=3)
        for part in (images[:16], images[16:]):  # two calls: the noise is drawn in call order by both
            np.testing.assert_allclose(by_submit(part), by_evaluate(part), rtol=1e-5, atol=1e-6)
    finally:
        loaded.close()
