"""DCI-ES explicitness (Eastwood, Nicolicioiu, von Kuegelgen, Kekic, Traeuble, Dittadi & Schoelkopf, "DCI-ES: An
Extended Disentanglement Framework with Connections to Identifiability", ICLR 2023)."""

from __future__ import annotations

import numpy as np

from factorbench.metrics._checks import check_train_test


def explicitness(
    codes_train, factors_train, codes_test, factors_test, capacities: tuple[int, ...] = tuple(range(1, 11)), *,
    random_state: int = 0, details: dict | None = None,
) -> dict[str, float]:
    """Explicitness E: how little probe capacity is needed to predict each factor from the codes.

    Probe ladder: a `DecisionTreeClassifier(max_depth=c)` for each capacity c in `capacities`; loss = test error.
    Each factor's loss-capacity curve starts at the baseline loss l_b (error of predicting the most frequent train
    class) at capacity 0, is made monotone by a running minimum and held flat between capacities (a step
    function up to the largest capacity). With A the area under that curve (the best loss being 0 for a factor
    that is a function of the image), E = 1 - 2 A / (c_max * l_b), in [-1, 1]: 1 when the smallest probe is
    already perfect, about 0 for a steady decline, -1 when no probe beats the baseline. Returns
    {"explicitness": mean over factors, "explicitness_factor_{k}": per factor}; a one-valued factor gets 1.
    Also returns "size" = K / D (the paper's S, 1 = as many codes as factors, < 1 over-complete).

    Differs from the paper: one ladder (tree depth) instead of MLP/RF/RFF ladders; not in dlib.
    """
    from sklearn.tree import DecisionTreeClassifier

    zt, yt, ze, ye = check_train_test("dci_es", codes_train, factors_train, codes_test, factors_test)
    caps = np.asarray(sorted(int(c) for c in capacities))
    if caps.size == 0 or caps[0] < 1:
        raise ValueError(f"dci_es: capacities must be positive integers, got {capacities}")
    out: dict[str, float] = {}
    curves = []
    for k in range(yt.shape[1]):
        values, counts = np.unique(yt[:, k], return_counts=True)
        baseline = float(np.mean(ye[:, k] != values[np.argmax(counts)]))
        if len(values) < 2 or baseline == 0:
            out[f"explicitness_factor_{k}"] = 1.0
            continue
        losses = [baseline]
        for c in caps:
            tree = DecisionTreeClassifier(max_depth=int(c), random_state=random_state).fit(zt, yt[:, k])
            losses.append(float(np.mean(tree.predict(ze) != ye[:, k])))
        curve = np.minimum.accumulate(losses)
        area = float(np.sum(np.diff(np.concatenate([[0], caps])) * curve[:-1]))
        out[f"explicitness_factor_{k}"] = float(1.0 - 2.0 * area / (caps[-1] * baseline))
        curves.append(curve.tolist())
    if details is not None:
        details.update(loss_capacity_curves=curves, capacities=[0, *caps.tolist()])
    out["explicitness"] = float(np.mean([out[f"explicitness_factor_{k}"] for k in range(yt.shape[1])]))
    out["size"] = float(yt.shape[1] / zt.shape[1])
    return out
