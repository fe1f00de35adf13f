"""`factorbench quickstart`: the main job, from nothing to results, on the machine at hand."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("quickstart", help="the main job: show what factorbench does on this machine",
                            description="List the datasets and write a traversal grid of each procedural "
                            "dataset into the output folder.")
    parser.add_argument("--out", type=Path, default=Path("factorbench-out"),
                        help="output folder (default ./factorbench-out)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from tqdm import tqdm

    from factorbench import datasets
    from factorbench.benchmark.commands.datasets import run_list
    from factorbench.datasets.grid import save_traversal_grid

    run_list(args)
    written = []
    for name in tqdm(datasets.names(), desc="traversal grids", unit="dataset"):
        ds = datasets.load(name)
        if ds.info.source.startswith("procedural"):
            written.append(save_traversal_grid(ds, args.out / f"grid-{name}.png"))
    print(f"\nwrote {len(written)} traversal grids into {args.out}/:")
    for path in written:
        print(f"  {path}")
