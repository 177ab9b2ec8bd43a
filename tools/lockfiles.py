"""The lock files: ``requirements/runtime.txt`` and ``requirements/dev.txt``, written by a pinned uv, checked here.

``python -m tools.lockfiles write [--upgrade]`` (``make lock``) rewrites both from pyproject.toml; ``check``
(``make test``, ``.ci/run`` and tests/unit/test_lockfiles.py) fails when they no longer match pyproject.toml's
dependencies or carry anything but exact versions with hashes (an index or file URL, a local path, an option).

Each lock is requirements format for ``pip install --require-hashes -r``: every package pinned with ``==`` and
the sha256 of each of its files on PyPI. Its header records the hash of pyproject.toml's dependency sections, so a
changed dependency without a relock is caught before anything is installed. Only the standard library is used:
``check`` runs before the virtual environment exists.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

PYTHON_VERSION = "3.11"
PLATFORM = "x86_64-unknown-linux-gnu"
"""The machine locked for: CPython 3.11 on Linux x86_64 (glibc). Every file of a pinned version is hashed, so
the same lock installs on other platforms where the resolution would not differ."""

INSTALL_TOOLS = ("pip",)
"""Locked beside pyproject.toml's build requirements, so installing the project runs a known pip and setuptools
(``--no-build-isolation``) instead of whatever is newest that day."""

INSTALL_IN = "requirements/install.in"
LOCK_TOOL = "requirements/lock-tool.txt"
HASH_FIELD = "pyproject-dependencies-sha256"


@dataclass(frozen=True)
class Lock:
    path: str
    extras: tuple[str, ...]
    what: str
    constraint: str | None = None


DEV = Lock("requirements/dev.txt", ("dev",), "runtime and development (tests, linters, type checker)")
RUNTIME = Lock("requirements/runtime.txt", (), "runtime only", constraint=DEV.path)
LOCKS = (DEV, RUNTIME)
"""dev is resolved first; runtime is resolved within it, so a package has the same version and hashes in both."""


def dependency_hash(pyproject: dict[str, Any]) -> str:
    """The hash of what the locks are resolved from; other parts of pyproject.toml can change freely."""
    project = pyproject.get("project", {})
    source = {
        "build-system.requires": sorted(pyproject.get("build-system", {}).get("requires", [])),
        "requires-python": project.get("requires-python"),
        "dependencies": sorted(project.get("dependencies", [])),
        "optional-dependencies": {k: sorted(v) for k, v in project.get("optional-dependencies", {}).items()},
        "install-tools": list(INSTALL_TOOLS),
    }
    return hashlib.sha256(json.dumps(source, sort_keys=True).encode()).hexdigest()


def read_pyproject(root: Path) -> dict[str, Any]:
    with (root / "pyproject.toml").open("rb") as f:
        return tomllib.load(f)


def install_in(pyproject: dict[str, Any]) -> str:
    requires = pyproject.get("build-system", {}).get("requires", [])
    lines = [
        "# Written by `make lock`: what installs the project, locked with it (pyproject.toml's [build-system]",
        "# requires, and pip). Edit pyproject.toml, not this file.",
        *INSTALL_TOOLS,
        *requires,
    ]
    return "\n".join(lines) + "\n"


def compile_args(lock: Lock) -> list[str]:
    """uv's arguments, relative to the repository root so the lock's annotations name no local path."""
    args = ["pip", "compile", "--no-config", "pyproject.toml", INSTALL_IN]
    for extra in lock.extras:
        args += ["--extra", extra]
    if lock.constraint:
        args += ["-c", lock.constraint]
    return [*args, "--generate-hashes", "--python-version", PYTHON_VERSION, "--python-platform", PLATFORM]


def header(lock: Lock, uv_version: str, digest: str) -> str:
    return "\n".join(
        [
            f"# ShareCheck lock: {lock.what}. Exact versions and the hash of every file.",
            "# Do not edit: `make lock` rewrites it from pyproject.toml (`make lock UPGRADE=1` moves every pin to",
            "# the newest allowed version). Install with: pip install --require-hashes -r " + lock.path,
            f"# Locked for CPython {PYTHON_VERSION} on Linux x86_64 ({PLATFORM}) with uv {uv_version}:",
            "#   uv " + " ".join(compile_args(lock)),
            f"# {HASH_FIELD}: {digest}",
            "",
        ]
    )


def uv_version(uv: str) -> str:
    out = subprocess.run([uv, "--version"], capture_output=True, text=True, check=True).stdout  # noqa: S603
    return out.split()[1]


def pinned_uv(root: Path) -> str:
    match = re.search(r"^uv==(\S+)", (root / LOCK_TOOL).read_text(encoding="utf-8"), re.MULTILINE)
    if match is None:
        raise SystemExit(f"{LOCK_TOOL} does not pin uv")
    return match.group(1)


def write(root: Path, uv: str, upgrade: bool = False) -> None:
    version = uv_version(uv)
    if version != pinned_uv(root):
        raise SystemExit(f"uv {version} is not the pinned uv {pinned_uv(root)} ({LOCK_TOOL}): run `make lock`")
    pyproject = read_pyproject(root)
    (root / INSTALL_IN).write_text(install_in(pyproject), encoding="utf-8")
    digest = dependency_hash(pyproject)
    for lock in LOCKS:
        target = root / lock.path
        args = [uv, *compile_args(lock), "--no-header", "--quiet", "-o", lock.path]
        if upgrade:
            args.append("--upgrade")
        # uv keeps the pins of the existing file unless told to upgrade: a relock after a new dependency moves
        # nothing else
        subprocess.run(args, cwd=root, check=True)  # noqa: S603
        body = target.read_text(encoding="utf-8")
        target.write_text(header(lock, version, digest) + body, encoding="utf-8")
    problems = check(root)
    if problems:
        raise SystemExit("\n".join(problems))


# --- check ---------------------------------------------------------------------------------------------

REQUIREMENT = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(\[[A-Za-z0-9._,-]+\])?==(?P<version>[A-Za-z0-9.+!_-]+)"
    r"(\s*;\s*[^\\]+?)?(?P<hashes>(\s+--hash=sha256:[0-9a-f]{64})+)$"
)
FORBIDDEN = (
    (re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://"), "a URL"),
    (re.compile(r"(^|[\s=])(/|~/|\.\./|\./|[A-Za-z]:\\)"), "a local path"),
    (re.compile(r"(^|\s)--?(index-url|extra-index-url|find-links|trusted-host|e|editable|f|i)\b"), "an option"),
    (re.compile(r"\bfile:"), "a file reference"),
)


def entries(text: str) -> list[str]:
    """The lock's requirement lines, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def pins(text: str) -> dict[str, tuple[str, frozenset[str]]]:
    found: dict[str, tuple[str, frozenset[str]]] = {}
    for entry in entries(text):
        if match := REQUIREMENT.match(entry):
            name = re.sub(r"[-_.]+", "-", match["name"]).lower()
            found[name] = (match["version"], frozenset(re.findall(r"sha256:([0-9a-f]{64})", match["hashes"])))
    return found


