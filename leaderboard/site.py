"""Build the static leaderboard site from a results store.

`build_site(store, out)` reads the store through its read API only (`runs()`, `scores()`, `details()`), renders
Jinja2 templates and matplotlib figures, and writes a folder that works from disk (file://) or any static host:
every link is relative, no page loads anything from the network, and the little JavaScript there is (sorting,
filtering, the compare page) is plain and inline-free.

This module orchestrates the build and owns the output folder (built beside it by `publish.publishing`, which
swaps it in when complete; the marker of a previous build);
the pages' parts live beside it: `table` (the tables per track), `views` (strip plots, the cross-dataset view),
`run_pages`, `agreement`, `downloads`, `render` (Jinja filters, number formats), `public` (no paths on the site).

Layout of the output folder:
    index.html                              datasets at a glance, the cross-dataset view, how ranks are computed
    datasets/<dataset>/index.html           the leaderboard: one ranked table per track, then the ad hoc tables
    tracks/<track>-<id>/index.html          one track: per-seed strip plots, its ranked table, its contract
    datasets/<dataset>/agreement.html       metric rank correlations and score-vs-hyperparameter violins
    datasets/<dataset>/compare.html         runs side by side (picked in the page; selection in the URL hash)
    datasets/<dataset>/data.js              what compare.html reads (a script, since file:// forbids fetch)
    runs/<run>.html, runs/<run>/*.png       one page per run: every score, heatmaps, traversals
    downloads.html, downloads/*             the data as JSON and CSV
    assets/                                 style sheet and script
"""

from __future__ import annotations

import datetime
import hashlib
import json
import shutil
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from factorbench.leaderboard import downloads, public, render, run_pages, views
from factorbench.leaderboard.agreement import agreement as agreement_page
from factorbench.leaderboard.columns import HEADLINE, RANKED, TRAINING_METRIC, Column
from factorbench.leaderboard.publish import publishing
from factorbench.leaderboard.render import PACKAGE_DIR, format_number, format_rank
from factorbench.leaderboard.table import REPRESENTATION, Table, build_tables, hparam_text, slugify

MARKER = ".factorbench-site"  # a folder holding this file was written by build_site and may be rebuilt


class ReadStore(Protocol):
    """The part of `factorbench.benchmark.store.ResultsStore` the leaderboard uses."""

    def runs(self, dataset: str | None = None, kind: str | None = None) -> list[dict]: ...
    def scores(self, run_ids: Iterable[str] | None = None, dataset: str | None = None) -> list[dict]: ...
    def details(self, run_id: str, representation: str = "mean") -> dict: ...
    def tracks(self) -> dict[str, dict]: ...


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
    runs = store.runs()
    if not runs:
        raise ValueError("the results store holds no runs yet: train, evaluate or submit something first, then "
                         "build the leaderboard")
    # Built beside `out` and swapped in when complete: a failed build leaves the previous site as it was.
    with publishing(out, marker=MARKER) as staging:
        _write_site(store, runs, staging, n_boot=n_boot, level=level, seed=seed, progress=progress,
                    store_label=store_label)
    return Path(out) / "index.html"


