"""The training engine: loss falls, run directory contract, ensembles == members alone, kill + resume, export."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import jax.numpy as jnp
import numpy as np
import pytest

from factorbench.benchmark import cli
from factorbench.benchmark.commands.train import parse_seeds
from factorbench.models import checkpoint, load_encoder, train_ensemble
from factorbench.models.engine import num_updates

# setup.cfg runs pytest-xdist with --dist loadscope: this module's tests share one worker and one trained fixture.
FINAL = 8


# A pair objective: members differ in beta and in k (the pair sampler's traced hyperparameter).
WEAK = "ada_gvae"
WEAK_MEMBERS = [{"seed": 0, "beta": 1.0, "k": -1}, {"seed": 1, "beta": 4.0, "k": 1}]


@pytest.fixture(scope="module")
def trained_weak(tmp_path_factory, compile_cache, tiny):
    config, _ = tiny
    return train_ensemble("sprites", WEAK, WEAK_MEMBERS, out_dir=tmp_path_factory.mktemp("weak"), **config)


def _logs(run_dir):
    return [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]


def _final_leaves(run_dir, step=FINAL):
    return checkpoint.leaves(run_dir / "checkpoints", step)


def test_loss_falls_on_sprites(trained):
    for run_dir in trained:
        logs = _logs(run_dir)
        assert [ln["step"] for ln in logs] == [4, 8]
        final = json.loads((run_dir / "final_metrics.json").read_text())
        assert logs[1]["loss"] < logs[0]["loss"]
        assert final["reconstruction"] < logs[0]["reconstruction"] - 5.0, (logs, final)
    # 64*64 pixels at logit 0 cost 4096 * log 2 = 2839 nats; the first updates must already be below that
    assert _logs(trained[0])[0]["reconstruction"] < 4096 * np.log(2)


def test_run_directory_contract(trained):
    assert [d.name for d in trained] == ["sprites-beta_vae-beta1-seed0", "sprites-beta_vae-beta4-seed1"]
    for run_dir, seed in zip(trained, (0, 1)):
        names = {p.name for p in run_dir.iterdir()}
        assert {"config.json", "log.jsonl", "checkpoints", "encoder_mean.jaxexport", "encoder_gaussian.jaxexport",
                "reconstructions.png", "traversals.png", "final_metrics.json"} <= names
        cfg = json.loads((run_dir / "config.json").read_text())
        assert cfg["status"] == "done" and cfg["seed"] == seed and cfg["steps"] == FINAL
        assert cfg["shortened"] is True and cfg["architecture"] == "conv" and cfg["batch_size"] == 8
        assert cfg["dataset"] == "sprites" and cfg["dataset_version"] and cfg["objective"] == "beta_vae"
        assert cfg["versions"]["jax"] and cfg["device"].startswith("cpu") and cfg["train_seconds"] > 0
        assert set(json.loads((run_dir / "final_metrics.json").read_text())) >= {"reconstruction", "kl", "loss"}
        assert {"loss", "reconstruction", "kl", "steps_per_s"} <= set(_logs(run_dir)[0])
        assert checkpoint.steps(run_dir / "checkpoints") == [4, 8]
    # rerunning a finished set-up returns at once; a different set-up in the same folder is refused
    t0 = time.perf_counter()
    assert train_ensemble("sprites", "beta_vae", [{"seed": 0, "beta": 1.0}], steps=FINAL, batch_size=8,
                          log_every=4, checkpoint_every=4, learning_rate=1e-3, progress=False,
                          out_dir=trained[0].parent) == trained[:1]
    assert time.perf_counter() - t0 < 5
    with pytest.raises(ValueError, match="different run"):
        train_ensemble("sprites", "beta_vae", [{"seed": 0, "beta": 1.0}], steps=FINAL, batch_size=16,
                       log_every=4, checkpoint_every=4, progress=False, out_dir=trained[0].parent)


@pytest.mark.parametrize("objective", ["beta_vae", WEAK])
def test_ensemble_member_matches_the_same_model_trained_alone(objective, trained, trained_weak, tiny, tmp_path):
    config, members = tiny
    runs, members = (trained, members) if objective == "beta_vae" else (trained_weak, WEAK_MEMBERS)
    alone = train_ensemble("sprites", objective, [members[1]], out_dir=tmp_path, **config)
    a, b = _final_leaves(alone[0]), _final_leaves(runs[1])
    assert len(a) == len(b) > 10
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)
    # and the two members of the ensemble really differ (seeds and beta)
    assert not any(np.allclose(x, y) for x, y in zip(_final_leaves(runs[0]), b) if x.dtype == np.float32)


_RESUME_SCRIPT = """
import os, sys, time
import jax
jax.config.update("jax_compilation_cache_dir", sys.argv[2])
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
from factorbench.models import train_ensemble

