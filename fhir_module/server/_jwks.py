"""A trusted client's JSON Web Key Set, from a file or a URL, cached and refreshed with care.

A URL's set is fetched when first needed and kept for `ttl` seconds. An unknown
`kid` triggers one reload (the client may have rotated its keys), but reloads
are rate-limited to one per `min_refresh` seconds, so a flood of tokens with
made-up kids cannot turn the service into a flood of requests to the EHR.
A failed reload keeps the keys already known.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jwt
import requests

from ..errors import ConfigError, FhirModuleError
from ..hooks import outbound_session

log = logging.getLogger("fhir_module.service.auth")

#: the signing algorithms accepted: asymmetric only (CDS Hooks 2.0.1 forbids none and HMAC)
ALGORITHMS = frozenset({"ES256", "ES384", "RS256", "RS384"})
_CURVES = {"ES256": "P-256", "ES384": "P-384"}
MIN_RSA_BITS = 2048
DEFAULT_TTL = 3600.0
DEFAULT_MIN_REFRESH = 60.0
#: a JWKS larger than this is not a key set
MAX_JWKS_BYTES = 512 * 1024


class JwksError(FhirModuleError):
    """A key set could not be read or is not a JWKS; the message names no secret."""


def parse_jwks(data: Any) -> dict[str, dict[str, Any]]:
    """The signing keys of a JWKS document by kid (keys without a kid cannot be chosen);
    JwksError if two keys share a kid."""
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise JwksError("not a JWK Set (an object with a 'keys' array)")
    keys: dict[str, dict[str, Any]] = {}
    kids: set[str] = set()
    for jwk in data["keys"]:
        if not isinstance(jwk, dict) or not isinstance(jwk.get("kid"), str):
            continue
        if jwk["kid"] in kids:
            # Which of the two would sign-check depends on their order: refuse the set.
            raise JwksError(f"two keys have the kid {jwk['kid']!r}")
        kids.add(jwk["kid"])
        if jwk.get("use", "sig") != "sig" or jwk.get("kty") not in ("RSA", "EC"):
            continue
        if "d" in jwk or "p" in jwk:
            # A private key has no business here; refuse rather than use it.
            raise JwksError(f"key {jwk['kid']!r} is a private key")
        keys[jwk["kid"]] = jwk
    return keys


def verification_key(jwk: Mapping[str, Any], alg: str) -> jwt.PyJWK | None:
    """The key to check an `alg` signature with, or None if the JWK cannot serve that alg."""
    if alg not in ALGORITHMS or jwk.get("alg", alg) != alg:
        return None
    if (jwk.get("kty") == "EC") != alg.startswith("ES"):
        return None
    if alg in _CURVES and jwk.get("crv") != _CURVES[alg]:
        return None
    try:
        key = jwt.PyJWK(dict(jwk), algorithm=alg)
    except (jwt.PyJWTError, ValueError, TypeError):
        return None
    size = getattr(key.key, "key_size", MIN_RSA_BITS)
    return key if alg.startswith("ES") or size >= MIN_RSA_BITS else None


class KeySet:
    """The keys of one client; thread-safe."""

    def __init__(
        self,
        *,
        file: Path | None = None,
        url: str | None = None,
        session: requests.Session | None = None,
        timeout: float = 10.0,
        ttl: float = DEFAULT_TTL,
        min_refresh: float = DEFAULT_MIN_REFRESH,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if (file is None) == (url is None):
            raise ValueError("a KeySet needs exactly one of file and url")
        self.file, self.url = file, url
        self._session = session
        self._timeout, self._ttl, self._min_refresh = timeout, ttl, min_refresh
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, dict[str, Any]] = {}
        self._loaded_at: float | None = None
        self._tried_at: float | None = None
        if file is not None:
            try:
                self._keys = self._read()
            except JwksError as exc:
                raise ConfigError(f"jwks_file {file}: {exc}") from None
            self._loaded_at = clock()

    def find(self, kid: str) -> dict[str, Any] | None:
        """The JWK with this kid, loading the set when it is missing or stale, and reloading
        it once when the kid is unknown (rate-limited)."""
        with self._lock:
            now = self._clock()
            stale = self.url is not None and (
                self._loaded_at is None or now - self._loaded_at > self._ttl
            )
            loaded = stale and self._may_reload(now) and self._reload(now)
            if kid not in self._keys and not loaded and self._may_reload(now):
                # The client may have rotated its keys. Each such look costs the budget,
                # so made-up kids cannot make the service hammer the EHR.
                self._tried_at = now
                self._reload(now)
            return self._keys.get(kid)

    def _may_reload(self, now: float) -> bool:
        # Failed loads and unknown-kid reloads spend the budget; routine loads do not.
        return self._tried_at is None or now - self._tried_at >= self._min_refresh

    def _reload(self, now: float) -> bool:
        try:
            self._keys = self._read()
        except JwksError as exc:
            self._tried_at = now
            log.warning("key set not reloaded: %s", exc)
            return False
        self._loaded_at = now
        return True

    def _read(self) -> dict[str, dict[str, Any]]:
        if self.file is not None:
            try:
                raw = self.file.read_bytes()[: MAX_JWKS_BYTES + 1]
            except OSError as exc:
                raise JwksError(exc.strerror or type(exc).__name__) from None
        else:
            raw = self._fetch()
        if len(raw) > MAX_JWKS_BYTES:
            raise JwksError("larger than a key set can be")
        try:
            return parse_jwks(json.loads(raw))
        except ValueError:
            raise JwksError("not JSON") from None

    def _fetch(self) -> bytes:
        assert self.url is not None
        session = self._session or outbound_session()
        try:
            # No redirects: the key set must come from the URL the operator trusted.
            with session.get(
                self.url, timeout=self._timeout, allow_redirects=False, stream=True
            ) as response:
                if response.status_code != 200:
                    raise JwksError(f"the JWKS URL answered {response.status_code}")
                body = b""
                for chunk in response.iter_content(64 * 1024):
                    body += chunk
                    if len(body) > MAX_JWKS_BYTES:
                        break
                return body
        except requests.RequestException as exc:
            raise JwksError(f"the JWKS URL could not be read ({type(exc).__name__})") from None
        finally:
            if self._session is None:
                session.close()
