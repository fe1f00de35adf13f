"""The metrics driver: draw every sample the chosen metrics need from one seed, encode each image once, run them.

Protocols
---------
"dlib" : disentanglement_lib's unsupervised_study_v1 settings: 10,000 train / 5,000 test points, 20 bins, DCI with
    sklearn's default `GradientBoostingClassifier` (about 9 min on sprites-sized factors), SAP with
    `LinearSVC(C=0.01, class_weight="balanced")`, BetaVAE with `LogisticRegression()`, FactorVAE with prune 0.05,
    IRS with quantile 0.99, explicitness with `LogisticRegression()`, downstream with `LogisticRegressionCV(Cs=10,
    cv=KFold(5))`.
"fast" : the same samples and the same deterministic metrics (MIG, MIG-sup, DCIMIG, SAP, IRS, unsupervised, BetaVAE,
    FactorVAE, modularity, InfoMEC are identical); only three probes change: DCI uses the multinomial logistic
    probe of `_probe` (L2 with C = 1, fitted to convergence in float64; importances = per-code RMS weight, so its
    D/C/I are *not* GBT numbers), explicitness uses the same probe (sklearn's LogisticRegression objective,
    converged instead of stopped at 100 lbfgs iterations), and downstream uses it instead of 5-fold CV.

Differs from dlib: dlib draws a fresh sample for every metric and re-encodes; here the train/test sample is drawn
once and shared by every array-level metric, and FactorVAE's global variances come from the shared train codes when
its `num_variance_estimate` equals the train size. BetaVAE and FactorVAE draw their structured batches from their own
child seeds. Every returned number records its protocol, seed, sample sizes and library versions.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from importlib import metadata

import numpy as np

from factorbench.metrics._probe import PROBE_VERSION

METRICS = ("beta_vae", "factor_vae", "mig", "mig_sup", "dcimig", "sap", "dci", "modularity_explicitness", "irs",
           "unsupervised", "infomec", "downstream")
SHARED = frozenset(METRICS) - {"beta_vae", "factor_vae", "unsupervised", "mig", "mig_sup", "dcimig", "irs"}
DEFAULT_SIZES = {"train": 10000, "test": 5000, "beta_vae_train": 10000, "beta_vae_eval": 5000,
                 "factor_vae_train": 10000, "factor_vae_eval": 5000, "factor_vae_variance": 10000, "batch_size": 64}
PROTOCOLS = ("dlib", "fast")
#: The version of each protocol's definition, recorded with every score (`versions["protocol"]`, e.g. "fast/2").
#: Bump it when a protocol's numbers change for the same arrays (a probe, a default); scores stored without the
#: entry were made by version 1. Version 2: the logistic probe of `_probe` (fast's DCI, explicitness and
#: downstream; InfoE under both) is fitted to convergence in float64, so scores no longer depend on the CPU.
PROTOCOL_VERSIONS = {"dlib": 2, "fast": 2}


def available() -> list[str]:
    """The metric names `evaluate` accepts."""
    return list(METRICS)


def _versions() -> dict[str, str]:
    out = {}
    for pkg in ("factorbench", "numpy", "scipy", "scikit-learn", "jax"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "unknown"
    return out


def evaluate(
    dataset, encode: Callable, metrics: list[str] | None = None, protocol: str = "dlib", seed: int = 0,
    progress: bool = True, *, sizes: dict[str, int] | None = None,
) -> dict:
    """Score one representation on `dataset`.

    encode : images float32 (B, 64, 64, C) in [0, 1] -> codes (B, D) (numpy or jax).
    metrics : names from `available()`; None = all. protocol : "dlib" or "fast" (see the module docstring).
    sizes : override sample sizes (keys of DEFAULT_SIZES), e.g. for tests.
    Returns {"scores": {metric: {key: float}}, "details": {metric: {name: nested lists}}, "protocol", "seed",
    "sample_sizes", "versions", "seconds": {metric: float, "sampling": float}}.
    """
    from tqdm.auto import tqdm

    from factorbench.metrics import (
        beta_vae,
        dci,
        downstream,
        factor_vae,
        infomec,
        irs,
        mig,
        modularity,
        sap,
        unsupervised,
    )
    from factorbench.metrics._sampling import encode_factors

    names = list(METRICS) if metrics is None else list(metrics)
    unknown = [m for m in names if m not in METRICS]
    if unknown:
        raise ValueError(f"evaluate: unknown metric(s) {unknown}; choose from {list(METRICS)}")
    if protocol not in PROTOCOLS:
        raise ValueError(f"evaluate: unknown protocol {protocol!r}; choose 'dlib' or 'fast'")
    bad = set(sizes or {}) - set(DEFAULT_SIZES)
    if bad:
        raise ValueError(f"evaluate: unknown sizes {sorted(bad)}; choose from {sorted(DEFAULT_SIZES)}")
    n = {**DEFAULT_SIZES, **(sizes or {})}
    fast = protocol == "fast"
    main_seq, beta_seq, factor_seq = np.random.SeedSequence(seed).spawn(3)
    child_seed = {"beta_vae": int(beta_seq.generate_state(1)[0]), "factor_vae": int(factor_seq.generate_state(1)[0])}

    seconds: dict[str, float] = {}
    sample_sizes: dict[str, int] = {}
    need_train = any(m not in ("beta_vae",) for m in names)
    need_test = any(m in SHARED for m in names)
    t0 = time.perf_counter()
    zt = yt = ze = ye = None
    if need_train:
        rng = np.random.default_rng(main_seq)
        total = n["train"] + (n["test"] if need_test else 0)
        bar = tqdm(total=total, desc="encode sample", disable=not progress, unit="img")
        yt = dataset.sample_factors(n["train"], rng)
        zt = encode_factors(dataset, encode, yt, rng, "evaluate", progress=bar)
        sample_sizes["train"] = n["train"]
        if need_test:
            ye = dataset.sample_factors(n["test"], rng)
            ze = encode_factors(dataset, encode, ye, rng, "evaluate", progress=bar)
            sample_sizes["test"] = n["test"]
        bar.close()
    seconds["sampling"] = time.perf_counter() - t0

    scores: dict[str, dict[str, float]] = {}
    details: dict[str, dict] = {}
    bar = tqdm(names, desc=f"metrics ({protocol})", disable=not progress, unit="metric")
    for name in bar:
        bar.set_postfix_str(f"running {name}")  # some take minutes (BetaVAE encodes its pairs, DCI fits probes)
        t0 = time.perf_counter()
        d: dict = {}
        if name == "mig":
            s = mig.mig(zt, yt, details=d)
        elif name == "mig_sup":
            s = mig.mig_sup(zt, yt, details=d)
        elif name == "dcimig":
            s = mig.dcimig(zt, yt, details=d)
        elif name == "sap":
            s = sap.sap(zt, yt, ze, ye, details=d)
        elif name == "dci":
            s = dci.dci(zt, yt, ze, ye, probe="logistic" if fast else "gbt", random_state=seed, details=d)
        elif name == "modularity_explicitness":
            s = modularity.modularity_explicitness(zt, yt, ze, ye, probe="logistic" if fast else "sklearn", details=d)
        elif name == "irs":
            s = irs.irs(zt, yt, details=d)
        elif name == "unsupervised":
            s = unsupervised.unsupervised(zt, details=d)
        elif name == "infomec":
            s = infomec.infomec(zt, yt, random_state=seed, details=d)
        elif name == "downstream":
            s = downstream.downstream(zt, yt, ze, ye, probe="logistic" if fast else "logreg", details=d)
        elif name == "beta_vae":
            s = beta_vae.beta_vae_score(dataset, encode, child_seed[name], n["batch_size"], n["beta_vae_train"],
                                        n["beta_vae_eval"])
            sample_sizes.update(beta_vae_train=n["beta_vae_train"], beta_vae_eval=n["beta_vae_eval"],
                                batch_size=n["batch_size"])
        else:  # factor_vae
            reuse = zt if n["factor_vae_variance"] == n["train"] else None
            s = factor_vae.factor_vae_score(
                dataset, encode, child_seed[name], n["batch_size"], n["factor_vae_train"], n["factor_vae_eval"],
                n["factor_vae_variance"], variance_codes=reuse, details=d)
            sample_sizes.update(factor_vae_train=n["factor_vae_train"], factor_vae_eval=n["factor_vae_eval"],
                                factor_vae_variance=n["factor_vae_variance"], batch_size=n["batch_size"])
        scores[name] = {k: float(v) + 0.0 for k, v in s.items()}  # + 0.0: a score is never -0.0
        if d:
            details[name] = d
        seconds[name] = time.perf_counter() - t0
    if details:  # what the matrices' rows are (the leaderboard labels its heatmaps with these)
        names_of = getattr(dataset, "factor_names", None)
        details["dataset"] = {"name": str(getattr(dataset, "name", "")),
                              "factor_names": [str(x) for x in names_of] if names_of is not None else [],
                              "factor_sizes": [int(x) for x in getattr(dataset, "factor_sizes", ())]}
    return {"scores": scores, "details": details, "protocol": protocol, "seed": int(seed),
            "sample_sizes": sample_sizes, "seconds": seconds,
            "versions": {**_versions(), "protocol": f"{protocol}/{PROTOCOL_VERSIONS[protocol]}",
                         "probe": f"logistic/{PROBE_VERSION}"}}
