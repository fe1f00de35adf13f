"""Training-step speed of the dlib conv VAE (beta-VAE objective) on this machine: every design we tried, one table.

Run:  .venv/bin/python tests/perf/train_throughput.py [--batch 64] [--steps 3] [--members 1,8] [--no-torch]
      (the PyTorch row needs torch in the venv: `.venv/bin/pip install torch==2.13.0`, a CPU build here)

Each JAX row times `steps` updates inside one compiled call (data rendered on the device inside the step, Adam
included), after compiling; the best of `--repeats` calls is reported. The PyTorch row is the peers' style: eager,
one model, a fixed batch already in memory (so it does slightly less work than the JAX rows).

Designs:
  formulation  how the strided and transposed convolutions are computed (factorbench.models.layers):
               lax = lax.conv_general_dilated / the input-gradient of the strided conv (XLA: lhs-dilated conv);
               subpixel = space-to-depth + stride-1 conv, transposed conv as one 3x3 conv + depth-to-space;
               matmul = subpixel with every stride-1 conv as static slices + one matmul (im2col), except the
               decoder's image layer (<= 4 output channels), which stays on lax (see below).
  strategy     unrolled = members and updates unrolled in one program (no while loop; the CPU default);
               loop = lax.map over members of lax.scan over updates; vmap = lax.scan of a vmapped update.

The script re-executes itself with glibc.malloc.hugetlb=1, as the `factorbench` command does
(factorbench.benchmark.huge_pages); set GLIBC_TUNABLES=glibc.malloc.hugetlb=0 to measure without. The footer prints it.

Measured 2026-11-29 05:17 UTC on the project machine (2 cores, AMD EPYC), idle (load average 1.4 before the run):

  python tests/perf/train_throughput.py --steps 3 --repeats 2 --members 1,8 --strategies unrolled
  design                       members compile s   ms/step model-steps/s
  torch 2.13.0+cpu eager             1       0.0     143.7          6.96
  jax lax/unrolled                   1      12.1     595.0          1.68
  jax subpixel/unrolled              1      18.7     349.8          2.86
  jax matmul/unrolled                1      18.2     209.8          4.77
  jax matmul/unrolled                8     110.0    1453.5          5.50     (182 ms a model-step)

  the same, GLIBC_TUNABLES=glibc.malloc.hugetlb=0, --members 1 --formulations matmul: torch 185.3, jax 242.9 ms
  --steps 1 --repeats 4 --members 1 --formulations matmul (what the engine compiles): torch 126.6, jax 224.5 ms

  Huge pages: every call of a compiled program mallocs its scratch buffer (124 MiB for this step) and frees it;
  glibc maps it fresh each time, so a call took ~32,000 page faults (getrusage), 33-81 ms a step. With the tunable,
  ~200. PyTorch's eager step gains as much or more (185 -> 127-144 ms): its activations are malloc'd each step too.
  Steps per compiled call (no block between calls, as in the engine; huge pages / none): 1: 184 / 265 ms, compile
  9.5 s; 2: 166 / 220 ms, 11.0 s; 4: 175 / 212 ms, 19.3 s. The engine compiles one update per call on CPU.
  A bug this found: `lax.scan(unroll=True)` over one step has unroll=1, i.e. a while loop, and the engine's
  one-update calls ran inside it (312-334 ms a step; the conv weight gradient of the image layer alone took 99 ms
  there, 10 ms outside): "unrolled" now unrolls in Python (tests/models/test_engine.py checks the jaxpr).
  `factorbench train`, 40 steps, log lines of 10: 1 model 205-252 ms a step, 2 models 212-225 ms a model-step
  (was 312-334 and ~415).

Earlier, 2026-11-28 18:30 UTC, without huge pages (3-step calls: the while-loop bug hit only 1-step calls), idle:

  python tests/perf/train_throughput.py --steps 3 --repeats 2 --members 1,8 --strategies unrolled
  design                       members compile s   ms/step model-steps/s
  torch 2.13.0+cpu eager             1       0.0     182.8          5.47
  jax lax/unrolled                   1      10.0     569.6          1.76
  jax subpixel/unrolled              1      15.3     436.8          2.29
  jax matmul/unrolled                1      14.4     206.5          4.84
  jax matmul/unrolled                8      87.9    1587.0          5.04     (198 ms a model-step)

  The same command an hour earlier, before the image layer moved to lax: torch 175.8 ms, matmul 305.5 ms (one model),
  1994.8 ms (8 members, 249 ms a model-step). Per layer, forward+backward at batch 64 (ms; lax / subpixel / matmul):
  conv 64x64x1->32 40 / 29 / 12-15; conv 32x32x32->32 77-84 / 101 / 82-84; deconv 8x8x64->16x16x32 67-71 / 38 / 20;
  deconv 16x16x32->32 224-265 / 103 / 84-94 (four separate 2x2 phase products, 2.25x fewer FLOPs: also 84);
  deconv 32x32x32->64x64xC, C=1: 20-22 / 113 / 124-153, C=3: 53 / - / 155, C=8: 197 / - / 178, C=16: 582 / - / 238.
  XLA:CPU's matrix product is slow with few output columns (4 or 12 here), hence the lax image layer. The two 80 ms
  layers are memory-bound (their three products take 7 + 25 + 19 ms as bare matmuls); lax for the 32->32 conv, XNNPACK
  and oneDNN flags did not help (within noise).

Earlier, 2026-11-28 morning, UNDER HEAVY CONTENTION from other engineers' jobs
(load average 4.5-17 on 2 cores), so absolute numbers are several times too slow and noisy; compare rows of one run:

  python tests/perf/train_throughput.py --steps 2 --repeats 1 --members 2 --strategies unrolled,vmap   (load 8.6 -> 4.5)
  design                       members compile s   ms/step model-steps/s
  torch 2.13.0+cpu eager             1       0.0    5652.5          0.18
  jax lax/unrolled                   1      78.0    5142.0          0.19
  jax subpixel/unrolled              1      74.2    1977.5          0.51
  jax matmul/unrolled                1      56.8     531.9          1.88
  jax matmul/unrolled                2      37.2    1084.6          1.84
  jax matmul/vmap                    2      26.9    1021.9          1.96

  inside lax.scan (while loop) vs unrolled, subpixel, batch 32 (load ~8): scan 4772 ms/step, unrolled 453,
  one jit per step 456. An earlier run with the lax.scan/lax.map "loop" strategy at batch 64: lax 16013 ms,
  subpixel 14549 ms per step (torch eager 2333 ms in the same run).
  per-layer fwd+bwd at batch 64 (ms), lax vs subpixel: deconv 16x16x32->32: 1440 vs 426; 8x8x64->32: 280 vs 114.

The engine's defaults follow these numbers: formulation "matmul" and strategy "unrolled" (no while loop) on CPU.

Inference is different: the exported encoder (forward only, jax.export, batch 256, 2,048 random images, 2 cores while
another training job ran) encoded 622 images/s with "matmul", 716 with "subpixel" and 1,066 with "lax" (outputs equal
to 1e-7), so `train_ensemble` exports its encoders with the "lax" formulation whatever it trained with.
"""

