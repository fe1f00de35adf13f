"""A JAX multinomial logistic-regression probe, fitted for all factors at once (vmap) with L-BFGS.

Used by the "fast" protocol in place of sklearn's slow probes (DCI, explicitness, downstream) and by InfoMEC's
InfoE. Inputs are standardised with the training mean and std (a constant code becomes 0). Each factor's labels
are re-indexed to 0..C_k-1 from the training set; classes are padded to the largest C and masked, so one jit-compiled
function fits every factor. A test label never seen in training counts as a wrong prediction.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax


@dataclasses.dataclass
class LogisticProbes:
    """Fitted probes: weights (K, D, C), biases (K, C), class mask (K, C) and the train label sets per factor."""

    weights: np.ndarray
    biases: np.ndarray
    mask: np.ndarray
    classes: list[np.ndarray]
    mean: np.ndarray
    std: np.ndarray

    def _logits(self, codes: np.ndarray) -> np.ndarray:
        x = ((codes - self.mean) / self.std).astype(np.float32)
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

    def log_loss(self, codes: np.ndarray, factors: np.ndarray, balanced: bool = False) -> np.ndarray:
        """(K,) mean cross-entropy in nats per factor (optionally with balanced class weights)."""
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


@functools.partial(jax.jit, static_argnames=("steps",))
def _fit_all(x, labels, mask, sample_weight, l2, steps):
    num_features, num_classes = x.shape[1], mask.shape[1]

    def fit_one(y, class_mask, weight):
        def loss(params):
            w, b = params
            logits = jnp.where(class_mask[None, :], x @ w + b, -1e9)
            nll = -jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1)[:, 0]
            return jnp.sum(weight * nll) / jnp.sum(weight) + 0.5 * l2 * jnp.sum(w * w)

        params = (jnp.zeros((num_features, num_classes)), jnp.zeros((num_classes,)))
        opt = optax.lbfgs()
        value_and_grad = optax.value_and_grad_from_state(loss)

        def body(_, carry):
            p, state = carry
            value, grad = value_and_grad(p, state=state)
            updates, new_state = opt.update(grad, state, p, value=value, grad=grad, value_fn=loss)
            new_p = optax.apply_updates(p, updates)
            finite = jnp.all(jnp.isfinite(new_p[0])) & jnp.all(jnp.isfinite(new_p[1]))
            return jax.tree.map(lambda a, b: jnp.where(finite, a, b), (new_p, new_state), (p, state))

        params, _ = jax.lax.fori_loop(0, steps, body, (params, opt.init(params)))
        return params

    return jax.vmap(fit_one)(labels, mask, sample_weight)


_CACHE: dict = {}


def fit_logistic_probes(
    codes: np.ndarray, factors: np.ndarray, *, l2: float = 1e-6, steps: int = 100, balanced: bool = False,
    num_used: int | None = None,
) -> LogisticProbes:
    """Fit one multinomial logistic regression per factor column of `factors` (N, K) on standardised `codes` (N, D).

    With `num_used`, only the first num_used rows are fitted (the rest get weight 0), so different train sizes share
    one compiled function. l2 is the weight penalty added to the mean cross-entropy (0 = unpenalised);
    `steps` L-BFGS iterations (a non-finite step is rejected).
    """
    import hashlib

    digest = [hashlib.sha1(np.ascontiguousarray(a)).hexdigest() for a in (codes, factors)]
    key = (*digest, codes.shape, factors.shape, l2, steps, balanced, num_used)
    if key not in _CACHE:  # the fast protocol fits the same train probes for DCI, explicitness and downstream
        if len(_CACHE) >= 4:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = _fit_logistic_probes(codes, factors, l2, steps, balanced, num_used)
    return _CACHE[key]


def _fit_logistic_probes(codes, factors, l2, steps, balanced, num_used) -> LogisticProbes:
    used = len(codes) if num_used is None else int(num_used)
    mean = codes[:used].mean(axis=0)
    std = codes[:used].std(axis=0)
    std = np.where(np.ptp(codes[:used], axis=0) > 0, std, 1.0)
    x = ((codes - mean) / std).astype(np.float32)
    classes = [np.unique(factors[:used, k]) for k in range(factors.shape[1])]
    width = max(len(c) for c in classes)
    mask = np.zeros((len(classes), width), dtype=bool)
    labels = np.zeros((len(classes), len(codes)), dtype=np.int32)
    weight = np.ones((len(classes), len(codes)), dtype=np.float32)
    for k, cls in enumerate(classes):
        mask[k, : len(cls)] = True
        labels[k] = np.clip(np.searchsorted(cls, factors[:, k]), 0, len(cls) - 1)
        if balanced:
            weight[k, :used] = _balanced_weights(labels[k, :used], len(cls))
        weight[k, used:] = 0.0
    w, b = _fit_all(jnp.asarray(x), jnp.asarray(labels), jnp.asarray(mask), jnp.asarray(weight), jnp.float32(l2), steps)
    return LogisticProbes(np.asarray(w), np.asarray(b), mask, classes, mean, std)
