"""The fast protocol's linear probe (version 2): one multinomial logistic regression per factor, fitted to convergence.

Used by the "fast" protocol in place of dlib's slow probes (DCI's gradient-boosted trees, downstream's 5-fold
`LogisticRegressionCV`), for its explicitness, and by InfoMEC's InfoE under both protocols.

Model: sklearn's `LogisticRegression` objective with its default L2 penalty (C = 1: the mean cross-entropy plus
||W||^2 / (2 N), intercepts unpenalised; the objective dlib's explicitness and BetaVAE probes use), on codes
standardised with the training mean and std (a constant code becomes 0). Fit: float64 Newton's method with the
exact Hessian to a gradient tolerance of 1e-10 (8-15 iterations; sklearn's Newton-CG above `NEWTON_MAX_PARAMETERS`).
A binary factor is one logit, as sklearn's binary model; more classes are a symmetric softmax.

Why this and not a fixed number of optimiser steps: version 1 ran 100 float32 L-BFGS steps with an L2 of 1e-6.
Stopped before convergence on a nearly unregularised (so badly conditioned) objective, it amplified the last-bit
differences between the codes two CPUs compute for the same images (XLA:CPU generates code for the host's
instruction set) into downstream accuracies 0.03 apart. A strictly convex objective has one optimum; fitted to it,
the weights move by about as much as the codes do (relative 1e-6 for codes perturbed by 7e-7), so two machines
differ only where a point sits on a decision boundary (`factorbench.metrics.reproducibility` states the bounds;
a test asserts them).

Each factor's labels are its training values (sorted); a test value never seen in training counts as a wrong
prediction; a factor with one training value gets zero weights and predicts that value.
"""

from __future__ import annotations

import dataclasses
import hashlib
import warnings

import numpy as np

from factorbench.metrics._scale import standardization

#: Bump when the probe's numbers change for the same arrays; the protocols' versions
#: (`factorbench.metrics.driver.PROTOCOL_VERSIONS`) follow it.
PROBE_VERSION = 2
#: The fit: sklearn `LogisticRegression`'s penalty (C = 1, its default), a tolerance on the largest gradient entry of
#: the mean objective, and the most Newton iterations.
FIT = {"C": 1.0, "tol": 1e-10, "max_iter": 1000}
#: Above this many parameters per factor ((D + 1) x classes) the exact Hessian costs too much (N P^2 flops and P^2
#: floats): sklearn's Newton-CG solves the same objective instead.
NEWTON_MAX_PARAMETERS = 2048

@dataclasses.dataclass
class LogisticProbes:
    """Fitted probes: weights (K, D, C), biases (K, C), class mask (K, C), the train label sets per factor and the
    standardisation (mean, std) they were fitted under."""

    weights: np.ndarray
    biases: np.ndarray
    mask: np.ndarray
    classes: list[np.ndarray]
    mean: np.ndarray
    std: np.ndarray

    def _logits(self, codes: np.ndarray) -> np.ndarray:
        x = (np.asarray(codes, np.float64) - self.mean) / self.std
        logits = np.einsum("nd,kdc->knc", x, self.weights) + self.biases[:, None, :]
        return np.where(self.mask[:, None, :], logits, -np.inf)

    def predict_proba(self, codes: np.ndarray) -> np.ndarray:
        """(K, N, C) class probabilities (padded classes get 0)."""
        logits = self._logits(codes)
        logits = logits - logits.max(axis=2, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=2, keepdims=True)

    def encode_labels(self, factors: np.ndarray) -> np.ndarray:
        """(K, N) label indices into each factor's train classes; -1 for values unseen in training."""
        out = np.full((len(self.classes), factors.shape[0]), -1, dtype=np.int64)
        for k, cls in enumerate(self.classes):
            idx = np.clip(np.searchsorted(cls, factors[:, k]), 0, len(cls) - 1)
            out[k] = np.where(cls[idx] == factors[:, k], idx, -1)
        return out

    def accuracy(self, codes: np.ndarray, factors: np.ndarray) -> np.ndarray:
        """(K,) accuracy per factor."""
        pred = self._logits(codes).argmax(axis=2)
        return (pred == self.encode_labels(factors)).mean(axis=1)

    def log_loss(self, codes: np.ndarray, factors: np.ndarray, *, balanced: bool = False) -> np.ndarray:
        """(K,) mean cross-entropy in nats per factor (optionally with balanced class weights), over the points
        whose value was seen in training."""
        p = self.predict_proba(codes)
        labels = self.encode_labels(factors)
        out = np.zeros(len(self.classes))
        for k in range(len(self.classes)):
            ok = labels[k] >= 0
            nll = -np.log(np.maximum(p[k, np.arange(len(ok)), np.maximum(labels[k], 0)], 1e-300))[ok]
            w = _balanced_weights(labels[k][ok], len(self.classes[k])) if balanced else np.ones(ok.sum())
            out[k] = float(np.sum(w * nll) / np.sum(w))
        return out


