"""A run directory proves what it holds: config.json seals the encoders and the final step; edits, swaps, torn
files, a second trainer, damaged checkpoints and full disks are refused in one line or recovered from, saying so.

One tiny run is trained once for the module; every test works on its own copy of it.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from integrity_helpers import assert_one_line_refusal, cli

from factorbench.benchmark import runs
from factorbench.benchmark.cli import main
from factorbench.benchmark.store import ResultsStore
from factorbench.models import binding, checkpoint, train_ensemble

# The settings `factorbench train` uses for ARGS below, so the CLI and the library share one compiled program.
# The fully connected architecture compiles in a fraction of the convolutional one's time.
SETTINGS = dict(steps=4, batch_size=8, log_every=2, checkpoint_every=2, learning_rate=1e-4, progress=False,
                architecture="fc")
ARGS = ["--dataset", "sprites", "--model", "beta_vae", "--seeds", "0", "--steps", "4", "--batch-size", "8",
        "--log-every", "2", "--checkpoint-every", "2", "--architecture", "fc", "--no-progress", "--no-store"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    previous = os.umask(0o022)
    try:
        (run_dir,) = train_ensemble("sprites", "beta_vae", [{"seed": 0}], out_dir=tmp_path_factory.mktemp("out"),
                                    **SETTINGS)
    finally:
        os.umask(previous)
    return run_dir


@pytest.fixture
def run(trained, tmp_path) -> Path:
    """A private copy of the trained run, at out/<name> (where `factorbench train --out out` looks)."""
    copy = tmp_path / "out" / trained.name
    shutil.copytree(trained, copy)
    return copy


def _config(run_dir: Path) -> dict:
    return json.loads((run_dir / "config.json").read_text())


def _edit(run_dir: Path, **changes) -> None:
    (run_dir / "config.json").write_text(json.dumps({**_config(run_dir), **changes}, indent=2))


def test_config_seals_the_finished_run(trained):
    config = _config(trained)
    assert config["status"] == "done" and config["final_step"] == 4
    assert checkpoint.steps(trained / "checkpoints")[-1] == 4
    assert set(config["files"]) == set(binding.BOUND_FILES)
    assert config["files"]["encoder_mean.jaxexport"] == binding.sha256_file(trained / "encoder_mean.jaxexport")
    binding.verify(trained, config)
    for name in binding.ENCODER_FILES:  # readable by others, as the umask says (was 0600 whatever the umask)
        assert stat.S_IMODE((trained / name).stat().st_mode) == 0o644
    assert not [p for p in trained.iterdir() if p.name.startswith(".factorbench-tmp")]


@pytest.mark.parametrize("field, value", [("dataset", "sprites_noshape"), ("objective", "vae"), ("seed", 7),
                                          ("steps", 9)])
def test_an_edited_config_is_never_scored(run, tmp_path, capsys, field, value):
    _edit(run, **{field: value})
    store = tmp_path / "results.db"
    assert main(["evaluate", str(run), "--store", str(store), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{run / 'config.json'} was edited after training" in err
    assert not store.exists()  # nothing recorded, under any label
    assert main(["submit", str(run), "--dataset", "sprites", "--name", "x", "--store", str(store)]) == 2
    assert "was edited after training" in capsys.readouterr().err and not store.exists()


def test_edited_steps_are_not_trained_at_once(run, capsys):
    _edit(run, steps=6, updates=6)  # what the corpus did: "trained" at once with the old checkpoints
    assert main(["train", *ARGS[:7], "6", *ARGS[8:], "--out", str(run.parent)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "config.json was edited after training" in err


@pytest.mark.parametrize("damage", ["swapped", "truncated"])
def test_a_replaced_or_damaged_encoder_is_named(run, tmp_path, capsys, damage):
    mean = run / "encoder_mean.jaxexport"
    if damage == "swapped":  # another model's valid encoder in its place
        shutil.copyfile(run / "encoder_gaussian.jaxexport", mean)
    else:
        mean.write_bytes(mean.read_bytes()[:5000])
    store = tmp_path / "results.db"
    for command in (["evaluate", str(run)], ["submit", str(run), "--dataset", "sprites", "--name", "x"]):
        assert main([*command, "--store", str(store), "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"{mean} does not match config.json" in err, err
    assert not store.exists()


def test_a_truncated_encoder_of_an_unsealed_run_is_one_line(run, tmp_path, capsys):
    config = _config(run)
    for key in ("files", "final_step", "seal"):  # as written by an older factorbench
        config.pop(key)
    (run / "config.json").write_text(json.dumps(config))
    (run / "encoder_mean.jaxexport").write_bytes((run / "encoder_mean.jaxexport").read_bytes()[:5000])
    assert main(["evaluate", str(run), "--store", str(tmp_path / "r.db"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a readable jax.export encoder" in err, err


def test_submit_refuses_an_unfinished_run_like_evaluate(run, tmp_path, capsys):
    _edit(run, status="running")
    for command in (["evaluate", str(run)], ["submit", str(run), "--dataset", "sprites", "--name", "x"]):
        assert main([*command, "--store", str(tmp_path / "r.db")]) == 2
        assert "is not finished (status 'running')" in capsys.readouterr().err
    assert not (tmp_path / "r.db").exists()


def test_every_score_records_the_encoder_that_made_it(trained, tmp_path):
    evaluation = runs.evaluate_run_dir(trained, metrics=["mig"], protocol="fast", progress=False,
                                       sample_sizes={"train": 300, "test": 100})
    store = ResultsStore(tmp_path / "results.db")
    run_id = runs.record_run_dir(store, trained, evaluations={"mean": evaluation})
    recorded = [s for s in store.scores([run_id]) if s["metric"] == "mig"]
    assert recorded and {s["versions"]["encoder_sha256"] for s in recorded} == {
        _config(trained)["files"]["encoder_mean.jaxexport"]}


HOLDER = """
import sys, time
from pathlib import Path
from factorbench.models.lock import locked
with locked([Path(sys.argv[1])]):
    print("holding", flush=True)
    time.sleep(120)
