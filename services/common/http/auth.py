"""Bearer-token authentication: OAuth2 client-credentials JWTs verified against the issuer's JWKS.

Routes declare what they need with ``Depends(require_scopes("interactions:write"))`` and receive the
verified :class:`Principal`. Missing or invalid tokens give 401 with a ``WWW-Authenticate: Bearer``
challenge (RFC 6750), a valid token without the scope gives 403.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any

import anyio.to_thread
import jwt
from fastapi import FastAPI, HTTPException, Request, Security
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlows
from fastapi.security import OAuth2
from jwt import PyJWK, PyJWKClient
from jwt.exceptions import PyJWKClientConnectionError, PyJWKClientError
from pydantic import BaseModel, ConfigDict

from services.common.settings import CommonSettings

_log = logging.getLogger(__name__)

# Every scope a Helhet API knows, `<area>:<read|write>`. The README lists these; the development issuer
# grants from this list and `require_scopes` rejects names that are not in it (catches typos at import).
SCOPES: Mapping[str, str] = {
    "interactions:read": "Read inbound interactions",
    "interactions:write": "Submit interactions (REST intake and channel webhooks)",
    "customers:read": "Look up customer profiles, identities and timelines",
    "customers:write": "Change, merge, unmerge, erase or export customer profiles",
    "cases:read": "Read cases",
    "cases:write": "Create and update cases",
    "agents:read": "Read agents, shifts and presence",
    "agents:write": "Manage agents and shifts, send presence, accept or decline offers",
    "queues:read": "Read queues, queue statistics and the dashboard",
    "queues:write": "Manage queues and their policies",
    "notifications:read": "Read notifications, promises and feedback",
    "notifications:write": "Send notifications, record promises and feedback",
    "templates:read": "Read message templates",
    "templates:write": "Manage message templates",
    "calendars:read": "Read opening hours and calendars",
    "calendars:write": "Manage opening hours and calendars",
    "admin:read": "Read operational and administrative data",
    "admin:write": "Administrative actions",
}
ALL_SCOPES: tuple[str, ...] = tuple(SCOPES)

OAUTH2_SCHEME_NAME = "OAuth2ClientCredentials"

# Asymmetric algorithms only: an HS* entry would let anyone holding the *public* key forge tokens
# (key confusion), and "none" disables signatures.
_ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
_REQUIRED_CLAIMS = ["exp", "iat", "sub", "iss", "aud"]
_LEEWAY_SECONDS = 30.0  # clock skew between issuer and service
_MAX_TOKEN_LENGTH = 8192  # bounds parsing work for junk headers; real tokens are ~1 KB
_JWKS_FETCH_TIMEOUT_SECONDS = 5.0
# After a failed JWKS fetch, answer 503 at once for this long instead of making every request wait for
# the issuer's timeout (and filling the thread pool).
_JWKS_RETRY_AFTER_SECONDS = 5
# A client sends the same token for its whole life: verifying the RS256 signature once and remembering
# the principal saves most of the per-request cost. Bounded in size, and in time so that a signing key
# withdrawn from the JWKS stops being honoured within a minute.
_VERIFIED_TOKENS = 10_000
_VERIFIED_FOR_SECONDS = 60.0

# For OpenAPI only (Swagger's "Authorize" button); the token URL is filled in per app by create_app.
_oauth2_scheme = OAuth2(
    flows=OAuthFlows(
        clientCredentials=OAuthFlowClientCredentials(tokenUrl="/oauth/token", scopes=dict(SCOPES))
    ),
    scheme_name=OAUTH2_SCHEME_NAME,
    description="OAuth2 client-credentials access token (JWT) sent as `Authorization: Bearer <token>`.",
    auto_error=False,
)


class Principal(BaseModel):
    """The authenticated caller: an API client, identified by its token."""

    model_config = ConfigDict(frozen=True)

    subject: str
    client_id: str
    scopes: frozenset[str]


class InvalidTokenError(Exception):
    """The token is not acceptable; the message is a fixed, non-sensitive reason."""


class TokenKeysUnavailableError(Exception):
    """The issuer's keys could not be fetched, so no token can be verified right now."""


