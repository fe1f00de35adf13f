"""Orbax checkpoints of one member's training state, one CheckpointManager per run directory.

A checkpoint holds the state's leaves (parameters and optimizer moments) in a flat dict keyed by
position, plus the update count as the orbax step; the tree structure comes from a freshly built
state, so nothing model-specific is pickled. Orbax writes each step into a temporary folder and
renames it when complete, so a run killed mid-write leaves the previous checkpoint intact.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import numpy as np


def _manager(directory: Path, max_to_keep: int = 2):
    import orbax.checkpoint as ocp

    options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True, enable_async_checkpointing=False)
    return ocp.CheckpointManager(directory.absolute(), options=options)


def save(directory: Path, step: int, state: Any) -> None:
    """Write `state` (a pytree of arrays) as checkpoint `step` under `directory`."""
    import orbax.checkpoint as ocp

    leaves = {f"{i:05d}": np.asarray(leaf) for i, leaf in enumerate(jax.tree.leaves(state))}
    with _manager(directory) as mgr:
        mgr.save(step, args=ocp.args.StandardSave(leaves), force=True)
        mgr.wait_until_finished()


def steps(directory: Path) -> list[int]:
    """The complete checkpoints under `directory` (empty if none)."""
    if not directory.is_dir():
        return []
    with _manager(directory) as mgr:
        return sorted(mgr.all_steps())


def restore(directory: Path, step: int, like: Any) -> Any:
    """Checkpoint `step` as a pytree shaped like `like` (leaves as numpy arrays)."""
    import orbax.checkpoint as ocp

    treedef = jax.tree.structure(like)
    template = {f"{i:05d}": np.asarray(leaf) for i, leaf in enumerate(jax.tree.leaves(like))}
    with _manager(directory) as mgr:
        leaves = mgr.restore(step, args=ocp.args.StandardRestore(template))
    return jax.tree.unflatten(treedef, [np.asarray(leaves[k]) for k in sorted(leaves)])


def leaves(directory: Path, step: int) -> list[np.ndarray]:
    """The raw leaves of checkpoint `step`, in tree order (for comparisons and inspection)."""
    import orbax.checkpoint as ocp

    with _manager(directory) as mgr:
        flat = mgr.restore(step, args=ocp.args.StandardRestore())
    return [np.asarray(flat[k]) for k in sorted(flat)]
