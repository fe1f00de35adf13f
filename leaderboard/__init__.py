"""factorbench.leaderboard: the static leaderboard site, built from the results store's read API only.

>>> from factorbench.benchmark.store import ResultsStore          # the caller opens the store
>>> build_site(ResultsStore("results.db"), "site/")              # -> site/index.html
"""

from factorbench.leaderboard.columns import HEADLINE, RANKED, Column
from factorbench.leaderboard.site import build_site
from factorbench.leaderboard.table import Row, Table, build_tables

__all__ = ["HEADLINE", "RANKED", "Column", "Row", "Table", "build_site", "build_tables"]
