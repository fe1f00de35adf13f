"""Rendering helpers of the leaderboard: the Jinja environment with its filters, number formats, file writes."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from factorbench.leaderboard.table import hparam_text

PACKAGE_DIR = Path(__file__).resolve().parent


def environment():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(PACKAGE_DIR / "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = format_number
    env.filters["rank"] = format_rank
    env.filters["hp"] = hparam_text
    env.filters["shade"] = shade
    env.filters["sortkey"] = sort_value
    env.filters["compact"] = lambda d: ", ".join(f"{k}: {v}" for k, v in sorted((d or {}).items()))
    env.filters["evaluations"] = evaluations
    env.filters["slug_list"] = lambda runs, slugs: ",".join(slugs[r["run_id"]] for r in runs)
    env.tests["finite"] = lambda x: x is not None and isinstance(x, int | float) and math.isfinite(x)
    return env


def evaluations(scores: list[dict]) -> list[dict]:
    """One entry per evaluation (representation, protocol, eval seed) of a run, with its sample sizes."""
    seen: dict[tuple, dict] = {}
    for s in scores:
        key = (s["representation"], s["protocol"], s["eval_seed"])
        entry = seen.setdefault(key, {"representation": key[0], "protocol": key[1], "eval_seed": key[2],
                                      "created_at": str(s.get("created_at") or "")[:19], "sample_sizes": {}})
        entry["sample_sizes"].update(s.get("sample_sizes") or {})
    return list(seen.values())


def format_number(value: Any, digits: int = 3) -> str:
    """A score as text: `digits` decimals, an em dash for a gap."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "\u2014"
    if isinstance(value, float | int | np.floating | np.integer):
        value = float(value)
        if value != 0 and (abs(value) >= 1e4 or abs(value) < 10 ** -digits):
            return f"{value:.{digits}g}"
        return f"{value:.{digits}f}"
    return str(value)


def format_rank(value: float) -> str:
    """A rank: an integer when it is one, one decimal for ties, a dash for none."""
    if value is None or not math.isfinite(value):
        return "\u2014"
    return f"{value:.0f}" if abs(value - round(value)) < 1e-9 else f"{value:.1f}"


def sort_value(value: Any) -> str:
    """The `data-value` a sortable cell carries: a number, or empty for a gap (sorted last either way)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return repr(float(value))


def shade(rank: float, count: int) -> str:
    """Inline background for a ranked cell: deeper green for better ranks, none without a rank."""
    if rank is None or not math.isfinite(rank) or count < 2:
        return ""
    quality = (count - rank) / (count - 1)
    return f"background-color: rgba(47, 158, 68, {0.05 + 0.30 * quality:.3f})"


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def json_number(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
