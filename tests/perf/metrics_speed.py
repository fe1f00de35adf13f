"""Speed of every metric on sprites-sized factors: N = 10,000 train / 5,000 test, D = 10, factor sizes
(3, 6, 40, 32, 32), for both protocols.

Run: .venv/bin/python tests/perf/metrics_speed.py [--protocol fast|dlib|both] [--skip-gbt] [--gbt-only]
The dlib DCI (sklearn GradientBoostingClassifier) takes about 9 minutes: run it once in the background with
--gbt-only. Times exclude rendering and encoding (measured separately for BetaVAE / FactorVAE). Codes: five noisy
identity dimensions and five mixed/noise dimensions. BetaVAE/FactorVAE use the `identity` dataset with the same
factor sizes and its band-reading encoder (cheap), so their time is the metric's own work plus sampling.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from factorbench import datasets
from factorbench.metrics import beta_vae, dci, downstream, factor_vae, infomec, irs, mig, modularity, sap, unsupervised

SIZES = (3, 6, 40, 32, 32)


def codes_for(factors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    x = factors / np.asarray(SIZES, float)
    noisy = x + 0.02 * rng.normal(size=x.shape)
    mixed = np.stack([x[:, 0] + x[:, 1], np.sin(3 * x[:, 2]), x[:, 3] * x[:, 4]], axis=1) + 0.05 * rng.normal(
        size=(len(x), 3))
    return np.concatenate([noisy, mixed, rng.normal(size=(len(x), 2))], axis=1)


class TimedDataset:
    """Delegates to a dataset and adds up the time spent rendering."""

    def __init__(self, ds):
        self.ds, self.seconds = ds, 0.0

    def __getattr__(self, name):
        return getattr(self.ds, name)

    def images_float(self, factors, rng):
        t = time.perf_counter()
        out = self.ds.images_float(factors, rng)
        self.seconds += time.perf_counter() - t
        return out


def timed(fn, *args, **kwargs):
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t, out


def run_protocol(protocol, zt, yt, ze, ye, skip_gbt):
    fast = protocol == "fast"
    rows = []
    jobs = [
        ("mig", lambda: mig.mig(zt, yt)),
        ("mig_sup", lambda: mig.mig_sup(zt, yt)),
        ("dcimig", lambda: mig.dcimig(zt, yt)),
        ("sap", lambda: sap.sap(zt, yt, ze, ye)),
        ("irs", lambda: irs.irs(zt, yt)),
        ("unsupervised", lambda: unsupervised.unsupervised(zt)),
        ("infomec", lambda: infomec.infomec(zt, yt)),
    ]
    if fast or not skip_gbt:
        jobs.append(("dci", lambda: dci.dci(zt, yt, ze, ye, probe="logistic" if fast else "gbt")))
    jobs += [
        ("modularity_explicitness",
         lambda: modularity.modularity_explicitness(zt, yt, ze, ye, probe="logistic" if fast else "sklearn")),
        ("downstream", lambda: downstream.downstream(zt, yt, ze, ye, probe="logistic" if fast else "logreg")),
    ]
    for name, job in jobs:
        seconds, out = timed(job)
        rows.append((protocol, name, seconds, 0.0, next(iter(out.items()))))
        print(rows[-1], flush=True)
    ds = TimedDataset(datasets.load("identity", factor_sizes=SIZES))
    enc_time = [0.0]

    def encode(images):
        t = time.perf_counter()
        out = ds.ds.read_factors(images)
        enc_time[0] += time.perf_counter() - t
        return out

    if not fast:
        return rows  # BetaVAE and FactorVAE run identically under both protocols: measured once, under "fast"
    for name, fn in (("beta_vae", lambda: beta_vae.beta_vae_score(ds, encode, 0)),
                     ("factor_vae", lambda: factor_vae.factor_vae_score(ds, encode, 0))):
        ds.seconds, enc_time[0] = 0.0, 0.0
        seconds, out = timed(fn)
        excl = ds.seconds + enc_time[0]
        rows.append((protocol, name, seconds - excl, excl, next(iter(out.items()))))
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--protocol", default="both", choices=["fast", "dlib", "both"])
    parser.add_argument("--skip-gbt", action="store_true")
    parser.add_argument("--gbt-only", action="store_true")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    yt = np.stack([rng.integers(0, s, 10000) for s in SIZES], axis=1)
    ye = np.stack([rng.integers(0, s, 5000) for s in SIZES], axis=1)
    zt, ze = codes_for(yt, rng), codes_for(ye, rng)
    if args.gbt_only:
        seconds, out = timed(dci.dci, zt, yt, ze, ye, probe="gbt", random_state=0)
        print(f"dlib dci (GBT): {seconds:.1f} s  {out}")
        return
    protocols = ["fast", "dlib"] if args.protocol == "both" else [args.protocol]
    rows = []
    for protocol in protocols:
        rows += run_protocol(protocol, zt, yt, ze, ye, args.skip_gbt)
    print("\n| protocol | metric | seconds (excl. render+encode) | render+encode s | first score |")
    print("|---|---|---|---|---|")
    for protocol, name, seconds, excl, first in rows:
        print(f"| {protocol} | {name} | {seconds:.2f} | {excl:.1f} | {first[0]}={first[1]:.3f} |")
    for protocol in protocols:
        total = sum(r[2] for r in rows if r[0] == protocol)
        print(f"total {protocol}: {total:.1f} s (excluding rendering and encoding)")


if __name__ == "__main__":
    main()
