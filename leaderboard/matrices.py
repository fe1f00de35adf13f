"""Matrices (factor x latent MI, DCI importance) as colour tables: HTML heatmaps coloured with matplotlib colormaps.

A run page can hold several matrices and a store thousands of runs; drawing each as a matplotlib figure costs about
a second of text layout (measured in tests/perf/leaderboard_build.py), while a table of coloured cells costs
nothing, stays sharp at any zoom, and keeps the numbers selectable. `matrix_view` returns plain data that the
run template and the compare page's script both render.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def matrix_view(
    matrix: np.ndarray,
    *,
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    cmap: str = "viridis",
    vmin: float | None = None,
    vmax: float | None = None,
    digits: int = 2,
) -> dict:
    """Colours and texts of a heatmap of `matrix` (rows x cols); NaN cells stay blank.

    Returns a JSON-ready dict: "cols" (labels), "rows" [{"label", "cells": [{"v", "text", "bg", "fg"}]}],
    "legend" {"min", "max", "gradient"} where gradient is a CSS linear-gradient of the colormap.
    """
    from matplotlib import colormaps

    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError(f"matrix_view needs a 2-D matrix, got shape {matrix.shape}")
    if len(row_labels) != matrix.shape[0] or len(col_labels) != matrix.shape[1]:
        raise ValueError(f"labels ({len(row_labels)} rows, {len(col_labels)} cols) do not match the matrix "
                         f"shape {matrix.shape}")
    colormap = colormaps[cmap]
    finite = matrix[np.isfinite(matrix)]
    lo = float(vmin) if vmin is not None else (float(finite.min()) if finite.size else 0.0)
    hi = float(vmax) if vmax is not None else (float(finite.max()) if finite.size else 1.0)
    span = hi - lo if hi > lo else 1.0
    rgba = colormap(np.clip((np.nan_to_num(matrix, nan=lo) - lo) / span, 0.0, 1.0))
    luminance = rgba[..., :3] @ np.array([0.299, 0.587, 0.114])
    rows = []
    for i, label in enumerate(row_labels):
        cells = []
        for j in range(matrix.shape[1]):
            value = matrix[i, j]
            if not np.isfinite(value):
                cells.append({"v": None, "text": "", "bg": "#ffffff", "fg": "#1f2933"})
                continue
            cells.append({"v": round(float(value), 6), "text": f"{value:.{digits}f}", "bg": _hex(rgba[i, j]),
                          "fg": "#1f2933" if luminance[i, j] > 0.55 else "#ffffff"})
        rows.append({"label": str(label), "cells": cells})
    stops = ", ".join(_hex(colormap(x)) for x in np.linspace(0.0, 1.0, 7))
    return {"cols": [str(c) for c in col_labels], "rows": rows,
            "legend": {"min": f"{lo:.{digits}f}", "max": f"{hi:.{digits}f}",
                       "gradient": f"linear-gradient(to right, {stops})"}}


def _hex(rgba) -> str:
    r, g, b = (int(round(float(c) * 255)) for c in rgba[:3])
    return f"#{r:02x}{g:02x}{b:02x}"
