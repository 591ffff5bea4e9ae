"""CRM integrations: frame origins, API keys (pure rules)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.profile.core.integrations import (
    ApiKey,
    InvalidOriginError,
    frame_origin,
    issue_key,
    rotated,
    secret_matches,
    split_key,
)

NOW = datetime(2026, 11, 24, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("given", "origin"),
    [
        ("https://acme.zendesk.com", "https://acme.zendesk.com"),
        ("https://ACME.zendesk.com/", "https://acme.zendesk.com"),
        ("https://*.zendesk.com", "https://*.zendesk.com"),
        ("https://org.crm4.dynamics.com:443", "https://org.crm4.dynamics.com:443"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
    ],
)
def test_frame_origins_are_normalised(given: str, origin: str) -> None:
    assert frame_origin(given) == origin


@pytest.mark.parametrize(
    "given",
    [
        "http://acme.zendesk.com",  # http only for local hosts
        "https://*.com",  # any .com site
        "https://*",
        "https://acme.zendesk.com/path",
        "https://user:pw@acme.zendesk.com",
        "https://evil.example/'; script-src *",
        "https://acme..com",
        "https://acme.zendesk.com:99999",
        "javascript:alert(1)",
    ],
)
def test_origins_that_could_widen_or_break_the_policy_are_refused(given: str) -> None:
    with pytest.raises(InvalidOriginError):
        frame_origin(given)


def test_a_key_is_shown_once_and_kept_as_a_digest() -> None:
    issued = issue_key("crm", NOW)
    parts = split_key(issued.text)
    assert parts is not None
    key_id, secret = parts
    assert key_id == issued.record.key_id
    assert secret not in issued.record.digest
    assert secret_matches(issued.record, secret)
    assert not secret_matches(issued.record, secret[:-1] + ("a" if secret[-1] != "a" else "b"))
    assert split_key(issued.text + "x") is None
    assert split_key("hk_" + "0" * 12 + "_" + "\u00e9" * 43) is None


def test_a_revoked_key_is_refused_at_once_and_a_rotated_one_after_its_overlap() -> None:
    key = issue_key("crm", NOW).record
    assert key.accepts(NOW)
    revoked_later = ApiKey(
        key.key_id, key.integration_id, key.digest, key.created_at, revoked_at=NOW + timedelta(hours=1)
    )
    assert not revoked_later.accepts(NOW)  # another host's clock ahead of ours revoked it: it is revoked
    ending = rotated(key, NOW, timedelta(hours=24))
    assert ending.accepts(NOW + timedelta(hours=23))
    assert not ending.accepts(NOW + timedelta(hours=24))
    assert rotated(ending, NOW, timedelta(hours=48)).expires_at == ending.expires_at  # never lengthened
