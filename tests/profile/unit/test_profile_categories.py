from __future__ import annotations

import pytest

from schemas.cases import CaseCategory
from services.profile.core.categories import categorise
from services.profile.core.wording import Language, language_of

NB, SV, DA, EN = Language.NORWEGIAN, Language.SWEDISH, Language.DANISH, Language.ENGLISH


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("Hvor er pakken min? Sporingsnummeret virker ikke", NB, CaseCategory.SHIPPING),
        ("Når kommer leveringen?", NB, CaseCategory.DELIVERY),
        ("Jeg vil sende en reklamasjon, jakken er ødelagt", NB, CaseCategory.COMPLAINT_RETURN),
        ("Hvordan returnerer jeg skoene?", NB, CaseCategory.COMPLAINT_RETURN),
        ("Kan jeg bytte til en annen størrelse?", NB, CaseCategory.EXCHANGE),
        ("Jeg har et spørsmål om bestillingen min", NB, CaseCategory.ORDER),
        ("Har dere denne jakken på lager?", NB, CaseCategory.PRODUCT_QUESTION),
        ("Var är paketet?", SV, CaseCategory.SHIPPING),
        ("Leveransen är försenad", SV, CaseCategory.DELIVERY),
        ("Jag vill göra en reklamation", SV, CaseCategory.COMPLAINT_RETURN),
        ("Hur returnerar jag? Jag vill returnera tröjan", SV, CaseCategory.COMPLAINT_RETURN),
        ("Kan jag byta storlek?", SV, CaseCategory.EXCHANGE),
        ("Jag har en fråga om min beställning", SV, CaseCategory.ORDER),
        ("Hvor er pakken?", DA, CaseCategory.SHIPPING),
        ("Hvornår er levering?", DA, CaseCategory.DELIVERY),
        ("Jeg vil lave en reklamation", DA, CaseCategory.COMPLAINT_RETURN),
        ("Jeg ønsker at returnere varen", DA, CaseCategory.COMPLAINT_RETURN),
        ("Kan jeg bytte varen?", DA, CaseCategory.EXCHANGE),
        ("Where is my parcel? Tracking says nothing", EN, CaseCategory.SHIPPING),
        ("It was delivered to the wrong address", EN, CaseCategory.DELIVERY),
        ("I want a refund, the item is damaged", EN, CaseCategory.COMPLAINT_RETURN),
        ("Can I exchange it for a larger one?", EN, CaseCategory.EXCHANGE),
        ("I have a question about my order", EN, CaseCategory.ORDER),
        ("Is this product available in blue?", EN, CaseCategory.PRODUCT_QUESTION),
        ("Hei, hvordan har dere det?", NB, CaseCategory.OTHER),
    ],
)
def test_wording_in_every_language_finds_its_category(
    text: str, language: Language, expected: CaseCategory
) -> None:
    assert categorise(None, text, language) is expected


def test_the_subject_counts_as_much_as_the_text() -> None:
    assert categorise("Reklamasjon", "Se vedlegg", NB) is CaseCategory.COMPLAINT_RETURN


def test_an_exchange_wins_over_the_return_it_implies() -> None:
    assert categorise(None, "Jeg vil returnere og bytte jakken", NB) is CaseCategory.EXCHANGE


def test_a_complaint_about_a_parcel_is_a_complaint() -> None:
    assert categorise(None, "Pakken kom ødelagt frem, jeg vil klage", NB) is CaseCategory.COMPLAINT_RETURN


def test_keywords_match_whole_words_only() -> None:
    # "leverpostei" is liver paste, "ordrett" is verbatim: neither is about delivery or orders.
    assert categorise(None, "Jeg liker leverpostei og sier det ordrett", NB) is CaseCategory.OTHER


def test_an_unknown_language_is_checked_against_all() -> None:
    assert categorise(None, "Var är paketet?", None) is CaseCategory.SHIPPING


def test_a_known_language_is_checked_with_english_too() -> None:
    assert categorise(None, "Hei! Har dere fått min refund?", NB) is CaseCategory.COMPLAINT_RETURN


def test_language_hints_map_to_the_four_languages() -> None:
    assert language_of("nb-NO") is NB
    assert language_of("nn") is NB
    assert language_of("no") is NB
    assert language_of("sv-FI") is SV
    assert language_of("da") is DA
    assert language_of("en-GB") is EN
    assert language_of("de") is None
    assert language_of(None) is None
