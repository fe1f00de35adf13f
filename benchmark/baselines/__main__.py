"""`python -m factorbench.benchmark.baselines RUN_DIR...`: pack finished runs as shipped baselines (maintainers);
`python -m factorbench.benchmark.baselines --rescore`: score the shipped ones again after a protocol changed."""

import argparse
from pathlib import Path

from factorbench.benchmark.baselines import BASELINE_DIR, pack, rescore

parser = argparse.ArgumentParser(prog="python -m factorbench.benchmark.baselines",
                                 description="Copy the mean encoders of finished training runs into the shipped "
                                 "baselines, score them and rewrite manifest.json.")
parser.add_argument("run_dirs", nargs="*", type=Path, help="run directories written by `factorbench train`")
parser.add_argument("--into", type=Path, default=BASELINE_DIR, help=f"baseline folder (default {BASELINE_DIR})")
parser.add_argument("--rescore", action="store_true", help="score the folder's baselines again and rewrite their "
                    "packed scores (after a change to the quickstart's protocol)")
args = parser.parse_args()
if bool(args.run_dirs) == args.rescore:
    parser.error("give run directories to pack, or --rescore alone")
for baseline in rescore(args.into) if args.rescore else pack(args.run_dirs, args.into):
    print(f"{baseline.name}: {baseline.steps} steps, mig {baseline.scores.get('mig', {}).get('mig', float('nan')):.3f}")
