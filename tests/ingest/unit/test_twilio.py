from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.identifiers import IdentifierKind
from schemas.interactions import Channel, Direction
from services.ingest.core.channels.twilio import parse_twilio_sms, verify_twilio_signature
from services.ingest.core.errors import InvalidInputError, SignatureError

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
TOKEN = "f0e1d2c3b4a5968778695a4b3c2d1e0f"
URL = "https://helhet.example.com/v1/channels/sms/twilio"
SID = "SM1f0e1d2c3b4a5968778695a4b3c2d1e0"
MMS_SID = "MM0123456789abcdef0123456789abcdef"

# An inbound SMS exactly as Twilio posts it (field set and order from a real delivery, values made up).
SMS_FORM: list[tuple[str, str]] = [
    ("ToCountry", "NO"),
    ("ToState", ""),
    ("SmsMessageSid", SID),
    ("NumMedia", "0"),
    ("ToCity", ""),
    ("FromZip", ""),
    ("SmsSid", SID),
    ("FromState", ""),
    ("SmsStatus", "received"),
    ("FromCity", ""),
    ("Body", "Hei! Hvor er pakken min? 📦"),
    ("FromCountry", "NO"),
    ("To", "+4721000000"),
    ("MessagingServiceSid", "MG0123456789abcdef0123456789abcdef"),
    ("ToZip", ""),
    ("NumSegments", "1"),
    ("ReferralNumMedia", "0"),
    ("MessageSid", SID),
    ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
    ("From", "+4791234567"),
    ("ApiVersion", "2010-04-01"),
]


def sign(token: str, url: str, pairs: list[tuple[str, str]]) -> str:
    """Twilio's algorithm written out independently of the code under test."""
    data = url + "".join(k + v for k, v in sorted(pairs))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def replaced(form: list[tuple[str, str]], **changes: str | None) -> list[tuple[str, str]]:
    """The form with fields replaced (None removes them)."""
    kept = [(k, v) for k, v in form if k not in changes]
    return kept + [(k, v) for k, v in changes.items() if v is not None]


# --- signature --------------------------------------------------------------------------------------------

# Twilio SDK's own test vectors (twilio-python tests/unit/test_request_validator.py).
SDK_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
SDK_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
    "Caller": "+14158675309",
}


