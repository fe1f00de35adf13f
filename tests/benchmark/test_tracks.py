"""Tracks: frozen contracts, their ids, how evaluations meet them, and the schema-1 -> 2 migration of a real store
file written by the code before tracks existed (data/store_v1.db, see data/make_store_v1.py)."""

from __future__ import annotations

import dataclasses
import shutil
import sqlite3
from pathlib import Path

import pytest

from factorbench.benchmark import tracks
from factorbench.benchmark.store import ResultsStore
from factorbench.benchmark.store_schema import SCHEMA_VERSION
from factorbench.metrics.driver import DEFAULT_SIZES, PROTOCOL_VERSIONS

V1_STORE = Path(__file__).resolve().parent / "data" / "store_v1.db"
STUDY = {"steps": 300000, "batch_size": 64, "learning_rate": 1e-4, "architecture": "conv", "num_latents": 10,
         "dlib_step_counter": False}


def _evaluation(protocol="fast", sizes=None, seed=0, version=None):
    version = PROTOCOL_VERSIONS[protocol] if version is None else version
    return {"scores": {"mig": {"mig": 0.3}}, "protocol": protocol, "seed": seed,
            "sample_sizes": dict(sizes or {"train": 10000}), "versions": {"protocol": f"{protocol}/{version}"}}


def _run(**changes):
    return {"dataset": "sprites", "dataset_version": "1.0.0", "kind": "trained", "training": dict(STUDY), **changes}


def test_builtin_tracks_cover_every_dataset_and_protocol_with_the_study_sizes():
    names = tracks.names()
    for dataset in ("sprites", "xysquares", "shapes3d", "dsprites"):
        for protocol in ("dlib", "fast"):
            track = tracks.get(f"{dataset}-{protocol}")
            assert track.sizes == DEFAULT_SIZES and dict(track.training) == STUDY
            assert track.protocol_version == PROTOCOL_VERSIONS[protocol] and track.family == f"study-{protocol}"
    quick = tracks.get("quickstart")
    assert quick.sizes["train"] == 1000 and dict(quick.training)["steps"] == tracks.QUICKSTART_TRAINING["steps"]
    assert "tiny" in names and "identity-fast" not in names
    ids = [t.id for t in tracks.builtin().values()]
    assert len(set(ids)) == len(ids)
    with pytest.raises(ValueError, match="Did you mean 'sprites-fast'"):
        tracks.get("sprite-fast")


def test_a_track_id_changes_with_any_field_of_its_contract():
    track = tracks.get("sprites-fast")
    assert track.id == dataclasses.replace(track).id  # content-derived, stable
    changed = [dataclasses.replace(track, protocol_version=track.protocol_version + 1),
               dataclasses.replace(track, sample_sizes=tuple(sorted({**track.sizes, "train": 5}.items()))),
               dataclasses.replace(track, training=tuple({**STUDY, "batch_size": 16}.items())),
               dataclasses.replace(track, eval_seeds=(0, 1)), dataclasses.replace(track, dataset_version="9"),
               dataclasses.replace(track, name="other"), dataclasses.replace(track, version=2)]
    assert len({track.id, *(t.id for t in changed)}) == len(changed) + 1


@pytest.mark.parametrize(("run", "evaluation", "representation", "expected"), [
    (_run(), _evaluation(), "mean", "sprites-fast"),
    (_run(), _evaluation("dlib", {"train": 10000, "test": 5000}), "mean", "sprites-dlib"),
    (_run(), _evaluation(version=1), "mean", None),  # made by an older definition of the protocol
    (_run(), _evaluation(sizes={"train": 1000}), "mean", None),  # other sizes
    (_run(), _evaluation(seed=3), "mean", None),
    (_run(), _evaluation(), "sampled", None),
    (_run(dataset_version="0.9"), _evaluation(), "mean", None),
    (_run(training={**STUDY, "batch_size": 16}), _evaluation(), "mean", None),  # another training budget
    (_run(training={**STUDY, "steps": 200}), _evaluation(), "mean", None),
    (_run(kind="submission", training={}), _evaluation(), "mean", "sprites-fast"),  # declares its training
    (_run(training=tracks.QUICKSTART_TRAINING), _evaluation(sizes={"train": 1000, "test": 500}), "mean",
     "quickstart"),
])
def test_resolve_finds_the_one_track_an_evaluation_meets(run, evaluation, representation, expected):
    found = tracks.resolve(run, evaluation, representation)
    assert (found.name if found else None) == expected