"""


def test_a_second_trainer_is_told_who_holds_the_run(run, capsys):
    _edit(run, status="running")
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(run)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        log = (run / "log.jsonl").read_text()
        assert main(["train", *ARGS, "--out", str(run.parent)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"is being trained by pid {holder.pid}" in err, err
        assert (run / "log.jsonl").read_text() == log and _config(run)["status"] == "running"
    finally:
        holder.kill()
        holder.wait()
    assert main(["train", *ARGS, "--out", str(run.parent)]) == 0  # the kernel released the lock with the holder
    assert _config(run)["status"] == "done"


@pytest.mark.parametrize("damage", ["truncated config", "torn log line"])
def test_damaged_files_on_resume_are_named(run, capsys, damage):
    if damage == "truncated config":
        text = (run / "config.json").read_text()
        (run / "config.json").write_text(text[: len(text) // 2])
        needle = f"{run / 'config.json'} is not valid JSON"
    else:
        _edit(run, status="running")
        lines = (run / "log.jsonl").read_text().splitlines()
        (run / "log.jsonl").write_text("\n".join([lines[0][:15], *lines[1:]]) + "\n")  # torn, then more lines
        needle = f"{run / 'log.jsonl'} line 1 is not a log entry"
    assert main(["train", *ARGS, "--out", str(run.parent)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err, err


def test_a_corrupt_latest_checkpoint_falls_back_to_the_newest_intact_one(run, trained, capfd):
    _edit(run, status="running")  # interrupted before it finished; the last line of its log torn by the kill
    with open(run / "log.jsonl", "a") as handle:
        handle.write('{"step": 6, "lo')
    latest = run / "checkpoints" / "4"
    for path in latest.rglob("*"):
        if path.is_file() and path.stat().st_size > 1000:
            path.write_bytes(path.read_bytes()[:100])
    (resumed,) = train_ensemble("sprites", "beta_vae", [{"seed": 0}], out_dir=run.parent, **SETTINGS)
    err = capfd.readouterr().err
    assert "checkpoint 4 of" in err and "falling back to step 2" in err and "line 3 is torn" in err, err
    assert (run / "checkpoints-damaged" / "4").is_dir()  # set aside, not deleted
    config = _config(resumed)
    assert config["status"] == "done" and config["final_step"] == 4
    binding.verify(resumed, config)
    for x, y in zip(checkpoint.leaves(resumed / "checkpoints", 4), checkpoint.leaves(trained / "checkpoints", 4)):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)  # retrained from step 2 to the same state
    assert [json.loads(line)["step"] for line in (resumed / "log.jsonl").read_text().splitlines()] == [2, 4]


def test_a_full_disk_during_the_final_export_marks_the_run_failed(run, monkeypatch, capsys):
    _edit(run, status="running")
    import factorbench.models.engine as engine

    def full_disk(fn, params, channels, path, **kwargs):
        Path(path).write_bytes(b"partial")
        raise OSError(28, "No space left on device", str(path))

    with monkeypatch.context() as patch:
        patch.setattr(engine, "export_encoder", full_disk)
        assert main(["train", *ARGS, "--out", str(run.parent)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No space left on device" in err
    assert _config(run)["status"] == "failed"  # not "running"; evaluate refuses it
    assert main(["evaluate", str(run), "--no-store"]) == 2 and "status 'failed'" in capsys.readouterr().err
    assert main(["train", *ARGS, "--out", str(run.parent)]) == 0  # space freed: the re-run finishes it
    binding.verify(run, _config(run))


def test_a_full_disk_at_a_checkpoint_is_one_line_without_event_loop_noise(tmp_path):
    done = cli("train", *ARGS, "--out", tmp_path / "out", file_size_limit=20_000, timeout=400)
    assert_one_line_refusal(done, "cannot write checkpoint 2", "File too large")
    assert "Event loop is closed" not in done.stderr and "ERROR:absl" not in done.stderr, done.stderr[-2000:]
    (run_dir,) = (tmp_path / "out").iterdir()
    assert _config(run_dir)["status"] == "failed"
