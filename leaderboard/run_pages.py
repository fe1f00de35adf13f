"""Run pages: what one run's page shows (every score, the headline per track, heatmaps, MIG gaps, pictures,
provenance as named fields), also fed to the compare page."""

from __future__ import annotations

import shutil
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from factorbench.leaderboard import public
from factorbench.leaderboard.columns import HEADLINE, TRAINING_METRIC
from factorbench.leaderboard.matrices import matrix_view
from factorbench.leaderboard.table import COLLAPSE_KEY, REPRESENTATION, evaluation_key, evaluation_label

RUN_IMAGES = ("traversals.png", "reconstructions.png")
# Where the metrics driver keeps the matrices the run page draws: (metric, detail name), first found wins.
MI_SOURCES = (("mig", "mi_matrix"), ("modularity_explicitness", "mi_matrix"))
IMPORTANCE_SOURCES = (("dci", "importance_matrix"),)


@dataclass
class RunPage:
    """What one run page shows, also fed to the compare page."""

    run: dict
    slug: str
    scores: list[dict]
    headline: dict[str, dict[str, float]]  # protocol -> column id -> value (eval seeds averaged)
    row_slug: str | None = None
    images: dict[str, str] = field(default_factory=dict)  # name -> path relative to the site root
    heatmaps: list[dict] = field(default_factory=list)  # representation, kind, title, note, view (matrix_view)
    gaps: dict[str, list[dict]] = field(default_factory=dict)  # representation -> [{factor, gap, normalized}]
    collapsed: bool = False  # some evaluation found no active code dimension


def provenance_fields(run: dict) -> list[tuple[str, str]]:
    """The run's provenance, training budget and submitter metadata as named fields (paths already scrubbed)."""
    rows = [(f"training.{k}", v) for k, v in public.fields(run.get("training"))]
    rows += [(f"submitter.{k}", v) for k, v in public.fields(run.get("submitter"))]
    return rows + public.fields(run.get("provenance"))


def run_pages(store, runs, scores, slugs, row_of, out, labels, tracks, *, progress) -> dict[str, RunPage]:
    from tqdm.auto import tqdm

    by_run: dict[str, list[dict]] = defaultdict(list)
    for score in scores:
        by_run[score["run_id"]].append(score)
    pages = {}
    for run in tqdm(runs, desc="run pages", unit="run", disable=not progress):
        run_id, slug = run["run_id"], slugs[run["run_id"]]
        run_scores = sorted(by_run.get(run_id, []), key=lambda s: (
            s["representation"] != REPRESENTATION, s["representation"], s["protocol"], s["metric"], s["key"],
            s["eval_seed"]))
        page = RunPage(run=public.scrub(run), slug=slug, scores=run_scores,
                       headline=_headline(run_scores, labels, tracks), row_slug=row_of.get(run_id),
                       collapsed=any((s["metric"], s["key"]) == COLLAPSE_KEY and s["value"] == 0.0
                                     and s["representation"] == REPRESENTATION for s in run_scores))
        folder = out / "runs" / slug
        if run.get("run_dir"):
            for name in RUN_IMAGES:
                source = Path(run["run_dir"]) / name
                if source.is_file():
                    folder.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(source, folder / name)
                    page.images[name] = f"runs/{slug}/{name}"
        representations = sorted({s["representation"] for s in run_scores if s["metric"] != TRAINING_METRIC},
                                 key=lambda r: (r != REPRESENTATION, r))
        for representation in representations:
            _run_figures(page, store.details(run_id, representation) or {}, representation)
        pages[run_id] = page
    return pages


def _headline(run_scores: list[dict], labels: dict[str, str], tracks: dict) -> dict[str, dict[str, float]]:
    """Per evaluation contract (the table's label: a track, or an ad hoc contract), the headline values."""
    collected: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    training: dict[str, list[float]] = defaultdict(list)
    wanted = {(c.metric, c.key): c.id for c in HEADLINE}
    for s in run_scores:
        column = wanted.get((s["metric"], s["key"]))
        if column is None or s["value"] is None or s["representation"] != REPRESENTATION:
            continue
        if s["metric"] == TRAINING_METRIC:
            training[column].append(float(s["value"]))
        else:
            key, contract = evaluation_key(s)
            label = labels.get(key) or evaluation_label(tracks.get(key), contract or None)
            collected[label][column].append(float(s["value"]))
    if not collected and training:
        collected[""] = defaultdict(list)
    out = {}
    for protocol, columns in collected.items():
        merged = {c: float(np.mean(v)) for c, v in columns.items()}
        merged.update({c: float(np.mean(v)) for c, v in training.items()})
        out[protocol] = merged
    return out


def _lookup(details: dict, sources) -> tuple[str, np.ndarray] | None:
    for metric, name in sources:
        value = (details.get(metric) or {}).get(name)
        if value is None:
            continue
        try:
            matrix = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):  # ragged or non-numeric: not a matrix this page can draw
            continue
        if matrix.ndim == 2 and matrix.size:
            return metric, matrix
    return None


def _labels(details: dict, name: str, count: int, fallback: str) -> list[str]:
    for entry in details.values():
        labels = (entry or {}).get(name) if isinstance(entry, dict) else None
        if isinstance(labels, list) and len(labels) == count:
            return [str(x) for x in labels]
    return [f"{fallback}{i}" for i in range(count)]


def _run_figures(page: RunPage, details: dict, representation: str) -> None:
    found = _lookup(details, MI_SOURCES)
    if found is not None:
        metric, mi = found  # factors x codes
        _heatmap(page, details, representation, "mi", mi, cmap="Blues",
                 title="Mutual information between each factor and each latent (nats)",
                 note=f"details {metric}.mi_matrix; a disentangled code has one dark cell per row")
        page.gaps[representation] = _mig_gaps(mi, details.get("mig") or {},
                                               _labels(details, "factor_names", mi.shape[0], "factor "))
    found = _lookup(details, IMPORTANCE_SOURCES)
    if found is not None:
        metric, importance = found  # codes x factors, shown transposed so rows are factors as in the MI map
        _heatmap(page, details, representation, "dci", importance.T, cmap="Purples",
                 title="DCI importance of each latent for predicting each factor",
                 note=f"details {metric}.importance_matrix (latents x factors), shown transposed")


def _heatmap(page: RunPage, details: dict, representation: str, kind: str, matrix: np.ndarray, *, cmap: str,
             title: str, note: str) -> None:
    """One factors x latents colour table on the run page."""
    factors = _labels(details, "factor_names", matrix.shape[0], "factor ")
    page.heatmaps.append({
        "representation": representation, "kind": kind, "title": title, "note": note,
        "view": matrix_view(matrix, row_labels=factors, col_labels=[f"z{j}" for j in range(matrix.shape[1])],
                            cmap=cmap, vmin=0.0)})


def _mig_gaps(mi: np.ndarray, mig_details: dict, factors: list[str]) -> list[dict]:
    """Per factor: MIG's own gap between its two most informative latents (`metrics.mig.mig` stores it over the
    factor's entropy, with the entropy), and the latent with the most information; none without MIG's details."""
    normalized, entropy = mig_details.get("per_factor_gap"), mig_details.get("factor_entropy")
    if not all(isinstance(v, list) and len(v) == mi.shape[0] for v in (normalized, entropy)):
        return []
    best = np.argmax(mi, axis=1)
    return [{"factor": f, "gap": float(g) * float(h), "normalized": float(g), "latent": f"z{int(b)}"}
            for f, g, h, b in zip(factors, normalized, entropy, best)]
