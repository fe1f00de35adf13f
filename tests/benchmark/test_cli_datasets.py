"""`factorbench datasets ...` and `quickstart` through the real console entry point."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from PIL import Image

from factorbench.benchmark.cli import main


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "factorbench.benchmark.cli", *args], capture_output=True, text=True)


def test_help_lists_commands_and_each_subcommand_has_help():
    out = run_cli("--help")
    assert out.returncode == 0 and "datasets" in out.stdout and "quickstart" in out.stdout
    for verb in ("datasets", "quickstart"):
        assert run_cli(verb, "--help").returncode == 0


def test_help_imports_no_jax_and_train_help_lists_every_hyperparameter():
    code = ("import sys; from factorbench.benchmark.cli import build_parser; build_parser().format_help(); "
            "print(sorted(m for m in ('jax', 'flax', 'tensorflow_datasets') if m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "[]"
    train_help = run_cli("train", "--help").stdout
    assert all(f"--{flag} " in train_help for flag in ("beta", "gamma", "c-max", "lambda-od", "commitment-weight"))


def test_list_and_show(capsys):
    assert main(["datasets", "list"]) == 0
    listing = capsys.readouterr().out
    assert "sprites" in listing and "737,280" in listing
    assert main(["datasets", "show", "sprites"]) == 0
    shown = capsys.readouterr().out
    for name in ("shape", "scale", "orientation", "posX", "posY"):
        assert name in shown


def test_grid_writes_one_row_per_factor(tmp_path, capsys):
    out = tmp_path / "grid.png"
    assert main(["datasets", "grid", "xysquares", "--out", str(out), "--columns", "4"]) == 0
    picture = np.asarray(Image.open(out))
    assert picture.ndim == 3 and picture.shape[0] > 6 * 64  # six factors, 2x scale


def test_user_mistakes_are_one_line_without_traceback():
    for args in (["datasets", "show", "nope"], ["datasets", "grid", "sprites", "--out", "x.jpg"],
                 ["datasets", "grid", "sprites", "--columns", "1"]):
        out = run_cli(*args)
        assert out.returncode == 2, args
        assert "Traceback" not in out.stderr
        assert len(out.stderr.strip().splitlines()) == 1 and out.stderr.startswith("factorbench: error:")
