"""Downstream sample efficiency (Locatello et al., ICML 2019, sec 5.5): how well factors can be predicted from
few labelled codes."""

from __future__ import annotations

import warnings

import numpy as np

from factorbench.metrics._checks import check_train_test


def _sklearn_accuracies(probe, xt, yt, xe, ye):
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.model_selection import KFold

    train, test = np.ones(yt.shape[1]), np.ones(yt.shape[1])
    for k in range(yt.shape[1]):
        if len(np.unique(yt[:, k])) < 2:
            train[k] = 1.0
            test[k] = float(np.mean(ye[:, k] == yt[0, k]))
            continue
        model = LogisticRegressionCV(Cs=10, cv=KFold(5)) if probe == "logreg" else GradientBoostingClassifier()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(xt, yt[:, k])
        train[k] = np.mean(model.predict(xt) == yt[:, k])
        test[k] = np.mean(model.predict(xe) == ye[:, k])
    return train, test


def _logistic_accuracies(xt, yt, xe, ye):
    from factorbench.metrics._probe import fit_logistic_probes

    probes = fit_logistic_probes(xt, yt)
    return probes.accuracy(xt, yt), probes.accuracy(xe, ye)


def downstream(
    codes_train, factors_train, codes_test, factors_test, probe: str = "logreg", *,
    num_train: tuple[int, ...] = (10, 100, 1000, 10000), details: dict | None = None,
) -> dict[str, float]:
    """Accuracy of predicting each factor from codes trained on n = 10, 100, 1000, 10000 labelled points.

    probe : "logreg" (dlib: `LogisticRegressionCV(Cs=10, cv=KFold(5))`), "gbt" (dlib: `GradientBoostingClassifier()`)
        or "logistic" (fast protocol: the multinomial probe of `_probe`, L2 with C = 1 fitted to convergence, no
        cross-validation).
    Keys, for each n <= len(codes_train): "{n}:mean_train_accuracy", "{n}:mean_test_accuracy",
    "{n}:min_train_accuracy", "{n}:min_test_accuracy", "{n}:train_accuracy_factor_{k}", "{n}:test_accuracy_factor_{k}".
    All in [0, 1].

    Differs from dlib: dlib draws a fresh train and test set for every n; here the n-point train sets are the first
    n rows of the one train sample (nested), and all sizes share the test sample, so one sample serves every metric.
    Codes are used raw for the sklearn probes (as dlib) and standardised (with the n points' mean and std) for the
    "logistic" probe.
    """
    if probe not in ("logreg", "gbt", "logistic"):
        raise ValueError(f"downstream: unknown probe {probe!r}; choose 'logreg', 'gbt' or 'logistic'")
    zt, yt, ze, ye = check_train_test("downstream", codes_train, factors_train, codes_test, factors_test)
    sizes = [int(n) for n in num_train if int(n) <= len(zt)]
    if not sizes:
        raise ValueError(f"downstream: every train size in {tuple(num_train)} exceeds the {len(zt)} training points")
    out: dict[str, float] = {}
    for n in sizes:
        if probe == "logistic":
            train, test = _logistic_accuracies(zt[:n], yt[:n], ze, ye)
        else:
            train, test = _sklearn_accuracies(probe, zt[:n], yt[:n], ze, ye)
        out[f"{n}:mean_train_accuracy"] = float(np.mean(train))
        out[f"{n}:mean_test_accuracy"] = float(np.mean(test))
        out[f"{n}:min_train_accuracy"] = float(np.min(train))
        out[f"{n}:min_test_accuracy"] = float(np.min(test))
        for k in range(yt.shape[1]):
            out[f"{n}:train_accuracy_factor_{k}"] = float(train[k])
            out[f"{n}:test_accuracy_factor_{k}"] = float(test[k])
    return out
