"""The committed lock files: current with pyproject.toml, exact versions with hashes, no URL or local path."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tools.lockfiles import DEV, INSTALL_IN, LOCK_TOOL, LOCKS, RUNTIME, check, lint, pins

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A copy of what the check reads: pyproject.toml and requirements/."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(ROOT / "requirements", tmp_path / "requirements")
    return tmp_path


def test_the_committed_locks_are_current_pinned_hashed_and_carry_no_url_or_path() -> None:
    # fails when pyproject.toml's dependencies changed without `make lock`, or when a lock gained a URL or path
    assert check(ROOT) == []


def test_every_package_is_pinned_with_hashes_and_the_runtime_lock_agrees_with_the_dev_lock() -> None:
    dev = pins((ROOT / DEV.path).read_text(encoding="utf-8"))
    runtime = pins((ROOT / RUNTIME.path).read_text(encoding="utf-8"))
    assert {"aiohttp", "sqlalchemy", "microsoft-agents-hosting-core", "pip", "setuptools"} <= set(runtime)
    assert {"pytest", "mypy", "ruff"} <= set(dev) - set(runtime)
    assert all(hashes for _version, hashes in dev.values())
    assert all(dev[name] == pin for name, pin in runtime.items())
    # the versions the issue asks for: aiohttp without the known server CVEs, setuptools that reads SPDX licences
    aiohttp = tuple(int(x) for x in dev["aiohttp"][0].split(".")[:3])
    assert aiohttp >= (3, 14, 1)
    assert int(dev["setuptools"][0].split(".")[0]) >= 77


def test_the_header_names_the_machine_and_the_pinned_lock_tool() -> None:
    uv = re.search(r"^uv==(\S+)", (ROOT / LOCK_TOOL).read_text(encoding="utf-8"), re.MULTILINE)
    assert uv is not None
    for lock in LOCKS:
        head = (ROOT / lock.path).read_text(encoding="utf-8").split("\n", 8)[:8]
        assert any("CPython 3.11 on Linux x86_64" in line and f"uv {uv.group(1)}" in line for line in head)


@pytest.mark.parametrize(
    "line",
    [
        "--index-url https://pypi.org/simple",
        "--extra-index-url https://mirror.example.org/simple",
        "--find-links /opt/wheels",
        "--trusted-host mirror.example.org",
        "-e .",
        "sharecheck @ file:///work/sharecheck",
        "left-pad @ https://files.example.org/left_pad-1.0-py3-none-any.whl",
        "    # via -r /home/someone/requirements.in",
        "    # via -r ../other/requirements.in",
        "    # via -r C:\\Users\\someone\\requirements.in",
    ],
)
def test_a_url_a_local_path_or_an_index_option_in_a_lock_fails_the_check(repo: Path, line: str) -> None:
    path = repo / DEV.path
    path.write_text(path.read_text(encoding="utf-8") + line + "\n", encoding="utf-8")
    problems = check(repo)
    assert problems and all(DEV.path in p for p in problems), problems


@pytest.mark.parametrize("entry", ["left-pad==1.0", "left-pad>=1.0 --hash=sha256:" + "0" * 64, "left-pad"])
def test_an_entry_without_an_exact_version_and_a_hash_fails_the_check(entry: str) -> None:
    assert lint("requirements/x.txt", entry + "\n")


def test_a_dependency_changed_without_relocking_fails_the_check(repo: Path) -> None:
    pyproject = repo / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    pyproject.write_text(text.replace('"pyyaml>=6.0",', '"pyyaml>=6.0",\n    "left-pad>=1.0",'), encoding="utf-8")
    problems = check(repo)
    assert f"{DEV.path} is out of date with pyproject.toml's dependencies: run `make lock`" in problems
    assert f"{RUNTIME.path} is out of date with pyproject.toml's dependencies: run `make lock`" in problems


def test_a_changed_build_requirement_or_dev_extra_fails_the_check_too(repo: Path) -> None:
    pyproject = repo / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    pyproject.write_text(text.replace('"pytest>=8",', '"pytest>=9",'), encoding="utf-8")
    assert check(repo)
    pyproject.write_text(text.replace('"setuptools>=77"', '"setuptools>=80"'), encoding="utf-8")
    problems = check(repo)
    assert f"{INSTALL_IN} is out of date with pyproject.toml's [build-system]: run `make lock`" in problems


def test_other_changes_to_pyproject_need_no_relock(repo: Path) -> None:
    pyproject = repo / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    pyproject.write_text(text.replace("line-length = 120", "line-length = 100"), encoding="utf-8")
    assert check(repo) == []


def test_runtime_and_dev_pinned_differently_fails_the_check(repo: Path) -> None:
    path = repo / RUNTIME.path
    text = path.read_text(encoding="utf-8")
    version = pins(text)["aiohttp"][0]
    path.write_text(text.replace(f"aiohttp=={version}", "aiohttp==3.14.1"), encoding="utf-8")
    assert "aiohttp is pinned differently in requirements/runtime.txt and requirements/dev.txt: run `make lock`" in (
        check(repo)
    )


def test_the_command_line_check_that_ci_runs_exits_1_and_says_to_relock(repo: Path) -> None:
    script = ROOT / "tools" / "lockfiles.py"
    ok = subprocess.run([sys.executable, str(script), "--root", str(repo), "check"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    (repo / "pyproject.toml").write_text(
        (repo / "pyproject.toml").read_text(encoding="utf-8").replace('"jinja2>=3.1",', '"jinja2>=3.1.6",'),
        encoding="utf-8",
    )
    stale = subprocess.run([sys.executable, str(script), "--root", str(repo), "check"], capture_output=True, text=True)
    assert stale.returncode == 1 and "run `make lock`" in stale.stderr
    # .ci/run and `make install`/`make test` run this same check before anything is installed
    assert "tools/lockfiles.py check" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "tools/lockfiles.py check" in (ROOT / "Makefile").read_text(encoding="utf-8")
