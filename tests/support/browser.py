"""Headless Chromium for end-to-end tests: Debian's chromium driven by Playwright's Python package.

Never ``playwright install``: the browser is the distribution's (.ci/run installs it). Without either
piece the test is skipped with the reason, except under CI=true, where a skip would hide a missing install.
"""

from __future__ import annotations

import importlib.util
import os
import shutil

import pytest

CHROMIUM = os.environ.get("SHARECHECK_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def require_browser() -> None:
    missing = []
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        missing.append(f"chromium at {CHROMIUM} (apt-get install chromium)")
    if importlib.util.find_spec("playwright") is None:
        missing.append("the playwright package (pip install -e '.[dev]')")
    if not missing:
        return
    reason = "browser test needs " + " and ".join(missing)
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; under CI the browser tests must run")
    pytest.skip(reason)
