"""Rendering throughput of the 3D twins on this machine, and the data share of a CPU training step.

Run: .venv/bin/python tests/perf/render_throughput.py [--batch 64] [--repeats 5] [--step-ms 210] [--in-step]

Prints images/s of each dataset's jitted device renderer (steady state, after compilation) and of
the array_record cache read path, and the share of a training step spent on data,
``render / (render + step)``, with the step time of a batch-64 conv-VAE step on 2 CPU cores
(210 ms, tests/perf/train_throughput.py, 2026-11-29) unless --step-ms says otherwise. Like the `factorbench`
command, it runs with glibc.malloc.hugetlb=1 (factorbench.benchmark.huge_pages). Not run by pytest.

`--in-step` measures the share where it is paid instead: the engine's compiled one-update call (conv VAE,
beta-VAE, batch 64) drawing its batch from the on-demand renderer vs from a pool of 1,024 images already on the
device, alternated `--rounds` times; share = (render - pool) / render, from the medians. A few minutes a dataset.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np

from factorbench import datasets
from factorbench.datasets.cache import cache_dataset


def timed(fn, repeats):
    """Wall seconds per call, and CPU seconds (all threads of this process) per call."""
    fn()  # compile / warm up
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats, (time.process_time() - cpu) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--step-ms", type=float, default=210.0)
    parser.add_argument("--in-step", action="store_true", help="measure the share inside real training steps")
    parser.add_argument("--rounds", type=int, default=3, help="--in-step: pool/render alternations")
    args = parser.parse_args()
    from factorbench.benchmark.huge_pages import reexec_with_huge_pages

    reexec_with_huge_pages()
    if args.in_step:
        for name in ("scenes3d", "arm3d"):
            in_step_share(name, args.batch, args.rounds, args.repeats)
        return
    print(f"device: {jax.devices()[0]}, batch {args.batch}, training step {args.step_ms:.0f} ms")
    print("wall = measured wall clock (noisy under contention); cpu = process CPU time per batch, and img/s on 2")
    print("idle cores estimated as 2 * batch / cpu (assumes XLA keeps both cores busy)")
    print(f"{'dataset':<10} {'path':<22} {'setup s':>8} {'wall ms':>8} {'img/s':>7} {'cpu ms':>8} "
          f"{'2-core img/s':>12} {'share (wall)':>12}")
    for name in ("scenes3d", "arm3d"):
        ds = datasets.load(name)
        start = time.perf_counter()
        render = jax.jit(ds.device_renderer())
        factors = [jnp.asarray(ds.sample_factors(args.batch, seed), jnp.int32) for seed in range(args.repeats + 1)]
        render(factors[0], None).block_until_ready()
        setup = time.perf_counter() - start
        it = iter(factors * 2)
        seconds, cpu = timed(lambda r=render, i=it: r(next(i), None).block_until_ready(), args.repeats)
        _report(name, "on demand (jit)", setup, seconds, cpu, args)
    # the cache path: build a small deterministic grid, then random-access batches from array_record
    small = datasets.load("identity", factor_sizes=(8, 8, 8, 8))
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        cached = cache_dataset(small, folder, progress=False)
        setup = time.perf_counter() - start
        rng = np.random.default_rng(0)
        seconds, cpu = timed(lambda: cached.images(cached.sample_factors(args.batch, rng)), args.repeats * 4)
        _report("cache", "array_record read", setup, seconds, cpu, args)
        print(f"(cache build: {small.num_observations} images of 64x64x1 in {setup:.1f} s incl. TFDS overhead)")


def in_step_share(name: str, batch: int, rounds: int, calls: int) -> None:
    """Median ms of a training step drawing from the renderer and from a device pool, and the data share."""
    from _beta_vae import beta_vae_ensemble

    from factorbench.models import step as S

    ds = datasets.load(name)
    feed = S.Feed(ds, batch)
    # the engine's pool path (what datasets without a device renderer train from), on 1,024 images
    sources = {"pool": (S.batch_sampler(None, ds.factor_sizes, batch), jnp.asarray(ds.sample(1024, 0)[1])),
               "render": (feed.sample, feed.data(0))}
    chunks = {}
    for label, (sample, data) in sources.items():
        program, state, keys, hparams = beta_vae_ensemble(ds, sample)
        chunks[label] = (program.chunk(1, "unrolled"), state, data)
    times = {label: [] for label in chunks}
    for r in range(rounds + 1):  # round 0 compiles and warms up
        for label, (fn, state, data) in chunks.items():
            start = time.perf_counter()
            for k in range(calls):  # no wait between calls, as in the engine
                state, aux = fn(state, keys, hparams, jnp.int32(r * calls + k), data)
            jax.block_until_ready(aux)
            chunks[label] = (fn, state, data)
            if r:
                times[label].append((time.perf_counter() - start) / calls * 1e3)
    pool_ms, render_ms = (float(np.median(times[label])) for label in ("pool", "render"))
    print(f"{name:<10} step from pool {pool_ms:6.1f} ms, rendering on demand {render_ms:6.1f} ms "
          f"(rounds: {', '.join(f'{t:.0f}' for t in times['render'])}): data share "
          f"{(render_ms - pool_ms) / render_ms:.1%}", flush=True)


def _report(name, path, setup, seconds, cpu, args) -> None:
    share = seconds * 1e3 / (seconds * 1e3 + args.step_ms)
    print(f"{name:<10} {path:<22} {setup:8.1f} {seconds * 1e3:8.1f} {args.batch / seconds:7.0f} {cpu * 1e3:8.1f} "
          f"{2 * args.batch / max(cpu, 1e-9):12.0f} {share:12.1%}")


if __name__ == "__main__":
    main()
