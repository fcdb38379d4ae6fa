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

ENV_PREFIX = "FHIR_MODULE_"


@dataclass(frozen=True)
class Settings:
    """Where the service listens, where it keeps its records, how it talks to FHIR servers.

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

    def __post_init__(self) -> None:
        # A str path is the common slip; the store needs a Path.
        object.__setattr__(self, "db_path", Path(self.db_path))
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
        """Settings from FHIR_MODULE_HOST, _PORT, _DB, _FHIR_TIMEOUT, _MAX_PAGES,
        _AUDIT_KEY and _CORS_ORIGINS (comma-separated); unset ones keep their defaults."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(ENV_PREFIX + name)
            return value if value else None

        try:
            port = int(get("PORT") or DEFAULT_PORT)
            timeout = float(get("FHIR_TIMEOUT") or DEFAULT_FHIR_TIMEOUT)
            pages = int(get("MAX_PAGES") or DEFAULT_MAX_PAGES)
        except ValueError as exc:
            raise InvalidRequest(f"{ENV_PREFIX}PORT, _FHIR_TIMEOUT, _MAX_PAGES: {exc}") from None
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
        }
        if self.audit_key is not None:
            env["AUDIT_KEY"] = self.audit_key.decode("utf-8", "surrogateescape")
        return {ENV_PREFIX + k: v for k, v in env.items()}
