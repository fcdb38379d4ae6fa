"""The service's one configuration object; the environment is read only when asked."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .._errors import InvalidRequest

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
#: relative to the working directory, so `fhir-module serve` works at once anywhere writable
DEFAULT_DB_PATH = Path("fhir-module.sqlite3")
#: seconds for each request to the EHR's FHIR server (connect and read)
DEFAULT_FHIR_TIMEOUT = 10.0
#: Bundle pages followed per prefetch key before the service stops reading
DEFAULT_MAX_PAGES = 10
#: browser-based CDS clients need CORS (CDS Hooks 2.0 "Cross-Origin Resource Sharing")
DEFAULT_CORS_ORIGINS: tuple[str, ...] = ("*",)
#: the largest request body read; a larger one gets 413
DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024
#: the most draftOrders entries, prefetch Bundle entries or feedback items one request may hold
DEFAULT_MAX_ENTRIES = 1000
#: the most dosage instructions one hook call's MedicationRequests may hold in all (drafts and
#: the patient's own): each order is judged with the others of its route, so the work of a
#: call grows with its orders times their instructions (see benchmarks/bench_limits.py)
DEFAULT_MAX_DOSAGES = 1000
#: the most dose and timing entries (doseAndRate, timing.event, repeat.timeOfDay, ...) in all
DEFAULT_MAX_DOSE_ENTRIES = 2000

ENV_PREFIX = "FHIR_MODULE_"


@dataclass(frozen=True)
class Settings:
    """Where the service listens, where it keeps its records, how it talks to FHIR servers,
    whom it trusts and how much it takes on.

    `config_path` names the TOML file of trusted clients (see `_config`); None runs the
    service open, for loopback callers only.

    `audit_key` is the HMAC-SHA256 key that turns patient ids into audit hashes;
    when None, the store generates one on first use and keeps it in the database,
    so every worker and every restart hashes alike.
    """

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    db_path: Path = DEFAULT_DB_PATH
    fhir_timeout: float = DEFAULT_FHIR_TIMEOUT
    max_pages: int = DEFAULT_MAX_PAGES
    audit_key: bytes | None = field(default=None, repr=False)
    cors_origins: tuple[str, ...] = DEFAULT_CORS_ORIGINS
    config_path: Path | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_entries: int = DEFAULT_MAX_ENTRIES
    max_dosages: int = DEFAULT_MAX_DOSAGES
    max_dose_entries: int = DEFAULT_MAX_DOSE_ENTRIES

    def __post_init__(self) -> None:
        # A str path is the common slip; the store needs a Path.
        object.__setattr__(self, "db_path", Path(self.db_path))
        if self.config_path is not None:
            object.__setattr__(self, "config_path", Path(self.config_path))
        if self.max_body_bytes < 1024:
            raise InvalidRequest("max_body_bytes: must be at least 1024", "max_body_bytes")
        if self.max_entries < 1:
            raise InvalidRequest("max_entries: must be at least 1", "max_entries")
        if self.max_dosages < 1:
            raise InvalidRequest("max_dosages: must be at least 1", "max_dosages")
        if self.max_dose_entries < 1:
            raise InvalidRequest("max_dose_entries: must be at least 1", "max_dose_entries")
        if not 0 < self.port < 65536:
            raise InvalidRequest("port: must be between 1 and 65535", "port")
        if self.fhir_timeout <= 0:
            raise InvalidRequest("fhir_timeout: must be positive", "fhir_timeout")
        if self.max_pages < 1:
            raise InvalidRequest("max_pages: must be at least 1", "max_pages")
        if self.audit_key is not None and len(self.audit_key) < 16:
            raise InvalidRequest("audit_key: must be at least 16 bytes", "audit_key")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from FHIR_MODULE_HOST, _PORT, _DB, _FHIR_TIMEOUT, _MAX_PAGES, _AUDIT_KEY,
        _CORS_ORIGINS (comma-separated), _CONFIG, _MAX_BODY_BYTES, _MAX_ENTRIES, _MAX_DOSAGES
        and _MAX_DOSE_ENTRIES;
        unset ones keep their defaults."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(ENV_PREFIX + name)
            return value if value else None

        try:
            port = int(get("PORT") or DEFAULT_PORT)
            timeout = float(get("FHIR_TIMEOUT") or DEFAULT_FHIR_TIMEOUT)
            pages = int(get("MAX_PAGES") or DEFAULT_MAX_PAGES)
            max_body = int(get("MAX_BODY_BYTES") or DEFAULT_MAX_BODY_BYTES)
            max_entries = int(get("MAX_ENTRIES") or DEFAULT_MAX_ENTRIES)
            max_dosages = int(get("MAX_DOSAGES") or DEFAULT_MAX_DOSAGES)
            max_dose_entries = int(get("MAX_DOSE_ENTRIES") or DEFAULT_MAX_DOSE_ENTRIES)
        except ValueError as exc:
            raise InvalidRequest(
                f"{ENV_PREFIX}PORT, _FHIR_TIMEOUT, _MAX_PAGES, _MAX_BODY_BYTES, _MAX_ENTRIES, "
                f"_MAX_DOSAGES, _MAX_DOSE_ENTRIES: {exc}"
            ) from None
        config = get("CONFIG")
        key = get("AUDIT_KEY")
        origins = get("CORS_ORIGINS")
        return cls(
            host=get("HOST") or DEFAULT_HOST,
            port=port,
            db_path=Path(get("DB") or DEFAULT_DB_PATH),
            fhir_timeout=timeout,
            max_pages=pages,
            audit_key=key.encode("utf-8", "surrogateescape") if key else None,
            cors_origins=(
                tuple(o.strip() for o in origins.split(",") if o.strip())
                if origins
                else DEFAULT_CORS_ORIGINS
            ),
            config_path=Path(config) if config else None,
            max_body_bytes=max_body,
            max_entries=max_entries,
            max_dosages=max_dosages,
            max_dose_entries=max_dose_entries,
        )

    def to_env(self) -> dict[str, str]:
        """The environment that makes `from_env` rebuild these settings (for uvicorn workers)."""
        env = {
            "HOST": self.host,
            "PORT": str(self.port),
            "DB": str(self.db_path),
            "FHIR_TIMEOUT": repr(self.fhir_timeout),
            "MAX_PAGES": str(self.max_pages),
            "CORS_ORIGINS": ",".join(self.cors_origins),
            "MAX_BODY_BYTES": str(self.max_body_bytes),
            "MAX_ENTRIES": str(self.max_entries),
            "MAX_DOSAGES": str(self.max_dosages),
            "MAX_DOSE_ENTRIES": str(self.max_dose_entries),
            # Absolute: a worker may start in another directory.
            "CONFIG": str(self.config_path.resolve()) if self.config_path else "",
        }
        if self.audit_key is not None:
            env["AUDIT_KEY"] = self.audit_key.decode("utf-8", "surrogateescape")
        return {ENV_PREFIX + k: v for k, v in env.items()}
