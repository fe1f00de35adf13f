"""dlib's sampled representation, in one place: mean + exp(logvar / 2) * eps from an encoder's [means, log-variances]
output, eps ~ N(0, I) from a numpy generator seeded by the evaluation seed and drawn in call order.

`evaluate --representation sampled` (a run's `encoder_gaussian.jaxexport`) and `submit --representation sampled` (any
artefact with a [B, 2D] output) both draw through here, so the same model and seed give the same codes and scores.
"""

from __future__ import annotations

import numpy as np

#: Mixed into the evaluation seed, so the noise stream is not the sample-drawing stream of the same seed.
_STREAM = 0x5A3


def noise(seed: int) -> np.random.Generator:
    """The generator of the sampled representation's eps for evaluation seed `seed`."""
    return np.random.default_rng([seed, _STREAM])


def sample(output: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """float32 codes [B, D] from an encoder output [B, 2D] read as [means, log-variances]."""
    mean, logvar = np.split(np.asarray(output, np.float32), 2, axis=1)
    eps = rng.standard_normal(mean.shape, dtype=np.float32)
    return mean + np.exp(logvar / 2) * eps
