"""Knowledge from a FHIR NPM package (.tgz): the resources under package/.

The manifest, the index and the ImplementationGuide describe the package and
are not knowledge. A packaged resource that is one of the module's own (the same
content; the package adds snapshots to profiles) is the same knowledge and is
read once; a different one under the same Type/id is refused as a duplicate.
"""

from __future__ import annotations

import json
import tarfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..errors import KnowledgeError
from ._load import (
    JSON_NUMBER_TOO_LONG,
    JSON_TOO_DEEP,
    PACKAGE_MANIFEST,
    SourceFile,
    checked_source,
    is_description,
)

PACKAGE_SUFFIXES = (".tgz", ".tar.gz")
MAX_MEMBER_BYTES = 20 * 1024 * 1024


def is_package(path: Path) -> bool:
    return path.name.endswith(PACKAGE_SUFFIXES) and path.is_file()


def read_package(path: Path) -> list[SourceFile]:
    """The knowledge resources of a package file, checked like knowledge files."""
    return [checked_source(where, res, origin) for where, origin, res in package_members(path)]


def package_members(path: Path) -> list[tuple[str, str, Any]]:
    """(name, origin, parsed JSON) of each knowledge resource of a package file, unchecked:
    the JSON files under package/, but the manifest, the index, hidden files and the
    ImplementationGuide. KnowledgeError for an unreadable package, a member too large or
    not JSON, or a package holding none."""
    label = path.name
    found: list[tuple[str, str, Any]] = []
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in sorted(tar.getmembers(), key=lambda m: m.name):
                folder, _, name = member.name.partition("/")
                if (
                    folder != "package"
                    or "/" in name
                    or not name.endswith(".json")
                    or name.startswith(".")
                    or name == PACKAGE_MANIFEST
                    or not member.isfile()
                ):
                    continue
                where = f"{label}:{name}"
                if member.size > MAX_MEMBER_BYTES:
                    raise KnowledgeError(where, "$", "is too large for a knowledge resource")
                handle = tar.extractfile(member)
                resource = _json(handle.read() if handle else b"", where)
                if is_description(resource):
                    continue
                found.append((where, f"{path}:{name}", resource))
    except (OSError, tarfile.TarError, EOFError) as exc:
        raise KnowledgeError(label, "$", f"is not a readable FHIR package ({exc})") from None
    if not found:
        raise KnowledgeError(label, "package", "holds no knowledge resources")
    return found


def _json(data: bytes, where: str) -> Any:
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise KnowledgeError(where, "$", f"is not valid JSON ({exc})") from None
    except RecursionError:
        raise KnowledgeError(where, "$", JSON_TOO_DEEP) from None
    except ValueError:  # json.loads reads integers of at most sys.get_int_max_str_digits()
        raise KnowledgeError(where, "$", JSON_NUMBER_TOO_LONG) from None


def _plain(resource: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if k != "snapshot"}


def merge(loaded: list[SourceFile], packaged: Iterable[SourceFile]) -> list[SourceFile]:
    """The loaded files plus the packaged ones that are not the same resource again."""
    by_key = {f"{f.resource['resourceType']}/{f.resource['id']}": f for f in loaded}
    out = list(loaded)
    for f in packaged:
        same = by_key.get(f"{f.resource['resourceType']}/{f.resource['id']}")
        if same is not None and _plain(same.resource) == _plain(f.resource):
            continue
        out.append(f)
    return out
