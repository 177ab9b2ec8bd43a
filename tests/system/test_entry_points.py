"""The command line answers by every name the deployment contract and the README give it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import run


@pytest.mark.parametrize("module", ["bot", "sharecheck"])
def test_python_dash_m_runs_the_same_command_line_as_the_console_script(module: str, env: dict[str, str]) -> None:
    by_module = subprocess.run(
        [sys.executable, "-m", module, "packs"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    by_script = run(["packs"], env)
    assert by_module.returncode == 0, by_module.stderr
    assert by_module.stdout == by_script.stdout
    assert "children-england-2024 2.0.0 (default)" in by_module.stdout


def test_the_console_script_is_installed(env: dict[str, str]) -> None:
    script = Path(sys.executable).parent / "sharecheck"
    done = subprocess.run([script, "packs"], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0 and "(default)" in done.stdout, done.stderr
