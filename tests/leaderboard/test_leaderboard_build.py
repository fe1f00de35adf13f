"""The leaderboard build on the fixture store: tables, pages, links, downloads and the CLI (no browser here)."""

from __future__ import annotations

import csv
import json
import math
import re
import subprocess
import sys
import time
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from leaderboard_fixtures import synthetic_evaluation

from factorbench.benchmark.cli import main
from factorbench.leaderboard import build_site, build_tables


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src") and value is not None:
                self.links.append(value)


def _links(page: Path) -> list[str]:
    parser = _Links()
    parser.feed(page.read_text())
    return parser.links


@pytest.fixture(scope="module")
def tables(fixture_store):
    store, _ = fixture_store
    return build_tables(store.runs(), store.scores(), store.tracks(), n_boot=200)


def _table(tables, dataset, name):
    found = [t for t in tables if t.dataset == dataset and t.name == name]
    assert len(found) == 1 or name == "ad hoc", [t.label for t in tables]
    return found[0] if name != "ad hoc" else found


def test_one_ranked_table_per_track_and_ad_hoc_tables_apart(tables):
    assert [(t.dataset, t.name, t.ranked) for t in tables] == [
        ("sprites", "sprites-fast", True), ("sprites", "quickstart", True), ("sprites", "sprites-dlib", True),
        ("sprites", "ad hoc", False), ("sprites", "ad hoc", False), ("sprites", "ad hoc", False),
        ("xysquares", "xysquares-fast", True)]
    for table in tables:
        if not table.ranked:  # never ranked, not even among themselves
            assert all(math.isnan(r.rank) and math.isnan(r.cells["mig.mig"].rank) for r in table.rows)


def test_mixed_configurations_each_land_in_their_own_row_or_track(tables):
    """Two batch sizes, two step counts, two sample-size sets and a submission: nothing is pooled."""
    fast = _table(tables, "sprites", "sprites-fast")
    beta4 = [r for t in tables if t.dataset == "sprites" for r in t.rows
             if r.model == "beta_vae" and r.hparams == {"beta": 4.0}]
    configs = {(tuple(sorted(r.training.items())), r.protocol, len(r.runs)) for r in beta4}
    assert len(beta4) == len(configs) == 4  # study budget (fast, dlib), batch 16 (ad hoc), quickstart budget
    assert {r.training["batch_size"] for r in beta4} == {16, 64}
    assert {r.training["steps"] for r in beta4} == {300000, 200}
    (batch16,) = [r for r in beta4 if r.training["batch_size"] == 16]
    (short,) = [r for t in tables for r in t.rows if r.training.get("steps") == 3000]
    adhoc_study_sizes = next(t for t in _table(tables, "sprites", "ad hoc")
                             if t.contract["sample_sizes"].get("train") == 10000 and t.contract["eval_seed"] == 0)
    assert batch16 in adhoc_study_sizes.rows and short in adhoc_study_sizes.rows and len(adhoc_study_sizes.rows) == 2
    # gamma=40 seed 1 was also evaluated on 512 / 256 points: that lands apart, its track scores stay.
    gamma40 = next(r for r in fast.rows if r.hparams == {"gamma": 40.0})
    assert gamma40.seeds == [0, 1, 2]
    small = next(t for t in _table(tables, "sprites", "ad hoc") if t.contract["sample_sizes"].get("train") == 512)
    assert [r.seeds for r in small.rows] == [[1]]
    # The submission is ranked in sprites-fast only, against the rows of that track.
    for table in tables:
        kinds = {r.kind for r in table.rows}
        assert ("submission" in kinds) == (table.name == "sprites-fast")
    quick = _table(tables, "sprites", "quickstart")
    assert {(r.kind, r.training["steps"]) for r in quick.rows} == {("trained", 200), ("baseline", 600)}
    assert [r.collapsed for r in quick.rows if r.kind == "trained"] == [1]  # seed 1 has no active dimension
    assert all(r.collapsed == 0 for r in fast.rows)


