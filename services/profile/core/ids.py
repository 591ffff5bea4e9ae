"""Deterministic ids: consumers on different partitions that see the same input must derive the same id,
so concurrent work converges on one customer or case instead of creating two."""

from __future__ import annotations

import uuid

_NAMESPACE = uuid.UUID("6f1d7a52-3c1e-4b8e-9a51-8d2f0c3b9e47")


def stable_id(kind: str, basis: str) -> str:
    """A UUID (text) that depends only on ``kind`` and ``basis``."""
    return str(uuid.uuid5(_NAMESPACE, f"{kind}\x00{basis}"))


def identifier_guid(key: str) -> str:
    """The UUID an identifier key is known by where a UUID is required (OData keys)."""
    return stable_id("identifier", key)