def test_a_requested_track_must_be_met():
    with pytest.raises(ValueError, match="does not meet track sprites-fast: sample size train=1000"):
        tracks.resolve(_run(), _evaluation(sizes={"train": 1000}), requested="sprites-fast")
    assert tracks.resolve(_run(), _evaluation(), requested="sprites-fast").name == "sprites-fast"


def test_the_store_records_each_evaluations_track(tmp_path):
    store = ResultsStore(tmp_path / "results.db")
    store.record_run({"run_id": "a", **_run(), "model": "beta_vae", "steps": 300000})
    store.record_evaluation("a", _evaluation())
    store.record_evaluation("a", _evaluation(sizes={"train": 500}, seed=1))
    store.record_training("a", {"reconstruction": 3.0})
    by_seed = {(s["protocol"], s["eval_seed"]): s["track_id"] for s in store.scores(["a"])}
    assert by_seed == {("fast", 0): tracks.get("sprites-fast").id, ("fast", 1): None, ("training", 0): None}
    assert store.tracks()[tracks.get("sprites-fast").id]["contract"] == tracks.get("sprites-fast").contract()
    with pytest.raises(ValueError, match="does not meet track quickstart"):
        store.record_evaluation("a", {**_evaluation(), "track": "quickstart"})


def test_a_schema_1_store_opens_migrated_with_tracks_derived_where_they_can_be(tmp_path):
    path = tmp_path / "old.db"
    shutil.copyfile(V1_STORE, path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    store = ResultsStore(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    track_of = {}
    for score in store.scores():
        if score["metric"] != "training":
            track_of.setdefault((score["run_id"], score["representation"]), set()).add(score["track_id"])
    names = {t["track_id"]: t["name"] for t in store.tracks().values()}
    assert {key: {names.get(i) for i in ids} for key, ids in track_of.items()} == {
        ("study", "mean"): {"sprites-fast"},
        ("study", "sampled"): {None},  # the tracks rank the mean representation
        ("study-dlib", "mean"): {None},  # no recorded version: dlib/1, before InfoE's fit changed: ad hoc
        ("live", "mean"): {"quickstart"},
        ("short", "mean"): {None},  # study sizes, but 100 steps at batch 16: ad hoc
        ("old-fast", "mean"): {None},  # fast/1, before the probe changed: ad hoc
        ("baseline-x", "mean"): {"quickstart"},  # a baseline declares its training
    }
    assert store.run("short")["training"] == {**STUDY, "steps": 100, "batch_size": 16, "learning_rate": 1e-3}
    assert store.run("baseline-x")["training"] == {"steps": 600, "batch_size": 64, "learning_rate": 1e-3}
    assert store.run("live")["submitter"] == {}
    keys = {(s["run_id"], s["representation"]): s["evaluation"] for s in store.scores() if s["metric"] != "training"}
    assert keys[("study", "mean")] == tracks.get("sprites-fast").id and keys[("short", "mean")].startswith("adhoc-")
    assert keys[("short", "mean")] != keys[("old-fast", "mean")]  # another protocol version: another contract
    # The migrated store takes a new evaluation of another contract beside the old one, replacing nothing.
    store.record_evaluation("short", {**_evaluation(sizes={"train": 500}), "scores": {"mig": {"mig": 0.9}}})
    assert sorted(s["value"] for s in store.scores(["short"]) if s["metric"] == "mig") == [0.25, 0.9]
    ResultsStore(path)  # opening again is a no-op
    assert len(store.scores()) == 32  # nothing lost: 6 runs x (2 scores + 3 training) + 1 sampled, + the new one
