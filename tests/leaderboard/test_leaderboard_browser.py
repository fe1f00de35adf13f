"""The built site in a real browser: Debian's chromium driven headless by Playwright over file:// URLs.

Screenshots land in tests/leaderboard/artifacts/ (gitignored) for a person to look at. Without a browser the tests
skip with the reason; under CI (where `make test` installs chromium) a missing browser fails instead.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    assert (ARTIFACTS / f"{name}.png").stat().st_size > 10_000


def _column_values(page, table: str, header: str) -> list[float | None]:
    return page.eval_on_selector(table, """(table, header) => {
        const index = Array.from(table.tHead.rows[0].cells).findIndex(th => th.textContent.trim().startsWith(header));
        return Array.from(table.tBodies[0].rows).map(row => {
            const raw = row.cells[index].getAttribute("data-value");
            return raw === "" ? null : parseFloat(raw);
        });
    }""", header)


def test_every_kind_of_page_loads_without_console_errors(page, site):
    for relative in ("index.html", "datasets/sprites/index.html", "datasets/sprites/agreement.html",
                     "datasets/sprites/compare.html", "datasets/xysquares/index.html", "downloads.html",
                     "runs/sprites-beta_vae-beta4-s0.html", "runs/sub-mymodel-s0.html"):
        page.goto((site / relative).as_uri())
        page.wait_for_load_state("load")
        assert page.title().endswith("factorbench leaderboard"), relative
    assert page.problems == []
    page.goto((site / "index.html").as_uri())
    assert page.locator(".card").count() == 2 and page.locator(".card h2").first.inner_text() == "sprites"
    _shot(page, "index")
    page.goto((site / "datasets" / "sprites" / "agreement.html").as_uri())
    images = page.locator("figure img")
    assert images.count() == 4  # sprites-fast: correlation and two violin figures; quickstart: correlation
    for i in range(images.count()):  # each figure actually decoded (a broken PNG has naturalWidth 0)
        assert images.nth(i).evaluate("img => img.complete && img.naturalWidth > 200")
    _shot(page, "agreement")
    assert page.problems == []


def test_index_cross_dataset_view_and_a_track_page_with_its_distributions(page, site):
    page.goto((site / "index.html").as_uri())
    cross = page.locator("table.cross[data-family=study-fast]")
    assert cross.locator("thead th").all_inner_texts() == ["Method", "sprites", "xysquares"]
    methods = cross.locator("tbody th").all_inner_texts()
    assert {"beta_vae", "factor_vae", "mymodel", "dip_vae_i"} <= set(methods)
    page.locator("#across-datasets").scroll_into_view_if_needed()
    _shot(page, "index-across-datasets")
    link = cross.locator("tbody tr", has_text="factor_vae").locator("a").first
    link.click()
    page.wait_for_url("**/tracks/sprites-fast-*/index.html*")
    assert page.locator("h1").inner_text().startswith("Track sprites-fast v1")
    strips = page.locator("table.strips")
    rows = page.locator("#board-1 tbody tr").count()
    assert strips.locator("thead th").count() == 1 + 8  # one axis per ranked metric
    assert strips.locator("svg.strip").count() == rows * 8
    first = strips.locator("tbody tr").first.locator("svg.strip").first
    box = first.bounding_box()
    assert box["width"] > 100 and box["height"] >= 12
    dots = first.locator("circle.dot")
    assert dots.count() == 3 and len({d.evaluate("c => c.getAttribute('cx')") for d in dots.all()}) > 1
    assert "seed" in dots.first.locator("title").text_content()
    assert page.locator("table.contract th", has_text="sample_sizes.train").count() == 1
    _shot(page, "track-sprites-fast")
    assert page.problems == []


def test_sorting_a_column_reorders_rows(page, site):
    page.goto((site / "datasets" / "sprites" / "index.html").as_uri())
    table = "#board-1"
    first_methods = page.locator(f"{table} tbody td.method").all_inner_texts()
    before = _column_values(page, table, "MIG")
    page.locator(f"{table} thead th", has_text="MIG").click()
    after = _column_values(page, table, "MIG")
    assert after != before and sorted(after, reverse=True) == after  # best first on the first click
    assert page.locator(f"{table} thead th", has_text="MIG").get_attribute("aria-sort") == "descending"
    assert page.locator(f"{table} tbody td.method").all_inner_texts() != first_methods
    _shot(page, "board-sorted-by-mig")
    page.locator(f"{table} thead th", has_text="MIG").click()
    assert _column_values(page, table, "MIG") == sorted(after)
    page.locator(f"{table} thead th", has_text="Rank").click()  # back to rank order: the unranked row stays last
    ranks = _column_values(page, table, "Rank")
    assert ranks[-1] is None and ranks[:-1] == sorted(ranks[:-1])
    assert page.locator(f"{table} tbody td.method").all_inner_texts() == first_methods
    assert page.problems == []


def test_filter_and_hide_shortened(page, site):
    page.goto((site / "datasets" / "sprites" / "index.html").as_uri())
    rows = page.locator("#board-1 tbody tr")
    controls = page.locator("[data-controls-for=board-1]")
    assert rows.count() == 8 and controls.locator(".count").inner_text() == "8 rows"
    controls.locator("input.filter").fill("beta_vae")
    assert page.locator("#board-1 tbody tr:visible").count() == 3
    controls.locator("input.filter").fill("")
    controls.locator("input.hide-shortened").check()  # the shortened baseline
    assert page.locator("#board-1 tbody tr:visible").count() == 7
    assert controls.locator(".count").inner_text() == "7 of 8 rows"
    assert page.locator("#board-1 tbody tr:visible .badge.shortened").count() == 0
    assert page.problems == []


def test_run_page_opens_from_its_link_and_shows_its_heatmap(page, site):
    page.goto((site / "datasets" / "sprites" / "index.html").as_uri())
    _shot(page, "board")
    link = page.locator("#board-1 tbody tr").first.locator("a.seed").first
    name = link.get_attribute("title")
    link.click()
    page.wait_for_url("**/runs/*.html")
    assert page.locator("h1").inner_text().startswith(name)
    heatmap = page.locator("table.heatmap").first
    heatmap.wait_for(state="visible")
    assert heatmap.locator("tbody tr").count() == 5 and heatmap.locator("tbody td").count() == 5 * 10
    assert heatmap.locator("tbody th").all_inner_texts() == ["shape", "scale", "orientation", "pos_x", "pos_y"]
    box = heatmap.bounding_box()
    assert box["width"] > 300 and box["height"] > 100
    colours = set(heatmap.locator("tbody td").evaluate_all(
        "cells => cells.map(c => getComputedStyle(c).backgroundColor)"))
    assert len(colours) > 5  # a heatmap, not a plain table
    pictures = page.locator("img.pixel")
    assert pictures.count() == 2 and pictures.first.evaluate("img => img.complete && img.naturalWidth == 64")
    _shot(page, "run")
    page.go_back()
    page.wait_for_url("**/datasets/sprites/index.html")
    assert page.problems == []


def test_compare_page_puts_runs_side_by_side(page, site):
    compare = site / "datasets" / "sprites" / "compare.html"
    page.goto(compare.as_uri() + "#sprites-beta_vae-beta4-s0,sub-mymodel-s0")
    table = page.locator("#compare-result table.compare-table").first
    assert table.locator("thead th").count() == 3  # label column + two runs
    assert page.locator("#compare-result table.heatmap").count() == 4  # MI and DCI for each run
    assert page.locator("#compare-result .badge.trusted").count() == 1
    page.locator("#picker-list input[value='sprites-factor_vae-gamma40-s1']").check()
    assert table.locator("thead th").count() == 4
    assert page.evaluate("location.hash").endswith(",sprites-factor_vae-gamma40-s1")
    assert page.locator("#compare-result td.best").count() > 0
    _shot(page, "compare")
    page.locator("#picker-clear").click()
    assert page.locator("#compare-result table").count() == 0
    page.goto(compare.as_uri())  # no selection in the address: the best rows' first seeds
    page.wait_for_selector("#compare-result table.compare-table")
    assert page.locator("#compare-result table.compare-table").first.locator("thead th").count() == 4
    assert page.problems == []


@pytest.mark.parametrize("fragment", ["%", "%E0%A4%A", "__proto__", "constructor", "toString", "hasOwnProperty,%,x"])
def test_compare_page_survives_a_malformed_or_hostile_hash(page, site, fragment):
    """A hash that is no valid escape, or that names Object's own properties, selects nothing: no exception, no
    blank page, no "Loading" left behind; a valid slug beside the junk still shows."""
    compare = site / "datasets" / "sprites" / "compare.html"
    page.goto(compare.as_uri() + "#" + fragment)
    page.wait_for_selector("#compare-result p.muted")
    assert "Pick at least one run" in page.locator("#compare-result").inner_text()
    page.goto(compare.as_uri() + "#" + fragment + ",sprites-beta_vae-beta4-s0,sprites-beta_vae-beta4-s0")
    page.wait_for_selector("#compare-result table.compare-table")
    assert page.locator("#compare-result table.compare-table").first.locator("thead th").count() == 2
    assert page.problems == []
