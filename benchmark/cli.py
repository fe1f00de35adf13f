"""The `factorbench` command line: one subcommand module per verb under `benchmark/commands/`.

Each module in `COMMANDS` exposes `add_parser(subparsers)` (registering its parser and setting
`func`) and keeps its heavy imports inside the function that runs, so `factorbench --help` is fast.
User mistakes (bad names, bad values, missing files) end as one line on stderr and exit code 2;
set FACTORBENCH_DEBUG=1 to see the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys

from factorbench.benchmark.errors import EXIT_USER_ERROR, UserError, describe

__all__ = ["COMMANDS", "UserError", "build_parser", "main"]

# Order = order in --help. A verb whose module does not exist yet is simply not offered.
COMMANDS = (
    "quickstart", "datasets", "train", "evaluate", "submit", "reproduce", "sweep", "compare", "results", "leaderboard",
)


class OneLineParser(argparse.ArgumentParser):
    """argparse, with a usage mistake said in one line (not the usage block), exit code 2; subcommand parsers
    inherit the class."""

    def error(self, message: str):
        verb = self.prog.removeprefix("factorbench").strip()
        where = f"{verb}: " if verb else ""
        self.exit(EXIT_USER_ERROR, f"factorbench: error: {where}{message} (`{self.prog} --help` lists the options)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="factorbench",
        description="A JAX benchmark suite for disentangled representations: ground-truth datasets, "
        "the VAE family, every established metric, and a static leaderboard.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module_name = f"factorbench.benchmark.commands.{name}"
        if importlib.util.find_spec(module_name) is not None:
            importlib.import_module(module_name).add_parser(sub)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("factorbench")
    except PackageNotFoundError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    import logging

    if argv is None:  # the real command line, not a call from Python: let XLA's scratch memory use huge pages
        from factorbench.benchmark.huge_pages import reexec_with_huge_pages

        reexec_with_huge_pages()

    # TFDS logs missing-file warnings through absl before our one-line error says the same thing better.
    logging.getLogger("absl").setLevel(logging.ERROR)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help, --version, or a usage mistake (already said in one line)
        return done.code if isinstance(done.code, int) else EXIT_USER_ERROR
    try:
        result = args.func(args)
    except KeyboardInterrupt:
        print("factorbench: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `factorbench ... | head`: the reader left; say nothing more
        sys.stderr.close()
        return 141
    except Exception as err:  # the error boundary: one line, exit 2 (benchmark/errors.py says each kind)
        if os.environ.get("FACTORBENCH_DEBUG"):
            raise
        print(f"factorbench: error: {describe(err)}", file=sys.stderr)
        return EXIT_USER_ERROR
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
