"""The `factorbench` command re-executes itself with glibc's huge-page tunable (XLA:CPU's scratch memory)."""

import os
import platform
import subprocess
import sys

import pytest

from factorbench.benchmark.huge_pages import huge_page_environment


def test_adds_the_tunable_and_keeps_the_users_others():
    env = huge_page_environment({"PATH": "/bin", "GLIBC_TUNABLES": "glibc.malloc.arena_max=2"}, "Linux", "glibc")
    assert env == {"PATH": "/bin", "GLIBC_TUNABLES": "glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1"}
    assert huge_page_environment({}, "Linux", "glibc") == {"GLIBC_TUNABLES": "glibc.malloc.hugetlb=1"}


@pytest.mark.parametrize("environ, system, libc", [
    ({"GLIBC_TUNABLES": "glibc.malloc.hugetlb=0"}, "Linux", "glibc"),  # the user's choice wins; no loop
    ({"GLIBC_TUNABLES": "glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1"}, "Linux", "glibc"),
    ({}, "Darwin", ""),
    ({}, "Linux", "musl"),
])
def test_leaves_alone(environ, system, libc):
    assert huge_page_environment(environ, system, libc) is None


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_reexec_keeps_the_command_line():
    code = ("import os, sys; from factorbench.benchmark.huge_pages import reexec_with_huge_pages; "
            "reexec_with_huge_pages(); print(os.environ['GLIBC_TUNABLES'], sys.argv[1:])")
    env = {k: v for k, v in os.environ.items() if k != "GLIBC_TUNABLES"}
    out = subprocess.run([sys.executable, "-c", code, "a b", "--flag"], env=env, capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "glibc.malloc.hugetlb=1 ['a b', '--flag']"


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_an_interpreter_that_cannot_be_re_executed_runs_on_with_one_warning(tmp_path):
    code = ("import sys; from factorbench.benchmark.huge_pages import reexec_with_huge_pages; "
            f"sys.executable = {str(tmp_path / 'gone' / 'python')!r}; reexec_with_huge_pages(); print('ran on')")
    env = {k: v for k, v in os.environ.items() if k != "GLIBC_TUNABLES"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "ran on", done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith("factorbench: warning: running without huge pages (cannot re-execute")
