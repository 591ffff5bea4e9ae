"""The profile card's signed links and Zendesk's signed-URL tokens, as pure functions."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from services.profile.core.card_links import (
    LinkGrant,
    Refusal,
    ZendeskClaims,
    canonical_query,
    integration_key,
    signed_query,
    verify_link,
    verify_zendesk_token,
)

MASTER = b"test-master-secret"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
MAX_TTL = timedelta(minutes=15)
PATH = "/card/customers/c-1"
SECRET = "zendesk-shared-secret-of-the-app-" + "0123456789abcdef" * 3
ACME = "acme.zendesk.com"


def link(
    path: str = PATH,
    parameters: dict[str, str] | None = None,
    *,
    integration: str = "crm-a",
    expires_in: timedelta = timedelta(minutes=5),
    master: bytes = MASTER,
) -> list[tuple[str, str]]:
    query = signed_query(
        master,
        path,
        parameters if parameters is not None else {"lang": "sv"},
        integration_id=integration,
        expires_at=int((NOW + expires_in).timestamp()),
    )
    return parse_qsl(query, keep_blank_values=True)


def verify(parameters: list[tuple[str, str]], path: str = PATH, now: datetime = NOW) -> LinkGrant | Refusal:
    return verify_link(MASTER, path, parameters, now=now, max_ttl=MAX_TTL)


def replaced(parameters: list[tuple[str, str]], name: str, value: str) -> list[tuple[str, str]]:
    return [(n, value if n == name else v) for n, v in parameters]


def test_a_signed_link_verifies_in_any_parameter_order_and_says_what_it_carries() -> None:
    parameters = link(parameters={"lang": "da", "identifier": "email:ola@example.no"})
    grant = verify(list(reversed(parameters)))
    assert grant == LinkGrant(
        "crm-a",
        int((NOW + timedelta(minutes=5)).timestamp()),
        {"lang": "da", "identifier": "email:ola@example.no"},
    )


def test_the_query_is_canonical_percent_encoding() -> None:
    assert canonical_query([("b", "x y/z"), ("a", "2"), ("a", "1")]) == "a=1&a=2&b=x%20y%2Fz"
    query = signed_query(MASTER, PATH, {"identifier": "phone:+4791234567"}, integration_id="i", expires_at=1)
    assert "identifier=phone%3A%2B4791234567" in query


@pytest.mark.parametrize("missing", ["sig", "integration", "exp"])
def test_a_link_without_its_signature_parts_is_unsigned(missing: str) -> None:
    parameters = [(n, v) for n, v in link() if n != missing]
    assert verify(parameters) is Refusal.UNSIGNED
    assert verify([]) is Refusal.UNSIGNED


def test_any_change_to_the_link_is_refused_as_altered() -> None:
    parameters = link()
    assert verify(parameters) != Refusal.ALTERED
    assert verify(parameters, path="/card/customers/c-2") is Refusal.ALTERED  # another customer
    assert verify(replaced(parameters, "lang", "en")) is Refusal.ALTERED
    assert verify(replaced(parameters, "integration", "crm-b")) is Refusal.ALTERED
    later = str(int((NOW + timedelta(minutes=10)).timestamp()))
    assert verify(replaced(parameters, "exp", later)) is Refusal.ALTERED  # a longer life
    assert verify([*parameters, ("identifier", "email:someone@example.no")]) is Refusal.ALTERED  # added
    assert verify([*parameters, ("lang", "sv")]) is Refusal.ALTERED  # repeated
    assert verify([(n, v) for n, v in parameters if n != "lang"]) is Refusal.ALTERED  # removed
    signature = dict(parameters)["sig"]
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    assert verify(replaced(parameters, "sig", flipped)) is Refusal.ALTERED
    assert verify(replaced(parameters, "exp", "soon")) is Refusal.ALTERED


def test_a_link_signed_with_another_master_secret_is_altered() -> None:
    assert verify(link(master=b"someone else's secret")) is Refusal.ALTERED


def test_each_integration_signs_with_its_own_key() -> None:
    assert integration_key(MASTER, "crm-a") != integration_key(MASTER, "crm-b")
    a, b = dict(link(integration="crm-a")), dict(link(integration="crm-b"))
    assert a["sig"] != b["sig"]


def test_a_link_expires_at_its_expiry() -> None:
    parameters = link(expires_in=timedelta(minutes=5))
    assert isinstance(verify(parameters, now=NOW + timedelta(minutes=4, seconds=59)), LinkGrant)
    assert verify(parameters, now=NOW + timedelta(minutes=5)) is Refusal.EXPIRED
    assert verify(parameters, now=NOW + timedelta(days=1)) is Refusal.EXPIRED


def test_an_expiry_beyond_the_longest_link_we_mint_is_refused() -> None:
    assert isinstance(verify(link(expires_in=MAX_TTL)), LinkGrant)
    assert verify(link(expires_in=timedelta(days=365))) is Refusal.ALTERED


# ---- Zendesk's signed-URL JWT --------------------------------------------------------------------------


def claims(**overrides: Any) -> dict[str, Any]:
    at = int(NOW.timestamp())
    base: dict[str, Any] = {
        "iss": ACME,
        "aud": f"https://{ACME}/api/v2/apps/installations/360001.json",
        "sub": "agent-1",
        "iat": at - 5,
        "nbf": at - 5,
        "exp": at + 300,
        "qsh": "abc",
        "context": {"product": "support", "location": "ticket_sidebar"},
    }
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not None}


def zendesk(token: str, now: datetime = NOW) -> ZendeskClaims | Refusal:
    return verify_zendesk_token(token, key=SECRET, account_hosts={ACME}, now=now)


def hs256(payload: dict[str, Any], secret: str = SECRET) -> str:
    return jwt.encode(payload, secret, algorithm="HS256")


def test_a_zendesk_token_signed_with_the_shared_secret_is_accepted() -> None:
    assert zendesk(hs256(claims())) == ZendeskClaims(ACME, int(NOW.timestamp()) + 300)
    assert isinstance(zendesk(hs256(claims(aud=None))), ZendeskClaims)  # aud is optional


def test_a_zendesk_token_with_another_secret_or_tampered_claims_is_refused() -> None:
    assert zendesk(hs256(claims(), "another-shared-secret-0123456789abcdef-0123")) is Refusal.TOKEN_INVALID
    header, _payload, signature = hs256(claims()).split(".")
    forged = base64.urlsafe_b64encode(json.dumps(claims(sub="admin")).encode()).decode().rstrip("=")
    assert zendesk(f"{header}.{forged}.{signature}") is Refusal.TOKEN_INVALID
    assert zendesk("not-a-token") is Refusal.TOKEN_INVALID
    assert zendesk("") is Refusal.TOKEN_INVALID


def test_with_a_shared_secret_only_hs256_is_accepted() -> None:
    parts = ({"alg": "none", "typ": "JWT"}, claims())
    unsigned = ".".join(base64.urlsafe_b64encode(json.dumps(p).encode()).decode().rstrip("=") for p in parts)
    assert zendesk(unsigned + ".") is Refusal.TOKEN_INVALID
    assert zendesk(unsigned + "." + hs256(claims()).split(".")[2]) is Refusal.TOKEN_INVALID
    assert zendesk(jwt.encode(claims(), SECRET, algorithm="HS512")) is Refusal.TOKEN_INVALID
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert zendesk(jwt.encode(claims(), key, algorithm="RS256")) is Refusal.TOKEN_INVALID


def test_rs256_confusion_with_a_public_key_as_the_secret_is_refused() -> None:
    # A token claiming RS256 but HMAC-signed with the text a verifier might take as a public key.
    header = base64.urlsafe_b64encode(b'{"alg":"RS256","typ":"JWT"}').decode().rstrip("=")
    body = base64.urlsafe_b64encode(json.dumps(claims()).encode()).decode().rstrip("=")
    honest = hs256(claims()).split(".")[2]
    assert zendesk(f"{header}.{body}.{honest}") is Refusal.TOKEN_INVALID


def test_a_zendesk_token_must_be_current_and_carry_its_times() -> None:
    at = int(NOW.timestamp())
    assert zendesk(hs256(claims(exp=at - 120))) is Refusal.TOKEN_INVALID
    assert isinstance(zendesk(hs256(claims(exp=at - 30))), ZendeskClaims)  # within the leeway
    assert zendesk(hs256(claims(iat=at + 600, nbf=None))) is Refusal.TOKEN_INVALID  # from the future
    assert zendesk(hs256(claims(nbf=at + 600))) is Refusal.TOKEN_INVALID
    for missing in ("exp", "iat", "iss"):
        assert zendesk(hs256(claims(**{missing: None}))) is Refusal.TOKEN_INVALID
    assert zendesk(hs256(claims(exp="soon"))) is Refusal.TOKEN_INVALID


def test_a_zendesk_token_of_another_account_is_refused() -> None:
    assert zendesk(hs256(claims(iss="evil.zendesk.com"))) is Refusal.WRONG_ACCOUNT
    assert zendesk(hs256(claims(aud="https://evil.zendesk.com/api/v2/apps/1.json"))) is Refusal.WRONG_ACCOUNT


APP_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
APP_PUBLIC_PEM = (
    APP_KEY.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)


def zaf(token: str) -> ZendeskClaims | Refusal:
    return verify_zendesk_token(token, key=APP_PUBLIC_PEM, account_hosts={ACME}, now=NOW)


def test_a_zaf_jwt_signed_by_zendesk_is_checked_with_the_apps_public_key() -> None:
    installation = claims(aud=f"https://{ACME}/api/v2/apps/installations/360001.json")
    assert zaf(jwt.encode(installation, APP_KEY, algorithm="RS256")) == ZendeskClaims(
        ACME, int(NOW.timestamp()) + 300
    )
    other_app = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert zaf(jwt.encode(installation, other_app, algorithm="RS256")) is Refusal.TOKEN_INVALID
    # With a public key configured, an HMAC token keyed with that (public) text is never accepted.
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').decode().rstrip("=")
    body = base64.urlsafe_b64encode(json.dumps(installation).encode()).decode().rstrip("=")
    mac = hmac.new(APP_PUBLIC_PEM.encode(), f"{header}.{body}".encode(), hashlib.sha256).digest()
    signature = base64.urlsafe_b64encode(mac).decode().rstrip("=")
    assert zaf(f"{header}.{body}.{signature}") is Refusal.TOKEN_INVALID
    elsewhere = claims(aud="https://evil.example/api/v2/apps/installations/1.json")
    assert zaf(jwt.encode(elsewhere, APP_KEY, algorithm="RS256")) is Refusal.WRONG_ACCOUNT


def test_a_signature_with_characters_outside_ascii_is_altered_not_an_error() -> None:
    query = dict(
        parse_qsl(signed_query(MASTER, PATH, {}, integration_id="zd", expires_at=int(NOW.timestamp()) + 60))
    )
    query["sig"] = "\u00e9" * 10
    assert (
        verify_link(MASTER, PATH, list(query.items()), now=NOW, max_ttl=timedelta(minutes=15))
        is Refusal.ALTERED
    )
