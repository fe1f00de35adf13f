"""DCI: Disentanglement, Completeness, Informativeness (Eastwood & Williams, "A Framework for the Quantitative
Evaluation of Disentangled Representations", ICLR 2018), as computed by dlib."""

from __future__ import annotations

import numpy as np

from factorbench.metrics._checks import check_train_test
from factorbench.metrics._info import normalized_entropy
from factorbench.metrics._scale import standardization


def disentanglement(importance: np.ndarray) -> float:
    """D = sum_i rho_i (1 - H_K(P_i.)), rho_i = code i's share of the total importance (uniform if R is all 0).
    A code with no importance for any factor scores 0 (with one factor its entropy would be 0 by convention)."""
    per_code = np.where(importance.sum(axis=1) > 0, 1.0 - normalized_entropy(importance + 1e-11, axis=1), 0.0)
    weight = importance if importance.sum() > 0 else np.ones_like(importance)
    return float(np.sum(per_code * weight.sum(axis=1) / weight.sum()))


def completeness(importance: np.ndarray) -> float:
    """C = sum_j rho'_j (1 - H_D(P~_.j)), rho'_j = factor j's share of the total importance. A factor no code
    carries scores 0 (with one code its entropy would be 0 by convention, i.e. complete)."""
    per_factor = np.where(importance.sum(axis=0) > 0, 1.0 - normalized_entropy(importance + 1e-11, axis=0), 0.0)
    weight = importance if importance.sum() > 0 else np.ones_like(importance)
    return float(np.sum(per_factor * weight.sum(axis=0) / weight.sum()))


def importance_gbt(zt, yt, ze, ye, random_state=None):
    """dlib's probe: one default `GradientBoostingClassifier` per factor; R = |feature_importances_|.

    Codes are standardised with the train mean and std first: trees split the same points at ordinary scales (dlib
    parity), but sklearn treats a feature whose values differ by less than 1e-7 as constant, so codes scaled by
    1e-8 would get no split at all."""
    from sklearn.ensemble import GradientBoostingClassifier

    mean, std = standardization(zt)
    zt, ze = (zt - mean) / std, (ze - mean) / std
    importance = np.zeros((zt.shape[1], yt.shape[1]))
    acc_train, acc_test = np.ones(yt.shape[1]), np.ones(yt.shape[1])
    for j in range(yt.shape[1]):
        if len(np.unique(yt[:, j])) < 2:
            continue  # one value: perfectly predicted by any code, no importance
        model = GradientBoostingClassifier(random_state=random_state).fit(zt, yt[:, j])
        importance[:, j] = np.abs(model.feature_importances_)
        acc_train[j] = np.mean(model.predict(zt) == yt[:, j])
        acc_test[j] = np.mean(model.predict(ze) == ye[:, j])
    return importance, acc_train, acc_test


def importance_logistic(zt, yt, ze, ye, random_state=None):
    """Fast probe: the converged multinomial logistic regression of `_probe` per factor on standardised codes.

    R[i, j] = RMS over classes of the weights of code i for factor j, each column scaled to sum to 1 (as GBT
    importances do), so D and C weigh factors the same way as with GBT.
    """
    from factorbench.metrics._probe import fit_logistic_probes

    del random_state  # deterministic
    probes = fit_logistic_probes(zt, yt)
    rms = np.sqrt(np.sum(probes.weights**2, axis=2) / probes.mask.sum(axis=1)[:, None])  # (K, D)
    total = rms.sum(axis=1, keepdims=True)
    importance = np.where(total > 0, rms / np.where(total > 0, total, 1.0), 0.0).T
    return importance, probes.accuracy(zt, yt), probes.accuracy(ze, ye)


PROBES = {"gbt": importance_gbt, "logistic": importance_logistic}


def dci(
    codes_train, factors_train, codes_test, factors_test, probe: str = "gbt", *,
    random_state: int | None = None, details: dict | None = None,
) -> dict[str, float]:
    """DCI disentanglement, completeness and informativeness.

    Parameters
    ----------
    probe : "gbt" (dlib: sklearn `GradientBoostingClassifier()` defaults, |feature_importances_|; about 9 min on
        10,000 sprites-sized points) or "logistic" (the fast protocol: a multinomial logistic regression on
        standardised codes, L2 with C = 1, fitted to convergence in float64; importances = per-code RMS weight;
        seconds).
    random_state : seed for the GBT (dlib leaves it unseeded).
    details : optional dict, filled with "importance_matrix" (D x K), "informativeness_train_per_factor" and
        "informativeness_test_per_factor".

    Returns
    -------
    {"disentanglement", "completeness", "informativeness_train", "informativeness_test"}, all in [0, 1];
    informativeness is the mean classification accuracy over factors (as dlib, not Eastwood & Williams' error).

    Differs from dlib: with probe="gbt" the formulas and probe are dlib's (up to the GBT's own randomness) on codes
    standardised first (the same splits at ordinary scales; codes scaled by 1e-8 no longer lose every split); a
    factor with a single value gets zero importance and accuracy 1; with one factor (K = 1) each informative code's
    entropy is 0, so D = 1; a code with no importance adds 0 to D and a factor with none adds 0 to C (dlib's
    1e-11 smoothing makes them uniform, which is 0 too, except along an axis of length 1 where dlib divides by
    log 1). The "logistic" probe is linear: it gives lower informativeness on non-linear codes and different
    importances, so its scores are not comparable with GBT ones (every stored score records its protocol).
    """
    if probe not in PROBES:
        raise ValueError(f"dci: unknown probe {probe!r}; choose one of {sorted(PROBES)}")
    zt, yt, ze, ye = check_train_test("dci", codes_train, factors_train, codes_test, factors_test)
    importance, acc_train, acc_test = PROBES[probe](zt, yt, ze, ye, random_state)
    if details is not None:
        details.update(
            importance_matrix=importance.tolist(),
            informativeness_train_per_factor=list(map(float, acc_train)),
            informativeness_test_per_factor=list(map(float, acc_test)),
        )
    return {
        "disentanglement": disentanglement(importance),
        "completeness": completeness(importance),
        "informativeness_train": float(np.mean(acc_train)),
        "informativeness_test": float(np.mean(acc_test)),
    }
