"""BetaVAE score (Higgins et al., "beta-VAE: Learning Basic Visual Concepts with a Constrained Variational
Framework", ICLR 2017), as computed by dlib."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np

from factorbench.metrics._sampling import encode_factors


def beta_vae_points(dataset, encode: Callable, num_points: int, batch_size: int, rng, progress=None):
    """(labels (P,), features (P, D)): for each point pick factor k, draw two batches of `batch_size` factor rows
    that agree on k, encode both, feature = mean over the batch of |z1 - z2| per code."""
    k = dataset.num_factors
    which = rng.integers(k, size=num_points)
    first = dataset.sample_factors(num_points * batch_size, rng).reshape(num_points, batch_size, k)
    second = dataset.sample_factors(num_points * batch_size, rng).reshape(num_points, batch_size, k)
    idx = np.arange(num_points)
    second[idx, :, which] = first[idx, :, which]
    both = np.stack([first, second], axis=1).reshape(-1, k)  # pairs adjacent, so a chunk holds whole points
    codes = encode_factors(dataset, encode, both, rng, "beta_vae", chunk=16 * batch_size, progress=progress)
    codes = codes.reshape(num_points, 2, batch_size, -1)
    return which, np.abs(codes[:, 0] - codes[:, 1]).mean(axis=1)


def beta_vae_from_features(train_labels, train_features, eval_labels, eval_features, seed: int = 0) -> dict:
    """Fit dlib's classifier, sklearn `LogisticRegression(random_state=seed)` with library defaults."""
    from sklearn.linear_model import LogisticRegression

    if len(np.unique(train_labels)) < 2:
        return {"train_accuracy": 1.0, "eval_accuracy": float(np.mean(eval_labels == train_labels[0]))}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = LogisticRegression(random_state=seed).fit(train_features, train_labels)
    return {
        "train_accuracy": float(model.score(train_features, train_labels)),
        "eval_accuracy": float(model.score(eval_features, eval_labels)),
    }


def beta_vae_score(
    dataset, encode: Callable, seed: int, batch_size: int = 64, num_train: int = 10000, num_eval: int = 5000,
    *, progress=None,
) -> dict[str, float]:
    """BetaVAE score: accuracy of a linear classifier that tells, from the mean |z1 - z2| of a batch of pairs sharing
    one factor, which factor was shared. Returns {"train_accuracy", "eval_accuracy"} in [0, 1]; eval_accuracy is
    the score. Cost: 2 x batch_size x (num_train + num_eval) encoded images (1.92M with the defaults).

    Differs from dlib: same draw, features and classifier (`LogisticRegression` with sklearn's current defaults,
    lbfgs, which moved the score in sklearn 0.22), but the factor rows of all points are drawn in one vectorised call
    from a numpy Generator seeded by `seed` (dlib draws point by point from a RandomState), so individual samples
    differ; images are encoded in chunks of 16 points.
    """
    rng = np.random.default_rng(seed)
    train = beta_vae_points(dataset, encode, num_train, batch_size, rng, progress)
    evaluation = beta_vae_points(dataset, encode, num_eval, batch_size, rng, progress)
    return beta_vae_from_features(*train, *evaluation, seed=seed)
