"""One small trained ensemble shared by the engine tests (they run in one xdist group, so it is built once)."""

import jax
import pytest

# The engine tests' common set-up: every run with these settings reuses the same compiled program.
TINY = dict(steps=8, batch_size=8, log_every=4, checkpoint_every=4, learning_rate=1e-3, progress=False,
            eval_batches=2)
MEMBERS = [{"seed": 0, "beta": 1.0}, {"seed": 1, "beta": 4.0}]


@pytest.fixture(scope="session")
def tiny():
    return dict(TINY), [dict(m) for m in MEMBERS]


@pytest.fixture(scope="session")
def compile_cache(tmp_path_factory):
    """A persistent compilation cache, so the subprocess of the resume test can skip the big compile."""
    path = tmp_path_factory.mktemp("jax_cache")
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    return path


@pytest.fixture(scope="session")
def trained(tmp_path_factory, compile_cache, tiny):
    from factorbench.models import train_ensemble

    config, members = tiny
    return train_ensemble("sprites", "beta_vae", members, out_dir=tmp_path_factory.mktemp("runs"), **config)