def _balanced_weights(labels: np.ndarray, num_classes: int) -> np.ndarray:
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    return len(labels) / (num_classes * np.maximum(counts[labels], 1.0))


_CACHE: dict = {}


def fit_logistic_probes(codes: np.ndarray, factors: np.ndarray, *, balanced: bool = False) -> LogisticProbes:
    """Fit one multinomial logistic regression per factor column of `factors` (N, K) on standardised `codes` (N, D).

    balanced : weigh classes inversely to their frequency (sklearn's `class_weight="balanced"`), as InfoE does.
    The fast protocol fits the same train probes for DCI, explicitness and downstream: the last few fits are kept.
    """
    codes = np.asarray(codes, np.float64)
    factors = np.asarray(factors)
    digest = [hashlib.sha1(np.ascontiguousarray(a)).hexdigest() for a in (codes, factors)]
    key = (*digest, codes.shape, factors.shape, balanced)
    if key not in _CACHE:
        from threadpoolctl import threadpool_limits

        if len(_CACHE) >= 4:
            _CACHE.pop(next(iter(_CACHE)))
        # One BLAS thread: the products are small, and OpenBLAS threads spinning on a busy 2-core machine (pytest
        # -n 2, another job) made a fit 6x slower (14.4 vs 2.4 s for a 40-class factor at N = 10,000).
        with threadpool_limits(limits=1, user_api="blas"):
            _CACHE[key] = _fit(codes, factors, balanced)
    return _CACHE[key]


def _fit(codes: np.ndarray, factors: np.ndarray, balanced: bool) -> LogisticProbes:
    mean, std = standardization(codes)
    x = (codes - mean) / std
    classes = [np.unique(factors[:, k]) for k in range(factors.shape[1])]
    width = max(len(c) for c in classes)
    weights = np.zeros((len(classes), codes.shape[1], width))
    biases = np.zeros((len(classes), width))
    mask = np.zeros((len(classes), width), dtype=bool)
    for k, cls in enumerate(classes):
        mask[k, : len(cls)] = True
        if len(cls) < 2:
            continue  # one value: zero weights, every point predicted as it
        labels = np.searchsorted(cls, factors[:, k])
        sample_weight = _balanced_weights(labels, len(cls)) if balanced else np.ones(len(labels))
        solve = _newton if len(cls) * (x.shape[1] + 1) <= NEWTON_MAX_PARAMETERS else _newton_cg
        coef = solve(x, labels, len(cls), sample_weight, k)  # (D + 1, free classes), the last row the intercepts
        free = slice(1, 2) if len(cls) == 2 else slice(0, len(cls))
        weights[k, :, free], biases[k, free] = coef[:-1], coef[-1]
    return LogisticProbes(weights, biases, mask, classes, mean, std)


