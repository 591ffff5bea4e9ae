"""CRM integrations: who reads profiles from inside a CRM, and how they prove it.

An integration (one Salesforce org, one Dataverse environment, one Zendesk app, ...) holds API keys for
clients that cannot get an OAuth token (the Dataverse OData provider can only add static request
parameters), the origins allowed to frame the profile card, and optionally the shared secret of a
Zendesk app's signed URLs. Keys are random and kept only as SHA-256 digests: a leaked database does not
leak usable keys, and a digest of 256 random bits needs no slow hash.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

KEY_PREFIX = "hk"
_KEY_ID_BYTES = 6
_KEY_SECRET_BYTES = 32
_KEY_PATTERN = re.compile(r"^hk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
INTEGRATION_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{1,62}$"
# A key replaced by a rotation keeps working this long by default, so the CRM can be updated first.
DEFAULT_ROTATION_OVERLAP = timedelta(hours=24)
MAX_ROTATION_OVERLAP = timedelta(days=30)


class CrmKind(StrEnum):
    SALESFORCE = "salesforce"
    DYNAMICS = "dynamics"
    ZENDESK = "zendesk"
    SUPEROFFICE = "superoffice"
    FRESHDESK = "freshdesk"
    OTHER = "other"


@dataclass(frozen=True)
class Integration:
    integration_id: str
    name: str
    crm: CrmKind
    frame_origins: tuple[str, ...]  # origins allowed to embed the card (CSP frame-ancestors)
    # How the Zendesk app's tokens are checked: its public key (PEM; ZAF JWT, RS256) or, for older
    # signed-URL apps, its shared secret (HS256).
    zendesk_secret: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    integration_id: str
    digest: str  # SHA-256 of the secret part, hex
    created_at: datetime
    expires_at: datetime | None = None  # set when rotated away
    revoked_at: datetime | None = None

    def accepts(self, now: datetime) -> bool:
        if self.revoked_at is not None:  # at once, whatever this host's clock says
            return False
        return self.expires_at is None or now < self.expires_at


@dataclass(frozen=True)
class IssuedKey:
    """A new key: the stored record and the text handed out once."""

    record: ApiKey
    text: str


class InvalidOriginError(ValueError):
    """A frame origin that is not scheme://host[:port]."""


def issue_key(integration_id: str, now: datetime) -> IssuedKey:
    key_id = secrets.token_hex(_KEY_ID_BYTES)
    secret = secrets.token_urlsafe(_KEY_SECRET_BYTES)
    record = ApiKey(key_id=key_id, integration_id=integration_id, digest=_digest(secret), created_at=now)
    return IssuedKey(record, f"{KEY_PREFIX}_{key_id}_{secret}")


def split_key(text: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed key text, else None."""
    match = _KEY_PATTERN.match(text)
    return None if match is None else (match.group(1), match.group(2))


def secret_matches(key: ApiKey, secret: str) -> bool:
    return hmac.compare_digest(key.digest, _digest(secret))


def rotated(key: ApiKey, now: datetime, overlap: timedelta) -> ApiKey:
    """The old key after a rotation: it expires after the overlap (sooner if it expired already)."""
    ends = now + overlap
    if key.expires_at is not None:
        ends = min(ends, key.expires_at)
    return ApiKey(key.key_id, key.integration_id, key.digest, key.created_at, ends, key.revoked_at)


def frame_origin(text: str) -> str:
    """A CSP source for frame-ancestors: an https origin (http only for localhost and 127.0.0.1), with
    nothing a CSP header could be broken with."""
    parts = urlsplit(text.strip())
    local = parts.hostname in {"localhost", "127.0.0.1"}
    if parts.scheme not in {"https", "http"} or (parts.scheme == "http" and not local):
        raise InvalidOriginError("an origin must be https://host[:port] (http only for localhost)")
    if not parts.hostname or parts.path not in {"", "/"} or parts.query or parts.fragment:
        raise InvalidOriginError("an origin is scheme://host[:port], without a path or query")
    if parts.username or parts.password:
        raise InvalidOriginError("an origin carries no credentials")
    if not re.fullmatch(r"(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*", parts.hostname):
        raise InvalidOriginError("an origin's host holds letters, digits, dots and dashes")
    if parts.hostname.startswith("*.") and parts.hostname.count(".") < 2:
        raise InvalidOriginError("a wildcard origin names a domain below a top-level one (*.zendesk.com)")
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        raise InvalidOriginError("an origin's port is a number up to 65535") from None
    return f"{parts.scheme}://{parts.hostname}{port}"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
