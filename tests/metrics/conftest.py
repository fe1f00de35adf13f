"""Shared synthetic codes/factors for the metric tests (small N so sklearn probes stay cheap)."""

import numpy as np
import pytest

SIZES = (3, 5, 8)


def make_factors(n, sizes=SIZES, seed=0):
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, s, n) for s in sizes], axis=1)


def identity_codes(factors, sizes=SIZES, noise=0.0, seed=1):
    rng = np.random.default_rng(seed)
    return factors / np.asarray(sizes, float) + noise * rng.normal(size=factors.shape)


@pytest.fixture(scope="session")
def mixed():
    """Codes that partly mix factors plus a noise and a constant-free random dimension: (codes, factors)."""
    rng = np.random.default_rng(3)
    f = make_factors(800, seed=2)
    x = f / np.asarray(SIZES, float)
    z = np.stack([x[:, 0] + 0.3 * x[:, 1], x[:, 1] + 0.05 * rng.normal(size=800), np.sin(4 * x[:, 2]),
                  rng.normal(size=800), x[:, 0] * x[:, 2] + 0.1 * rng.normal(size=800)], axis=1)
    return z, f


@pytest.fixture(scope="session")
def split(mixed):
    z, f = mixed
    return z[:500], f[:500], z[500:], f[500:]
