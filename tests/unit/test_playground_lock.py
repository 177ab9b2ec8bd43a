"""The Agents Playground the Teams system test installs is pinned: one exact version, locked with its integrity
hash, and no registry or other URL in the lock file (``npm ci`` takes the registry from the machine's own config)."""

from __future__ import annotations

import json
import re
from pathlib import Path

PLAYGROUND = Path(__file__).parent.parent / "system" / "playground"
PACKAGE = "@microsoft/m365agentsplayground"


def test_the_playground_is_pinned_and_its_lock_file_carries_no_urls() -> None:
    wanted = json.loads((PLAYGROUND / "package.json").read_text())["dependencies"][PACKAGE]
    assert re.fullmatch(r"\d+\.\d+\.\d+", wanted), f"pin an exact version, not {wanted!r}"
    text = (PLAYGROUND / "package-lock.json").read_text()
    lock = json.loads(text)
    assert lock["lockfileVersion"] >= 3
    locked = lock["packages"][f"node_modules/{PACKAGE}"]
    assert locked["version"] == wanted and locked["integrity"].startswith("sha512-")
    assert all("resolved" not in entry for entry in lock["packages"].values())
    assert not re.search(r"https?://|file:", text), "no registry address or local path in the lock file"
    # and npm keeps it that way when someone relocks here
    assert "omit-lockfile-registry-resolved=true" in (PLAYGROUND / ".npmrc").read_text().splitlines()