def _write_site(store: ReadStore, runs: list[dict], out: Path, *, n_boot: int, level: float, seed: int,
                progress: bool, store_label: str | None) -> None:
    scores = store.scores()
    tracks = store.tracks()
    tables = build_tables(runs, scores, tracks, n_boot=n_boot, level=level, seed=seed)
    env = render.environment()
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
    pages = run_pages.run_pages(store, runs, scores, slugs, row_of, out, labels, tracks, progress=progress)
    for table in tables:
        if table.ranked:
            render.write(out / "tracks" / table.slug / "index.html", env.get_template("track.html").render(
                context, root="../../", page="track", t=table, dataset_slug=dataset_slugs[table.dataset],
                strips=views.strips(table), contract=public.fields(table.track["contract"])))
    for dataset in datasets:
        dataset_tables = [t for t in tables if t.dataset == dataset]
        dataset_runs = [r for r in runs if r["dataset"] == dataset]
        folder = out / "datasets" / dataset_slugs[dataset]
        folder.mkdir(parents=True, exist_ok=True)
        common = dict(context, root="../../", dataset=dataset, dataset_slug=dataset_slugs[dataset])
        render.write(folder / "index.html", env.get_template("dataset.html").render(
            common, page="board", tables=dataset_tables, runs=dataset_runs))
        agreement = agreement_page(dataset_tables, dataset_runs, scores, folder / "img")
        render.write(folder / "agreement.html", env.get_template("agreement.html").render(
            common, page="agreement", sections=agreement))
        render.write(folder / "data.js", _compare_data(dataset, dataset_tables,
                                                       [pages[r["run_id"]] for r in dataset_runs]))
        render.write(folder / "compare.html", env.get_template("compare.html").render(common, page="compare"))
    for run in runs:
        page = pages[run["run_id"]]
        render.write(out / "runs" / f"{page.slug}.html", env.get_template("run.html").render(
            context, root="../", page="run", p=page, run=page.run, dataset_slug=dataset_slugs[run["dataset"]],
            columns=HEADLINE, provenance=run_pages.provenance_fields(page.run)))
    files = downloads.downloads(out / "downloads", [public.scrub(r) for r in runs], scores, tables, tracks, context)
    render.write(out / "downloads.html", env.get_template("downloads.html").render(
        context, root="", page="downloads", files=files))
    render.write(out / "index.html", env.get_template("index.html").render(
        context, root="", page="home", tables=tables, runs=runs, overview=views.cross_dataset(tables)))
    (out / MARKER).write_text(context["built_at"] + "\n")


# ---------------------------------------------------------------------------------------------------- helpers




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


# ---------------------------------------------------------------------------------------------------- compare data


def _compare_data(dataset: str, tables: list[Table], pages: list[run_pages.RunPage]) -> str:
    slug_of = {page.run["run_id"]: page.slug for page in pages}
    rows = []
    for table in tables:
        for row in table.rows:
            rows.append({"protocol": table.label, "slug": row.slug, "label": row.label, "hp": row.hparam_text,
                         "rank": render.json_number(row.rank), "runs": [slug_of[r["run_id"]] for r in row.runs]})
    runs = []
    for page in pages:
        run = page.run
        runs.append({
            "slug": page.slug, "id": run["run_id"], "name": run.get("name") or run["run_id"],
            "model": run.get("model"), "hp": hparam_text({k: v for k, v in (run.get("hparams") or {}).items()
                                                          if k != "seed"}),
            "seed": run.get("seed"), "kind": run.get("kind"), "shortened": bool(run.get("shortened")),
            "trusted_code": bool(run.get("trusted_code")), "href": f"../../runs/{page.slug}.html",
            "scores": {p: {c: render.json_number(v) for c, v in values.items()} for p, values in page.headline.items()},
            "matrices": {h["kind"]: h["view"] for h in page.heatmaps if h["representation"] == REPRESENTATION},
            "gaps": [{"factor": g["factor"], "gap": render.json_number(g["gap"]), "normalized": render.json_number(
                g["normalized"]), "latent": g["latent"]} for g in page.gaps.get(REPRESENTATION, [])],
        })
    default = [r["runs"][0] for r in rows[:3] if r["runs"]]
    data = {"dataset": dataset, "columns": [{"id": c.id, "label": c.label, "title": c.title,
                                             "higher_is_better": c.higher_is_better} for c in HEADLINE],
            "protocols": [t.label for t in tables], "rows": rows, "runs": runs, "default": default}
    text = json.dumps(data, sort_keys=True, separators=(",", ":")).replace("</", "<\\/")
    return f"window.FACTORBENCH_COMPARE = {text};\n"


__all__ = ["Column", "build_site", "format_number", "format_rank"]
