"""CRM integrations: registering them, their API keys (issue, rotate, revoke) and authenticating a key."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from services.profile.core.integrations import (
    ApiKey,
    CrmKind,
    Integration,
    IssuedKey,
    frame_origin,
    issue_key,
    rotated,
    secret_matches,
    split_key,
)
from services.profile.ports import IntegrationStore

# Keep the Zendesk secret as it is unless the request names a new one (it is never read back).
UNCHANGED = object()


class KeyProblem(StrEnum):
    NO_INTEGRATION = "no_integration"
    NO_KEY = "no_key"
    REVOKED = "revoked"


@dataclass(frozen=True)
class KeyChange:
    """What a key request did: a new key (shown once) and the key it changed, or why it could not."""

    issued: IssuedKey | None = None
    changed: ApiKey | None = None
    problem: KeyProblem | None = None


class IntegrationService:
    def __init__(self, store: IntegrationStore, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._clock = clock

    async def get(self, integration_id: str) -> Integration | None:
        return await self._store.integration(integration_id)

    async def put(
        self,
        integration_id: str,
        *,
        name: str,
        crm: CrmKind,
        frame_origins: Sequence[str],
        zendesk_secret: str | object | None = UNCHANGED,
    ) -> tuple[Integration, bool]:
        """Create or replace an integration; True when it was created. Raises InvalidOriginError."""
        origins = tuple(dict.fromkeys(frame_origin(origin) for origin in frame_origins))
        now = self._clock()
        existing = await self._store.integration(integration_id)
        secret = (
            (existing.zendesk_secret if existing else None) if zendesk_secret is UNCHANGED else zendesk_secret
        )
        integration = Integration(
            integration_id=integration_id,
            name=name,
            crm=crm,
            frame_origins=origins,
            zendesk_secret=secret if isinstance(secret, str) else None,
            created_at=existing.created_at if existing else now,
            updated_at=now,
        )
        await self._store.save_integration(integration)
        return integration, existing is None

    async def keys(self, integration_id: str) -> list[ApiKey]:
        return await self._store.api_keys(integration_id)

    async def issue(self, integration_id: str) -> KeyChange:
        if await self._store.integration(integration_id) is None:
            return KeyChange(problem=KeyProblem.NO_INTEGRATION)
        issued = issue_key(integration_id, self._clock())
        await self._store.save_api_key(issued.record)
        return KeyChange(issued=issued)

    async def rotate(self, integration_id: str, key_id: str, overlap: timedelta) -> KeyChange:
        """A new key; the old one keeps working for ``overlap`` so the CRM can switch without a gap."""
        old = await self._key_of(integration_id, key_id)
        if isinstance(old, KeyProblem):
            return KeyChange(problem=old)
        now = self._clock()
        if not old.accepts(now):
            return KeyChange(problem=KeyProblem.REVOKED)
        issued = issue_key(integration_id, now)
        await self._store.save_api_key(issued.record)  # the new key first: never a moment with neither
        ending = rotated(old, now, overlap)
        await self._store.save_api_key(ending)
        return KeyChange(issued=issued, changed=ending)

    async def revoke(self, integration_id: str, key_id: str) -> KeyChange:
        key = await self._key_of(integration_id, key_id)
        if isinstance(key, KeyProblem):
            return KeyChange(problem=key)
        if key.revoked_at is None:
            key = ApiKey(
                key.key_id, key.integration_id, key.digest, key.created_at, key.expires_at, self._clock()
            )
            await self._store.save_api_key(key)
        return KeyChange(changed=key)

    async def authenticate(self, key_text: str) -> ApiKey | None:
        """The key record a presented key belongs to, when it is valid now."""
        parts = split_key(key_text)
        if parts is None:
            return None
        key = await self._store.api_key(parts[0])
        if key is None or not secret_matches(key, parts[1]) or not key.accepts(self._clock()):
            return None
        return key

    async def _key_of(self, integration_id: str, key_id: str) -> ApiKey | KeyProblem:
        if await self._store.integration(integration_id) is None:
            return KeyProblem.NO_INTEGRATION
        key = await self._store.api_key(key_id)
        if key is None or key.integration_id != integration_id:
            return KeyProblem.NO_KEY
        return key
