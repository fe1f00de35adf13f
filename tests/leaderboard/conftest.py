"""Session fixtures of the leaderboard tests: the fixture store (see leaderboard_fixtures.py) and the site built
from it, made once per test run and only read by the tests.

Under pytest-xdist both workers would build the same site; the first one to take the lock builds it in a folder
the workers share, and the others reuse it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os

import pytest
from leaderboard_fixtures import make_store

from factorbench.benchmark.store import ResultsStore
from factorbench.leaderboard import build_site


@pytest.fixture(scope="session")
def _shared(tmp_path_factory):
    if os.environ.get("PYTEST_XDIST_WORKER"):  # basetemp is <run>/popen-gwN: share <run>/leaderboard
        root = tmp_path_factory.getbasetemp().parent / "leaderboard"
        root.mkdir(exist_ok=True)
    else:
        root = tmp_path_factory.mktemp("leaderboard")
    with open(root / ".lock", "w") as lock, contextlib.ExitStack() as stack:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stack.callback(fcntl.flock, lock, fcntl.LOCK_UN)
        done = root / "done.json"
        if not done.exists():
            store, run_ids = make_store(root)
            build_site(store, root / "site", n_boot=300, progress=False)
            done.write_text(json.dumps(run_ids))
    return root, json.loads(done.read_text())


@pytest.fixture(scope="session")
def fixture_store(_shared):
    """(ResultsStore, run ids in the order they were written)."""
    root, run_ids = _shared
    return ResultsStore(root / "results.db"), run_ids


@pytest.fixture(scope="session")
def site(_shared):
    """The folder of the site built from the fixture store."""
    root, _ = _shared
    return root / "site"