from __future__ import annotations

import argparse
import os
import time

import jax
import jax.numpy as jnp
import numpy as np


def _jax_row(formulation: str, strategy: str, members: int, batch: int, steps: int, repeats: int) -> dict:
    from _beta_vae import beta_vae_ensemble

    from factorbench import datasets
    from factorbench.models import step as S

    ds = datasets.load("sprites")
    feed = S.Feed(ds, batch)
    program, state, keys, hp = beta_vae_ensemble(ds, feed.sample, members, formulation)
    data = feed.data(0)
    t0 = time.perf_counter()
    fn = program.chunk(steps, strategy).lower(state, keys, hp, jnp.int32(0), data).compile()
    compile_s = time.perf_counter() - t0
    best = np.inf
    for r in range(repeats + 1):  # the first call warms up
        t0 = time.perf_counter()
        state, aux = fn(state, keys, hp, jnp.int32(r * steps), data)
        jax.block_until_ready(aux)
        if r:
            best = min(best, time.perf_counter() - t0)
    ms = best / steps * 1000
    return {"design": f"jax {formulation}/{strategy}", "members": members, "compile_s": compile_s,
            "ms_per_step": ms, "model_steps_per_s": members * 1000 / ms}


def _torch_row(batch: int, steps: int, repeats: int) -> dict | None:
    try:
        import torch
    except ImportError:
        return None
    from torch import nn

    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count() or 1)
    enc = nn.Sequential(nn.Conv2d(1, 32, 4, 2, 1), nn.ReLU(), nn.Conv2d(32, 32, 4, 2, 1), nn.ReLU(),
                        nn.Conv2d(32, 64, 2, 2), nn.ReLU(), nn.Conv2d(64, 64, 2, 2), nn.ReLU(), nn.Flatten(),
                        nn.Linear(1024, 256), nn.ReLU(), nn.Linear(256, 20))
    dec = nn.Sequential(nn.Linear(10, 256), nn.ReLU(), nn.Linear(256, 1024), nn.ReLU(), nn.Unflatten(1, (64, 4, 4)),
                        nn.ConvTranspose2d(64, 64, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ReLU(),
                        nn.ConvTranspose2d(32, 32, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(32, 1, 4, 2, 1))
    params = [*enc.parameters(), *dec.parameters()]
    opt = torch.optim.Adam(params, lr=1e-4)
    x = (torch.rand(batch, 1, 64, 64) > 0.9).float()

    def step():
        h = enc(x)
        mean, logvar = h[:, :10], h[:, 10:]
        z = mean + torch.exp(logvar / 2) * torch.randn_like(mean)
        logits = dec(z)
        rec = nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="sum") / batch
        kl = 0.5 * (mean**2 + logvar.exp() - logvar - 1).sum(1).mean()
        loss = rec + 4.0 * kl
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        best = min(best, time.perf_counter() - t0)
    ms = best / steps * 1000
    return {"design": f"torch {torch.__version__} eager", "members": 1, "compile_s": 0.0, "ms_per_step": ms,
            "model_steps_per_s": 1000 / ms}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=3, help="updates per compiled call")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--members", default="8", help="ensemble sizes of the ensemble rows, e.g. 8 or 8,64,256")
    parser.add_argument("--formulations", default="lax,subpixel,matmul")
    parser.add_argument("--strategies", default="unrolled,vmap,loop", help="ensemble rows")
    parser.add_argument("--no-torch", action="store_true")
    args = parser.parse_args()
    from factorbench.benchmark.huge_pages import reexec_with_huge_pages

    reexec_with_huge_pages()  # as the `factorbench` command does; GLIBC_TUNABLES=glibc.malloc.hugetlb=0 to compare

    rows = []
    if not args.no_torch:
        row = _torch_row(args.batch, args.steps, args.repeats)
        if row:
            rows.append(row)
            _print(rows[-1:], header=True)
    for formulation in args.formulations.split(","):
        rows.append(_jax_row(formulation, "unrolled", 1, args.batch, args.steps, args.repeats))
        _print(rows[-1:], header=len(rows) == 1)
    best = min((r for r in rows if r["design"].startswith("jax")), key=lambda r: r["ms_per_step"])
    formulation = best["design"].split()[1].split("/")[0]
    for members in (int(m) for m in args.members.split(",") if int(m) > 1):
        for strategy in args.strategies.split(","):
            rows.append(_jax_row(formulation, strategy, members, args.batch, args.steps, args.repeats))
            _print(rows[-1:], header=False)
    print(f"\nbatch {args.batch}, {jax.devices()[0].device_kind} ({jax.default_backend()}), "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, "
          f"GLIBC_TUNABLES={os.environ.get('GLIBC_TUNABLES', '')!r}")


def _print(rows: list[dict], header: bool) -> None:
    if header:
        print(f"{'design':<28} {'members':>7} {'compile s':>9} {'ms/step':>9} {'model-steps/s':>13}")
    for r in rows:
        print(f"{r['design']:<28} {r['members']:>7} {r['compile_s']:>9.1f} {r['ms_per_step']:>9.1f} "
              f"{r['model_steps_per_s']:>13.2f}", flush=True)


if __name__ == "__main__":
    main()