def _objective(theta, xb, onehot, sample_weight, l2, binary):
    """Mean weighted cross-entropy + l2 / 2 ||W||^2, its gradient and the class probabilities of the free classes."""
    logits = xb @ theta
    if binary:  # sklearn's binary model: class 0's logit is fixed at 0
        logits = np.concatenate([np.zeros((len(xb), 1)), logits], axis=1)
    logits -= logits.max(axis=1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    p = np.exp(log_p)
    w = sample_weight / sample_weight.sum()
    value = -np.sum(w * np.sum(onehot * log_p, axis=1)) + 0.5 * l2 * np.sum(theta[:-1] ** 2)
    free_p, free_y = (p[:, 1:], onehot[:, 1:]) if binary else (p, onehot)
    grad = xb.T @ (w[:, None] * (free_p - free_y))
    grad[:-1] += l2 * theta[:-1]
    return value, grad, free_p, w


def _newton(x, labels, num_classes, sample_weight, factor):
    """Newton's method with the exact Hessian and a backtracking line search: quadratic convergence, so the fit
    ends at the optimum to rounding (what makes the probe CPU-independent), in 8-15 iterations."""
    binary = num_classes == 2
    xb = np.concatenate([x, np.ones((len(x), 1))], axis=1)
    onehot = np.eye(num_classes)[labels]
    l2 = 1.0 / (FIT["C"] * sample_weight.sum())
    free = 1 if binary else num_classes
    rows = xb.shape[1]
    theta = np.zeros((rows, free))
    value, grad, p, w = _objective(theta, xb, onehot, sample_weight, l2, binary)
    for _ in range(FIT["max_iter"]):
        if np.abs(grad).max() <= FIT["tol"]:
            return theta
        # H[(d, c), (e, c')] = sum_n w_n xb_nd xb_ne (p_nc [c = c'] - p_nc p_nc') + l2 [d = e < D, c = c']
        outer = (np.sqrt(w)[:, None, None] * p[:, :, None] * xb[:, None, :]).reshape(len(xb), -1)
        hessian = -(outer.T @ outer)
        for c in range(free):
            block = slice(c * rows, (c + 1) * rows)
            hessian[block, block] += (xb * (w * p[:, c])[:, None]).T @ xb
            hessian[block, block] += np.diag(np.r_[np.full(rows - 1, l2), 0.0])
        if not binary:  # softmax logits are free up to a constant: pin the intercepts' common shift (g is orthogonal)
            shift = np.zeros((free, rows))
            shift[:, -1] = 1.0 / np.sqrt(free)
            hessian += np.outer(shift.ravel(), shift.ravel())
        step = -np.linalg.solve(hessian, grad.T.ravel()).reshape(free, rows).T
        slope, size = float(np.sum(grad * step)), 1.0
        if -slope <= 1e-14 * max(1.0, abs(value)):
            # The predicted decrease is below the objective's float64 resolution, where a line search only sees
            # rounding (it refused the step that took max|g| from 1e-10 to 3e-17): take the full step and stop.
            return theta + step
        while size > 1e-12:
            trial = theta + size * step
            new_value, new_grad, new_p, _ = _objective(trial, xb, onehot, sample_weight, l2, binary)
            if new_value <= value + 1e-4 * size * slope:
                break
            size /= 2
        else:
            return theta  # no step lowers the objective in float64: at the optimum to rounding
        theta, value, grad, p = trial, new_value, new_grad, new_p
    raise ValueError(f"logistic probe: the fit for factor {factor} did not converge in {FIT['max_iter']} Newton "
                     "iterations; are the codes finite and of a sane scale?")


def _newton_cg(x, labels, num_classes, sample_weight, factor):
    """sklearn's Newton-CG on the same objective, for probes too large for an exact Hessian (slower, as exact)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=FIT["C"], solver="newton-cg", tol=FIT["tol"], max_iter=FIT["max_iter"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Line Search failed": no step improves the objective in float64
        warnings.simplefilter("error", ConvergenceWarning)  # never a number from an unfinished fit
        try:
            model.fit(x, labels, sample_weight=sample_weight)
        except ConvergenceWarning:
            raise ValueError(f"logistic probe: the fit for factor {factor} did not converge in {FIT['max_iter']} "
                             "Newton-CG iterations; are the codes finite and of a sane scale?") from None
    return np.concatenate([model.coef_.T, model.intercept_[None, :]], axis=0)
