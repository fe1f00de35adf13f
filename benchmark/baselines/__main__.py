"""`python -m factorbench.benchmark.baselines RUN_DIR...`: pack finished runs as shipped baselines (maintainers)."""

import argparse
from pathlib import Path

from factorbench.benchmark.baselines import BASELINE_DIR, pack

parser = argparse.ArgumentParser(prog="python -m factorbench.benchmark.baselines",
                                 description="Copy the mean encoders of finished training runs into the shipped "
                                 "baselines, score them and rewrite manifest.json.")
parser.add_argument("run_dirs", nargs="+", type=Path, help="run directories written by `factorbench train`")
parser.add_argument("--into", type=Path, default=BASELINE_DIR, help=f"baseline folder (default {BASELINE_DIR})")
args = parser.parse_args()
for baseline in pack(args.run_dirs, args.into):
    print(f"{baseline.name}: {baseline.steps} steps, mig {baseline.scores.get('mig', {}).get('mig', float('nan')):.3f}")