def test_rows_group_seeds_and_aggregate_the_stored_values(fixture_store, tables):
    store, _ = fixture_store
    fast = _table(tables, "sprites", "sprites-fast")
    assert len(fast.rows) == 8 and sum(len(r.runs) for r in fast.rows) == 21
    row = next(r for r in fast.rows if r.model == "beta_vae" and r.hparams == {"beta": 4.0})
    assert row.seeds == [0, 1, 2] and row.kind == "trained"  # seed 3 is still running: not in the tables
    mig = [s["value"] for s in store.scores([r["run_id"] for r in row.runs])
           if (s["metric"], s["key"], s["track_id"], s["representation"]) ==
           ("mig", "mig", fast.track["track_id"], "mean")]
    cell = row.cells["mig.mig"]
    assert cell.n == 3 and math.isclose(cell.mean, np.mean(mig)) and math.isclose(cell.median, np.median(mig))
    assert math.isclose(cell.std, np.std(mig, ddof=1)) and cell.seeds == [0, 1, 2]
    # The column set: every headline metric plus reconstruction, which is shown but not ranked.
    assert [c.id for c in fast.columns][-1] == "training.reconstruction" and len(fast.ranked_columns) == 8


def test_ranks_order_rows_and_gaps_stay_gaps(tables):
    fast = _table(tables, "sprites", "sprites-fast")
    ranked = [r for r in fast.rows if math.isfinite(r.rank)]
    assert [r.rank for r in ranked] == sorted(r.rank for r in ranked)
    assert ranked[0].model == "factor_vae" or ranked[0].kind == "submission"
    for row in ranked:
        per_metric = [row.cells[c.id].rank for c in fast.ranked_columns]
        assert math.isclose(row.rank, np.mean(per_metric))
        if len(row.runs) > 1:
            assert row.rank_low <= row.rank + 1e-9 <= row.rank_high + 2e-9
        else:  # one seed: no interval
            assert math.isnan(row.rank_low) and math.isnan(row.rank_high)
    vae = fast.rows[-1]  # evaluated without IRS: no aggregate rank, listed last
    assert vae.model == "vae" and math.isnan(vae.rank) and vae.cells["irs.irs"].n == 0
    assert math.isfinite(vae.cells["mig.mig"].rank)


def test_flags_submissions_baselines_and_shortened_runs(tables):
    fast = _table(tables, "sprites", "sprites-fast")
    submission = next(r for r in fast.rows if r.kind == "submission")
    assert submission.label == "mymodel" and submission.trusted_code and len(submission.runs) == 2
    assert submission.submitter["authors"] == ["A. Author", "B. Author"] and submission.declared_steps
    assert submission.training == {"steps": 50000}  # declared, shown, not enforced
    pca = next(r for r in fast.rows if r.kind == "baseline")
    assert pca.label == "pca" and pca.shortened == 1 and not submission.shortened


def test_site_pages_exist_and_every_link_is_relative_and_resolves(site, fixture_store, tables):
    _, run_ids = fixture_store
    pages = sorted(site.rglob("*.html"))
    names = {p.relative_to(site).as_posix() for p in pages}
    for dataset in ("sprites", "xysquares"):
        assert {f"datasets/{dataset}/{n}.html" for n in ("index", "agreement", "compare")} <= names
    assert {"index.html", "downloads.html"} <= names
    assert {n for n in names if n.startswith("tracks/")} == {f"tracks/{t.slug}/index.html" for t in tables if t.ranked}
    assert {f"runs/{run_id}.html" for run_id in run_ids} <= names
    checked = 0
    for page in pages:
        text = page.read_text()
        assert not re.search(r"""(src|srcset)=["']?https?:|<link[^>]+https?:|url\(["']?https?:""", text), \
            f"{page} loads something from the network"
        assert "/tmp/" not in text and "/home/" not in text and "/opt/" not in text, f"{page} shows a path"
        for link in _links(page):
            assert not link.startswith(("/", "file:")), f"{page}: absolute link {link}"
            if link.startswith(("#", "data:", "https://example.org")):  # a submitter's declared paper URL
                continue
            target = (page.parent / link.split("#")[0]).resolve()
            assert target.exists(), f"{page.relative_to(site)} links to missing {link}"
            checked += 1
    assert checked > 300


