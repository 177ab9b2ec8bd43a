"""The Teams app package: manifest.json (from the template in manifest/teams/, filled from settings) and icons.

No Agents SDK import here: building the zip needs only the settings.
"""

from __future__ import annotations

import json
import re
import zipfile
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

from bot.settings import Settings

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "manifest" / "teams"
ICONS = ("color.png", "outline.png")
GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
PLACEHOLDER_URL = "https://sharecheck.invalid"


class ManifestError(ValueError):
    """Settings that cannot make an uploadable package."""


def _version() -> str:
    try:
        return package_version("sharecheck")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0.1.0"


def build_manifest(settings: Settings, template_dir: Path = TEMPLATE_DIR) -> dict[str, Any]:
    app_id = settings.microsoft_app_id
    if not app_id or not GUID.match(app_id):
        raise ManifestError("set MICROSOFT_APP_ID to the bot's Microsoft App ID (a GUID) to build the Teams package")
    public = str(settings.sharecheck_public_url).rstrip("/") if settings.sharecheck_public_url else PLACEHOLDER_URL
    values = {"MICROSOFT_APP_ID": app_id, "PUBLIC_URL": public, "VERSION": _version()}
    text = (template_dir / "manifest.json").read_text(encoding="utf-8")
    # fill placeholders inside JSON strings, escaped, so a value can never change the manifest's structure
    filled = re.sub(r"\{\{([A-Z_]+)\}\}", lambda m: json.dumps(values[m.group(1)])[1:-1], text)
    manifest: dict[str, Any] = json.loads(filled)
    return manifest


def write_package(settings: Settings, out: Path, template_dir: Path = TEMPLATE_DIR) -> Path:
    """The zip Teams takes in 'Upload a custom app': manifest.json and the two icons at its root."""
    manifest = build_manifest(settings, template_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False))
        for icon in ICONS:
            zf.write(template_dir / icon, icon)
    return out
