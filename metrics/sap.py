"""SAP score (Kumar, Sattigeri & Balakrishnan, "Variational Inference of Disentangled Latent Concepts from
Unlabeled Observations", ICLR 2018), in dlib's classification form."""

from __future__ import annotations

import warnings

import numpy as np

from factorbench.metrics._checks import check_train_test


def _svm_accuracy(x_train, y_train, x_test, y_test) -> float:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.svm import LinearSVC

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = LinearSVC(C=0.01, class_weight="balanced").fit(x_train[:, None], y_train)
    return float(np.mean(clf.predict(x_test[:, None]) == y_test))


def score_matrix(codes_train, factors_train, codes_test, factors_test, continuous_factors: bool = False):
    """S (D codes x K factors): test accuracy of a 1-D LinearSVC(C=0.01, balanced), or squared correlation."""
    zt, yt, ze, ye = check_train_test("sap", codes_train, factors_train, codes_test, factors_test)
    s = np.zeros((zt.shape[1], yt.shape[1]))
    for j in range(yt.shape[1]):
        if len(np.unique(yt[:, j])) < 2:
            continue  # a factor with one value: nothing to predict, its column stays 0
        for i in range(zt.shape[1]):
            if np.ptp(zt[:, i]) == 0:
                continue  # a constant code carries no information: 0, not the accuracy of a constant guess
            if continuous_factors:
                c = np.cov(zt[:, i], yt[:, j], ddof=1)
                s[i, j] = c[0, 1] ** 2 / (c[0, 0] * c[1, 1]) if c[0, 0] > 1e-12 else 0.0
            else:
                s[i, j] = _svm_accuracy(zt[:, i], yt[:, j], ze[:, i], ye[:, j])
    return s, np.array([len(np.unique(yt[:, j])) > 1 for j in range(yt.shape[1])])


def sap(
    codes_train, factors_train, codes_test, factors_test, continuous_factors: bool = False, *,
    details: dict | None = None,
) -> dict[str, float]:
    """Separated Attribute Predictability.

    S[i, j] = test accuracy of `LinearSVC(C=0.01, class_weight="balanced")` fitted on the single code i to predict
    factor j (or, with continuous_factors=True, the squared correlation on the train split, 0 when var(z_i) <= 1e-12).
    SAP = mean over factors of (largest - second largest of S[:, j]). Returns {"sap": float in [0, 1]}.
    details (optional dict) receives "score_matrix" (D x K).

    Differs from dlib: identical to `sap_score` (key `SAP_score` there) on the same arrays, except that factors
    with a single training value are left out of the mean (sklearn cannot fit them; dlib would crash), and a code
    constant on the train split scores 0 for every factor (dlib: the accuracy of a constant guess, which is the
    class balance and made a lone constant code score 0.28).
    """
    s, varying = score_matrix(codes_train, factors_train, codes_test, factors_test, continuous_factors)
    if details is not None:
        details.update(score_matrix=s.tolist())
    if not varying.any():
        return {"sap": 0.0}
    srt = np.sort(s[:, varying], axis=0)
    second = srt[-2] if s.shape[0] > 1 else np.zeros(srt.shape[1])
    return {"sap": float(np.mean(srt[-1] - second))}
