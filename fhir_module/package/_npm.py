"""FHIR NPM packages: package/package.json, package/.index.json, one resource per file.

The layout is the FHIR package specification's. The archive is byte-for-byte the
same for the same resources: sorted members, fixed times, owners and modes, and
a gzip header without a name or a time.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from collections.abc import Iterable, Mapping
from typing import Any

INDEX_FIELDS = (
    "url",
    "version",
    "kind",
    "type",
    "derivation",
    "baseDefinition",
)


def resource_filename(resource: Mapping[str, Any]) -> str:
    """The file name of a resource in a package: Type-id.json."""
    return f"{resource['resourceType']}-{resource['id']}.json"


def index_entry(resource: Mapping[str, Any]) -> dict[str, Any]:
    """A resource's row of .index.json (index-version 2)."""
    entry: dict[str, Any] = {
        "filename": resource_filename(resource),
        "resourceType": resource["resourceType"],
        "id": resource["id"],
    }
    for field in INDEX_FIELDS:
        value = resource.get(field)
        if isinstance(value, str):
            entry[field] = value
    return entry


def dumps(document: Any) -> bytes:
    """The JSON text the package holds: indented, UTF-8, one final newline."""
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def package_files(
    manifest: Mapping[str, Any], resources: Iterable[Mapping[str, Any]]
) -> dict[str, bytes]:
    """Member name -> bytes of a package: the manifest, the index and the resources."""
    ordered = sorted(resources, key=resource_filename)
    names = [resource_filename(r) for r in ordered]
    if len(set(names)) != len(names):
        duplicate = next(n for n in names if names.count(n) > 1)
        raise ValueError(f"two resources would be {duplicate}")
    files = {f"package/{resource_filename(r)}": dumps(r) for r in ordered}
    files["package/package.json"] = dumps(manifest)
    files["package/.index.json"] = dumps(
        {"index-version": 2, "files": [index_entry(r) for r in ordered]}
    )
    return files


def write_tgz(files: Mapping[str, bytes]) -> bytes:
    """A gzipped tar of the files, deterministic for the same files."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            data = files[name]
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()
