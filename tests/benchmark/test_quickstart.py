"""The main job: shipped baselines and `factorbench quickstart` end to end, ending in a real browser."""

from __future__ import annotations

import collections
import contextlib
import hashlib
import io
import json
import math
import os
import re
from pathlib import Path
from unittest import mock

import numpy as np
import pytest

from factorbench.benchmark import baselines as bl
from factorbench.benchmark import tracks
from factorbench.benchmark.cli import main
from factorbench.benchmark.store import ResultsStore
from factorbench.metrics.driver import PROTOCOL_VERSIONS
from factorbench.metrics.reproducibility import tolerance

SHIPPED = bl.load_manifest()


def test_every_shipped_baseline_is_present_labelled_and_small():
    assert SHIPPED, "no shipped baselines: benchmark/baselines/manifest.json is missing"
    per_method = collections.Counter(b.objective for b in SHIPPED)
    assert len(per_method) >= 6 and min(per_method.values()) >= 2, per_method  # the Locatello methods, >= 2 seeds
    total = 0
    for baseline in SHIPPED:
        path = bl.check_file(baseline)
        total += path.stat().st_size
        assert baseline.shortened == (baseline.steps < 300_000)
        assert baseline.device and baseline.date and baseline.steps > 0 and baseline.learning_rate > 0
        record = baseline.record()
        assert record["kind"] == "baseline" and record["steps"] == baseline.steps
        assert record["shortened"] == baseline.shortened
    assert total < 40 * 2**20, f"shipped baselines weigh {total / 2**20:.1f} MiB"


def test_a_damaged_baseline_is_refused_with_a_clear_error(tmp_path):
    baseline = SHIPPED[0]
    (tmp_path / baseline.file).write_bytes(b"not an encoder")
    with pytest.raises(bl.BaselineError, match="does not match its manifest.*reinstall"):
        bl.check_file(baseline, tmp_path)
    with pytest.raises(bl.BaselineError, match="is missing"):
        bl.check_file(SHIPPED[1], tmp_path)


def test_baseline_scores_separate_the_methods():
    """The packed scores are real: above chance (1 / 5 factors for BetaVAE and FactorVAE), and the methods differ."""
    by_method = collections.defaultdict(list)
    for baseline in SHIPPED:
        by_method[baseline.objective].append(baseline.scores)
    chance = 1 / 5

    def mean(metric: str, key: str, runs: list[dict]) -> float:
        return float(np.mean([r[metric][key] for r in runs]))

    every = [r for runs in by_method.values() for r in runs]
    assert mean("beta_vae", "eval_accuracy", every) > chance + 0.1
    assert mean("factor_vae", "eval_accuracy", every) > chance + 0.1
    assert max(r["dci"]["disentanglement"] for r in every) > 0.1
    per_method = {m: mean("factor_vae", "eval_accuracy", runs) for m, runs in by_method.items()}
    assert max(per_method.values()) - min(per_method.values()) > 0.05, per_method


def test_quickstart_rescoring_reproduces_the_packed_scores(quickstart):
    """The quickstart computes the baselines' scores on this machine; they match what was packed on another, within
    the reproducibility bound of each score's kind (`factorbench.metrics.reproducibility`)."""
    out, _ = quickstart
    assert bl.packed_protocol_version() == PROTOCOL_VERSIONS[bl.EVALUATION["protocol"]], \
        "the packed scores predate the protocol's current version: python -m factorbench.benchmark.baselines --rescore"
    baseline = SHIPPED[0]
    stored = [s for s in ResultsStore(out / "results.db").scores([baseline.run_id]) if s["protocol"] == "fast"]
    assert stored
    now = {(s["metric"], s["key"]): s["value"] for s in stored}
    compared = 0
    for metric, keys in baseline.scores.items():
        for key, packed in keys.items():
            if packed is None or (isinstance(packed, float) and math.isnan(packed)):
                continue
            bound = tolerance(metric, key, "fast", bl.EVALUATION["sizes"])
            assert abs(now[metric, key] - packed) <= bound, f"{metric}/{key}: {now[metric, key]} here, {packed} " \
                f"when packed (bound {bound:g})"
            compared += 1
    assert compared > 20