def hang_after_first_checkpoint(step, logs):
    if step == 4:
        print("CHECKPOINTED", flush=True)
        time.sleep(600)

train_ensemble("sprites", {objective!r}, {members!r}, out_dir=sys.argv[1], on_log=hang_after_first_checkpoint,
               **{config!r})
"""


@pytest.mark.parametrize("objective", ["beta_vae", WEAK])
def test_killed_run_resumes_bit_identical(objective, trained, trained_weak, tiny, tmp_path, compile_cache):
    config, members = tiny
    runs, members = (trained, members) if objective == "beta_vae" else (trained_weak, WEAK_MEMBERS)
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(_RESUME_SCRIPT.format(objective=objective, members=members, config=config)))
    out = tmp_path / "runs"
    proc = subprocess.Popen([sys.executable, str(script), str(out), str(compile_cache)], stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout.readline().strip() == "CHECKPOINTED"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    run_dirs = [out / d.name for d in runs]
    for d in run_dirs:
        assert json.loads((d / "config.json").read_text())["status"] == "running"
        assert checkpoint.steps(d / "checkpoints") == [4]
    resumed = train_ensemble("sprites", objective, members, out_dir=out, **config)
    assert resumed == run_dirs
    for fresh, uninterrupted in zip(resumed, runs):
        for x, y in zip(_final_leaves(fresh), _final_leaves(uninterrupted)):
            np.testing.assert_array_equal(x, y)
        assert [ln["step"] for ln in _logs(fresh)] == [4, 8]
        assert _logs(fresh)[1]["loss"] == _logs(uninterrupted)[1]["loss"]


def test_weak_objective_trains_on_pairs(trained_weak):
    for run_dir in trained_weak:
        logs = _logs(run_dir)
        assert logs[1]["loss"] < logs[0]["loss"]
        cfg = json.loads((run_dir / "config.json").read_text())
        assert cfg["objective"] == WEAK and cfg["status"] == "done" and cfg["data_source"] == "device renderer"
    assert [d.name for d in trained_weak] == ["sprites-ada_gvae-beta1-seed0", "sprites-ada_gvae-beta4-k1-seed1"]


_FRESH_PROCESS = """
import sys
import jax, numpy as np
exported = jax.export.deserialize(bytearray(open(sys.argv[1], "rb").read()))
images = np.load(sys.argv[2])
np.save(sys.argv[3], np.asarray(exported.call(images)))
print(sorted(m for m in sys.modules if m.startswith(("flax", "factorbench", "optax"))))
"""


def test_exported_encoder_reloads_in_a_fresh_process_without_model_code(trained, tmp_path):
    from factorbench import datasets

    run_dir = trained[1]
    images = datasets.load("sprites").images_float(np.array([[0, 0, 0, 3, 4], [2, 5, 39, 31, 0], [1, 2, 3, 4, 5]]))
    np.save(tmp_path / "x.npy", images)
    result = subprocess.run([sys.executable, "-c", _FRESH_PROCESS, str(run_dir / "encoder_gaussian.jaxexport"),
                             str(tmp_path / "x.npy"), str(tmp_path / "codes.npy")],
                            capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"  # neither flax nor factorbench (nor optax) was imported
    codes = np.load(tmp_path / "codes.npy")
    assert codes.shape == (3, 20) and np.all(np.isfinite(codes))
    mean_encode = load_encoder(run_dir / "encoder_mean.jaxexport", batch_size=2)
    np.testing.assert_allclose(mean_encode(images), codes[:, :10], rtol=1e-5, atol=1e-5)
    assert mean_encode(images).dtype == np.float32
    with pytest.raises(ValueError, match="encodes images of shape"):
        mean_encode(np.zeros((2, 32, 32, 1), np.float32))
    with pytest.raises(FileNotFoundError):
        load_encoder(tmp_path / "missing.jaxexport")


def test_cli_trains_seeds_as_one_ensemble(trained, tmp_path, capsys):
    argv = ["train", "--dataset", "sprites", "--model", "beta_vae", "--beta", "4", "--seeds", "0-1", "--steps", "8",
            "--batch-size", "8", "--log-every", "4", "--checkpoint-every", "4", "--learning-rate", "1e-3",
            "--out", str(tmp_path), "--no-progress"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "sprites-beta_vae-beta4-seed0" in out and "trained 2 model(s), batches from device renderer:" in out
    # seed 1 with beta 4 is the fixture's second member: same maths, same numbers
    for x, y in zip(_final_leaves(tmp_path / "sprites-beta_vae-beta4-seed1"), _final_leaves(trained[1])):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)
    assert cli.main(["train", "--dataset", "sprites", "--model", "beta_vae", "--gamma", "10"]) == 2
    assert "beta_vae does not take --gamma" in capsys.readouterr().err


def test_parse_seeds():
    assert parse_seeds("0-9") == list(range(10))
    assert parse_seeds("0,3,5") == [0, 3, 5]
    assert parse_seeds("2-4,8") == [2, 3, 4, 8]
    for bad in ("a", "5-2", "1,1", "-3"):
        with pytest.raises(ValueError, match="--seeds"):
            parse_seeds(bad)


def test_dlib_step_counter_halves_factor_vae_updates_only():
    assert num_updates("factor_vae", 300_000, True) == 150_000
    assert num_updates("factor_vae", 300_000) == 300_000
    assert num_updates("vae", 300_000, True) == 300_000


def test_factor_vae_trains_its_discriminator_with_dlib_counter(tmp_path):
    """FactorVAE end to end (fc architecture for a quicker compile): both networks move, dlib counter = steps / 2."""
    dirs = train_ensemble("sprites", "factor_vae", [{"seed": 3, "gamma": 10.0}], steps=4, out_dir=tmp_path,
                          batch_size=4, architecture="fc", log_every=1, checkpoint_every=1, progress=False,
                          dlib_step_counter=True, eval_batches=1)
    cfg = json.loads((dirs[0] / "config.json").read_text())
    assert cfg["updates"] == 2 and cfg["dlib_step_counter"] is True
    logs = _logs(dirs[0])
    assert [ln["step"] for ln in logs] == [1, 2]
    assert {"tc", "discriminator_loss"} <= set(logs[0])
    assert 0.3 < logs[0]["discriminator_loss"] < 1.2  # about log 2 for an untrained discriminator
    assert checkpoint.steps(dirs[0] / "checkpoints") == [1, 2]
    before, after = checkpoint.leaves(dirs[0] / "checkpoints", 1), checkpoint.leaves(dirs[0] / "checkpoints", 2)
    moved = [not np.array_equal(a, b) for a, b in zip(before, after) if a.size > 1]
    assert len(moved) > 20 and all(moved)  # discriminator, its Adam moments, VAE and its Adam moments all update
    codes = load_encoder(dirs[0] / "encoder_gaussian.jaxexport")(jnp.zeros((2, 64, 64, 1)))
    assert codes.shape == (2, 20)


@pytest.mark.parametrize("objective", ["ae", "qlae", "qlvae"])
def test_deterministic_and_quantized_representations(objective):
    import jax

    from factorbench.models import vae
    from factorbench.models.objectives import get

    spec = get(objective)
    mdef = vae.model_def(spec, "fc", 1)
    graphs, params = vae.build(mdef, jax.random.PRNGKey(0))
    x = jax.random.uniform(jax.random.PRNGKey(1), (3, 64, 64, 1))
    rep = jax.jit(lambda p, x: vae.representation(mdef, graphs, p, x, gaussian=True))(params, x)
    mean, logvar = np.asarray(rep[:, :10]), np.asarray(rep[:, 10:])
    if objective == "ae":
        assert np.all(logvar == -np.inf)  # zero variance: the sampled representation is the mean
    else:
        codebook = np.asarray(params["model"]["quantizer"]["values"][...])
        assert all(np.isin(mean[:, d], codebook[d]).all() for d in range(10))
        assert np.all(np.isfinite(logvar)) == (objective == "qlvae")


def test_feed_renders_on_device_holds_small_datasets_whole_and_redraws_pools_of_large_ones(capsys):
    import jax

    from factorbench import datasets
    from factorbench.models.step import Feed

    feed = Feed(datasets.load("sprites_color"), 4)
    x = jax.jit(feed.sample)(jax.random.PRNGKey(0), feed.data(0))["x"]
    assert feed.description == "device renderer" and x.shape == (4, 64, 64, 3) and x.dtype == jnp.float32
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0 and float(x.max()) > 0.4

    # a small dataset without a device renderer is held whole, in index order
    small = datasets.load("identity", factor_sizes=(3, 4))

    def no_renderer():
        raise NotImplementedError("no renderer")

    small.device_renderer = no_renderer
    feed = Feed(small, 4, pool_size=5, progress=True)  # read in chunks of 5, with a bar
    assert feed.description.startswith("the whole dataset") and feed.refresh_steps is None
    np.testing.assert_array_equal(np.asarray(feed.data(0)), small.images(small.index_to_factors(np.arange(12))))
    assert feed.data(10_000) is feed.data(0)
    assert "identity into device memory" in capsys.readouterr().err

    # shape is a nuisance of sprites_noshape: pools of 8 images, a new one every 2 updates of batch 4 (4 with
    # 4 updates a call), each a function of its number only, read ahead on a thread
    noshape = datasets.load("sprites_noshape")
    assert Feed(noshape, 4, call_steps=4, pool_size=8).refresh_steps == 4
    feed, fresh = Feed(noshape, 4, pool_size=8), Feed(noshape, 4, pool_size=8)
    assert feed.refresh_steps == 2 and feed.description.startswith("device pools of 8 images")
    first, second = np.asarray(feed.data(0)), np.asarray(feed.data(2))
    assert first.shape == (8, 64, 64, 1) and np.asarray(feed.data(1)) is not None
    np.testing.assert_array_equal(np.asarray(feed.data(1)), first)
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(np.asarray(fresh.data(3)), second)  # pool 1 without pool 0 before it
    batch = np.asarray(jax.jit(feed.sample)(jax.random.PRNGKey(1), feed.data(2))["x"]) * 255
    assert all((np.abs(second.astype(np.float32) - image).max(axis=(1, 2, 3)) < 1e-3).any() for image in batch)


def test_accelerators_hold_datasets_whole_up_to_a_quarter_of_their_memory(monkeypatch):
    import types

    from factorbench.models import step

    assert step.whole_bytes() == step.WHOLE_BYTES  # this machine: the CPU
    gpu = types.SimpleNamespace(platform="gpu", memory_stats=lambda: {"bytes_limit": 80 * 10**9})
    monkeypatch.setattr(step.jax, "devices", lambda: [gpu])
    assert step.whole_bytes() == 20 * 10**9  # dSprites (3.0 GB), Shapes3D (5.9 GB), MPI3D (12.7 GB) are held whole
    gpu.memory_stats = lambda: None  # a backend that reports nothing: the CPU's limit
    assert step.whole_bytes() == step.WHOLE_BYTES


def test_run_on_pools_resumes_bit_identical(tmp_path, monkeypatch):
    """A dataset without a device renderer trains from pools that change every 2 updates (POOL_SIZE 8, batch 4):
    a run resumed from its step-2 checkpoint reads pool 1 afresh and ends where the uninterrupted run ends."""
    import shutil

    from factorbench.models import step as step_module

    monkeypatch.setattr(step_module, "POOL_SIZE", 8)
    config = dict(steps=4, batch_size=4, architecture="fc", log_every=2, checkpoint_every=2, learning_rate=1e-3,
                  progress=False)
    straight = train_ensemble("sprites_noshape", "beta_vae", [{"seed": 0}], out_dir=tmp_path / "a", **config)[0]
    cfg = json.loads((straight / "config.json").read_text())
    assert cfg["data_source"] == "device pools of 8 images drawn from the whole dataset, a new one every 2 updates"
    resumed = tmp_path / "b" / straight.name
    shutil.copytree(straight, resumed)
    shutil.rmtree(resumed / "checkpoints" / "4")
    (resumed / "config.json").write_text(json.dumps({**cfg, "status": "running"}))
    assert checkpoint.steps(resumed / "checkpoints") == [2]
    train_ensemble("sprites_noshape", "beta_vae", [{"seed": 0}], out_dir=tmp_path / "b", **config)
    for x, y in zip(_final_leaves(resumed, 4), _final_leaves(straight, 4)):
        np.testing.assert_array_equal(x, y)


def test_run_names_tell_apart_members_differing_in_any_hyperparameter():
    from factorbench.models.engine import run_name

    defaults = {"gamma": 10.0, "lambda_d_factor": 1.0}
    names = {run_name("sprites", "factor_vae", {"gamma": 10.0, "lambda_d_factor": d}, 0, "gamma", defaults)
             for d in (1.0, 2.0)}
    assert names == {"sprites-factor_vae-gamma10-seed0", "sprites-factor_vae-gamma10-lambda_d_factor2-seed0"}


@pytest.mark.parametrize("n", [1, 2])
def test_unrolled_chunk_has_no_loop(n):
    # scan(unroll=True) of length 1 is a while loop, and XLA:CPU ran the step about 1.5x slower inside one.
    import jax

    from factorbench import datasets
    from factorbench.models import vae
    from factorbench.models.objectives import get
    from factorbench.models.step import Feed, Program

    ds, spec = datasets.load("sprites"), get("beta_vae")
    mdef = vae.model_def(spec, "fc", ds.num_channels, 4)
    graphs, params = vae.build(mdef, jax.random.PRNGKey(0))
    feed = Feed(ds, 2)
    program = Program(spec, mdef, graphs, feed.sample, {}, 1e-3)
    state = jax.tree.map(lambda a: a[None], program.init_state(params))
    args = (state, jax.random.PRNGKey(1)[None], {"beta": jnp.ones((1,))}, jnp.int32(0), feed.data(0))
    unrolled = str(jax.make_jaxpr(lambda *a: program._run(*a, n=n, strategy="unrolled"))(*args))
    assert "while[" not in unrolled and "scan[" not in unrolled
    assert "scan[" in str(jax.make_jaxpr(lambda *a: program._run(*a, n=n, strategy="loop"))(*args))
