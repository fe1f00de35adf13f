"""`factorbench datasets list | show NAME | grid NAME --out FILE.png`."""

from __future__ import annotations

import argparse
import math
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("datasets", help="list, describe and look at the ground-truth datasets",
                            description="List, describe and look at the ground-truth datasets.")
    verbs = parser.add_subparsers(title="actions", metavar="ACTION", required=True)
    verbs.add_parser("list", help="every dataset with its size").set_defaults(func=run_list)
    show = verbs.add_parser("show", help="factors, sizes and count of one dataset")
    show.add_argument("name")
    show.set_defaults(func=run_show)
    grid = verbs.add_parser("grid", help="write a traversal grid PNG: one row per factor, that factor moving",
                            description="Write a PNG with one row per factor: that factor traversed, the others "
                            "fixed at their middle value.")
    grid.add_argument("name")
    grid.add_argument("--out", type=Path, help="PNG path (default: ./factorbench-out/grid-NAME.png)")
    grid.add_argument("--columns", type=int, default=10, help="images per row, 2 to 64 (default 10)")
    grid.add_argument("--seed", type=int, default=0, help="seed for per-image randomness (default 0)")
    grid.set_defaults(func=run_grid)


def run_list(args: argparse.Namespace) -> None:
    from factorbench import datasets

    rows = []
    for name in datasets.names():
        ds = datasets.load(name)
        shape = "x".join(map(str, ds.observation_shape))
        rows.append((name, f"{ds.num_observations:,}", shape, str(ds.num_factors), ds.info.description))
    widths = [max(len(r[i]) for r in rows + [("name", "images", "shape", "factors", "")]) for i in range(4)]
    header = ("name", "images", "shape", "factors")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)) + "  description")
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row[:4], widths)) + "  " + row[4])


def run_show(args: argparse.Namespace) -> None:
    from factorbench import datasets

    ds = datasets.load(args.name)
    print(f"{ds.name} (version {ds.info.version})")
    print(f"  {ds.info.description}")
    print(f"  source: {ds.info.source}")
    print(f"  observations: {ds.num_observations:,} images of {'x'.join(map(str, ds.observation_shape))} uint8")
    print("  factors (last varies fastest in the index):")
    for name, size in zip(ds.factor_names, ds.factor_sizes):
        print(f"    {name:<16} {size}")
    for name, size in zip(ds.nuisance_names, ds.nuisance_sizes):
        print(f"    {name:<16} {size}  (nuisance: redrawn per image, not a factor)")
    if ds.info.citation:
        print(f"  cite: {ds.info.citation}")
    assert math.prod(ds.factor_sizes) == ds.num_observations


def run_grid(args: argparse.Namespace) -> None:
    from factorbench import datasets
    from factorbench.datasets.grid import save_traversal_grid

    ds = datasets.load(args.name)
    out = args.out or Path("factorbench-out") / f"grid-{ds.name}.png"
    path = save_traversal_grid(ds, out, columns=args.columns, seed=args.seed)
    print(path)
