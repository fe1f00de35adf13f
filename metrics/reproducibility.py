"""How far a stored score may move when another CPU computes it: the bound per score kind.

An exported encoder run on two CPUs gives codes that differ in the last bits (XLA:CPU generates code for the host's
instruction set; measured: a relative 7e-7 between its YNNPACK and default paths). Every metric is a function of
those codes, so a score is reproducible to within what that perturbation can do to it:

- classifier accuracy (the fast protocol's DCI informativeness and downstream accuracies; BetaVAE's and FactorVAE's
  accuracies under both protocols): at most `FLIPPED_PREDICTIONS` (1) prediction per factor and split changes, so an
  accuracy on n points moves by at most 1 / n, and so do its mean and minimum over factors;
- probe continuous (the fast protocol's DCI disentanglement / completeness and explicitness; InfoE under both
  protocols): `PROBE_CONTINUOUS` (1e-5);
- nearest neighbour (InfoM, InfoC: KSG estimates, where a code's neighbour count can change): `NEAREST_NEIGHBOUR`
  (1e-2);
- discrete statistics (every other score: binned MI, IRS, the Gaussian unsupervised scores, dlib's own probes):
  `DISCRETE_STATISTIC` (1e-3; identical unless a sample lands on a bin edge).

Measured between the shipped baselines' packed scores (AMD EPYC) and a rescoring on an Intel Xeon with AVX-512,
12 models x 67 scores, before the probe changed: BetaVAE's eval accuracy moved by one prediction of 50 in one model;
InfoM by up to 7.9e-3 on a collapsed model (annealed_vae, seed 1: standardising a near-constant code magnifies its
last bits) and 7.6e-4 otherwise, InfoC 9.8e-4; MIG, MIG-sup, DCIMIG 8.4e-5; IRS 1.0e-5; the Gaussian total
correlation 2.6e-4 (of 13.1); the version-1 probe's scores by up to 0.03 (why it changed, see `_probe`). With the
converged probe a test moving the codes by a relative 1e-6 finds no changed prediction and at most 5e-7 on the probe
scores; it asserts every bound above.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

FLIPPED_PREDICTIONS = 1
PROBE_CONTINUOUS = 1e-5
NEAREST_NEIGHBOUR = 1e-2
DISCRETE_STATISTIC = 1e-3
#: Added to every bound: k / n and its differences are not exact in floating point (0.64 - 0.62 > 1 / 50).
_ROUNDING = 1e-12

#: The fast protocol's smooth functions of the probe's weights and probabilities.
_PROBE_CONTINUOUS = {"dci": ("disentanglement", "completeness"),
                     "modularity_explicitness": ("explicitness_train", "explicitness_test")}
_DOWNSTREAM_ACCURACY = re.compile(r"(\d+):(?:mean_|min_)?(train|test)_accuracy")


def _accuracy_points(metric: str, key: str, protocol: str, sample_sizes: Mapping[str, int]) -> int | None:
    """How many points a classifier accuracy is measured on (None: not a classifier accuracy)."""
    if metric in ("beta_vae", "factor_vae") and key.endswith("_accuracy"):
        return sample_sizes[f"{metric}_{key.removesuffix('_accuracy')}"]
    if protocol != "fast":
        return None
    if metric == "dci" and key.startswith("informativeness_"):
        return sample_sizes[key.removeprefix("informativeness_")]
    if metric == "downstream":
        found = _DOWNSTREAM_ACCURACY.match(key)
        if found is None:
            raise ValueError(f"reproducibility: unknown downstream key {key!r}")
        return int(found[1]) if found[2] == "train" else sample_sizes["test"]
    return None


def tolerance(metric: str, key: str, protocol: str, sample_sizes: Mapping[str, int]) -> float:
    """The largest absolute difference between two CPUs' values of score `metric`/`key` under `protocol`, for an
    evaluation with `sample_sizes` (the driver's: "train", "test", "beta_vae_eval", ...)."""
    return _bound(metric, key, protocol, sample_sizes) + _ROUNDING


def _bound(metric: str, key: str, protocol: str, sample_sizes: Mapping[str, int]) -> float:
    if metric == "infomec":
        return PROBE_CONTINUOUS if key == "infoe" else NEAREST_NEIGHBOUR
    points = _accuracy_points(metric, key, protocol, sample_sizes)
    if points is not None:
        return FLIPPED_PREDICTIONS / points
    if protocol == "fast" and key in _PROBE_CONTINUOUS.get(metric, ()):
        return PROBE_CONTINUOUS
    return DISCRETE_STATISTIC
