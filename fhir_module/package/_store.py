"""The profiles' generated snapshots, kept beside them (profiles/snapshot/).

Each file holds one profile's snapshot and the SHA-256 of the profile it was
made from, so a profile edited without regenerating its snapshot is noticed.
`scripts/snapshots.py` regenerates them from the R4 base definitions.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

FOLDER = "snapshot"


def profile_digest(profile: Mapping[str, Any]) -> str:
    """SHA-256 of a profile as written by hand (without snapshot and narrative)."""
    content = {k: v for k, v in profile.items() if k not in ("snapshot", "text")}
    text = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def stored_path(profile_id: str, folder: Path | None = None) -> Path:
    root = folder or Path(str(resources.files("fhir_module.profiles"))) / FOLDER
    return root / f"StructureDefinition-{profile_id}.json"


def stored_snapshot(profile: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """The stored snapshot of a profile, if there is one made from this very profile."""
    path = stored_path(str(profile.get("id")))
    if not path.is_file():
        return None
    stored = json.loads(path.read_text(encoding="utf-8"))
    if stored.get("url") != profile.get("url") or stored.get("sha256") != profile_digest(profile):
        return None
    elements = stored.get("snapshot", {}).get("element")
    return elements if isinstance(elements, list) else None


def store_document(profile: Mapping[str, Any], elements: list[dict[str, Any]]) -> dict[str, Any]:
    """What a stored snapshot file holds."""
    return {
        "url": profile.get("url"),
        "version": profile.get("version"),
        "sha256": profile_digest(profile),
        "snapshot": {"element": elements},
    }
