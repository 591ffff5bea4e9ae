"""CRM integrations and their API keys (``profile_integrations``, ``profile_api_keys``); keys are kept as
digests only."""

from __future__ import annotations

from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from services.common.mongo import Document
from services.profile.core.integrations import ApiKey, CrmKind, Integration
from services.profile.indexes import API_KEYS_COLLECTION, INTEGRATIONS_COLLECTION


class MongoIntegrations:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._integrations = db[INTEGRATIONS_COLLECTION]
        self._keys = db[API_KEYS_COLLECTION]

    async def integration(self, integration_id: str) -> Integration | None:
        document = await self._integrations.find_one({"_id": integration_id})
        return None if document is None else _integration(document)

    async def save_integration(self, integration: Integration) -> None:
        await self._integrations.replace_one(
            {"_id": integration.integration_id},
            {
                "name": integration.name,
                "crm": integration.crm.value,
                "frame_origins": list(integration.frame_origins),
                "zendesk_secret": integration.zendesk_secret,
                "created_at": integration.created_at,
                "updated_at": integration.updated_at,
            },
            upsert=True,
        )

    async def api_key(self, key_id: str) -> ApiKey | None:
        document = await self._keys.find_one({"_id": key_id})
        return None if document is None else _api_key(document)

    async def api_keys(self, integration_id: str) -> list[ApiKey]:
        cursor = self._keys.find({"integration_id": integration_id}).sort("created_at", DESCENDING)
        return [_api_key(document) async for document in cursor]

    async def save_api_key(self, key: ApiKey) -> None:
        await self._keys.replace_one(
            {"_id": key.key_id},
            {
                "integration_id": key.integration_id,
                "digest": key.digest,
                "created_at": key.created_at,
                "expires_at": key.expires_at,
                "revoked_at": key.revoked_at,
            },
            upsert=True,
        )


def _integration(document: Document) -> Integration:
    return Integration(
        integration_id=document["_id"],
        name=document["name"],
        crm=CrmKind(document["crm"]),
        frame_origins=tuple(document["frame_origins"]),
        zendesk_secret=document["zendesk_secret"],
        created_at=document["created_at"],
        updated_at=document["updated_at"],
    )


def _api_key(document: Document) -> ApiKey:
    return ApiKey(
        key_id=document["_id"],
        integration_id=document["integration_id"],
        digest=document["digest"],
        created_at=document["created_at"],
        expires_at=document["expires_at"],
        revoked_at=document["revoked_at"],
    )
