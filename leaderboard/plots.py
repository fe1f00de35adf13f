"""Build-time figures of the leaderboard (matplotlib, Agg, PNG): the metric rank-correlation heatmap and the
score-vs-hyperparameter violins.

Figures are made with `matplotlib.figure.Figure` directly, never pyplot, so building a site touches no global state
and needs no display. Margins are set by hand from the label lengths: matplotlib's constrained layout draws every
figure twice, which doubled the build time. Every function writes one PNG and returns its path.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

DPI = 100
_INK = "#1f2933"
_CHAR = 0.075  # inches per character of an 8-point label, roughly


def heatmap(
    matrix: np.ndarray,
    path: Path,
    *,
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    title: str,
    colorbar_label: str = "",
    cmap: str = "viridis",
    vmin: float | None = None,
    vmax: float | None = None,
    fmt: str = "{:.2f}",
) -> Path:
    """Write a labelled, annotated heatmap of a small 2-D matrix (NaN cells blank)."""
    matrix = np.asarray(matrix, dtype=np.float64)
    rows, cols = matrix.shape
    left = 0.25 + _CHAR * max((len(s) for s in row_labels), default=1)
    bottom = 0.25 + _CHAR * max((len(s) for s in col_labels), default=1)
    cell = 0.62
    width, height = left + cell * cols + 1.35, bottom + cell * rows + 0.45
    fig = Figure(figsize=(width, height), dpi=DPI)
    ax = fig.add_axes((left / width, bottom / height, cell * cols / width, cell * rows / height))
    bar_ax = fig.add_axes(((left + cell * cols + 0.15) / width, bottom / height, 0.15 / width, cell * rows / height))
    finite = matrix[np.isfinite(matrix)]
    lo = vmin if vmin is not None else (float(finite.min()) if finite.size else 0.0)
    hi = vmax if vmax is not None else (float(finite.max()) if finite.size else 1.0)
    hi = hi if hi > lo else lo + 1e-9
    image = ax.imshow(np.ma.masked_invalid(matrix), cmap=cmap, vmin=lo, vmax=hi, aspect="auto",
                      interpolation="nearest")
    ax.set_xticks(range(cols), labels=list(col_labels), fontsize=8, rotation=90)
    ax.set_yticks(range(rows), labels=list(row_labels), fontsize=8)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    fig.text(0.02 / width, 1 - 0.3 / height, title, fontsize=9, color=_INK)
    colormap = image.get_cmap()
    for (i, j), value in np.ndenumerate(matrix):
        if np.isfinite(value):
            r, g, b, _ = colormap((value - lo) / (hi - lo))
            light = 0.299 * r + 0.587 * g + 0.114 * b > 0.55
            ax.text(j, i, fmt.format(value), ha="center", va="center", fontsize=7, color=_INK if light else "white")
    bar = fig.colorbar(image, cax=bar_ax)
    bar.ax.tick_params(labelsize=7)
    if colorbar_label:
        bar.set_label(colorbar_label, fontsize=8)
    return _save(fig, path)


def violins(
    metrics: Sequence[str],
    groups: Sequence[str],
    values: Sequence[Sequence[np.ndarray]],
    path: Path,
    *,
    title: str,
    legend_title: str,
    ylim: tuple[float, float] | None = (0.0, 1.0),
) -> Path:
    """Write grouped violins on one axis: for each metric, one violin per hyperparameter value over its seeds.

    `values[m][g]` holds the per-seed scores of metric `m` at hyperparameter value `g` (NaN ignored). Colours go
    from light to dark with the group order; seeds are drawn as dots. A group with fewer than two distinct values
    shows its dots only (a density of one point is meaningless). One axis for all metrics keeps the figure cheap:
    the metrics all live in [0, 1].
    """
    from matplotlib import colormaps

    n_metrics, n_groups = len(metrics), max(len(groups), 1)
    slot = 0.8 / n_groups
    width = min(14.0, 1.2 + n_metrics * max(0.95, 0.32 * n_groups))
    fig = Figure(figsize=(width, 3.1), dpi=DPI)
    ax = fig.add_axes((0.55 / width, 0.42 / 3.1, (width - 0.75) / width, 2.05 / 3.1))
    fig.text(0.1 / width, 1 - 0.25 / 3.1, title, fontsize=9, color=_INK)
    colours = colormaps["viridis"](np.linspace(0.85, 0.15, n_groups))
    rng = np.random.default_rng(0)  # jitter only: fixed so a rebuild draws the same picture
    handles = []
    for g in range(n_groups):
        offsets = np.arange(n_metrics) + (g - (n_groups - 1) / 2) * slot
        data = [np.asarray(values[m][g], dtype=np.float64) for m in range(n_metrics)]
        data = [d[np.isfinite(d)] for d in data]
        spread = [m for m in range(n_metrics) if len(np.unique(data[m])) >= 2]
        if spread:
            parts = ax.violinplot([data[m] for m in spread], positions=offsets[spread], widths=slot * 0.95,
                                  showmeans=False, showmedians=False, showextrema=False)
            for body in parts["bodies"]:
                body.set_facecolor(colours[g])
                body.set_edgecolor(colours[g])
                body.set_alpha(0.35)
        xs = np.concatenate([np.full(len(d), offsets[m]) + rng.uniform(-slot / 5, slot / 5, len(d))
                             for m, d in enumerate(data)]) if n_metrics else np.zeros(0)
        ys = np.concatenate(data) if n_metrics else np.zeros(0)
        handles.append(ax.scatter(xs, ys, s=11, color=colours[g], edgecolors=_INK, linewidths=0.3, zorder=3,
                                  label=groups[g] if g < len(groups) else ""))
    ax.set_xticks(range(n_metrics), labels=list(metrics), fontsize=8)
    ax.set_xlim(-0.5, n_metrics - 0.5)
    if ylim:
        ax.set_ylim(*ylim)
    ax.set_ylabel("score", fontsize=8)
    ax.tick_params(labelsize=7, length=2)
    ax.grid(axis="y", color="#e4e7eb", linewidth=0.6)
    ax.set_axisbelow(True)
    for boundary in np.arange(0.5, n_metrics - 0.5):
        ax.axvline(boundary, color="#d9e2ec", linewidth=0.6)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.legend(handles=handles, title=legend_title, fontsize=7, title_fontsize=7, frameon=False, ncols=min(n_groups, 8),
              loc="lower left", bbox_to_anchor=(0.0, 1.0), borderaxespad=0.1, handletextpad=0.2, columnspacing=0.9)
    return _save(fig, path)


def _save(fig: Figure, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", facecolor="white")
    return path
