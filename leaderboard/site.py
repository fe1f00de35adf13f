"""Build the static leaderboard site from a results store.

`build_site(store, out)` reads the store through its read API only (`runs()`, `scores()`, `details()`), renders
Jinja2 templates and matplotlib figures, and writes a folder that works from disk (file://) or any static host:
every link is relative, no page loads anything from the network, and the little JavaScript there is (sorting,
filtering, the compare page) is plain and inline-free.

Layout of the output folder:
    index.html                              datasets at a glance, how ranks are computed
    datasets/<dataset>/index.html           the leaderboard: one table per evaluation protocol
    datasets/<dataset>/agreement.html       metric rank correlations and score-vs-hyperparameter violins
    datasets/<dataset>/compare.html         runs side by side (picked in the page; selection in the URL hash)
    datasets/<dataset>/data.js              what compare.html reads (a script, since file:// forbids fetch)
    runs/<run>.html, runs/<run>/*.png       one page per run: every score, heatmaps, traversals
    downloads.html, downloads/*             the data as JSON and CSV
    assets/                                 style sheet and script
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import json
import math
import shutil
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from factorbench.leaderboard import plots, public, views
from factorbench.leaderboard.columns import HEADLINE, RANKED, TRAINING_METRIC, Column
from factorbench.leaderboard.matrices import matrix_view
from factorbench.leaderboard.table import (
    COLLAPSE_KEY,
    REPRESENTATION,
    Row,
    Table,
    build_tables,
    evaluation_key,
    evaluation_label,
    hparam_text,
    slugify,
)

PACKAGE_DIR = Path(__file__).resolve().parent
MARKER = ".factorbench-site"  # a folder holding this file was written by build_site and may be rebuilt
RUN_IMAGES = ("traversals.png", "reconstructions.png")
# Where the metrics driver keeps the matrices the run page draws: (metric, detail name), first found wins.
MI_SOURCES = (("mig", "mi_matrix"), ("modularity_explicitness", "mi_matrix"))
IMPORTANCE_SOURCES = (("dci", "importance_matrix"),)
ENTROPY_NAMES = ("factor_entropy", "factor_entropies", "entropies")
GAP_NAMES = ("per_factor_gap", "per_factor", "mig_per_factor")


class ReadStore(Protocol):
    """The part of `factorbench.benchmark.store.ResultsStore` the leaderboard uses."""

    def runs(self, dataset: str | None = None, kind: str | None = None) -> list[dict]: ...
    def scores(self, run_ids: Iterable[str] | None = None, dataset: str | None = None) -> list[dict]: ...
    def details(self, run_id: str, representation: str = "mean") -> dict: ...
    def tracks(self) -> dict[str, dict]: ...


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


def build_site(
    store: ReadStore,
    out: str | Path,
    *,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    progress: bool = True,
    store_label: str | None = None,
) -> Path:
    """Write the leaderboard for every run in `store` into the folder `out`; returns the path of index.html.

    Args:
        store: anything with the results store's read API (`runs`, `scores`, `details`).
        out: output folder; created, or rebuilt when a previous build made it. A non-empty folder that is not a
            previous build is refused, so a typo cannot wipe unrelated files.
        n_boot: bootstrap replicates of the rank interval; level: its coverage; seed: its resampling seed.
        progress: show a tqdm bar over run pages.
        store_label: how the footer names the store (default: its path's file name).
    """
    out = Path(out)
    runs = store.runs()
    if not runs:
        raise ValueError("the results store holds no runs yet: train, evaluate or submit something first, then "
                         "build the leaderboard")
    _prepare_out(out)
    scores = store.scores()
    tracks = store.tracks()
    tables = build_tables(runs, scores, tracks, n_boot=n_boot, level=level, seed=seed)
    env = _environment()
    context = _common_context(runs, scores, store, store_label, n_boot=n_boot, level=level)
    slugs = _run_slugs(runs)
    datasets = sorted({r["dataset"] for r in runs})
    dataset_slugs = {d: slugify(d) for d in datasets}
    row_of: dict[str, str] = {}
    for table in tables:
        for row in table.rows:
            for run in row.runs:
                row_of.setdefault(run["run_id"], row.slug)
    context.update(datasets=datasets, dataset_slugs=dataset_slugs, run_slugs=slugs)

    shutil.copytree(PACKAGE_DIR / "assets", out / "assets", dirs_exist_ok=True)
    labels = {t.key: t.label for t in tables}
    pages = _run_pages(store, runs, scores, slugs, row_of, out, labels, tracks, progress=progress)
    for table in tables:
        if table.ranked:
            _write(out / "tracks" / table.slug / "index.html", env.get_template("track.html").render(
                context, root="../../", page="track", t=table, dataset_slug=dataset_slugs[table.dataset],
                strips=views.strips(table), contract=public.fields(table.track["contract"])))
    for dataset in datasets:
        dataset_tables = [t for t in tables if t.dataset == dataset]
        dataset_runs = [r for r in runs if r["dataset"] == dataset]
        folder = out / "datasets" / dataset_slugs[dataset]
        folder.mkdir(parents=True, exist_ok=True)
        common = dict(context, root="../../", dataset=dataset, dataset_slug=dataset_slugs[dataset])
        _write(folder / "index.html", env.get_template("dataset.html").render(
            common, page="board", tables=dataset_tables, runs=dataset_runs))
        agreement = _agreement(dataset_tables, dataset_runs, scores, folder / "img")
        _write(folder / "agreement.html", env.get_template("agreement.html").render(
            common, page="agreement", sections=agreement))
        _write(folder / "data.js", _compare_data(dataset, dataset_tables, [pages[r["run_id"]] for r in dataset_runs]))
        _write(folder / "compare.html", env.get_template("compare.html").render(common, page="compare"))
    for run in runs:
        page = pages[run["run_id"]]
        _write(out / "runs" / f"{page.slug}.html", env.get_template("run.html").render(
            context, root="../", page="run", p=page, run=page.run, dataset_slug=dataset_slugs[run["dataset"]],
            columns=HEADLINE, provenance=_provenance_fields(page.run)))
    downloads = _downloads(out / "downloads", [public.scrub(r) for r in runs], scores, tables, tracks, context)
    _write(out / "downloads.html", env.get_template("downloads.html").render(
        context, root="", page="downloads", files=downloads))
    _write(out / "index.html", env.get_template("index.html").render(
        context, root="", page="home", tables=tables, runs=runs, overview=views.cross_dataset(tables)))
    (out / MARKER).write_text(context["built_at"] + "\n")
    return out / "index.html"


# ---------------------------------------------------------------------------------------------------- helpers


def _prepare_out(out: Path) -> None:
    if out.exists():
        if not out.is_dir():
            raise ValueError(f"--out {out} is a file; give a folder for the site")
        if any(out.iterdir()):
            if not (out / MARKER).exists():
                raise ValueError(f"--out {out} is not empty and was not made by `factorbench leaderboard build`; "
                                 "give an empty or new folder")
            shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def _environment():
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
    env.filters["evaluations"] = _evaluations
    env.filters["slug_list"] = lambda runs, slugs: ",".join(slugs[r["run_id"]] for r in runs)
    env.tests["finite"] = lambda x: x is not None and isinstance(x, int | float) and math.isfinite(x)
    return env


def _evaluations(scores: list[dict]) -> list[dict]:
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


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _run_slugs(runs: list[dict]) -> dict[str, str]:
    slugs, used = {}, set()
    for run in runs:
        base = slugify(run["run_id"])
        slug = base
        if slug in used:  # two ids that differ only in characters a file name cannot hold
            slug = f"{base}-{hashlib.sha1(str(run['run_id']).encode()).hexdigest()[:8]}"
        used.add(slug)
        slugs[run["run_id"]] = slug
    return slugs


def _common_context(runs, scores, store, store_label, *, n_boot, level) -> dict:
    from importlib.metadata import PackageNotFoundError, version

    try:
        factorbench_version = version("factorbench")
    except PackageNotFoundError:
        factorbench_version = "unknown"
    protocols = sorted({s["protocol"] for s in scores if s["metric"] != TRAINING_METRIC and s.get("protocol")})
    dates = sorted(str(s["created_at"])[:10] for s in scores if s.get("created_at")) or \
        sorted(str(r["created_at"])[:10] for r in runs if r.get("created_at"))
    revisions = Counter(r.get("git_revision") for r in runs if r.get("git_revision"))
    versions: Counter = Counter()
    for run in runs:
        for package, ver in (run.get("versions") or {}).items():
            versions[(package, ver)] += 1
    common_versions: dict[str, str] = {}
    for (package, ver), _ in versions.most_common():
        common_versions.setdefault(package, ver)
    path = getattr(store, "path", None)
    return {
        "built_at": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "factorbench_version": factorbench_version,
        "store_label": public.scrub(store_label) if store_label else (Path(path).name if path else "results store"),
        "protocols": protocols,
        "date_range": (dates[0], dates[-1]) if dates else None,
        "revisions": [rev for rev, _ in revisions.most_common(3)],
        "more_revisions": max(0, len(revisions) - 3),
        "versions": {k: common_versions[k] for k in sorted(common_versions) if k in
                     ("python", "jax", "jaxlib", "flax", "optax", "numpy", "scikit-learn")},
        "n_runs": len(runs),
        "n_scores": len(scores),
        "n_boot": n_boot,
        "level": level,
        "representation": REPRESENTATION,
        "ranked_columns": RANKED,
    }


# ---------------------------------------------------------------------------------------------------- run pages


def _provenance_fields(run: dict) -> list[tuple[str, str]]:
    """The run's provenance, training budget and submitter metadata as named fields (paths already scrubbed)."""
    rows = [(f"training.{k}", v) for k, v in public.fields(run.get("training"))]
    rows += [(f"submitter.{k}", v) for k, v in public.fields(run.get("submitter"))]
    return rows + public.fields(run.get("provenance"))


def _run_pages(store, runs, scores, slugs, row_of, out, labels, tracks, *, progress) -> dict[str, RunPage]:
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
        factors = _labels(details, "factor_names", mi.shape[0], "factor ")
        page.heatmaps.append({
            "representation": representation, "kind": "mi",
            "title": "Mutual information between each factor and each latent (nats)",
            "note": f"details {metric}.mi_matrix; a disentangled code has one dark cell per row",
            "view": matrix_view(mi, row_labels=factors, col_labels=[f"z{j}" for j in range(mi.shape[1])],
                                cmap="Blues", vmin=0.0)})
        page.gaps[representation] = _mig_gaps(mi, details.get(metric) or {}, factors)
    found = _lookup(details, IMPORTANCE_SOURCES)
    if found is not None:
        metric, importance = found  # codes x factors, shown transposed so rows are factors as in the MI map
        matrix = importance.T
        factors = _labels(details, "factor_names", matrix.shape[0], "factor ")
        page.heatmaps.append({
            "representation": representation, "kind": "dci",
            "title": "DCI importance of each latent for predicting each factor",
            "note": f"details {metric}.importance_matrix (latents x factors), shown transposed",
            "view": matrix_view(matrix, row_labels=factors, col_labels=[f"z{j}" for j in range(matrix.shape[1])],
                                cmap="Purples", vmin=0.0)})


def _mig_gaps(mi: np.ndarray, mig_details: dict, factors: list[str]) -> list[dict]:
    """Per factor: the MI gap between its two most informative latents, normalised when entropies are known."""
    ordered = np.sort(mi, axis=1)[:, ::-1]
    gap = ordered[:, 0] - (ordered[:, 1] if mi.shape[1] > 1 else 0.0)
    normalized: list[float | None] = [None] * len(gap)
    for name in GAP_NAMES:
        given = mig_details.get(name)
        if isinstance(given, list) and len(given) == len(gap) and all(isinstance(x, int | float) for x in given):
            normalized = [float(x) for x in given]
            break
    else:
        for name in ENTROPY_NAMES:
            entropy = mig_details.get(name)
            if isinstance(entropy, list) and len(entropy) == len(gap):
                h = np.asarray(entropy, dtype=np.float64)
                normalized = [float(g / e) if e > 0 else None for g, e in zip(gap, h)]
                break
    best = np.argmax(mi, axis=1)
    return [{"factor": f, "gap": float(g), "normalized": n, "latent": f"z{int(b)}"}
            for f, g, n, b in zip(factors, gap, normalized, best)]


# ---------------------------------------------------------------------------------------------------- agreement


def _agreement(tables: list[Table], runs: list[dict], scores: list[dict], folder: Path) -> list[dict]:
    """Per protocol: the rank-correlation heatmap between metrics, and one violin figure per method."""
    from scipy.stats import rankdata

    sections = []
    for table in (t for t in tables if t.ranked):
        tag = table.slug
        columns = table.columns
        per_run = {run["run_id"]: {} for row in table.rows for run in row.runs}
        wanted = {(c.metric, c.key): c for c in columns}
        for s in scores:
            column = wanted.get((s["metric"], s["key"]))
            if column is None or s["run_id"] not in per_run or s["value"] is None:
                continue
            if s["representation"] != REPRESENTATION and s["metric"] != TRAINING_METRIC:
                continue
            if s["metric"] != TRAINING_METRIC and evaluation_key(s)[0] != table.key:
                continue
            per_run[s["run_id"]].setdefault(column.id, []).append(float(s["value"]))
        matrix = np.array([[np.mean(v[c.id]) if c.id in v else np.nan for c in columns] for v in per_run.values()])
        section: dict[str, Any] = {"protocol": table.protocol, "label": table.label, "n_runs": len(per_run),
                                   "correlation": None, "violins": [], "single": []}
        if len(columns) >= 2 and len(per_run) >= 3:
            k = len(columns)
            corr = np.full((k, k), np.nan)
            for i in range(k):
                for j in range(k):
                    both = np.isfinite(matrix[:, i]) & np.isfinite(matrix[:, j])
                    if both.sum() >= 3:
                        a, b = rankdata(matrix[both, i]), rankdata(matrix[both, j])
                        if a.std() > 0 and b.std() > 0:
                            corr[i, j] = float(np.corrcoef(a, b)[0, 1])
            labels = [c.label for c in columns]
            path = plots.heatmap(corr, folder / f"rank-correlation-{tag}.png", row_labels=labels, col_labels=labels,
                                 title=f"Spearman rank correlation across {len(per_run)} runs",
                                 colorbar_label="Spearman rho", cmap="RdBu_r", vmin=-1.0, vmax=1.0)
            section["correlation"] = f"img/{path.name}"
        by_model: dict[str, list[Row]] = defaultdict(list)
        for row in table.rows:
            by_model[row.label if row.kind == "submission" else row.model].append(row)
        for model, rows in sorted(by_model.items()):
            varying = sorted({k for r in rows for k in r.hparams if len({json.dumps(x.hparams.get(k), default=str)
                                                                          for x in rows}) > 1})
            rows = sorted(rows, key=lambda r: [_order(r.hparams.get(k)) for k in varying])
            groups = [", ".join(_fmt_hp(r.hparams.get(k)) for k in varying) for r in rows]
            if not varying:  # one setting: nothing to plot against; the leaderboard row says it all
                section["single"].append(model)
                continue
            ranked = [c for c in columns if c.ranked]
            path = plots.violins([c.label for c in ranked], groups,
                                 [[r.cells[c.id].values for r in rows] for c in ranked],
                                 folder / f"violins-{tag}-{slugify(model)}.png",
                                 title=f"{model}: ranked scores against {', '.join(varying)} (one dot per seed)",
                                 legend_title=", ".join(varying))
            section["violins"].append({"model": model, "path": f"img/{path.name}", "varying": varying,
                                       "n_runs": sum(len(r.runs) for r in rows)})
        sections.append(section)
    return sections


def _order(value: Any) -> tuple:
    return (0, float(value), "") if isinstance(value, int | float) else (1, 0.0, str(value))


def _fmt_hp(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


# ---------------------------------------------------------------------------------------------------- compare data


def _compare_data(dataset: str, tables: list[Table], pages: list[RunPage]) -> str:
    slug_of = {page.run["run_id"]: page.slug for page in pages}
    rows = []
    for table in tables:
        for row in table.rows:
            rows.append({"protocol": table.label, "slug": row.slug, "label": row.label, "hp": row.hparam_text,
                         "rank": _json_number(row.rank), "runs": [slug_of[r["run_id"]] for r in row.runs]})
    runs = []
    for page in pages:
        run = page.run
        runs.append({
            "slug": page.slug, "id": run["run_id"], "name": run.get("name") or run["run_id"],
            "model": run.get("model"), "hp": hparam_text({k: v for k, v in (run.get("hparams") or {}).items()
                                                          if k != "seed"}),
            "seed": run.get("seed"), "kind": run.get("kind"), "shortened": bool(run.get("shortened")),
            "trusted_code": bool(run.get("trusted_code")), "href": f"../../runs/{page.slug}.html",
            "scores": {p: {c: _json_number(v) for c, v in values.items()} for p, values in page.headline.items()},
            "matrices": {h["kind"]: h["view"] for h in page.heatmaps if h["representation"] == REPRESENTATION},
            "gaps": [{"factor": g["factor"], "gap": _json_number(g["gap"]), "normalized": _json_number(
                g["normalized"]), "latent": g["latent"]} for g in page.gaps.get(REPRESENTATION, [])],
        })
    default = [r["runs"][0] for r in rows[:3] if r["runs"]]
    data = {"dataset": dataset, "columns": [{"id": c.id, "label": c.label, "title": c.title,
                                             "higher_is_better": c.higher_is_better} for c in HEADLINE],
            "protocols": [t.label for t in tables], "rows": rows, "runs": runs, "default": default}
    text = json.dumps(data, sort_keys=True, separators=(",", ":")).replace("</", "<\\/")
    return f"window.FACTORBENCH_COMPARE = {text};\n"


def _json_number(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


# ---------------------------------------------------------------------------------------------------- downloads

RUN_FIELDS = ("run_id", "name", "dataset", "dataset_version", "model", "hparams", "seed", "steps", "status", "kind",
              "trusted_code", "shortened", "run_dir", "device", "created_at", "train_seconds", "git_revision",
              "training", "submitter", "versions", "provenance")
SCORE_FIELDS = ("run_id", "representation", "metric", "key", "value", "protocol", "eval_seed", "sample_sizes",
                "versions", "created_at", "track_id")


def _downloads(folder: Path, runs, scores, tables: list[Table], tracks: dict, context: dict) -> list[dict]:
    folder.mkdir(parents=True, exist_ok=True)
    board = [_table_json(t) for t in tables]
    meta = {k: context[k] for k in ("built_at", "factorbench_version", "store_label", "protocols", "n_boot", "level",
                                    "representation")}
    meta["aggregate_rank"] = ("mean over the ranked columns of the per-metric ranks (1 = best, ties averaged) of "
                              "seed-averaged scores; none when a ranked score is missing")
    meta["ranked_columns"] = [c.id for c in RANKED]
    results = {"meta": meta, "tracks": tracks, "runs": [{k: run.get(k) for k in RUN_FIELDS} for run in runs],
               "scores": [{k: s.get(k) for k in SCORE_FIELDS} for s in scores], "leaderboards": board}
    _write(folder / "results.json", json.dumps(results, indent=1, sort_keys=True, default=str, allow_nan=False))
    _csv(folder / "runs.csv", RUN_FIELDS, ({k: run.get(k) for k in RUN_FIELDS} for run in runs))
    run_by_id = {r["run_id"]: r for r in runs}
    extra = ("dataset", "model", "hparams", "seed", "kind", "shortened", "trusted_code")
    _csv(folder / "scores.csv", SCORE_FIELDS + extra, (
        {**{k: s.get(k) for k in SCORE_FIELDS}, **{k: run_by_id.get(s["run_id"], {}).get(k) for k in extra}}
        for s in scores))
    fields = ["dataset", "track", "track_id", "protocol", "method", "kind", "hparams", "training", "seeds",
              "shortened_seeds", "trusted_code", "aggregate_rank", "rank_low", "rank_high"]
    for column in HEADLINE:
        fields += [f"{column.id}.{stat}" for stat in ("mean", "std", "median", "n", "rank")]
    _csv(folder / "leaderboard.csv", fields, (_board_csv_row(t, row) for t in tables for row in t.rows))
    described = [
        ("results.json", "everything: runs with provenance, every score, and the leaderboards as shown"),
        ("leaderboard.csv", "one line per leaderboard row: mean, std, median, n and rank of each column"),
        ("scores.csv", "one line per score (every metric key, representation, protocol and evaluation seed)"),
        ("runs.csv", "one line per run with its hyperparameters, seed, status and provenance"),
    ]
    return [{"name": name, "href": f"downloads/{name}", "bytes": (folder / name).stat().st_size, "what": what}
            for name, what in described]


def _table_json(table: Table) -> dict:
    return {"dataset": table.dataset, "track": table.name, "track_id": table.track["track_id"] if table.track
            else None, "label": table.label, "ranked": table.ranked, "contract": table.contract or None,
            "protocol": table.protocol, "columns": [c.id for c in table.columns],
            "rows": [{"method": r.label, "model": r.model, "kind": r.kind, "hparams": r.hparams,
                      "training": r.training, "submitter": r.submitter,
                      "runs": [x["run_id"] for x in r.runs], "seeds": r.seeds, "shortened_seeds": r.shortened,
                      "trusted_code": r.trusted_code, "aggregate_rank": _json_number(r.rank),
                      "rank_interval": [_json_number(r.rank_low), _json_number(r.rank_high)],
                      "cells": {c: {"mean": _json_number(cell.mean), "std": _json_number(cell.std),
                                    "median": _json_number(cell.median), "n": cell.n,
                                    "rank": _json_number(cell.rank), "values": cell.values}
                                for c, cell in r.cells.items()}} for r in table.rows]}


def _board_csv_row(table: Table, row: Row) -> dict:
    line = {"dataset": table.dataset, "track": table.name, "track_id": table.track["track_id"] if table.track
            else "", "protocol": table.protocol, "method": row.label, "kind": row.kind,
            "hparams": json.dumps(row.hparams, sort_keys=True), "training": json.dumps(row.training, sort_keys=True),
            "seeds": " ".join(map(str, row.seeds)),
            "shortened_seeds": row.shortened, "trusted_code": row.trusted_code,
            "aggregate_rank": _json_number(row.rank), "rank_low": _json_number(row.rank_low),
            "rank_high": _json_number(row.rank_high)}
    for column_id, cell in row.cells.items():
        line.update({f"{column_id}.mean": _json_number(cell.mean), f"{column_id}.std": _json_number(cell.std),
                     f"{column_id}.median": _json_number(cell.median), f"{column_id}.n": cell.n,
                     f"{column_id}.rank": _json_number(cell.rank)})
    return line


def _csv(path: Path, fields, rows) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(fields), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: json.dumps(v, sort_keys=True) if isinstance(v, dict | list) else
                             ("" if v is None else v) for k, v in row.items()})


__all__ = ["Column", "build_site", "format_number", "format_rank"]
