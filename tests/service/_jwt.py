"""A test EHR that signs CDS Hooks JWTs: its keys (ES384 and RS384), JWKS and config file."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from ._requests import SERVER

ISSUER = "https://ehr.example.org"
JWKS_URL = "https://ehr.example.org/.well-known/jwks.json"
#: where the tests reach the service: its public_base_url, the test client's base URL
SERVICE_URL = "http://localhost:8080"


@dataclass(frozen=True)
class Key:
    kid: str
    alg: str
    private: Any

    def public_jwk(self) -> dict[str, Any]:
        algorithm = ECAlgorithm if self.alg.startswith("ES") else RSAAlgorithm
        jwk = json.loads(algorithm.to_jwk(self.private.public_key()))
        return {**jwk, "kid": self.kid, "alg": self.alg, "use": "sig"}


def key(alg: str = "ES384", kid: str | None = None) -> Key:
    """A key pair, the same for the same alg and kid throughout the test session."""
    return _key(alg, kid or f"{alg.lower()}-1")


@cache
def _key(alg: str, kid: str) -> Key:
    if alg.startswith("ES"):
        curve = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1()}[alg]
        private: Any = ec.generate_private_key(curve)
    else:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return Key(kid, alg, private)


def jwks(*keys: Key) -> dict[str, Any]:
    return {"keys": [k.public_jwk() for k in keys]}


def token(
    aud: str | list[str],
    signer: Key | None = None,
    *,
    header: dict[str, Any] | None = None,
    drop: tuple[str, ...] = (),
    alg: str | None = None,
    **claims: Any,
) -> str:
    """A CDS Hooks JWT for a call to `aud`; `claims` override, `drop` removes claims."""
    signer = signer or key()
    now = int(time.time())
    payload: dict[str, Any] = {
        "iss": ISSUER,
        "aud": aud,
        "exp": now + 300,
        "iat": now,
        "jti": str(uuid.uuid4()),
    }
    payload.update(claims)
    for name in drop:
        payload.pop(name, None)
    # a header value of None leaves that field out
    headers = {"kid": signer.kid, "typ": "JWT", **(header or {})}
    headers = {k: v for k, v in headers.items() if v is not None}
    return jwt.encode(payload, signer.private, algorithm=alg or signer.alg, headers=headers)


def write_config(
    folder: Path,
    *,
    keys: tuple[Key, ...] | None = None,
    jwks_url: str | None = None,
    tenant: str | None = None,
    public_base_url: str | None = SERVICE_URL,
    fhir_servers: tuple[str, ...] = (SERVER,),
    pinned: bool = False,
) -> Path:
    """A config file trusting the test EHR (its JWKS as a file beside it, or at `jwks_url`;
    with `pinned`, both: the file a pinned copy of the URL's set)."""
    lines = []
    if public_base_url:
        lines.append(f'public_base_url = "{public_base_url}"')
    lines += ["[[clients]]", f'issuer = "{ISSUER}"']
    if jwks_url:
        lines.append(f'jwks_url = "{jwks_url}"')
    if pinned or not jwks_url:
        (folder / "ehr-jwks.json").write_text(json.dumps(jwks(*(keys or (key(), key("RS384"))))))
        lines.append('jwks_file = "ehr-jwks.json"')
    lines.append("fhir_servers = [" + ", ".join(f'"{s}"' for s in fhir_servers) + "]")
    if tenant:
        lines.append(f'tenant = "{tenant}"')
    path = folder / "cds.toml"
    path.write_text("\n".join(lines) + "\n")
    return path