def test_run_page_shows_matrices_pictures_gaps_and_labels(site):
    page = (site / "runs" / "sprites-beta_vae-beta16-short-s0.html").read_text()
    assert "Shortened run." in page and 'class="heatmap"' in page and "orientation" in page
    page = (site / "runs" / "sprites-beta_vae-beta16-s2.html").read_text()
    assert page.count('<table class="heatmap"') == 2 and "Gap / H(factor)" in page
    assert "sampled" not in page.split("Every score")[0]  # only this run has a sampled representation
    two = (site / "runs" / "sprites-beta_vae-beta4-s0.html").read_text()
    assert two.count('<table class="heatmap"') == 4 and "Sampled representation" in two
    assert (site / "runs" / "sprites-beta_vae-beta4-s0" / "traversals.png").is_file()
    assert "Traversals from the run" in two and "Reconstructions from the run" in two
    submission = (site / "runs" / "sub-mymodel-s0.html").read_text()
    assert "Trusted code." in submission and "submitter.authors" in submission and "A. Author, B. Author" in submission
    assert "<code>provenance" not in submission and ">artefact<" in submission.replace("<code>", ">").replace(
        "</code>", "<") and "encoder.onnx" in submission  # named fields; the path reduced to its file name
    assert "Status: <strong>running</strong>" in (site / "runs" / "sprites-beta_vae-beta4-s3.html").read_text()
    assert "Collapsed model." in (site / "runs" / "live-s1.html").read_text()
    assert "Collapsed model." not in (site / "runs" / "live-s0.html").read_text()
    board = (site / "datasets" / "sprites" / "index.html").read_text()
    assert board.count('<span class="badge collapsed"') == 1 and "collapsed 1/2" in board
    xy = (site / "runs" / "xysquares-beta_vae-beta2-s0.html").read_text()  # no factor names stored
    assert "factor 0" in xy and "Decoder pictures" not in xy


