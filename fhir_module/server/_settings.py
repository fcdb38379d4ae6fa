"""The service's one configuration object; the environment is read only when asked."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from ..hooks import (
    DEFAULT_FHIR_TIMEOUT,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_DOSAGES,
    DEFAULT_MAX_DOSE_ENTRIES,
    DEFAULT_MAX_ENTRIES,
    DEFAULT_MAX_PAGES,
    ENV_PREFIX,
    env_flag,
    env_number,
    env_paths,
    env_text,
    load_chosen_knowledge,
)

if TYPE_CHECKING:
    from ..knowledge import Knowledge

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
#: relative to the working directory, so `fhir-module serve` works at once anywhere writable
DEFAULT_DB_PATH = Path("fhir-module.sqlite3")
#: browser-based CDS clients need CORS (CDS Hooks 2.0 "Cross-Origin Resource Sharing");
#: None: any origin with trusted clients (each call carries its JWT), loopback origins only
#: in open mode (a web page anywhere must not drive an unauthenticated service)
DEFAULT_CORS_ORIGINS: tuple[str, ...] | None = None
#: the largest answer read from the EHR's FHIR server, per read; None: the request body limit,
#: since a request may bring as much patient data in its prefetch
DEFAULT_MAX_FHIR_BYTES: int | None = None
#: seconds a connection has to send a request's headers (and then its body): slow senders
#: cannot hold a connection open
DEFAULT_HEADER_TIMEOUT = 10.0
#: seconds a kept-alive connection may stay idle between requests
DEFAULT_IDLE_TIMEOUT = 5
#: open connections per worker; at the cap, the longest-idle one makes room for a new one
DEFAULT_MAX_CONNECTIONS = 1000
#: live JWT ids one issuer may hold in the replay cache; beyond, its new tokens get 401
DEFAULT_REPLAY_QUOTA = 20_000


@dataclass(frozen=True)
class Settings:
    """Where the service listens, where it keeps its records, how it talks to FHIR servers,
    whom it trusts and how much it takes on.

    `config_path` names the TOML file of trusted clients (see `_config`); None runs the
    service open, for loopback callers only.

    `audit_key` is the HMAC-SHA256 key that turns patient ids into audit hashes;
    when None, it is read from `audit_key_file` (by default `<db>.key`), which the
    store makes with mode 0600 on first use, so every worker and every restart hashes
    alike, and the key never sits in the database beside the hashes.
    """

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    db_path: Path = DEFAULT_DB_PATH
    fhir_timeout: float = DEFAULT_FHIR_TIMEOUT
    max_pages: int = DEFAULT_MAX_PAGES
    audit_key: bytes | None = field(default=None, repr=False)
    cors_origins: tuple[str, ...] | None = DEFAULT_CORS_ORIGINS
    config_path: Path | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_entries: int = DEFAULT_MAX_ENTRIES
    #: the cap on one FHIR answer's bytes; None: `max_body_bytes` (see `fhir_answer_bytes`)
    max_fhir_bytes: int | None = DEFAULT_MAX_FHIR_BYTES
    #: proxies whose X-Forwarded-For/-Proto are believed (uvicorn's forwarded_allow_ips);
    #: none by default
    forwarded_allow_ips: tuple[str, ...] = ()
    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    idle_timeout: int = DEFAULT_IDLE_TIMEOUT
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    replay_quota: int = DEFAULT_REPLAY_QUOTA
    #: keep override comments' text (free text: it may name the patient); else their length
    store_comments: bool = False
    #: the file holding the audit key when `audit_key` is None (made, 0600, when missing);
    #: None: beside the database, `<db>.key`
    audit_key_file: Path | None = None
    #: audit and feedback rows older than this many days are deleted; None keeps them
    retention_days: int | None = None
    #: feedback items one client may send per minute (beyond: 429); None: no cap
    feedback_per_minute: int | None = None
    #: a PostgreSQL URL (postgresql://user@host/dbname) to use instead of `db_path`
    db_url: str | None = field(default=None, repr=False)
    max_dosages: int = DEFAULT_MAX_DOSAGES
    max_dose_entries: int = DEFAULT_MAX_DOSE_ENTRIES
    #: more knowledge to load: folders of FHIR R4 JSON resources, resource files or FHIR
    #: packages (.tgz), in this order
    knowledge_paths: tuple[Path, ...] = ()
    #: load the module's own (baclofen) knowledge besides `knowledge_paths`
    builtin_knowledge: bool = True

    @property
    def database(self) -> Path | str:
        """Where the service keeps its records: the PostgreSQL URL, else the SQLite file."""
        return self.db_url if self.db_url is not None else self.db_path

    def __post_init__(self) -> None:
        # A str path is the common slip; the store needs a Path.
        object.__setattr__(self, "db_path", Path(self.db_path))
        if self.config_path is not None:
            object.__setattr__(self, "config_path", Path(self.config_path))
        if self.audit_key_file is not None:
            object.__setattr__(self, "audit_key_file", Path(self.audit_key_file))
        paths: Any = self.knowledge_paths
        # one path given as a str or Path is one path, not its characters
        paths = (paths,) if isinstance(paths, str | os.PathLike) else paths
        object.__setattr__(self, "knowledge_paths", tuple(Path(p) for p in paths))
        if self.max_body_bytes < 1024:
            raise ConfigError("max_body_bytes: must be at least 1024", "max_body_bytes")
        if self.max_fhir_bytes is not None and self.max_fhir_bytes < 1024:
            raise ConfigError("max_fhir_bytes: must be at least 1024", "max_fhir_bytes")
        if self.max_entries < 1:
            raise ConfigError("max_entries: must be at least 1", "max_entries")
        if self.max_dosages < 1:
            raise ConfigError("max_dosages: must be at least 1", "max_dosages")
        if self.max_dose_entries < 1:
            raise ConfigError("max_dose_entries: must be at least 1", "max_dose_entries")
        if not 0 < self.port < 65536:
            raise ConfigError("port: must be between 1 and 65535", "port")
        if self.fhir_timeout <= 0:
            raise ConfigError("fhir_timeout: must be positive", "fhir_timeout")
        if self.max_pages < 1:
            raise ConfigError("max_pages: must be at least 1", "max_pages")
        if self.audit_key is not None and len(self.audit_key) < 16:
            raise ConfigError("audit_key: must be at least 16 bytes", "audit_key")
        if self.header_timeout <= 0:
            raise ConfigError("header_timeout: must be positive", "header_timeout")
        if self.idle_timeout < 1:
            raise ConfigError("idle_timeout: must be at least 1", "idle_timeout")
        if self.max_connections < 1:
            raise ConfigError("max_connections: must be at least 1", "max_connections")
        if self.replay_quota < 1:
            raise ConfigError("replay_quota: must be at least 1", "replay_quota")
        if self.db_url is not None and not self.db_url.startswith(("postgresql://", "postgres://")):
            raise ConfigError("db_url: must be a postgresql:// URL", "db_url")
        for name in ("retention_days", "feedback_per_minute"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name}: must be at least 1", name)

    @property
    def fhir_answer_bytes(self) -> int:
        """The most bytes one answer of the EHR's FHIR server may have (after decoding)."""
        return self.max_body_bytes if self.max_fhir_bytes is None else self.max_fhir_bytes

    def load_knowledge(self) -> Knowledge:
        """The knowledge these settings name: the module's own unless `builtin_knowledge` is
        off, plus `knowledge_paths`.

        ConfigError when there is none to load or a path does not exist; KnowledgeError
        (naming the file) when a file is broken. Nothing is half-loaded: it all loads or
        the error is raised.
        """
        return load_chosen_knowledge(self.knowledge_paths, self.builtin_knowledge)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from FHIR_MODULE_HOST, _PORT, _DB, _FHIR_TIMEOUT, _MAX_PAGES, _AUDIT_KEY,
        _CORS_ORIGINS (comma-separated), _CONFIG, _MAX_BODY_BYTES, _MAX_FHIR_BYTES,
        _MAX_ENTRIES, _FORWARDED_ALLOW_IPS (comma-separated), _HEADER_TIMEOUT, _IDLE_TIMEOUT,
        _MAX_CONNECTIONS, _REPLAY_QUOTA, _STORE_COMMENTS, _AUDIT_KEY_FILE, _RETENTION_DAYS and
        _FEEDBACK_PER_MINUTE, _MAX_DOSAGES, _MAX_DOSE_ENTRIES, _KNOWLEDGE (paths separated by
        os.pathsep) and _NO_BUILTIN_KNOWLEDGE; unset ones keep their defaults."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            return env_text(env, name)

        port = env_number(env, "PORT", int, DEFAULT_PORT)
        timeout = env_number(env, "FHIR_TIMEOUT", float, DEFAULT_FHIR_TIMEOUT)
        pages = env_number(env, "MAX_PAGES", int, DEFAULT_MAX_PAGES)
        max_body = env_number(env, "MAX_BODY_BYTES", int, DEFAULT_MAX_BODY_BYTES)
        max_entries = env_number(env, "MAX_ENTRIES", int, DEFAULT_MAX_ENTRIES)
        max_fhir_bytes = env_number(env, "MAX_FHIR_BYTES", int, DEFAULT_MAX_FHIR_BYTES)
        header_timeout = env_number(env, "HEADER_TIMEOUT", float, DEFAULT_HEADER_TIMEOUT)
        idle_timeout = env_number(env, "IDLE_TIMEOUT", int, DEFAULT_IDLE_TIMEOUT)
        max_connections = env_number(env, "MAX_CONNECTIONS", int, DEFAULT_MAX_CONNECTIONS)
        max_dosages = env_number(env, "MAX_DOSAGES", int, DEFAULT_MAX_DOSAGES)
        max_dose_entries = env_number(env, "MAX_DOSE_ENTRIES", int, DEFAULT_MAX_DOSE_ENTRIES)
        config = get("CONFIG")
        key = get("AUDIT_KEY")
        origins = get("CORS_ORIGINS")
        store = _store_settings(env)
        return cls(
            host=get("HOST") or DEFAULT_HOST,
            port=port,
            db_path=Path(get("DB") or DEFAULT_DB_PATH) if not store["db_url"] else DEFAULT_DB_PATH,
            fhir_timeout=timeout,
            max_pages=pages,
            audit_key=key.encode("utf-8", "surrogateescape") if key else None,
            cors_origins=_list(origins) if origins else DEFAULT_CORS_ORIGINS,
            config_path=Path(config) if config else None,
            max_body_bytes=max_body,
            max_entries=max_entries,
            max_fhir_bytes=max_fhir_bytes,
            forwarded_allow_ips=_list(get("FORWARDED_ALLOW_IPS") or ""),
            header_timeout=header_timeout,
            idle_timeout=idle_timeout,
            max_connections=max_connections,
            max_dosages=max_dosages,
            max_dose_entries=max_dose_entries,
            knowledge_paths=env_paths(env, "KNOWLEDGE"),
            builtin_knowledge=not env_flag(env, "NO_BUILTIN_KNOWLEDGE"),
            **store,
        )

    def to_env(self) -> dict[str, str]:
        """The environment that makes `from_env` rebuild these settings (for uvicorn workers)."""
        env = {
            "HOST": self.host,
            "PORT": str(self.port),
            "DB": str(self.database),
            "FHIR_TIMEOUT": repr(self.fhir_timeout),
            "MAX_PAGES": str(self.max_pages),
            "CORS_ORIGINS": ",".join(self.cors_origins or ()),
            "MAX_BODY_BYTES": str(self.max_body_bytes),
            "MAX_ENTRIES": str(self.max_entries),
            "MAX_FHIR_BYTES": "" if self.max_fhir_bytes is None else str(self.max_fhir_bytes),
            "FORWARDED_ALLOW_IPS": ",".join(self.forwarded_allow_ips),
            "HEADER_TIMEOUT": repr(self.header_timeout),
            "IDLE_TIMEOUT": str(self.idle_timeout),
            "MAX_CONNECTIONS": str(self.max_connections),
            "MAX_DOSAGES": str(self.max_dosages),
            "MAX_DOSE_ENTRIES": str(self.max_dose_entries),
            # Absolute: a worker may start in another directory.
            "CONFIG": str(self.config_path.resolve()) if self.config_path else "",
            "REPLAY_QUOTA": str(self.replay_quota),
            "STORE_COMMENTS": "1" if self.store_comments else "",
            "AUDIT_KEY_FILE": str(self.audit_key_file.resolve()) if self.audit_key_file else "",
            "RETENTION_DAYS": str(self.retention_days or ""),
            "FEEDBACK_PER_MINUTE": str(self.feedback_per_minute or ""),
            "KNOWLEDGE": os.pathsep.join(str(p.resolve()) for p in self.knowledge_paths),
            "NO_BUILTIN_KNOWLEDGE": "" if self.builtin_knowledge else "1",
        }
        if self.audit_key is not None:
            env["AUDIT_KEY"] = self.audit_key.decode("utf-8", "surrogateescape")
        return {ENV_PREFIX + k: v for k, v in env.items()}


def _list(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


def _store_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """The settings of what the service stores and for how long, from the environment."""
    key_file = env_text(env, "AUDIT_KEY_FILE")
    db = env_text(env, "DB")
    return {
        "replay_quota": env_number(env, "REPLAY_QUOTA", int, DEFAULT_REPLAY_QUOTA),
        "store_comments": env_flag(env, "STORE_COMMENTS"),
        "audit_key_file": Path(key_file) if key_file else None,
        "retention_days": env_number(env, "RETENTION_DAYS", int, None),
        "feedback_per_minute": env_number(env, "FEEDBACK_PER_MINUTE", int, None),
        "db_url": db if db and db.startswith(("postgresql://", "postgres://")) else None,
    }