def lint(path: str, text: str) -> list[str]:
    """Every line of a lock, comments too, must be free of URLs, paths and options; every entry pinned and hashed."""
    problems = []
    for number, line in enumerate(text.splitlines(), 1):
        for pattern, what in FORBIDDEN:
            if pattern.search(line):
                problems.append(f"{path}:{number}: {what} in a lock file: {line.strip()[:80]}")
    for entry in entries(text):
        if not REQUIREMENT.match(entry):
            problems.append(f"{path}: not an exact version with hashes: {entry[:80]}")
    return problems


def check(root: Path = ROOT) -> list[str]:
    """What is wrong with the committed locks (nothing: an empty list)."""
    pyproject = read_pyproject(root)
    digest = dependency_hash(pyproject)
    problems: list[str] = []
    texts: dict[str, str] = {}
    for lock in LOCKS:
        path = root / lock.path
        if not path.exists():
            problems.append(f"{lock.path} is missing: run `make lock`")
            continue
        text = texts[lock.path] = path.read_text(encoding="utf-8")
        problems += lint(lock.path, text)
        recorded = re.search(rf"^# {HASH_FIELD}: ([0-9a-f]{{64}})$", text, re.MULTILINE)
        if recorded is None or recorded.group(1) != digest:
            problems.append(f"{lock.path} is out of date with pyproject.toml's dependencies: run `make lock`")
    installers = root / INSTALL_IN
    if not installers.exists() or installers.read_text(encoding="utf-8") != install_in(pyproject):
        problems.append(f"{INSTALL_IN} is out of date with pyproject.toml's [build-system]: run `make lock`")
    if DEV.path in texts and RUNTIME.path in texts:
        dev = pins(texts[DEV.path])
        for name, pin in pins(texts[RUNTIME.path]).items():
            if dev.get(name) != pin:
                problems.append(f"{name} is pinned differently in {RUNTIME.path} and {DEV.path}: run `make lock`")
    tool = root / LOCK_TOOL
    if tool.exists():
        problems += lint(LOCK_TOOL, tool.read_text(encoding="utf-8"))
    else:
        problems.append(f"{LOCK_TOOL} is missing")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.lockfiles", description="write or check the lock files")
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository (default: this one)")
    sub = parser.add_subparsers(dest="command", required=True)
    writer = sub.add_parser("write", help="rewrite the locks from pyproject.toml")
    writer.add_argument("--uv", required=True, help="the pinned uv binary (make lock installs it)")
    writer.add_argument("--upgrade", action="store_true", help="move every pin to the newest allowed version")
    sub.add_parser("check", help="exit 1 if the locks are stale or carry anything but pins and hashes")
    args = parser.parse_args(argv)
    if args.command == "write":
        write(args.root, args.uv, args.upgrade)
        print("locks written: " + ", ".join(lock.path for lock in LOCKS))
        return 0
    problems = check(args.root)
    for problem in problems:
        print(f"lock check: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