def test_agreement_figures_are_pngs(site, tables):
    images = site / "datasets" / "sprites" / "img"
    pngs = sorted(p.name for p in images.glob("*.png"))
    tag = _table(tables, "sprites", "sprites-fast").slug
    assert f"rank-correlation-{tag}.png" in pngs and f"violins-{tag}-beta_vae.png" in pngs
    assert f"violins-{tag}-factor_vae.png" in pngs and not any("vae.png" == p for p in pngs)
    for png in pngs:
        assert (images / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_track_page_shows_contract_table_and_one_strip_per_ranked_metric(site, tables):
    fast = _table(tables, "sprites", "sprites-fast")
    page = (site / "tracks" / fast.slug / "index.html").read_text()
    strips = page.split('<table class="strips"')[1].split("</table>")[0]
    assert strips.count('<svg class="strip"') == len(fast.rows) * len(fast.ranked_columns)
    assert strips.count('<circle class="dot"') == sum(r.cells[c.id].n for r in fast.rows for c in fast.ranked_columns)
    assert "<th>protocol_version</th><td>2</td>" in page and "<th>sample_sizes.train</th><td>10000</td>" in page
    assert "<th>training.batch_size</th><td>64</td>" in page and fast.track["track_id"] in page
    assert "steps undeclared" not in page and "by A. Author, B. Author" in page


def test_index_has_a_cross_dataset_view_and_says_what_it_omits(site, tables):
    page = (site / "index.html").read_text()
    cross = page.split('data-family="study-fast"')[1].split("</table>")[0]
    assert "<th>sprites</th><th>xysquares</th>" in cross
    row = cross.split('<th scope="row">beta_vae</th>')[1].split("</tr>")[0]
    assert re.search(r">\d/7</a>", row) and re.search(r">1/4</a>", row)  # of the ranked rows; beta=8 is best
    assert 'data-family="quickstart"' in page and 'data-family="study-dlib"' in page
    assert "and 3 more rows in this table" in page  # sprites-fast has 8 rows, the card shows 5


def test_downloads_match_the_tables(site, fixture_store, tables):
    store, run_ids = fixture_store
    data = json.loads((site / "downloads" / "results.json").read_text())
    assert len(data["runs"]) == len(run_ids) and len(data["scores"]) == len(store.scores())
    board = next(b for b in data["leaderboards"] if (b["dataset"], b["track"]) == ("sprites", "sprites-fast"))
    fast = _table(tables, "sprites", "sprites-fast")
    assert [r["method"] for r in board["rows"]] == [r.label for r in fast.rows]
    assert board["rows"][-1]["aggregate_rank"] is None  # a gap is null, never a number
    assert board["track_id"] in data["tracks"] and data["tracks"][board["track_id"]]["name"] == "sprites-fast"
    with (site / "downloads" / "leaderboard.csv").open() as handle:
        lines = list(csv.DictReader(handle))
    assert len(lines) == sum(len(t.rows) for t in tables)
    first = lines[0]
    assert float(first["mig.mig.mean"]) == pytest.approx(fast.rows[0].cells["mig.mig"].mean)
    assert first["track"] == "sprites-fast" and json.loads(first["training"])["steps"] == 300000
    with (site / "downloads" / "scores.csv").open() as handle:
        assert sum(1 for _ in csv.DictReader(handle)) == len(store.scores())
    text = (site / "downloads" / "results.json").read_text()
    assert "/tmp/" not in text and "/opt/" not in text and "/home/" not in text


def test_footer_carries_provenance(site):
    page = (site / "datasets" / "sprites" / "index.html").read_text()
    footer = page.split('<footer class="provenance">')[1]
    assert re.search(r"factorbench \S+ from", footer) and "35 runs" in footer
    assert "Evaluation protocols: dlib, fast" in footer and "jax " in footer


def test_build_refuses_foreign_folder_and_empty_store(tmp_path, fixture_store):
    store, _ = fixture_store
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="not empty"):
        build_site(store, foreign, n_boot=10, progress=False)
    assert (foreign / "notes.txt").read_text() == "keep me"
    from factorbench.benchmark.store import ResultsStore

    with pytest.raises(ValueError, match="no runs"):
        build_site(ResultsStore(tmp_path / "empty.db"), tmp_path / "site", n_boot=10, progress=False)


def test_cli_build_rebuilds_and_reports_mistakes(tmp_path, capsys):
    from factorbench.benchmark.store import ResultsStore

    store = ResultsStore(tmp_path / "small.db")  # two seeds of one method: no figures, so the build is quick
    for seed in range(2):
        store.record_run({"run_id": f"r{seed}", "dataset": "identity", "model": "vae", "seed": seed})
        store.record_evaluation(f"r{seed}", synthetic_evaluation(0.5, np.random.default_rng(seed), protocol="fast",
                                                                 seed=0, n_factors=3))
    out = tmp_path / "site"
    argv = ["leaderboard", "build", "--store", str(store.path), "--out", str(out), "--bootstrap", "20",
            "--no-progress"]
    assert main(argv) == 0
    assert capsys.readouterr().out.strip() == str(out / "index.html")
    assert (out / "runs" / "r1.html").is_file() and (out / "datasets" / "identity" / "index.html").is_file()
    stale = out / "runs" / "gone.html"
    stale.write_text("old")
    assert main(argv) == 0 and not stale.exists()  # a rebuild replaces the previous build
    capsys.readouterr()
    assert main(["leaderboard", "build", "--store", str(tmp_path / "nope.db"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "no results store" in err and err.count("\n") == 1 and not (tmp_path / "nope.db").exists()


def test_cli_serve_serves_the_site(site):
    process = subprocess.Popen([sys.executable, "-m", "factorbench.benchmark.cli", "leaderboard", "serve",
                                str(site), "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert match, line + process.stderr.read() if process.poll() is not None else line
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{match.group(1)}/index.html", timeout=5) as reply:
                    assert b"Which models separate which factors?" in reply.read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
    finally:
        process.terminate()
        process.wait(timeout=10)
