"""The layout is the architecture: the core never imports a channel, and only the composition root wires them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {
    "dialogs": {"bot", "adapters", "sharecheck"},  # the engine and content know no application and no platform
    "bot": {"adapters", "sharecheck"},  # the core: application services, storage, scheduling, the web core
    "adapters": {"sharecheck"},  # a channel translates; it does not wire the others
}
CHANNELS = ("slack", "teams", "console", "receipt")
ENTRY_SHIMS = {"bot/__main__.py"}
"""``python -m bot``, which the deployment contract names: it only hands over to the composition root."""


def imported(path: Path) -> set[str]:
    """Every module a file imports, at its top or inside a function (a lazy import is still a dependency)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def files_of(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", list(FORBIDDEN))
def test_a_layer_imports_nothing_above_it(package: str) -> None:
    offending = {
        f"{path.relative_to(ROOT)} imports {name}"
        for path in files_of(package)
        if str(path.relative_to(ROOT)) not in ENTRY_SHIMS
        for name in imported(path)
        if name.split(".")[0] in FORBIDDEN[package]
    }
    assert offending == set()


def test_each_channel_imports_no_other_channel() -> None:
    offending = set()
    for channel in CHANNELS:
        own = ROOT / "adapters" / channel
        paths = files_of(f"adapters/{channel}") if own.is_dir() else [ROOT / "adapters" / f"{channel}.py"]
        for path in paths:
            for name in imported(path):
                parts = name.split(".")
                if parts[0] == "adapters" and len(parts) > 1 and parts[1] in CHANNELS and parts[1] != channel:
                    offending.add(f"{path.relative_to(ROOT)} imports {name}")
    assert offending == set()


def test_the_composition_root_is_what_starts_the_program() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'sharecheck = "sharecheck.cli:main"' in pyproject
    shim = (ROOT / "bot" / "__main__.py").read_text(encoding="utf-8")
    assert imported(ROOT / "bot" / "__main__.py") == {"sharecheck.cli"} and "raise SystemExit(main())" in shim
