"""Dataset registry: names to constructors, with a "did you mean" for typos."""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable

from factorbench.datasets._base import DatasetError, GroundTruthDataset

_REGISTRY: dict[str, Callable[..., GroundTruthDataset]] = {}


def register(name: str, factory: Callable[..., GroundTruthDataset]) -> None:
    """Add a dataset constructor under `name`; a name can be registered once."""
    if name in _REGISTRY:
        raise ValueError(f"dataset {name!r} is already registered")
    _REGISTRY[name] = factory


def names() -> list[str]:
    """Every registered dataset name, sorted."""
    return sorted(_REGISTRY)


def load(name: str, **options) -> GroundTruthDataset:
    """The dataset called `name`, built with `options` (e.g. `load("identity", factor_sizes=(3, 4))`)."""
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, _REGISTRY, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise DatasetError(f"unknown dataset {name!r}.{hint} Known datasets: {', '.join(names())}")
    factory = _REGISTRY[name]
    params = inspect.signature(factory).parameters
    unknown = sorted(set(options) - set(params))
    if unknown and not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        accepted = ", ".join(params) or "none"
        raise DatasetError(f"dataset {name!r} has no option(s) {', '.join(unknown)}; accepted options: {accepted}")
    return factory(**options)
