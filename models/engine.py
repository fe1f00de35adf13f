"""`train_ensemble`: train several members of one objective as one compiled program, with run directories.

A member is {"seed": int, **hyperparameters}. Each member gets its own run directory:

    <out_dir>/<dataset>-<objective>-<hparams>-seed<seed>/
        config.json               what was trained, status "running" | "done" | "failed" (with "failure": why),
                                  device, versions, seconds
        log.jsonl                 one line per `log_every` updates: step, loss terms (chunk means), steps/s
        checkpoints/<step>/       orbax, every `checkpoint_every` updates and at the end
        encoder_mean.jaxexport    images (b, 64, 64, C) float32 [0, 1] -> means (b, D)
        encoder_gaussian.jaxexport  -> (b, 2D): means then log-variances
        reconstructions.png, traversals.png, final_metrics.json

Re-running the same call resumes from the last common checkpoint and, on CPU, ends bit-identical to an
uninterrupted run: every update's randomness is `fold_in(member_key, update)` and every compiled call
starts at a multiple of its length.

`dlib_step_counter=True` reproduces disentanglement_lib's FactorVAE quirk: its two optimizers both
advanced the global step, so "300k steps" were 150k updates. With the option, FactorVAE runs
steps // 2 updates; other objectives are unaffected (their counter advanced once per update in dlib too).
By default every objective runs `steps` real updates.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import importlib.metadata
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from factorbench.models import binding, checkpoint, vae
from factorbench.models.binding import IDENTITY_FIELDS
from factorbench.models.export import export_encoder
from factorbench.models.files import write_atomic
from factorbench.models.layers import DEFAULT_FORMULATION
from factorbench.models.lock import locked
from factorbench.models.objectives import get as get_objective
from factorbench.models.step import Feed, Program, default_strategy
from factorbench.models.study_settings import (
    STUDY_ARCHITECTURE,
    STUDY_BATCH_SIZE,
    STUDY_LEARNING_RATE,
    STUDY_NUM_LATENTS,
    STUDY_STEPS,
)

EXPORT_FORMULATION = "lax"
_VERSION_PACKAGES = ("factorbench", "jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "numpy")


def _versions() -> dict[str, str]:
    out = {}
    for name in _VERSION_PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "unknown"
    return out


def _fmt(value: Any) -> str:
    if isinstance(value, float) and math.isfinite(value) and value == int(value):
        value = int(value)
    return str(value).replace("/", "_").replace(" ", "")


def run_name(dataset: str, objective: str, hparams: dict, seed: int, sweep_param: str | None,
             defaults: dict | None = None) -> str:
    """`sprites-beta_vae-beta4-seed0`: the swept hyperparameter (or none) names the run, followed by every other
    hyperparameter that differs from its default in `defaults` (`sprites-factor_vae-gamma10-lambda_d_factor2-seed0`),
    so members that differ in any hyperparameter never share a directory."""
    parts = [dataset, objective]
    if sweep_param is not None:
        parts.append(f"{sweep_param}{_fmt(hparams[sweep_param])}")
    for name in sorted(hparams):
        if name != sweep_param and defaults is not None and name in defaults and hparams[name] != defaults[name]:
            parts.append(f"{name}{_fmt(hparams[name])}")
    return "-".join([*parts, f"seed{seed}"])


def _write_json(path: Path, obj: Any) -> None:
    write_atomic(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def _read_config(path: Path) -> dict:
    try:
        config = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not valid JSON ({err}); the file is damaged: restore it, or delete the run "
                         "directory to train it again") from None
    if not isinstance(config, dict):
        raise ValueError(f"{path} does not hold a run's config (a JSON object); restore it or delete the run directory")
    return config


def _split_hparams(spec, members: Sequence[dict]) -> tuple[list[dict], dict, dict]:
    """(full hparams per member, traced hparams stacked over members, static hparams shared by all)."""
    full = []
    for m in members:
        if "seed" not in m:
            raise ValueError(f"every member needs a 'seed', got {m}")
        full.append(spec.hparams(**{k: v for k, v in m.items() if k != "seed"}))
    traced, static = {}, {}
    for name in spec.defaults:
        values = [h[name] for h in full]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            is_int = all(isinstance(v, int) for v in values)
            traced[name] = jnp.asarray(values, jnp.int32 if is_int else jnp.float32)
        elif all(v == values[0] for v in values):
            static[name] = values[0]
        else:
            raise ValueError(f"hyperparameter {name!r} must be numeric to differ between members, got {values}")
    return full, traced, static


def _stack(trees: Sequence[Any]) -> Any:
    return jax.tree.map(lambda *xs: jnp.stack([jnp.asarray(x) for x in xs]), *trees)


def _member(tree: Any, i: int) -> Any:
    return jax.tree.map(lambda a: a[i], tree)


def _trim_log(path: Path, step: int) -> None:
    """Drop log lines past `step` (written by a run killed after its last checkpoint), and a torn last line (the
    kill came mid-write); a damaged line before the end is refused, naming the file and line."""
    if not path.exists():
        return
    lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    kept = []
    for number, line in enumerate(lines, 1):
        try:
            entry = json.loads(line)
            logged = int(entry["step"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            if number == len(lines):  # torn by the interruption: its step is past the checkpoint anyway
                print(f"warning: {path} line {number} is torn (the run was interrupted mid-write); dropped it",
                      file=sys.stderr)
                break
            raise ValueError(f"{path} line {number} is not a log entry ({line[:60]!r}); the log is damaged: fix or "
                             "delete that line, then run the command again") from None
        if logged <= step:
            kept.append(line)
    write_atomic(path, "".join(ln + "\n" for ln in kept))


def train_ensemble(
    dataset,
    objective: str,
    members: list[dict],
    steps: int,
    out_dir: str | os.PathLike,
    *,
    batch_size: int = STUDY_BATCH_SIZE,
    architecture: str = STUDY_ARCHITECTURE,
    checkpoint_every: int = 10_000,
    log_every: int = 500,
    progress: bool = True,
    num_latents: int = STUDY_NUM_LATENTS,
    learning_rate: float = STUDY_LEARNING_RATE,
    dlib_step_counter: bool = False,
    strategy: str | None = None,
    formulation: str = DEFAULT_FORMULATION,
    steps_per_call: int | None = None,
    eval_batches: int = 8,
    on_log: Callable[[int, list[dict]], None] | None = None,
    budget_seconds: float | None = None,
) -> list[Path]:
    """Train `members` of `objective` on `dataset` together; return one run directory per member.

    Args:
        dataset: a `factorbench.datasets` dataset or its name.
        objective: a name in `factorbench.models.objectives.OBJECTIVES`.
        members: [{"seed": int, **hyperparameters}]; missing hyperparameters take the objective's defaults.
            Numeric hyperparameters may differ between members; others must agree.
        steps: training steps per member (real updates unless `dlib_step_counter`).
        out_dir: parent folder of the run directories.
        batch_size, architecture ("conv" | "fc"), num_latents, learning_rate: the model and optimizer
            (dlib study: 64, conv, 10, 1e-4).
        checkpoint_every: updates between checkpoints (a multiple of `steps_per_call`); one is also written at the end.
        log_every: updates between log.jsonl lines; each line averages the terms over those updates.
        progress: show a tqdm bar with steps/s and ETA.
        dlib_step_counter: FactorVAE runs steps // 2 updates, as dlib did (see the module docstring).
        strategy: "unrolled", "loop" or "vmap" (see `factorbench.models.step`); None picks the backend's fastest
            ("unrolled" on CPU, two updates per compiled call; "vmap" on accelerators, `steps_per_call` per call).
        formulation: convolution formulation (`factorbench.models.layers.FORMULATIONS`).
        steps_per_call: updates per compiled call (default `log_every`).
        eval_batches: batches of the final evaluation written to final_metrics.json.
        on_log: called as on_log(step, per-member log dicts) after each log line (e.g. for a custom display).
        budget_seconds: stop after the first compiled call that ends this many seconds (compilation included)
            after training started, even if fewer than `steps` were made; the runs then record the steps they
            really made, are marked "stopped_by_budget" and labelled shortened. For demos on slow machines: the
            step count depends on the machine, so such runs do not resume.
    """
    from factorbench import datasets as fb_datasets

    ds = fb_datasets.load(dataset) if isinstance(dataset, str) else dataset
    spec = get_objective(objective)
    if not members:
        raise ValueError("members is empty: give at least one {'seed': ...}")
    if min(steps, batch_size, log_every, checkpoint_every, steps_per_call or 1) < 1:
        raise ValueError(f"steps, batch_size, log_every, checkpoint_every and steps_per_call must be positive, got "
                         f"{steps}, {batch_size}, {log_every}, {checkpoint_every}, {steps_per_call}")
    strategy = strategy or default_strategy()
    updates = num_updates(spec.kind, steps, dlib_step_counter)
    per_call = int(steps_per_call or log_every)
    if log_every % per_call or checkpoint_every % per_call:
        raise ValueError(f"log_every ({log_every}) and checkpoint_every ({checkpoint_every}) must be multiples of "
                         f"steps_per_call ({per_call})")
    full, traced, static = _split_hparams(spec, members)
    seeds = [int(m["seed"]) for m in members]
    names = [run_name(ds.name, spec.name, h, s, spec.sweep_param, dict(spec.defaults)) for h, s in zip(full, seeds)]
    if len(set(names)) != len(names):
        raise ValueError(f"two members would share a run directory: {names}")

    out_dir = Path(out_dir)
    run_dirs = [out_dir / n for n in names]
    device = f"{jax.default_backend()}: {jax.devices()[0].device_kind}"
    configs = []
    for run_dir, hp, seed in zip(run_dirs, full, seeds):
        configs.append({
            "dataset": ds.name, "dataset_version": ds.info.version, "objective": spec.name, "hparams": hp,
            "seed": seed, "steps": steps, "updates": updates, "batch_size": batch_size,
            "architecture": architecture, "num_latents": num_latents, "learning_rate": learning_rate,
            "dlib_step_counter": dlib_step_counter, "status": "running", "device": device, "versions": _versions(),
            "train_seconds": 0.0, "shortened": steps < STUDY_STEPS, "run_name": run_dir.name,
            "ensemble": {"members": len(members), "strategy": strategy, "formulation": formulation},
            "created_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        })

    with locked(run_dirs):  # one trainer per run directory; the second says who holds it
        # -- existing runs: resume or refuse
        previous = []
        for run_dir, cfg in zip(run_dirs, configs):
            path = run_dir / "config.json"
            if path.exists():
                old = _read_config(path)
                diff = [k for k in IDENTITY_FIELDS if old.get(k) != cfg[k]]
                if diff:
                    raise ValueError(f"{run_dir} already holds a different run (differs in {', '.join(diff)}); "
                                     "choose another --out or delete it")
                if old.get("status") == "done":
                    _verify_finished(run_dir, old)
                previous.append(old)
            else:
                previous.append(None)
        if all(p is not None and p.get("status") == "done" for p in previous):
            return run_dirs

        # -- build the program and the initial state
        mdef = vae.model_def(spec, architecture, ds.num_channels, num_latents, formulation)
        # Updates per compiled call. Unrolled (CPU): two, which measured 193 vs 215 ms a step against one (four: no
        # faster, longer compiles); one where the log interval or the run is odd, so no second program is compiled.
        if strategy == "unrolled":
            per_compiled = 2 if per_call % 2 == 0 and updates % 2 == 0 else 1
        else:
            per_compiled = per_call
        feed = Feed(ds, batch_size, call_steps=per_compiled, updates=updates, progress=progress,
                    batches=spec.batches, batch_hparams={name: [h[name] for h in full] for name in spec.batch_params})
        data_source = feed.description
        member_keys = [jax.random.split(jax.random.PRNGKey(s)) for s in seeds]  # (init, train) per member
        built = [vae.build(mdef, k[0]) for k in member_keys]
        graphs = built[0][0]
        program = _program(spec, mdef, graphs, feed.sample, static, learning_rate, ds, batch_size)
        state = _stack([program.init_state(p) for _, p in built])
        train_keys = jnp.stack([k[1] for k in member_keys])

        common = None
        for run_dir in run_dirs:
            have = set(checkpoint.steps(run_dir / "checkpoints"))
            common = have if common is None else common & have
        start, restored = _restore_newest_intact(run_dirs, sorted(common or ()), _member(state, 0))
        if restored is not None:
            state = _stack(restored)
        train_seconds = [float(p.get("train_seconds", 0.0)) if p and start else 0.0 for p in previous]
        for run_dir, cfg, secs in zip(run_dirs, configs, train_seconds):
            run_dir.mkdir(parents=True, exist_ok=True)
            cfg["data_source"] = data_source
            cfg["train_seconds"] = secs
            _write_json(run_dir / "config.json", cfg)
            if start:
                _trim_log(run_dir / "log.jsonl", start)
            else:
                (run_dir / "log.jsonl").write_text("")

        # -- train
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=updates, initial=start, unit="step", dynamic_ncols=True,
                       desc=f"{spec.name} x{len(members)} ({ds.name})")
        step = start
        started = time.perf_counter()
        compiling = bar is not None
        if compiling:  # the first call compiles the step (tens of seconds on a CPU): say what the bar waits for
            bar.write(f"compiling the {spec.name} training step ({strategy}, {per_compiled} update(s) per call, "
                      f"{len(members)} member(s)); the first call waits for it")
        try:
            while step < updates:
                n = min(per_call, updates - step)
                t0 = time.perf_counter()
                parts = []
                for first in range(step, step + n, per_compiled):
                    size = min(per_compiled, step + n - first)
                    state, part = program.chunk(size, strategy)(state, train_keys, traced, jnp.int32(first),
                                                                feed.data(first))
                    parts.append(part)
                    if bar is not None:  # the bar moves per compiled call, not per log interval
                        jax.block_until_ready(part)
                        if compiling:
                            bar.write(f"compiled in {time.perf_counter() - t0:.1f} s")
                            compiling = False
                        bar.update(size)
                aux = jax.tree.map(lambda *xs: np.concatenate(xs, axis=1), *jax.device_get(parts))
                dt = time.perf_counter() - t0
                step += n
                logs = _log_lines(aux, step, n, dt, len(members))
                _check_finite(logs, names, step - n, step)
                if budget_seconds is not None and step < updates and time.perf_counter() - started > budget_seconds:
                    updates = step  # what follows logs, checkpoints and finishes at this step
                    for cfg in configs:
                        doubled = dlib_step_counter and spec.kind == "factor_vae"
                        cfg.update(steps=step * 2 if doubled else step, updates=step, shortened=True,
                                   stopped_by_budget=True)
                    if bar is not None:
                        bar.total = step
                for run_dir, line, cfg in zip(run_dirs, logs, configs):
                    cfg["train_seconds"] += dt / len(members)
                    if step % log_every == 0 or step == updates:
                        with open(run_dir / "log.jsonl", "a") as f:
                            f.write(json.dumps(line) + "\n")
                if step % checkpoint_every == 0 or step == updates:
                    for i, (run_dir, cfg) in enumerate(zip(run_dirs, configs)):
                        checkpoint.save(run_dir / "checkpoints", step, _member(state, i))
                        _write_json(run_dir / "config.json", cfg)
                if bar is not None:
                    bar.set_postfix(loss=f"{np.mean([ln['loss'] for ln in logs]):.1f}",
                                    model_steps_per_s=f"{n * len(members) / dt:.1f}",
                                    **({"time": f"{time.perf_counter() - started:.0f}/{budget_seconds:.0f}s"}
                                       if budget_seconds is not None else {}))
                if on_log is not None:
                    on_log(step, logs)
        except BaseException as err:
            _mark_failed(run_dirs, configs, err)
            raise
        finally:
            if bar is not None:
                bar.close()

        # -- finish: evaluation, exports, figures
        try:
            for i, (run_dir, cfg) in enumerate(zip(run_dirs, configs)):
                params = _member(state["params"], i)
                hp = _member(traced, i)
                _finish_member(program, mdef, graphs, ds, params, hp, train_keys[i], updates, eval_batches, run_dir,
                               feed.data(max(updates - 1, 0)))
                cfg["status"] = "done"  # config.json seals what was written: encoders' hashes, final step
                _write_json(run_dir / "config.json", binding.bind(run_dir, cfg, final_step=updates))
        except BaseException as err:
            _mark_failed(run_dirs, configs, err)
            raise
        return run_dirs


def _mark_failed(run_dirs: list[Path], configs: list[dict], err: BaseException) -> None:
    """A run never stays "running" after its process gave up: its config says "failed" and why (re-running the
    same call resumes it from its last checkpoint). Members already done stay done."""
    for run_dir, cfg in zip(run_dirs, configs):
        if cfg["status"] == "done":
            continue
        cfg["status"] = "failed"
        cfg["failure"] = f"{type(err).__name__}: {err}".splitlines()[0][:500]
        try:
            _write_json(run_dir / "config.json", cfg)
        except OSError:  # the disk is still full: flip the status in place, same length, so nothing is truncated
            with contextlib.suppress(OSError), open(run_dir / "config.json", "r+b") as handle:
                text = handle.read()
                handle.seek(0)
                handle.write(text.replace(b'"status": "running"', b'"status": "failed" ', 1))


def _verify_finished(run_dir: Path, config: dict) -> None:
    """A finished run is resumed as finished only if its files and final checkpoint still match config.json."""
    binding.verify(run_dir, config)
    final = config.get("final_step")
    have = checkpoint.steps(run_dir / "checkpoints")
    if final is not None and have and int(final) not in have:
        raise binding.RunMismatch(f"{run_dir / 'checkpoints'} ends at step {max(have)}, but config.json says the "
                                  f"run finished at step {final}; restore the checkpoints or train the run again")


def _restore_newest_intact(run_dirs: Sequence[Path], steps: list[int], like: Any) -> tuple[int, list | None]:
    """(step, per-member states) of the newest checkpoint every member can read, newest first; a damaged one is
    moved aside with one warning line. (0, None) when there is none. Later checkpoints are discarded."""
    for step in reversed(steps):
        states = []
        for run_dir in run_dirs:
            try:
                states.append(checkpoint.restore(run_dir / "checkpoints", step, like))
            except Exception as err:  # orbax raises what the damaged file trips (ValueError, OSError, KeyError...)
                reason = " ".join(str(err).split())[:160] or type(err).__name__
                older = [s for s in steps if s < step]
                then = f"falling back to step {older[-1]}" if older else "starting from step 0"
                moved = checkpoint.set_aside(run_dir / "checkpoints", step)
                print(f"warning: checkpoint {step} of {run_dir} cannot be read ({reason}); {then} (the damaged one "
                      f"is kept in {moved.parent})", file=sys.stderr)
                break
        else:
            _discard_after(run_dirs, step)
            return step, states
    _discard_after(run_dirs, 0)
    return 0, None


def _discard_after(run_dirs: Sequence[Path], step: int) -> None:
    for run_dir in run_dirs:
        checkpoint.discard_after(run_dir / "checkpoints", step)


def num_updates(kind: str, steps: int, dlib_step_counter: bool = False) -> int:
    """Real updates for `steps` training steps: steps // 2 for FactorVAE under dlib's step counter, else steps."""
    return max(1, steps // 2) if (dlib_step_counter and kind == "factor_vae") else steps


_PROGRAMS: dict[tuple, Program] = {}


def _program(spec, mdef, graphs, sample, static, learning_rate, ds, batch_size) -> Program:
    """One Program per set-up, so repeated calls (tests, resumes) reuse its compiled chunks."""
    key = (spec.name, mdef, json.dumps(static, sort_keys=True, default=str), learning_rate, ds.name,
           ds.info.version, batch_size)
    if key not in _PROGRAMS:
        _PROGRAMS[key] = Program(spec, mdef, graphs, sample, static, learning_rate)
    return _PROGRAMS[key]


def _log_lines(aux: dict, step: int, n: int, dt: float, members: int) -> list[dict]:
    lines = []
    for i in range(members):
        line = {"step": step}
        line.update({k: float(np.mean(v[i])) for k, v in sorted(aux.items())})
        line.update({"steps_per_s": n / dt, "model_steps_per_s": n * members / dt})
        lines.append(line)
    return lines


def _check_finite(logs: list[dict], names: list[str], first: int, last: int) -> None:
    for name, line in zip(names, logs):
        if not math.isfinite(line["loss"]):
            raise FloatingPointError(f"{name}: loss became {line['loss']} between updates {first} and {last}; "
                                     "lower the learning rate or check the hyperparameters")


def _finish_member(program: Program, mdef, graphs, ds, params, hparams, train_key, updates, eval_batches,
                   run_dir: Path, data: jax.Array) -> None:
    eval_key = jax.random.fold_in(train_key, 2**31 - 1)
    metrics = jax.device_get(_evaluate(program, eval_batches)(params, eval_key, hparams, jnp.int32(updates), data))
    final = {k: float(v) for k, v in sorted(metrics.items())}
    final["eval_batches"] = eval_batches
    _write_json(run_dir / "final_metrics.json", final)

    # Exported encoders run forward only, where XLA's own convolutions beat the training formulation
    # (tests/perf/train_throughput.py docstring: 1,066 vs 622 images/s on 2 cores); the params are the same.
    export_mdef = dataclasses.replace(mdef, formulation=EXPORT_FORMULATION)
    export_graphs = vae.graphs_for(export_mdef)

    def mean_fn(p, x):
        return vae.representation(export_mdef, export_graphs, p, x, gaussian=False)

    def gaussian_fn(p, x):
        return vae.representation(export_mdef, export_graphs, p, x, gaussian=True)

    export_encoder(mean_fn, params, ds.num_channels, run_dir / "encoder_mean.jaxexport")
    export_encoder(gaussian_fn, params, ds.num_channels, run_dir / "encoder_gaussian.jaxexport")
    _figures(program, ds, params, run_dir)


_EVALS: dict[tuple[int, int], Callable] = {}


def _evaluate(program: Program, batches: int) -> Callable:
    key = (id(program), batches)
    if key not in _EVALS:
        _EVALS[key] = jax.jit(lambda p, k, hp, s, data: program.evaluate(p, k, hp, s, data, batches))
    return _EVALS[key]


_DRAWS: dict[int, Callable] = {}


def _draw_fn(program: Program) -> Callable:
    """jit-compiled `(params, images) -> (reconstructions, traversal frames (D, 11, 64, 64, C))`, one per program."""
    if id(program) not in _DRAWS:
        mdef, graphs = program.mdef, program.graphs
        values = jnp.linspace(-2.0, 2.0, 11, dtype=jnp.float32)

        def draw(params, x):
            out = vae.forward(mdef, graphs, params, x, None)
            code = out["z"][0]
            d = code.shape[0]
            z = jnp.broadcast_to(code, (d, values.shape[0], d))
            z = jnp.where(jnp.eye(d, dtype=bool)[:, None, :], values[None, :, None], z)  # row i varies latent i
            frames = jax.nn.sigmoid(vae.decode(graphs, params, z.reshape(-1, d)))
            return jax.nn.sigmoid(out["logits"]), frames.reshape(d, values.shape[0], *frames.shape[1:])

        _DRAWS[id(program)] = jax.jit(draw)
    return _DRAWS[id(program)]


def _figures(program: Program, ds, params, run_dir: Path) -> None:
    from factorbench.models.visualize import save_reconstructions, save_traversals

    _, images = ds.sample(32, np.random.default_rng(0))
    x = jnp.asarray(images, jnp.float32) / 255.0
    recon, frames = jax.device_get(_draw_fn(program)(params, x))
    save_reconstructions(np.asarray(x), recon, run_dir / "reconstructions.png")
    save_traversals(frames, run_dir / "traversals.png")
