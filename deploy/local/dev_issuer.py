"""Local development token issuer: OAuth2 client credentials (RFC 6749 §4.4) issuing RS256 JWTs.

Run: ``uvicorn deploy.local.dev_issuer:app --host 127.0.0.1 --port 8000``. One client, ``helhet-dev`` /
``helhet-dev-secret``, may have every scope. It refuses to load unless ``HELHET_ENVIRONMENT`` is unset,
``development`` or ``test``: a known client secret must never mint tokens anywhere real.

The signing key is kept in ``var/dev-issuer/`` (``HELHET_DEV_ISSUER_KEY_DIR`` overrides), so restarting the
issuer keeps tokens already handed out valid and the services' cached JWKS correct.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.common.http.auth import ALL_SCOPES
from services.common.http.testing import rsa_public_jwk

ALLOWED_ENVIRONMENTS = frozenset({"development", "test"})
AUDIENCE = "helhet"
TOKEN_LIFETIME_SECONDS = 3600
DEV_CLIENT_ID = "helhet-dev"
DEV_CLIENT_SECRET = "helhet-dev-secret"  # noqa: S105 - a published development credential, by design
_CLIENTS: Mapping[str, tuple[str, frozenset[str]]] = {
    DEV_CLIENT_ID: (DEV_CLIENT_SECRET, frozenset(ALL_SCOPES))
}
_KEY_FILE = "signing-key.pem"
_MAX_FORM_BYTES = 16_384
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}  # RFC 6749 §5.1


@dataclass(frozen=True)
class SigningKey:
    private_key: rsa.RSAPrivateKey
    public_jwk: dict[str, str]

    @property
    def kid(self) -> str:
        return self.public_jwk["kid"]


def check_environment(environment: str | None) -> None:
    if environment not in (None, "", *ALLOWED_ENVIRONMENTS):
        raise RuntimeError(
            f"the development token issuer refuses to run with HELHET_ENVIRONMENT={environment!r}; "
            f"it is only for {sorted(ALLOWED_ENVIRONMENTS)} (or unset)"
        )


def load_or_create_signing_key(key_dir: Path) -> SigningKey:
    """The persisted key, created on first use. Safe when several processes start at once."""
    key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = key_dir / _KEY_FILE
    if not path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        fd, tmp = tempfile.mkstemp(dir=key_dir, prefix=".key-")  # created 0600
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(pem)
            # link() never replaces an existing file: if another process won the race, use its key.
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise RuntimeError(f"{path} does not hold an RSA private key")
    return SigningKey(private_key=loaded, public_jwk=rsa_public_jwk(loaded.public_key()))


def _oauth_error(
    status: int, error: str, description: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    # RFC 6749 §5.2 error response.
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=status,
        headers={**_NO_STORE, **(headers or {})},
    )


class _TokenRequestError(Exception):
    def __init__(self, response: JSONResponse) -> None:
        super().__init__(response.status_code)
        self.response = response


def _invalid_request(description: str) -> _TokenRequestError:
    return _TokenRequestError(_oauth_error(400, "invalid_request", description))


def _invalid_client() -> _TokenRequestError:
    # RFC 6749 §5.2: 401 with a challenge for the scheme the client may use.
    return _TokenRequestError(
        _oauth_error(
            401,
            "invalid_client",
            "client authentication failed",
            {"WWW-Authenticate": 'Basic realm="helhet-dev-issuer"'},
        )
    )


async def _form(request: Request) -> dict[str, str]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise _invalid_request("the body must be application/x-www-form-urlencoded")
    body = await request.body()
    if len(body) > _MAX_FORM_BYTES:
        raise _invalid_request("request too large")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError as exc:
        raise _invalid_request("the body is not UTF-8") from exc
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:  # RFC 6749 §3.2: parameters must not repeat
            raise _invalid_request(f"parameter {name!r} repeated")
        form[name] = value
    return form


def _client_credentials(request: Request, form: Mapping[str, str]) -> tuple[str, str]:
    authorization = request.headers.get("authorization")
    in_form = "client_id" in form or "client_secret" in form
    if authorization:
        if in_form:  # RFC 6749 §2.3: one authentication method per request
            raise _invalid_request("use either HTTP Basic or form client credentials, not both")
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() != "basic":
            raise _invalid_client()
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise _invalid_client() from None
        client_id, sep, secret = decoded.partition(":")
        if not sep:
            raise _invalid_client()
        # RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
        return unquote_plus(client_id), unquote_plus(secret)
    if in_form:
        return form.get("client_id", ""), form.get("client_secret", "")
    raise _invalid_client()


def _authenticate(client_id: str, secret: str) -> frozenset[str]:
    registered = _CLIENTS.get(client_id)
    # Compare even for unknown clients so timing does not reveal which client ids exist.
    expected = registered[0] if registered else "\x00unknown-client"
    if not hmac.compare_digest(secret.encode(), expected.encode()) or registered is None:
        raise _invalid_client()
    return registered[1]


def _granted_scopes(requested: str | None, allowed: frozenset[str]) -> list[str]:
    if requested is None or not requested.strip():
        return [scope for scope in ALL_SCOPES if scope in allowed]  # no scope asked: everything allowed
    wanted = set(requested.split())
    if not wanted <= allowed:
        raise _TokenRequestError(
            _oauth_error(400, "invalid_scope", "not allowed: " + " ".join(sorted(wanted - allowed)))
        )
    return [scope for scope in ALL_SCOPES if scope in wanted]


def create_issuer_app(*, issuer_url: str, key_dir: Path, environment: str | None) -> FastAPI:
    check_environment(environment)
    issuer = issuer_url.rstrip("/")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.signing_key = load_or_create_signing_key(key_dir)
        yield

    app = FastAPI(title="Helhet development token issuer", lifespan=lifespan)

    def signing_key(request: Request) -> SigningKey:
        key = request.app.state.signing_key
        assert isinstance(key, SigningKey)
        return key

    @app.post("/oauth/token")
    async def token(request: Request) -> JSONResponse:
        try:
            form = await _form(request)
            client_id, secret = _client_credentials(request, form)
            allowed = _authenticate(client_id, secret)
            grant_type = form.get("grant_type")
            if not grant_type:
                raise _invalid_request("grant_type is required")
            if grant_type != "client_credentials":
                raise _TokenRequestError(
                    _oauth_error(400, "unsupported_grant_type", "only client_credentials is supported")
                )
            scopes = _granted_scopes(form.get("scope"), allowed)
        except _TokenRequestError as error:
            return error.response
        key = signing_key(request)
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": issuer,
            "sub": client_id,
            "aud": AUDIENCE,
            "iat": now,
            "nbf": now,
            "exp": now + TOKEN_LIFETIME_SECONDS,
            "jti": str(uuid.uuid4()),
            "client_id": client_id,
            "scope": " ".join(scopes),
        }
        access_token = jwt.encode(
            claims, key.private_key, algorithm="RS256", headers={"kid": key.kid, "typ": "at+jwt"}
        )
        return JSONResponse(
            {
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": TOKEN_LIFETIME_SECONDS,
                "scope": " ".join(scopes),
            },
            headers=_NO_STORE,
        )

    @app.get("/.well-known/jwks.json")
    async def jwks(request: Request) -> JSONResponse:
        return JSONResponse(
            {"keys": [signing_key(request).public_jwk]}, headers={"Cache-Control": "max-age=300"}
        )

    @app.get("/.well-known/openid-configuration")
    async def discovery() -> dict[str, Any]:
        return {
            "issuer": issuer,
            "token_endpoint": f"{issuer}/oauth/token",
            "jwks_uri": f"{issuer}/.well-known/jwks.json",
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "scopes_supported": list(ALL_SCOPES),
            "id_token_signing_alg_values_supported": ["RS256"],
        }

    return app


def _app_from_environment() -> FastAPI:
    default_key_dir = Path(__file__).resolve().parents[2] / "var" / "dev-issuer"
    return create_issuer_app(
        issuer_url=os.environ.get("HELHET_DEV_ISSUER_URL", "http://127.0.0.1:8000"),
        key_dir=Path(os.environ.get("HELHET_DEV_ISSUER_KEY_DIR", str(default_key_dir))),
        environment=os.environ.get("HELHET_ENVIRONMENT"),
    )


# Built at import so a wrong HELHET_ENVIRONMENT stops uvicorn before it binds the port.
app = _app_from_environment()
