"""The knowledge as a FHIR NPM package, and the profiles' snapshots."""

from ._build import PackageError, build_package, package_contents
from ._definitions import Definitions
from ._npm import package_files, write_tgz
from ._snapshot import SnapshotError, generate_snapshot

__all__ = [
    "Definitions",
    "PackageError",
    "SnapshotError",
    "build_package",
    "generate_snapshot",
    "package_contents",
    "package_files",
    "write_tgz",
]
