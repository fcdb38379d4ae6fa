"""What a hook call run without the HTTP service (`fhir-module evaluate`) reads of the
environment: the limits of a call, the largest request file, the knowledge to load and the
config file whose [service_ids] it applies. The service's `Settings` reads the same
variables with the same readers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import ConfigError
from ._limits import (
    DEFAULT_FHIR_TIMEOUT,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_DOSAGES,
    DEFAULT_MAX_DOSE_ENTRIES,
    DEFAULT_MAX_ENTRIES,
    DEFAULT_MAX_PAGES,
    Limits,
)

if TYPE_CHECKING:
    from ..knowledge import Knowledge

ENV_PREFIX = "FHIR_MODULE_"

_T = TypeVar("_T")


def env_text(env: Mapping[str, str], name: str) -> str | None:
    """The value of FHIR_MODULE_<name>; None when unset or empty."""
    value = env.get(ENV_PREFIX + name)
    return value if value else None


def env_number(env: Mapping[str, str], name: str, parse: Callable[[str], _T], default: _T) -> _T:
    """FHIR_MODULE_<name> read with `parse` (int, float); `default` when unset. A value that
    does not parse is a ConfigError naming that one variable."""
    text = env_text(env, name)
    if text is None:
        return default
    try:
        return parse(text.strip())
    except ValueError:
        kind = "an integer" if parse is int else "a number"
        raise ConfigError(
            f"{ENV_PREFIX}{name}: must be {kind}, not {text!r}", ENV_PREFIX + name
        ) from None


def env_flag(env: Mapping[str, str], name: str) -> bool:
    """FHIR_MODULE_<name> as a yes or no (1/0, true/false, yes/no, on/off; unset: no)."""
    value = (env_text(env, name) or "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(f"{ENV_PREFIX}{name}: must be 1 or 0 (true or false)", ENV_PREFIX + name)


def env_paths(env: Mapping[str, str], name: str) -> tuple[Path, ...]:
    """FHIR_MODULE_<name> as paths separated by the system's path separator."""
    return tuple(Path(p) for p in (env_text(env, name) or "").split(os.pathsep) if p)


def check_limits(limits: Any) -> None:
    """ConfigError for a limit out of range (the names are the settings' fields)."""
    if limits.max_body_bytes < 1024:
        raise ConfigError("max_body_bytes: must be at least 1024", "max_body_bytes")
    for name in ("max_entries", "max_dosages", "max_dose_entries", "max_pages"):
        if getattr(limits, name) < 1:
            raise ConfigError(f"{name}: must be at least 1", name)
    if limits.fhir_timeout <= 0:
        raise ConfigError("fhir_timeout: must be positive", "fhir_timeout")


def load_chosen_knowledge(paths: tuple[Path, ...], builtin: bool) -> Knowledge:
    """The module's own knowledge unless `builtin` is off, plus `paths`.

    ConfigError when there is none to load or a path does not exist; KnowledgeError
    (naming the file) when a file is broken. Nothing is half-loaded: it all loads or the
    error is raised.
    """
    from ..knowledge import folder_files, load_knowledge

    if not builtin and not paths:
        raise ConfigError(
            "no knowledge to load: without the built-in knowledge "
            f"({ENV_PREFIX}NO_BUILTIN_KNOWLEDGE, --no-builtin-knowledge) give "
            f"--knowledge PATH ({ENV_PREFIX}KNOWLEDGE)",
            "knowledge_paths",
        )
    for path in paths:
        if not path.exists():
            raise ConfigError(f"knowledge: no such file or folder: {path}", "knowledge_paths")
        if path.is_dir() and not folder_files(path):
            raise ConfigError(
                f"knowledge: no FHIR JSON resources (*.json) in or below the folder {path}",
                "knowledge_paths",
            )
    return load_knowledge(*paths, builtin=builtin)


@dataclass(frozen=True)
class LocalSettings(Limits):
    """The `HookLimits` of a hook call run without the service, with the largest request
    file, the knowledge to load and the config file naming the service ids."""

    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    config_path: Path | None = None
    knowledge_paths: tuple[Path, ...] = ()
    builtin_knowledge: bool = True

    def __post_init__(self) -> None:
        check_limits(self)

    def load_knowledge(self) -> Knowledge:
        """The knowledge these settings name (see `load_chosen_knowledge`)."""
        return load_chosen_knowledge(self.knowledge_paths, self.builtin_knowledge)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LocalSettings:
        """From FHIR_MODULE_FHIR_TIMEOUT, _MAX_PAGES, _MAX_BODY_BYTES, _MAX_FHIR_BYTES,
        _MAX_ENTRIES, _MAX_DOSAGES, _MAX_DOSE_ENTRIES, _CONFIG, _KNOWLEDGE and
        _NO_BUILTIN_KNOWLEDGE, as the service reads them; unset ones keep their defaults."""
        env = os.environ if environ is None else environ
        max_body = env_number(env, "MAX_BODY_BYTES", int, DEFAULT_MAX_BODY_BYTES)
        fhir_bytes = env_number(env, "MAX_FHIR_BYTES", int, max_body)
        if fhir_bytes < 1024:
            raise ConfigError("max_fhir_bytes: must be at least 1024", "max_fhir_bytes")
        config = env_text(env, "CONFIG")
        return cls(
            fhir_timeout=env_number(env, "FHIR_TIMEOUT", float, DEFAULT_FHIR_TIMEOUT),
            max_pages=env_number(env, "MAX_PAGES", int, DEFAULT_MAX_PAGES),
            max_entries=env_number(env, "MAX_ENTRIES", int, DEFAULT_MAX_ENTRIES),
            max_dosages=env_number(env, "MAX_DOSAGES", int, DEFAULT_MAX_DOSAGES),
            max_dose_entries=env_number(env, "MAX_DOSE_ENTRIES", int, DEFAULT_MAX_DOSE_ENTRIES),
            fhir_answer_bytes=fhir_bytes,
            max_body_bytes=max_body,
            config_path=Path(config) if config else None,
            knowledge_paths=env_paths(env, "KNOWLEDGE"),
            builtin_knowledge=not env_flag(env, "NO_BUILTIN_KNOWLEDGE"),
        )
