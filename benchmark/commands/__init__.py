"""One module per `factorbench` subcommand; see `factorbench.benchmark.cli`."""