class TokenVerifier:
    """Verifies access tokens against a JWKS that is fetched lazily and cached.

    Nothing is fetched at construction, so a service starts (and answers /healthz) while the issuer is
    down; requests with tokens get 503 until the keys can be fetched.
    """

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        jwks_client: PyJWKClient,
        algorithms: Sequence[str] = ("RS256",),
        leeway_seconds: float = _LEEWAY_SECONDS,
    ) -> None:
        rejected = [alg for alg in algorithms if alg not in _ASYMMETRIC_ALGORITHMS]
        if rejected or not algorithms:
            raise ValueError(f"token algorithms must be asymmetric signature algorithms, got {rejected}")
        self._issuer = issuer
        self._audience = audience
        self._algorithms = tuple(algorithms)
        self._leeway = leeway_seconds
        self._jwks = jwks_client
        self._unavailable_until = 0.0
        self._known_keys: dict[str, PyJWK] = {}  # every key fetched so far, by kid
        self._verified: OrderedDict[str, tuple[Principal, float]] = OrderedDict()  # token -> until

    @classmethod
    def from_settings(cls, settings: CommonSettings) -> TokenVerifier:
        client = PyJWKClient(settings.oidc_jwks_url, timeout=_JWKS_FETCH_TIMEOUT_SECONDS)
        return cls(
            issuer=settings.oidc_issuer,
            audience=settings.oidc_audience,
            jwks_client=client,
            algorithms=settings.oidc_algorithms,
        )

    async def verify(self, token: str) -> Principal:
        """The principal the token stands for; raises InvalidTokenError or TokenKeysUnavailableError."""
        if len(token) > _MAX_TOKEN_LENGTH:
            raise InvalidTokenError("token too long")
        remembered = self._verified.get(token)
        if remembered is not None and time.time() < remembered[1]:
            return remembered[0]
        principal, expires_at = await self._verify_signed(token)
        self._verified[token] = (principal, min(expires_at, time.time() + _VERIFIED_FOR_SECONDS))
        self._verified.move_to_end(token)
        while len(self._verified) > _VERIFIED_TOKENS:
            self._verified.popitem(last=False)
        return principal

    async def _verify_signed(self, token: str) -> tuple[Principal, float]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidTokenError("malformed token") from exc
        # Checked before any key lookup so junk tokens never trigger a JWKS fetch.
        if header.get("alg") not in self._algorithms:
            raise InvalidTokenError("token algorithm not allowed")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidTokenError("token has no key id")
        key = await self._signing_key(kid)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=list(self._algorithms),
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": _REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidTokenError("token expired") from exc
        except jwt.PyJWTError as exc:
            raise InvalidTokenError("token rejected") from exc
        return _principal(claims), float(claims["exp"])

    async def _signing_key(self, kid: str) -> PyJWK:
        cached = self._cached_key(kid)
        if cached is not None:
            return cached
        if time.monotonic() >= self._unavailable_until:
            try:
                # PyJWKClient does blocking HTTP; keep it off the event loop. Its own lock and cool-down
                # (one refresh per 30 s for unknown kids) bound how often random kids can make it fetch.
                key = await anyio.to_thread.run_sync(self._jwks.get_signing_key, kid)
            except PyJWKClientConnectionError as exc:
                self._issuer_unreachable(exc)
            except PyJWKClientError as exc:
                raise InvalidTokenError("unknown signing key") from exc
            except (jwt.PyJWTError, ValueError) as exc:  # the issuer served something that is not a JWKS
                self._issuer_unreachable(exc)
            else:
                self._known_keys[kid] = key
                return key
        # Stale-if-error: the cached JWKS expires every few minutes, and an issuer blip at that moment
        # must not take every API down. A key we verified before stays usable until the issuer answers.
        stale = self._known_keys.get(kid)
        if stale is not None:
            return stale
        raise TokenKeysUnavailableError

    def _issuer_unreachable(self, exc: Exception) -> None:
        self._unavailable_until = time.monotonic() + _JWKS_RETRY_AFTER_SECONDS
        _log.warning("token keys could not be fetched: %s", type(exc).__name__)

    def _cached_key(self, kid: str) -> PyJWK | None:
        # Fast path without a thread hop: the JWKS is normally cached for minutes.
        cache = self._jwks.jwk_set_cache
        jwk_set = cache.get() if cache is not None else None
        if jwk_set is None:
            return None
        for key in jwk_set.keys:
            if key.key_id == kid and key.public_key_use in ("sig", None):
                return key
        return None


