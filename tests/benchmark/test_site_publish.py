"""A leaderboard rebuild that fails (a full disk) leaves the previous site whole; odd --out targets are one line."""

from __future__ import annotations

import os
from pathlib import Path

from integrity_helpers import assert_one_line_refusal, cli

from factorbench.benchmark.cli import main
from factorbench.benchmark.store import ResultsStore
from factorbench.leaderboard.site import MARKER


def _store(path: Path, runs: int) -> ResultsStore:
    store = ResultsStore(path)
    with store.transaction():
        for r in range(runs):  # one method, many seeds: no figures, so the build is quick
            store.record_run({"run_id": f"r{r:04d}", "dataset": "identity", "model": "vae", "seed": r})
            store.record_evaluation(f"r{r:04d}", {"scores": {"mig": {"mig": 0.1 + r / 1e4},
                                                             "extra": {f"key{i:02d}": i / 7 for i in range(40)}},
                                                  "protocol": "fast", "seed": 0})
    return store


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_failed_rebuild_keeps_the_good_site(tmp_path, capsys):
    db, site = tmp_path / "results.db", tmp_path / "site"
    _store(db, 2)
    build = ["leaderboard", "build", "--store", db, "--out", site, "--bootstrap", "2", "--no-progress"]
    assert main(list(map(str, build))) == 0
    good = _snapshot(site)
    assert MARKER in good and "index.html" in good
    _store(db, 60)  # the next build's downloads are many times larger than the room left on the "disk"
    room = max(db.stat().st_size, *map(len, good.values())) + 4096  # the store is read, the site cannot be written
    done = cli(*build, file_size_limit=room)
    assert_one_line_refusal(done, "File too large")
    assert _snapshot(site) == good  # the previous site, marker included, byte for byte
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".site.")]  # no staging folder left
    capsys.readouterr()
    assert main(list(map(str, build))) == 0  # still recognised as ours: rebuilt in place
    assert "r0059" in (site / "downloads" / "runs.csv").read_text()


def test_odd_output_targets_are_one_line(tmp_path, capsys):
    db, real = tmp_path / "results.db", tmp_path / "real"
    _store(db, 2)
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    (tmp_path / "file").write_text("keep")
    for target, needle in (("link", "symbolic link"), ("file", "is a file")):
        code = main(["leaderboard", "build", "--store", str(db), "--out", str(tmp_path / target), "--no-progress"])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and needle in err, err
    assert (tmp_path / "link").is_symlink() and os.listdir(real) == [] and (tmp_path / "file").read_text() == "keep"
