"""`sharecheck manifest teams`: an upload-ready zip whose manifest passes the official Teams schema."""

from __future__ import annotations

import json
import struct
import zipfile
import zlib
from pathlib import Path

import jsonschema
import pytest

from adapters.teams.manifest import ICONS, TEMPLATE_DIR, ManifestError, build_manifest
from sharecheck.cli import main
from tests.support.settings import make_settings

DATA = Path(__file__).parent.parent / "data"
APP_ID = "6a1d3c2b-8e4f-4a5b-9c7d-0e1f2a3b4c5d"


def validate(manifest: dict) -> None:
    schema = json.loads((DATA / "teams-manifest-v1.30.schema.json").read_text(encoding="utf-8"))
    errors = [
        f"{list(e.absolute_path)}: {e.message[:200]}" for e in jsonschema.Draft4Validator(schema).iter_errors(manifest)
    ]
    assert not errors, errors


def png_facts(data: bytes) -> tuple[int, int, int, int]:
    """Width, height, colour type, and the alpha of the top-left pixel (needs no image library)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    assert depth == 8
    idat, pos = b"", 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        if kind == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    raw = zlib.decompress(idat)
    # the first pixel of the first row is stored as is under every PNG filter
    alpha = raw[4] if colour == 6 else 255
    return width, height, colour, alpha


def test_manifest_passes_the_teams_schema(tmp_path: Path) -> None:
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path}/x.db", microsoft_app_id=APP_ID)
    manifest = build_manifest(settings)
    validate(manifest)
    assert manifest["id"] == APP_ID and manifest["bots"][0]["botId"] == APP_ID
    assert set(manifest["bots"][0]["scopes"]) == {"personal", "team"}
    personal = next(c for c in manifest["bots"][0]["commandLists"] if c["scopes"] == ["personal"])
    assert [c["title"] for c in personal["commands"]] == [
        "share-check",
        "pending",
        "resume",
        "digest",
        "revoke",
        "admin",
        "help",
    ]
    # every command the manifest suggests is one the bot understands
    team = next(c for c in manifest["bots"][0]["commandLists"] if c["scopes"] == ["team"])
    assert [c["title"] for c in team["commands"]] == ["share-check", "admin", "help"]


def test_cli_writes_an_upload_ready_zip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("MICROSOFT_APP_ID", APP_ID)
    monkeypatch.setenv("SHARECHECK_PUBLIC_URL", "https://sharecheck.example.org/")
    out = tmp_path / "app.zip"
    assert main(["manifest", "teams", "--out", str(out)]) == 0
    with zipfile.ZipFile(out) as zf:
        assert sorted(zf.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(zf.read("manifest.json"))
        validate(manifest)
        assert manifest["developer"]["privacyUrl"] == "https://sharecheck.example.org/privacy"
        assert png_facts(zf.read("color.png"))[:3] == (192, 192, 6)
        width, height, _, corner_alpha = png_facts(zf.read("outline.png"))
        assert (width, height, corner_alpha) == (32, 32, 0), "outline icon: 32x32 on a transparent background"


def test_without_an_app_id_there_is_no_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MICROSOFT_APP_ID", raising=False)
    assert main(["manifest", "teams", "--out", str(tmp_path / "app.zip")]) == 2
    assert "MICROSOFT_APP_ID" in capsys.readouterr().err
    with pytest.raises(ManifestError):
        build_manifest(make_settings("sqlite+aiosqlite://", microsoft_app_id="not-a-guid"))


def test_icons_are_committed() -> None:
    for icon in ICONS:
        assert (TEMPLATE_DIR / icon).stat().st_size > 0