@pytest.mark.parametrize(
    ("url", "signature"),
    [
        (SDK_URL, "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
        (SDK_URL.replace(".com", ".com:1234"), "RSOYDt4T1cUTdK1PDd93/VVr8B8="),  # port removed
        (SDK_URL.replace(".com", ".com:1234").replace("https", "http"), "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="),
        (SDK_URL, "kvajT1Ptam85bY51eRf/AJRuM3w="),  # signed with :443 added
        (SDK_URL.replace("https", "http"), "0ZXoZLH/DfblKGATFgpif+LLRf4="),  # signed with :80 added
    ],
)
def test_the_twilio_sdk_vectors_verify(url: str, signature: str) -> None:
    verify_twilio_signature("12345", url, SDK_PARAMS, signature)


def test_a_real_sms_form_verifies_as_pairs_and_as_mapping() -> None:
    signature = sign(TOKEN, URL, SMS_FORM)
    verify_twilio_signature(TOKEN, URL, SMS_FORM, signature)
    verify_twilio_signature(TOKEN, URL, dict(SMS_FORM), signature)


def test_repeated_keys_are_signed_sorted_by_value() -> None:
    pairs = [("Tag", "b"), ("Tag", "a"), ("From", "+4791234567")]
    verify_twilio_signature(TOKEN, URL, pairs, sign(TOKEN, URL, pairs))


def test_an_ipv6_host_with_port_verifies_without_the_port() -> None:
    url = "https://[2001:db8::1]:8443/v1/channels/sms/twilio"
    verify_twilio_signature(
        TOKEN, url, SMS_FORM, sign(TOKEN, "https://[2001:db8::1]/v1/channels/sms/twilio", SMS_FORM)
    )


GOOD_SIGNATURE = sign(TOKEN, URL, SMS_FORM)

BAD_SIGNATURES: list[tuple[str, str, str, list[tuple[str, str]], str | None]] = [
    ("missing", TOKEN, URL, SMS_FORM, None),
    ("empty", TOKEN, URL, SMS_FORM, ""),
    ("wrong token", "another-token", URL, SMS_FORM, GOOD_SIGNATURE),
    ("empty token", "", URL, SMS_FORM, sign("", URL, SMS_FORM)),
    ("tampered body", TOKEN, URL, replaced(SMS_FORM, Body="Send me everything"), GOOD_SIGNATURE),
    ("added field", TOKEN, URL, [*SMS_FORM, ("Extra", "1")], GOOD_SIGNATURE),
    ("removed field", TOKEN, URL, SMS_FORM[1:], GOOD_SIGNATURE),
    ("other path", TOKEN, URL + "/x", SMS_FORM, GOOD_SIGNATURE),
    ("other host", TOKEN, URL.replace("helhet", "evil"), SMS_FORM, GOOD_SIGNATURE),
    ("query added", TOKEN, URL + "?a=1", SMS_FORM, GOOD_SIGNATURE),
    ("scheme changed", TOKEN, URL.replace("https", "http"), SMS_FORM, GOOD_SIGNATURE),
    ("truncated", TOKEN, URL, SMS_FORM, GOOD_SIGNATURE[:-2]),
    ("padded", TOKEN, URL, SMS_FORM, GOOD_SIGNATURE + "="),
    ("whitespace", TOKEN, URL, SMS_FORM, " " + GOOD_SIGNATURE),
    ("lower-cased", TOKEN, URL, SMS_FORM, GOOD_SIGNATURE.lower()),
    ("non-ascii", TOKEN, URL, SMS_FORM, "é" * 28),
    ("sha256 instead", TOKEN, URL, SMS_FORM, "sha256=" + "0" * 64),
    ("bad port", TOKEN, "https://helhet.example.com:99999999/x", SMS_FORM, GOOD_SIGNATURE),
    ("non-numeric port", TOKEN, "https://helhet.example.com:abc/x", SMS_FORM, GOOD_SIGNATURE),
    ("surrogate in value", TOKEN, URL, [("Body", "\ud800")], GOOD_SIGNATURE),
    ("hex digest", TOKEN, URL, SMS_FORM, base64.b64decode(GOOD_SIGNATURE).hex()),
]


@pytest.mark.parametrize(
    ("token", "url", "pairs", "signature"),
    [case[1:] for case in BAD_SIGNATURES],
    ids=[case[0] for case in BAD_SIGNATURES],
)
def test_bad_signatures_are_refused(
    token: str, url: str, pairs: list[tuple[str, str]], signature: str | None
) -> None:
    with pytest.raises(SignatureError):
        verify_twilio_signature(token, url, pairs, signature)


@settings(max_examples=200)
@given(url=st.text(max_size=200), pairs=st.lists(st.tuples(st.text(), st.text())), signature=st.text())
def test_arbitrary_requests_only_ever_fail_with_signature_error(
    url: str, pairs: list[tuple[str, str]], signature: str
) -> None:
    with contextlib.suppress(SignatureError):
        verify_twilio_signature(TOKEN, url, pairs, signature)


# --- parse ------------------------------------------------------------------------------------------------


def test_a_real_sms_becomes_one_inbound_interaction() -> None:
    interaction = parse_twilio_sms(SMS_FORM, received_at=NOW, phone_region="NO")
    assert interaction.channel is Channel.SMS
    assert interaction.direction is Direction.INBOUND
    assert [(i.kind, i.value, i.unparsed) for i in interaction.identifiers] == [
        (IdentifierKind.PHONE, "+4791234567", False)
    ]
    assert interaction.text == "Hei! Hvor er pakken min? 📦"
    assert interaction.source_message_id == SID
    assert interaction.occurred_at == NOW
    assert interaction.attachments == []
    assert interaction.conversation_id is not None
    assert interaction.conversation_id.startswith("sms:")
    assert "91234567" not in interaction.conversation_id
    assert "21000000" not in interaction.model_dump_json()  # our own number is kept nowhere


def test_an_mms_lists_its_media_as_metadata() -> None:
    form = replaced(
        SMS_FORM,
        MessageSid=MMS_SID,
        Body="",
        NumMedia="2",
        MediaUrl0="https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
        MediaContentType0="image/jpeg",
        MediaUrl1="https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME2",
        MediaContentType1="",
    )
    interaction = parse_twilio_sms(form, received_at=NOW, phone_region="NO")
    assert interaction.text is None
    assert [(a.content_type, a.size_bytes) for a in interaction.attachments] == [
        ("image/jpeg", 0),
        ("application/octet-stream", 0),
    ]
    assert "api.twilio.com" not in interaction.model_dump_json()


def test_a_national_number_parses_in_the_default_region() -> None:
    interaction = parse_twilio_sms(replaced(SMS_FORM, From="912 34 567"), received_at=NOW, phone_region="NO")
    assert interaction.identifiers[0].value == "+4791234567"


def test_an_alphanumeric_sender_is_kept_raw_and_flagged() -> None:
    interaction = parse_twilio_sms(replaced(SMS_FORM, From="Posten"), received_at=NOW, phone_region="NO")
    assert interaction.identifiers[0].unparsed
    assert interaction.identifiers[0].value == "Posten"


def test_one_conversation_per_customer_and_company_number_pair() -> None:
    def conversation(**changes: str | None) -> str | None:
        return parse_twilio_sms(
            replaced(SMS_FORM, **changes), received_at=NOW, phone_region="NO"
        ).conversation_id

    assert conversation() == conversation(From="+47 912 34 567", To="21 00 00 00")
    assert conversation() != conversation(To="+4721000001")
    assert conversation() != conversation(From="+4791234568")
    assert conversation(To=None) is not None


HOSTILE_FORMS: list[tuple[str, list[tuple[str, str]], str]] = [
    ("no From", replaced(SMS_FORM, From=None), "From"),
    ("blank From", replaced(SMS_FORM, From="   "), "From"),
    ("no MessageSid", replaced(SMS_FORM, MessageSid=None), "MessageSid"),
    ("empty MessageSid", replaced(SMS_FORM, MessageSid=""), "MessageSid"),
    ("call sid", replaced(SMS_FORM, MessageSid="CA" + "0" * 32), "MessageSid"),
    ("short sid", replaced(SMS_FORM, MessageSid="SM123"), "MessageSid"),
    ("sid injection", replaced(SMS_FORM, MessageSid="SM" + "0" * 31 + "'"), "MessageSid"),
    ("sid with newline", replaced(SMS_FORM, MessageSid=SID[:10] + "\n" + SID[10:]), "MessageSid"),
    ("sid non-hex", replaced(SMS_FORM, MessageSid="SM" + "g" * 32), "MessageSid"),
    ("NumMedia word", replaced(SMS_FORM, NumMedia="two"), "NumMedia"),
    ("NumMedia negative", replaced(SMS_FORM, NumMedia="-1"), "NumMedia"),
    ("NumMedia huge", replaced(SMS_FORM, NumMedia="99999999999999999999"), "NumMedia"),
    ("NumMedia over contract", replaced(SMS_FORM, NumMedia="101"), "NumMedia"),
    ("NumMedia arabic digits", replaced(SMS_FORM, NumMedia="\u0661"), "NumMedia"),
    ("NumMedia underscore", replaced(SMS_FORM, NumMedia="1_0"), "NumMedia"),
    ("NumMedia spaced", replaced(SMS_FORM, NumMedia=" 1"), "NumMedia"),
    ("NumMedia float", replaced(SMS_FORM, NumMedia="1.0"), "NumMedia"),
    ("Body too long", replaced(SMS_FORM, Body="x" * 100_001), "Body"),
    ("Body surrogate", replaced(SMS_FORM, Body="hei \udcff"), "Body"),
    ("From surrogate", replaced(SMS_FORM, From="+47\ud800"), "From"),
    ("To surrogate", replaced(SMS_FORM, To="\udfff"), "To"),
    (
        "media type too long",
        replaced(SMS_FORM, NumMedia="1", MediaContentType0="a/" + "b" * 300),
        "MediaContentType0",
    ),
    (
        "media type surrogate",
        replaced(SMS_FORM, NumMedia="1", MediaContentType0="\ud800"),
        "MediaContentType0",
    ),
    ("From twice", [*SMS_FORM, ("From", "+4799999999")], "From"),
    ("Body twice", [*SMS_FORM, ("Body", "other")], "Body"),
    ("MessageSid twice", [*SMS_FORM, ("MessageSid", MMS_SID)], "MessageSid"),
    ("media twice", [*replaced(SMS_FORM, NumMedia="1"), ("MediaUrl0", "a"), ("MediaUrl0", "b")], "MediaUrl0"),
    ("empty form", [], "From"),
]


@pytest.mark.parametrize(
    ("form", "field"), [case[1:] for case in HOSTILE_FORMS], ids=[case[0] for case in HOSTILE_FORMS]
)
def test_hostile_forms_are_refused_naming_the_field(form: list[tuple[str, str]], field: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        parse_twilio_sms(form, received_at=NOW, phone_region="NO")
    assert raised.value.field.startswith(field)
    # The message names the field and the rule, never what was sent.
    assert "pakken" not in str(raised.value)
    assert "xxxx" not in str(raised.value)


def test_a_huge_from_is_kept_raw_not_dropped() -> None:
    interaction = parse_twilio_sms(replaced(SMS_FORM, From="9" * 5000), received_at=NOW, phone_region="NO")
    assert interaction.identifiers[0].unparsed


form_fields = st.sampled_from(["From", "To", "Body", "MessageSid", "NumMedia", "MediaContentType0", "X"])


@settings(max_examples=300)
@given(
    pairs=st.lists(st.tuples(st.one_of(form_fields, st.text(max_size=20)), st.text(max_size=200))),
    region=st.sampled_from(["NO", "US", "XX", ""]),
)
def test_arbitrary_forms_give_an_interaction_or_invalid_input(
    pairs: list[tuple[str, str]], region: str
) -> None:
    with contextlib.suppress(InvalidInputError):
        parse_twilio_sms(pairs, received_at=NOW, phone_region=region)


@settings(max_examples=200)
@given(body=st.text(), sender=st.text(min_size=1, max_size=400), media=st.integers(0, 100))
def test_arbitrary_bodies_and_senders_with_a_valid_sid(body: str, sender: str, media: int) -> None:
    form = replaced(SMS_FORM, Body=body, From=sender, NumMedia=str(media))
    try:
        interaction = parse_twilio_sms(form, received_at=NOW, phone_region="NO")
    except InvalidInputError:
        return
    assert len(interaction.attachments) == media
