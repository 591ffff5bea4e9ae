"""Bearer-token verification and scope checks of apps built with create_app."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import socket
import time
from collections.abc import Iterator
from typing import Annotated, Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from fastapi import APIRouter, Depends, FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from jwt import PyJWKClient
from jwt.exceptions import PyJWKClientConnectionError

from services.common.http import (
    ALL_SCOPES,
    PROBLEM_JSON,
    Principal,
    TokenVerifier,
    create_app,
    require_scopes,
    set_token_verifier,
)
from services.common.http.auth import InvalidTokenError, TokenKeysUnavailableError
from services.common.http.testing import LocalIssuer
from services.common.settings import CommonSettings

ISSUER = "https://issuer.test"
# The way services declare what a route needs (module level, so FastAPI can resolve the annotation).
CustomersReader = Annotated[Principal, Depends(require_scopes("customers:read"))]
InteractionsWriter = Annotated[Principal, Depends(require_scopes("interactions:write"))]


def _router() -> APIRouter:
    router = APIRouter()

    @router.get("/v1/customers")
    async def list_customers(principal: CustomersReader) -> dict[str, object]:
        return {
            "subject": principal.subject,
            "client_id": principal.client_id,
            "scopes": sorted(principal.scopes),
        }

    @router.post("/v1/interactions")
    async def submit(principal: InteractionsWriter) -> dict[str, str]:
        return {"subject": principal.subject}

    return router


def _settings(**overrides: object) -> CommonSettings:
    return CommonSettings.model_validate({"oidc_issuer": ISSUER, "oidc_audience": "helhet", **overrides})


@pytest.fixture(scope="module")
def issuer() -> LocalIssuer:
    return LocalIssuer(issuer=ISSUER)


@pytest.fixture(scope="module")
def app(issuer: LocalIssuer) -> FastAPI:
    app = create_app(_settings(), title="auth-test", readiness={}, routers=[_router()])
    set_token_verifier(app, issuer.verifier())
    return app


@pytest.fixture(scope="module")
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def _get(client: TestClient, token: str | None, path: str = "/v1/customers") -> Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    response: Response = client.get(path, headers=headers)
    return response


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _assert_unauthorized(response: Response, error: str | None = "invalid_token") -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer")
    if error:
        assert f'error="{error}"' in challenge
    assert response.json()["status"] == 401


def test_valid_token_gives_the_principal(client: TestClient, issuer: LocalIssuer) -> None:
    token = issuer.token(["customers:read", "cases:read"], subject="crm-connector")
    response = client.get("/v1/customers", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "subject": "crm-connector",
        "client_id": "crm-connector",
        "scopes": ["cases:read", "customers:read"],
    }


def test_small_clock_skew_is_tolerated(client: TestClient, issuer: LocalIssuer) -> None:
    token = issuer.token(["customers:read"], expires_in=-10)
    response = client.get("/v1/customers", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


def test_expired_token_is_401(client: TestClient, issuer: LocalIssuer) -> None:
    response = _get(client, issuer.token(["customers:read"], expires_in=-120))
    _assert_unauthorized(response)
    assert 'error_description="token expired"' in response.headers["www-authenticate"]


@pytest.mark.parametrize(
    "claims",
    [{"iss": "https://evil.test"}, {"aud": "someone-else"}, {"iat": "yesterday"}],
    ids=["wrong-iss", "wrong-aud", "bad-iat"],
)
def test_wrong_claims_are_401(client: TestClient, issuer: LocalIssuer, claims: dict[str, Any]) -> None:
    _assert_unauthorized(_get(client, issuer.token(["customers:read"], **claims)))


@pytest.mark.parametrize("claim", ["exp", "iat", "sub", "iss", "aud"])
def test_missing_required_claim_is_401(client: TestClient, issuer: LocalIssuer, claim: str) -> None:
    _assert_unauthorized(_get(client, issuer.token(["customers:read"], omit=[claim])))


def test_alg_none_is_401(client: TestClient, issuer: LocalIssuer) -> None:
    now = int(time.time())
    header = {"alg": "none", "typ": "JWT", "kid": issuer.kid}
    payload = {
        "iss": ISSUER,
        "aud": "helhet",
        "sub": "x",
        "iat": now,
        "exp": now + 300,
        "scope": "customers:read",
    }
    token = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}."
    _assert_unauthorized(_get(client, token))


def test_hs256_signed_with_the_public_key_is_401(client: TestClient, issuer: LocalIssuer) -> None:
    # Key confusion: an attacker knows the public key and uses it as an HMAC secret.
    public_pem = issuer.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    now = int(time.time())
    header = {"alg": "HS256", "typ": "JWT", "kid": issuer.kid}
    payload = {
        "iss": ISSUER,
        "aud": "helhet",
        "sub": "x",
        "iat": now,
        "exp": now + 300,
        "scope": "customers:read",
    }
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    _assert_unauthorized(_get(client, f"{signing_input}.{_b64(signature)}"))


def test_token_from_another_key_with_the_same_kid_is_401(client: TestClient, issuer: LocalIssuer) -> None:
    impostor = LocalIssuer(issuer=ISSUER)
    now = int(time.time())
    payload = {
        "iss": ISSUER,
        "aud": "helhet",
        "sub": "x",
        "iat": now,
        "exp": now + 300,
        "scope": "customers:read",
    }
    token = jwt.encode(payload, impostor.private_key, algorithm="RS256", headers={"kid": issuer.kid})
    _assert_unauthorized(_get(client, token))


def test_unknown_kid_is_401(client: TestClient, issuer: LocalIssuer) -> None:
    now = int(time.time())
    payload = {
        "iss": ISSUER,
        "aud": "helhet",
        "sub": "x",
        "iat": now,
        "exp": now + 300,
        "scope": "customers:read",
    }
    token = jwt.encode(payload, issuer.private_key, algorithm="RS256", headers={"kid": "not-in-the-jwks"})
    _assert_unauthorized(_get(client, token))


def test_missing_scope_is_403(client: TestClient, issuer: LocalIssuer) -> None:
    response = client.post(
        "/v1/interactions", headers={"Authorization": f"Bearer {issuer.token(['interactions:read'])}"}
    )
    assert response.status_code == 403
    assert response.headers["content-type"] == PROBLEM_JSON
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    assert 'scope="interactions:write"' in response.headers["www-authenticate"]
    assert "interactions:write" in response.json()["detail"]


def test_missing_token_is_401_with_a_plain_challenge(client: TestClient) -> None:
    response = client.get("/v1/customers")
    _assert_unauthorized(response, error=None)
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "authorization",
    ["Bearer", "Bearer ", "Basic aGVsaGV0OnNlY3JldA==", "Bearer a b", "Bearer not.a.jwt", "token"],
)
def test_malformed_authorization_header_is_401(client: TestClient, authorization: str) -> None:
    response = client.get("/v1/customers", headers={"Authorization": authorization})
    _assert_unauthorized(response, error=None)


def test_service_starts_and_answers_503_when_the_issuer_is_down(issuer: LocalIssuer) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = _settings(oidc_jwks_url=f"http://127.0.0.1:{port}/.well-known/jwks.json")
    app = create_app(settings, title="auth-test", readiness={}, routers=[_router()])
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        token = issuer.token(["customers:read"])
        first = client.get("/v1/customers", headers={"Authorization": f"Bearer {token}"})
        assert first.status_code == 503
        assert first.headers["content-type"] == PROBLEM_JSON
        assert int(first.headers["retry-after"]) > 0
        started = time.monotonic()
        second = client.get("/v1/customers", headers={"Authorization": f"Bearer {token}"})
        assert second.status_code == 503
        assert time.monotonic() - started < 0.5  # answered from the back-off, not another fetch


@pytest.mark.parametrize("algorithms", [("HS256",), ("RS256", "HS512"), ("none",), ()])
def test_verifier_refuses_symmetric_or_no_algorithms(
    issuer: LocalIssuer, algorithms: tuple[str, ...]
) -> None:
    with pytest.raises(ValueError, match="asymmetric"):
        issuer.verifier(algorithms=algorithms)


def test_verifier_from_settings_rejects_hs256() -> None:
    with pytest.raises(ValueError, match="asymmetric"):
        TokenVerifier.from_settings(_settings(oidc_algorithms=("HS256",)))


def test_unknown_scope_name_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown scopes"):
        require_scopes("customer:read")


def test_scope_list_covers_every_area_read_and_write() -> None:
    areas = [
        "interactions",
        "customers",
        "cases",
        "agents",
        "queues",
        "notifications",
        "templates",
        "calendars",
    ]
    expected = {f"{area}:{access}" for area in [*areas, "admin"] for access in ("read", "write")}
    assert set(ALL_SCOPES) == expected


def test_openapi_declares_scopes_per_route_and_the_token_url(app: FastAPI) -> None:
    schema = app.openapi()
    flow = schema["components"]["securitySchemes"]["OAuth2ClientCredentials"]["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == f"{ISSUER}/oauth/token"
    assert set(flow["scopes"]) == set(ALL_SCOPES)
    assert schema["paths"]["/v1/interactions"]["post"]["security"] == [
        {"OAuth2ClientCredentials": ["interactions:write"]}
    ]


class _FlakyJWKClient(PyJWKClient):
    """Serves the JWKS once, then behaves like an unreachable issuer; the cache expires at once."""

    def __init__(self, jwks: dict[str, Any]) -> None:
        super().__init__("https://jwks.invalid/", lifespan=0.01)
        self.jwks = jwks
        self.fetches = 0

    def fetch_data(self) -> Any:
        self.fetches += 1
        if self.fetches > 1:
            raise PyJWKClientConnectionError("issuer down")
        assert self.jwk_set_cache is not None
        self.jwk_set_cache.put(self.jwks)
        return self.jwks


async def test_known_keys_keep_working_while_the_issuer_is_down(issuer: LocalIssuer) -> None:
    jwks_client = _FlakyJWKClient(issuer.jwks())
    verifier = TokenVerifier(issuer=ISSUER, audience="helhet", jwks_client=jwks_client)
    assert (await verifier.verify(issuer.token(["cases:read"]))).scopes == {"cases:read"}
    await asyncio.sleep(0.05)  # the cached JWKS has expired; the next lookup fails to fetch
    assert (await verifier.verify(issuer.token(["cases:write"]))).scopes == {"cases:write"}
    assert jwks_client.fetches == 2
    other = LocalIssuer(issuer=ISSUER)  # a key never seen cannot be trusted without the issuer
    with pytest.raises(TokenKeysUnavailableError):
        await verifier.verify(other.token())


async def test_a_verified_token_is_remembered_without_fetching_keys_again(issuer: LocalIssuer) -> None:
    jwks_client = _FlakyJWKClient(issuer.jwks())
    verifier = TokenVerifier(issuer=ISSUER, audience="helhet", jwks_client=jwks_client)
    token = issuer.token(["cases:read"])
    assert (await verifier.verify(token)).scopes == {"cases:read"}
    await asyncio.sleep(0.05)  # the JWKS cache expired and the issuer is down
    for _ in range(3):
        assert (await verifier.verify(token)).scopes == {"cases:read"}
    assert jwks_client.fetches == 1


async def test_a_remembered_token_still_expires_on_time(issuer: LocalIssuer) -> None:
    verifier = TokenVerifier(
        issuer=ISSUER, audience="helhet", jwks_client=_FlakyJWKClient(issuer.jwks()), leeway_seconds=0
    )
    token = issuer.token(["cases:read"], expires_in=1)
    await verifier.verify(token)
    await asyncio.sleep(1.1)
    with pytest.raises(InvalidTokenError):
        await verifier.verify(token)
