"""The training settings of Locatello et al.'s study (ICML 2019, dlib's `unsupervised_study_v1`), in one place.

The engine's defaults, `factorbench train`'s flags, the studies, the executors and the shipped baselines read them
from here; runs trained for fewer than `STUDY_STEPS` updates are labelled shortened. No jax import: the CLI builds
its parser (and `--help`) from these without loading the model code.
"""

STUDY_STEPS = 300_000
STUDY_LEARNING_RATE = 1e-4  # Adam
STUDY_BATCH_SIZE = 64
STUDY_NUM_LATENTS = 10
STUDY_ARCHITECTURE = "conv"
