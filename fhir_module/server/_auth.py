"""Authenticating CDS clients by the signed JWT of CDS Hooks 2.0.1 ("Trusting CDS Clients").

Every call carries `Authorization: Bearer <JWT>`. The header must say `typ`
JWT, an asymmetric `alg` (never `none`, never HMAC), a `kid` in the issuer's
key set and, if given, a `jku` equal to that client's configured jwks_url (also
when the client's keys come from a pinned jwks_file).
The claims must name a trusted `iss`, the URL called as `aud`, a live `exp`,
an `iat` not in the future, a `jti` never seen before, and the configured
`tenant`. Each failure is an Unauthorized whose `reason` is a fixed category,
fit to log: it holds nothing from the token.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jwt
import requests

from ..errors import ReplayCacheFull, StoreUnavailable, Unauthorized
from ..hooks import ServiceConfig, TrustedClient, load_config
from ._jwks import ALGORITHMS, KeySet, verification_key
from ._replay import ReplayCache

log = logging.getLogger("fhir_module.service.auth")

#: seconds of clock skew tolerated on exp, iat and nbf
DEFAULT_LEEWAY = 30.0
#: the longest a token may live (exp - iat); bounds how long the replay cache holds it
DEFAULT_MAX_LIFETIME = 3600.0
#: a bearer value longer than this is not a CDS Hooks JWT
MAX_TOKEN_CHARS = 16 * 1024
MAX_JTI_CHARS = 256
#: seconds between two warnings that one issuer's replay quota is full
QUOTA_WARNING_SECONDS = 60.0


def check_config(path: Path) -> ServiceConfig:
    """Load a config file and read each jwks_file in it: ConfigError says what is wrong.

    jwks_url key sets are fetched when first needed, not here: the EHR may be down at start.
    """
    config = load_config(path)
    for client in config.clients.values():
        if client.jwks_file is not None:
            KeySet(file=client.jwks_file)
    return config


def _number(claims: Mapping[str, Any], name: str) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Unauthorized(f"{name}-missing")
    return float(value)


class Authenticator:
    """Checks bearer JWTs against the trusted clients of a ServiceConfig."""

    def __init__(
        self,
        config: ServiceConfig,
        replay: ReplayCache,
        *,
        session: requests.Session | None = None,
        timeout: float = 10.0,
        leeway: float = DEFAULT_LEEWAY,
        max_lifetime: float = DEFAULT_MAX_LIFETIME,
        clock: Callable[[], float] = time.time,
        key_sets: Mapping[str, KeySet] | None = None,
    ) -> None:
        self.config = config
        self._replay = replay
        self._leeway, self._max_lifetime, self._clock = leeway, max_lifetime, clock
        self._keys = dict(key_sets or {})
        #: when each issuer's full replay quota was last warned of (time.monotonic)
        self._quota_warned: dict[str, float] = {}
        for issuer, client in config.clients.items():
            if issuer in self._keys:
                continue
            # A jwks_file beside a jwks_url is the pinned copy of that URL's set: never fetched.
            self._keys[issuer] = (
                KeySet(file=client.jwks_file)
                if client.jwks_file is not None
                else KeySet(url=client.jwks_url, session=session, timeout=timeout)
            )

    def verify(self, authorization: str | None, url: str) -> TrustedClient:
        """The client that signed the bearer JWT of a call to `url`; else Unauthorized (or
        ReplayCacheFull when its issuer holds its quota of live token ids).

        May read or fetch the client's key set (blocking I/O)."""
        try:
            return self._verify(authorization, url)
        except (Unauthorized, StoreUnavailable):
            raise  # a database that cannot record the jti: 503, the token is not judged
        except ReplayCacheFull as exc:
            self._warn_quota_full(exc)
            raise  # the Guard answers it by its row of the table (a bare 401)
        except sqlite3.Error as exc:
            log.error("replay cache unusable: %s", type(exc).__name__)
            raise Unauthorized("replay-cache") from None
        except Exception as exc:  # noqa: BLE001 - fail closed on anything unforeseen
            log.error("token check failed unexpectedly: %s", type(exc).__name__)
            raise Unauthorized("internal") from None

    def _warn_quota_full(self, full: ReplayCacheFull) -> None:
        """A WARNING that the issuer's quota is full, at most once per QUOTA_WARNING_SECONDS
        per issuer (a flood of refused calls is one line a minute); no token, no jti."""
        now = time.monotonic()
        last = self._quota_warned.get(full.issuer)
        if last is not None and now - last < QUOTA_WARNING_SECONDS:
            return
        self._quota_warned[full.issuer] = now
        log.warning(
            "replay cache full for issuer %s: it holds %d unexpired tokens (replay_quota), "
            "so its new tokens get 401 until some expire",
            full.issuer,
            full.quota,
        )

    def _verify(self, authorization: str | None, url: str) -> TrustedClient:
        if not authorization:
            raise Unauthorized("no-credentials")
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("not-bearer")
        if len(token) > MAX_TOKEN_CHARS:
            raise Unauthorized("malformed")
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise Unauthorized("malformed") from None
        alg, kid = header.get("alg"), header.get("kid")
        if not isinstance(alg, str) or alg not in ALGORITHMS:
            raise Unauthorized("alg")
        if not isinstance(header.get("typ"), str) or header["typ"].upper() != "JWT":
            raise Unauthorized("typ")
        if not isinstance(kid, str) or not kid:
            raise Unauthorized("kid-missing")
        issuer = unverified.get("iss")
        client = self.config.clients.get(issuer) if isinstance(issuer, str) else None
        if client is None:
            raise Unauthorized("issuer")
        if "jku" in header and header["jku"] != client.jwks_url:
            raise Unauthorized("jku")
        keys = self._keys[client.issuer]
        jwk = keys.find(kid)
        if jwk is None:
            raise Unauthorized("unknown-kid")
        key = verification_key(jwk, alg)
        if key is None:
            raise Unauthorized("key-alg")
        claims = self._checked_claims(token, key, alg, client, url)
        self._check_times(claims)
        if client.tenant is not None and claims.get("tenant") != client.tenant:
            raise Unauthorized("tenant")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_CHARS:
            raise Unauthorized("jti-missing")
        now = self._clock()
        expires = _number(claims, "exp") + self._leeway
        if not self._replay.first_use(client.issuer, jti, expires, now):
            raise Unauthorized("replay")
        return client

    def _checked_claims(
        self, token: str, key: jwt.PyJWK, alg: str, client: TrustedClient, url: str
    ) -> dict[str, Any]:
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=url,
                issuer=client.issuer,
                # exp, iat and nbf are checked below against the service's own clock
                options={
                    "require": ["iss", "aud", "exp", "iat", "jti"],
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.InvalidSignatureError:
            raise Unauthorized("signature") from None
        except jwt.InvalidAudienceError:
            raise Unauthorized("aud") from None
        except jwt.InvalidIssuerError:
            raise Unauthorized("issuer") from None
        except jwt.MissingRequiredClaimError as exc:
            raise Unauthorized(f"{exc.claim}-missing") from None
        except jwt.PyJWTError:
            raise Unauthorized("malformed") from None

    def _check_times(self, claims: Mapping[str, Any]) -> None:
        now, leeway = self._clock(), self._leeway
        exp, iat = _number(claims, "exp"), _number(claims, "iat")
        if exp + leeway < now:
            raise Unauthorized("expired")
        if iat - leeway > now:
            raise Unauthorized("iat-future")
        if "nbf" in claims and _number(claims, "nbf") - leeway > now:
            raise Unauthorized("not-yet-valid")
        if exp - iat > self._max_lifetime:
            raise Unauthorized("lifetime")
