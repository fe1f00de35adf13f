"""`factorbench leaderboard build [--store PATH] --out site/` and `factorbench leaderboard serve site/`."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("leaderboard", help="build the static leaderboard site from the results store, or view it",
                            description="Build the static leaderboard site (HTML, PNG, JSON, CSV) from the results "
                            "store, or serve a built site on a local HTTP server.")
    verbs = parser.add_subparsers(title="actions", metavar="ACTION", required=True)
    build = verbs.add_parser("build", help="write the site for every run in the store",
                             description="Write the leaderboard for every run in the results store. The folder opens "
                             "from disk (file://) or any static host; nothing is loaded from the network.")
    build.add_argument("--store", type=Path, default=None,
                       help="results database (default: $FACTORBENCH_RESULTS or ./factorbench-results/results.db)")
    build.add_argument("--out", type=Path, default=Path("site"), help="output folder (default: ./site)")
    build.add_argument("--bootstrap", type=int, default=1000, metavar="N",
                       help="bootstrap replicates of the rank interval (default 1000)")
    build.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default 0)")
    build.add_argument("--no-progress", action="store_true", help="no progress bar")
    build.set_defaults(func=run_build)
    serve = verbs.add_parser("serve", help="serve a built site on http://127.0.0.1:PORT/ (Ctrl-C stops)",
                             description="Serve a built site over HTTP on this machine, for viewing.")
    serve.add_argument("site", type=Path, nargs="?", default=Path("site"), help="the built site (default: ./site)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.set_defaults(func=run_serve)


def run_build(args: argparse.Namespace) -> None:
    from factorbench.benchmark.store import ResultsStore, default_path
    from factorbench.leaderboard import build_site

    path = args.store if args.store is not None else default_path()
    if args.bootstrap < 1:
        raise ValueError(f"--bootstrap must be at least 1, got {args.bootstrap}")
    index = build_site(ResultsStore(path, create=False), args.out, n_boot=args.bootstrap, seed=args.seed,
                       progress=not args.no_progress, store_label=str(path))
    print(index)


def run_serve(args: argparse.Namespace) -> None:
    import functools
    import http.server

    site = args.site
    if not (site / "index.html").is_file():
        raise FileNotFoundError(f"no built site at {site} (no index.html): run `factorbench leaderboard build --out "
                                f"{site}` first")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    with http.server.ThreadingHTTPServer((args.host, args.port), handler) as server:
        host, port = server.server_address[:2]
        print(f"serving {site} at http://{host}:{port}/ (Ctrl-C stops)", flush=True)
        server.serve_forever()
