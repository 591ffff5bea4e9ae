"""Who may open the profile card: our own short-lived signed links, and Zendesk's signed JWT.

A signed link is a path and a query holding ``integration``, ``exp`` (Unix seconds) and ``sig``: the
HMAC-SHA256 of the path and the canonical query (every parameter but ``sig``, so ``integration`` and
``exp`` too), keyed per integration with HMAC(master secret, integration id). Nothing else is needed to
check one: no cookie, no session. Adding, removing, repeating or changing any parameter breaks it.

Zendesk POSTs the iframe URL with a form field ``token``: a JWT that today's apps (ZAF JWT) sign with
RS256, checked with the app's public key, and older signed-URL apps sign with HS256 and the app's shared
secret. The key configured for the integration decides the one algorithm accepted (a PEM public key:
RS256; anything else: HS256), never the token's header. ``iss`` is the account's host
(``acme.zendesk.com``), which must be one of the integration's frame origins, and ``aud``, when present,
an address on that host (the app installation).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import quote

import jwt

INTEGRATION_PARAMETER = "integration"
EXPIRES_PARAMETER = "exp"
SIGNATURE_PARAMETER = "sig"
RESERVED_PARAMETERS = frozenset({INTEGRATION_PARAMETER, EXPIRES_PARAMETER, SIGNATURE_PARAMETER})
_PUBLIC_KEY_PEM = "-----BEGIN PUBLIC KEY-----"
# Clocks of Zendesk and ours differ a little.
ZENDESK_LEEWAY = timedelta(seconds=60)
# An expiry further ahead than the longest link we mint (plus this) was not made by us.
_CLOCK_SKEW = timedelta(seconds=60)
_SIGNATURE_BYTES = 32


class Refusal(StrEnum):
    UNSIGNED = "unsigned"  # no signature, integration or expiry: 401
    EXPIRED = "expired"  # 401: the CRM loads a fresh link
    ALTERED = "altered"  # the signature does not match, or the expiry is further out than we mint: 403
    UNKNOWN_INTEGRATION = "unknown_integration"  # 403
    TOKEN_INVALID = "token_invalid"  # noqa: S105 - a refusal, not a secret. Zendesk's JWT does not verify (signature, algorithm, claims): 401
    WRONG_ACCOUNT = "wrong_account"  # a JWT of a Zendesk account the integration does not list: 403


@dataclass(frozen=True)
class LinkGrant:
    """A link that verified: whose it is, until when, and what else it says (lang, identifier, ...)."""

    integration_id: str
    expires_at: int
    parameters: Mapping[str, str]


@dataclass(frozen=True)
class ZendeskClaims:
    account_host: str  # iss
    expires_at: int


def integration_key(master: bytes, integration_id: str) -> bytes:
    """Each integration's own key: a key seen by one CRM signs nothing for another."""
    return hmac.new(master, integration_id.encode(), hashlib.sha256).digest()


def canonical_query(parameters: Sequence[tuple[str, str]]) -> str:
    """Sorted by name then value, each percent-encoded the same way whatever the sender did."""
    return "&".join(
        f"{quote(name, safe='-_.~')}={quote(value, safe='-_.~')}" for name, value in sorted(parameters)
    )


def signature(master: bytes, path: str, parameters: Sequence[tuple[str, str]]) -> str:
    """The ``sig`` of a link whose ``parameters`` include ``integration`` and ``exp``."""
    integration_id = next(value for name, value in parameters if name == INTEGRATION_PARAMETER)
    message = f"{path}\n{canonical_query(parameters)}".encode()
    digest = hmac.new(integration_key(master, integration_id), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def signed_query(
    master: bytes, path: str, parameters: Mapping[str, str], *, integration_id: str, expires_at: int
) -> str:
    """The query string of a link to ``path`` carrying ``parameters``, valid until ``expires_at``."""
    pairs = [
        *parameters.items(),
        (INTEGRATION_PARAMETER, integration_id),
        (EXPIRES_PARAMETER, str(expires_at)),
    ]
    return canonical_query([*pairs, (SIGNATURE_PARAMETER, signature(master, path, pairs))])


def verify_link(  # noqa: PLR0911 - one return per refusal
    master: bytes,
    path: str,
    parameters: Sequence[tuple[str, str]],
    *,
    now: datetime,
    max_ttl: timedelta,
) -> LinkGrant | Refusal:
    """Check a link as received (``parameters`` decoded, in any order)."""
    names = [name for name, _ in parameters]
    given = dict(parameters)
    if any(name not in given or not given[name] for name in RESERVED_PARAMETERS):
        return Refusal.UNSIGNED
    if len(set(names)) != len(names):
        return Refusal.ALTERED  # we never sign a name twice; readers would disagree on which counts
    try:
        expires_at = int(given[EXPIRES_PARAMETER])
    except ValueError:
        return Refusal.ALTERED
    unsigned = [(name, value) for name, value in parameters if name != SIGNATURE_PARAMETER]
    # As bytes: compare_digest refuses str holding non-ASCII (a hostile "sig" would raise).
    if not hmac.compare_digest(
        signature(master, path, unsigned).encode(), given[SIGNATURE_PARAMETER].encode()
    ):
        return Refusal.ALTERED
    moment = now.timestamp()
    if expires_at <= moment:
        return Refusal.EXPIRED
    if expires_at > moment + (max_ttl + _CLOCK_SKEW).total_seconds():
        return Refusal.ALTERED
    rest = {name: value for name, value in unsigned if name not in RESERVED_PARAMETERS}
    return LinkGrant(given[INTEGRATION_PARAMETER], expires_at, rest)


def zendesk_algorithm(key: str) -> str:
    """RS256 for an app's public key (ZAF JWT), HS256 for a shared secret (signed URLs)."""
    return "RS256" if key.lstrip().startswith(_PUBLIC_KEY_PEM) else "HS256"


def verify_zendesk_token(
    token: str, *, key: str, account_hosts: Collection[str], now: datetime
) -> ZendeskClaims | Refusal:
    """A Zendesk token, signed as ``key`` says (public key: RS256; shared secret: HS256), unexpired
    (``exp`` and ``iat`` required), issued by one of ``account_hosts``."""
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[zendesk_algorithm(key)],
            # Zendesk's aud names the app installation, which we do not keep; checked below instead.
            # Times are checked below against the given ``now``, so the decision stays pure.
            options={
                "require": ["exp", "iat", "iss"],
                "verify_aud": False,
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.PyJWTError:
        return Refusal.TOKEN_INVALID
    expires_at, issued_at, not_before = claims["exp"], claims["iat"], claims.get("nbf", claims["iat"])
    if not all(isinstance(value, int) for value in (expires_at, issued_at, not_before)):
        return Refusal.TOKEN_INVALID
    moment, leeway = now.timestamp(), ZENDESK_LEEWAY.total_seconds()
    if expires_at <= moment - leeway or max(issued_at, not_before) > moment + leeway:
        return Refusal.TOKEN_INVALID
    issuer = claims["iss"]
    if not isinstance(issuer, str) or issuer not in account_hosts:
        return Refusal.WRONG_ACCOUNT
    audience = claims.get("aud")
    if audience is not None and not (isinstance(audience, str) and audience.startswith(f"https://{issuer}/")):
        return Refusal.WRONG_ACCOUNT
    return ZendeskClaims(issuer, expires_at)