def _principal(claims: Mapping[str, Any]) -> Principal:
    scope = claims.get("scope", "")
    if not isinstance(scope, str):
        raise InvalidTokenError("scope claim is not a string")
    subject = claims["sub"]
    # RFC 9068 access tokens carry client_id; some issuers use azp; for client credentials sub is the client.
    client_id = claims.get("client_id") or claims.get("azp") or subject
    if not isinstance(client_id, str):
        raise InvalidTokenError("client id claim is not a string")
    return Principal(subject=subject, client_id=client_id, scopes=frozenset(scope.split()))


def set_token_verifier(app: FastAPI, verifier: TokenVerifier) -> None:
    """Install the verifier `require_scopes` uses (create_app does this; tests swap in their own)."""
    app.state.token_verifier = verifier


def get_token_verifier(app: FastAPI) -> TokenVerifier:
    verifier = getattr(app.state, "token_verifier", None)
    if not isinstance(verifier, TokenVerifier):
        raise RuntimeError("no TokenVerifier installed on this app; build it with create_app")
    return verifier


def _challenge(error: str | None = None, description: str | None = None, scope: str | None = None) -> str:
    params = [
        f'{name}="{value}"'
        for name, value in (("error", error), ("error_description", description), ("scope", scope))
        if value
    ]
    return "Bearer " + ", ".join(params) if params else "Bearer"


def _bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise HTTPException(401, "A bearer token is required.", headers={"WWW-Authenticate": _challenge()})
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise HTTPException(
            401,
            "The Authorization header must be 'Bearer <token>'.",
            headers={"WWW-Authenticate": _challenge("invalid_request", "malformed Authorization header")},
        )
    return token


def require_scopes(*scopes: str) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency that authenticates the caller and demands every one of ``scopes``."""
    unknown = [scope for scope in scopes if scope not in SCOPES]
    if unknown:
        raise ValueError(f"unknown scopes {unknown}; add them to SCOPES first")
    required = frozenset(scopes)
    challenge_scope = " ".join(scopes)

    # The Security(...) default (not Annotated) because annotations here are strings resolved in module
    # globals; the scheme is only there so OpenAPI shows the scopes per route.
    async def authenticated_principal(
        request: Request,
        authorization: str | None = Security(_oauth2_scheme, scopes=list(scopes)),
    ) -> Principal:
        token = _bearer_token(authorization)
        try:
            principal = await get_token_verifier(request.app).verify(token)
        except InvalidTokenError as exc:
            _log.info("bearer token rejected: %s", exc)  # fixed reason strings, never token content
            raise HTTPException(
                401,
                "The bearer token is invalid or expired.",
                headers={"WWW-Authenticate": _challenge("invalid_token", str(exc))},
            ) from None
        except TokenKeysUnavailableError:
            raise HTTPException(
                503,
                "Tokens cannot be verified right now; try again shortly.",
                headers={"Retry-After": str(_JWKS_RETRY_AFTER_SECONDS)},
            ) from None
        missing = required - principal.scopes
        if missing:
            raise HTTPException(
                403,
                f"The token lacks the scope(s): {' '.join(sorted(missing))}.",
                headers={"WWW-Authenticate": _challenge("insufficient_scope", scope=challenge_scope)},
            )
        return principal

    return authenticated_principal