def test_pack_writes_a_manifest_the_loader_reads(tmp_path, trained_run_dir):
    packed = bl.pack([trained_run_dir], tmp_path, progress=False)
    assert len(packed) == 1
    manifest = json.loads((tmp_path / bl.MANIFEST_NAME).read_text())
    assert manifest["format"] == bl.FORMAT
    assert manifest["evaluation"] == {**bl.EVALUATION, "protocol_version": PROTOCOL_VERSIONS["fast"]}
    (loaded,) = bl.load_manifest(tmp_path)
    assert loaded.sha256 == hashlib.sha256((tmp_path / loaded.file).read_bytes()).hexdigest()
    assert "mig" in loaded.scores and loaded.steps == json.loads((trained_run_dir / "config.json").read_text())["steps"]


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory):
    """A reduced quickstart into the default store ($FACTORBENCH_RESULTS): one baseline, one live seed, 2 updates."""
    out = tmp_path_factory.mktemp("quickstart")
    printed = io.StringIO()
    with mock.patch.dict(os.environ, {"FACTORBENCH_RESULTS": str(out / "results.db")}), \
            contextlib.redirect_stdout(printed):
        code = main(["quickstart", "--out", str(out), "--seeds", "1", "--steps", "2", "--max-baselines", "1",
                     "--no-progress"])
        assert code == 0
        assert main(["results", "list"]) == 0  # the default store: no --store needed
    return out, printed.getvalue()


@pytest.fixture(scope="module")
def trained_run_dir(quickstart):
    out, _ = quickstart
    (run_dir,) = (out / "quickstart-runs").iterdir()
    return run_dir


def test_quickstart_writes_grids_store_and_prints_the_page_to_open(quickstart):
    out, printed = quickstart
    assert (out / "grid-sprites.png").stat().st_size > 1000
    index = re.search(r"leaderboard: (\S+index\.html)", printed)
    assert index and (out / "site" / "index.html").resolve() == Path(index[1])
    store = ResultsStore(out / "results.db")
    runs = store.runs()
    assert collections.Counter(r["kind"] for r in runs) == {"baseline": 1, "trained": 1}
    live = next(r for r in runs if r["kind"] == "trained")
    assert live["shortened"] and live["model"] == "beta_vae"
    config = json.loads((Path(live["run_dir"]) / "config.json").read_text())
    assert config["steps"] == config["updates"] == 2 and "stopped_by_budget" not in config
    scored = {(s["run_id"], s["metric"]) for s in store.scores() if s["protocol"] == "fast"}
    for run in runs:
        assert (run["run_id"], "mig") in scored and (run["run_id"], "factor_vae") in scored
    # The baseline is in the quickstart track; 2 updates are not the track's training length: ad hoc, and said so.
    tracks_of = {s["run_id"]: s["track_id"] for s in store.scores() if s["protocol"] == "fast"}
    assert tracks_of[SHIPPED[0].run_id] == tracks.get("quickstart").id and tracks_of[live["run_id"]] is None
    assert "ad hoc (2 updates is not the quickstart track's" in printed
    listed = printed.split("runs in")[1]
    assert live["run_id"] in listed and SHIPPED[0].run_id in listed and "[quickstart]" in listed


def test_the_live_training_is_a_fixed_number_of_updates_and_repeats_exactly(quickstart, trained_run_dir,
                                                                            tmp_path):
    """Retrained, the live model is the same function: the same updates give the same weights, so the same scores
    on the same machine (no time budget decides how far it gets)."""
    from factorbench.benchmark.commands.quickstart import _train
    from factorbench.models import load_encoder

    training = {**tracks.QUICKSTART_TRAINING, "steps": 2}
    (again,) = _train(tmp_path / "again", 1, training, progress=False)
    images = np.random.default_rng(0).uniform(0, 1, (8, 64, 64, 1)).astype(np.float32)
    first = np.asarray(load_encoder(trained_run_dir / "encoder_mean.jaxexport")(images))
    second = np.asarray(load_encoder(again / "encoder_mean.jaxexport")(images))
    assert np.array_equal(first, second)
    assert tracks.QUICKSTART_TRAINING["steps"] >= 100  # the demo's own length: a model that learns something


def test_quickstart_site_opens_in_chromium_with_baselines_and_the_live_model(quickstart, page):
    out, _ = quickstart
    page.goto((out / "site" / "datasets" / "sprites" / "index.html").as_uri())
    rows = page.locator("table tbody tr")
    texts = [rows.nth(i).inner_text() for i in range(rows.count())]
    assert any("baseline" in t for t in texts), texts
    assert any("beta_vae" in t and "baseline" not in t for t in texts), texts
    assert any("shortened" in t for t in texts), texts
    assert not page.problems, page.problems
