"""Test helpers for apps built with create_app: an in-memory token issuer and a real uvicorn server.

Any service's tests can use these; nothing here runs in production code paths.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from jwt import PyJWKClient
from jwt.algorithms import RSAAlgorithm

from services.common.http.auth import ALL_SCOPES, TokenVerifier


def rsa_public_jwk(public_key: rsa.RSAPublicKey) -> dict[str, str]:
    """The public JWK (RS256, signing) with its RFC 7638 thumbprint as ``kid``."""
    jwk: dict[str, str] = json.loads(RSAAlgorithm.to_jwk(public_key))
    members = {name: jwk[name] for name in ("e", "kty", "n")}
    digest = hashlib.sha256(json.dumps(members, separators=(",", ":"), sort_keys=True).encode()).digest()
    kid = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return {**members, "kid": kid, "use": "sig", "alg": "RS256"}


class _StaticJWKClient(PyJWKClient):
    """A PyJWKClient that serves a fixed JWKS instead of fetching one."""

    def __init__(self, jwks: Mapping[str, Any]) -> None:
        super().__init__("https://jwks.invalid/")
        self._static = dict(jwks)

    def fetch_data(self) -> Any:
        if self.jwk_set_cache is not None:
            self.jwk_set_cache.put(self._static)
        return self._static


class LocalIssuer:
    """Signs tokens in-process with a fresh RSA key, and verifies them without any network."""

    def __init__(self, *, issuer: str = "https://issuer.test", audience: str = "helhet") -> None:
        self.issuer = issuer
        self.audience = audience
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_jwk = rsa_public_jwk(self.private_key.public_key())
        self.kid = self.public_jwk["kid"]

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.public_jwk]}

    def token(
        self,
        scopes: Iterable[str] = ALL_SCOPES,
        *,
        subject: str = "test-client",
        expires_in: int = 300,
        omit: Iterable[str] = (),
        **claims: Any,
    ) -> str:
        """A signed token; ``claims`` override the defaults and names in ``omit`` are left out."""
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "client_id": subject,
            "iat": now,
            "exp": now + expires_in,
            "jti": str(uuid.uuid4()),
            "scope": " ".join(scopes),
            **claims,
        }
        for name in omit:
            payload.pop(name, None)
        return jwt.encode(payload, self.private_key, algorithm="RS256", headers={"kid": self.kid})

    def verifier(self, algorithms: Iterable[str] = ("RS256",)) -> TokenVerifier:
        return TokenVerifier(
            issuer=self.issuer,
            audience=self.audience,
            jwks_client=_StaticJWKClient(self.jwks()),
            algorithms=tuple(algorithms),
        )


@contextmanager
def serve(app: FastAPI, *, startup_timeout: float = 10.0) -> Iterator[str]:
    """Runs ``app`` under uvicorn in a background thread on a free port; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))  # bound before the server starts, so no other process can take the port
    port = sock.getsockname()[1]
    # No access log: it prints raw paths, which can hold personal data.
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
