"""FactorVAE score (Kim & Mnih, "Disentangling by Factorising", ICML 2018), as computed by dlib."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from factorbench.metrics._sampling import encode_factors, fixed_factor_batches


def factor_vae_votes(dataset, encode, num_points, batch_size, rng, global_variance, active, progress=None):
    """Vote matrix (K factors, D codes): each point fixes one factor over a batch, the vote goes to the active code
    with the smallest variance relative to its global variance."""
    which, rows = fixed_factor_batches(dataset, num_points, batch_size, rng)
    codes = encode_factors(dataset, encode, rows.reshape(-1, rows.shape[-1]), rng, "factor_vae",
                           chunk=16 * batch_size, progress=progress)
    local = codes.reshape(num_points, batch_size, -1).var(axis=1, ddof=1)
    active_idx = np.flatnonzero(active)
    choice = active_idx[np.argmin(local[:, active] / global_variance[active], axis=1)]
    votes = np.zeros((dataset.num_factors, codes.shape[1]), dtype=np.int64)
    np.add.at(votes, (which, choice), 1)
    return votes


def factor_vae_from_votes(train_votes: np.ndarray, eval_votes: np.ndarray) -> tuple[float, float]:
    """Majority-vote classifier per code from the train votes; (train accuracy, eval accuracy)."""
    cls = np.argmax(train_votes, axis=0)
    cols = np.arange(train_votes.shape[1])
    return (float(train_votes[cls, cols].sum() / train_votes.sum()),
            float(eval_votes[cls, cols].sum() / eval_votes.sum()))


def factor_vae_score(
    dataset, encode: Callable, seed: int, batch_size: int = 64, num_train: int = 10000, num_eval: int = 5000,
    num_variance_estimate: int = 10000, prune_threshold: float = 0.05, *,
    variance_codes: np.ndarray | None = None, progress=None, details: dict | None = None,
) -> dict[str, float]:
    """FactorVAE score: accuracy of the majority-vote classifier from "code with the least relative variance when
    one factor is fixed" to that factor.

    Global variances (ddof 1) come from `num_variance_estimate` random images (or from `variance_codes`, codes of a
    random sample that the driver already encoded); codes with sqrt(variance) < prune_threshold are inactive. No
    active code gives 0 everywhere. Returns {"train_accuracy", "eval_accuracy", "num_active_dims"}; eval_accuracy is
    the score, in [0, 1]. details receives "train_votes" (K x D).

    Differs from dlib: same algorithm and defaults of the study (prune 0.05); `num_active_dims` is the number of
    active codes (dlib reports the total number of codes, a known bug); votes are recorded against the real code
    index (dlib indexes the active subset; accuracies are the same). Factor rows are drawn vectorised from a numpy
    Generator seeded by `seed`, so individual samples differ from dlib's.
    """
    rng = np.random.default_rng(seed)
    if variance_codes is None:
        factors = dataset.sample_factors(num_variance_estimate, rng)
        variance_codes = encode_factors(dataset, encode, factors, rng, "factor_vae", progress=progress)
    global_variance = np.var(np.asarray(variance_codes, dtype=np.float64), axis=0, ddof=1)
    active = np.sqrt(global_variance) >= prune_threshold
    if not active.any():
        return {"train_accuracy": 0.0, "eval_accuracy": 0.0, "num_active_dims": 0.0}
    train = factor_vae_votes(dataset, encode, num_train, batch_size, rng, global_variance, active, progress)
    evaluation = factor_vae_votes(dataset, encode, num_eval, batch_size, rng, global_variance, active, progress)
    train_acc, eval_acc = factor_vae_from_votes(train, evaluation)
    if details is not None:
        details.update(train_votes=train.tolist())
    return {"train_accuracy": train_acc, "eval_accuracy": eval_acc, "num_active_dims": float(active.sum())}
