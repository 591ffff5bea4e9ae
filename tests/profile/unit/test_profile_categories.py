from __future__ import annotations

import pytest

from services.profile.core.categories import Category, categorise
from services.profile.core.wording import Language, language_of

NB, SV, DA, EN = Language.NORWEGIAN, Language.SWEDISH, Language.DANISH, Language.ENGLISH


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("Hvor er pakken min? Sporingsnummeret virker ikke", NB, Category.SHIPPING),
        ("Når kommer leveringen?", NB, Category.DELIVERY),
        ("Jeg vil sende en reklamasjon, jakken er ødelagt", NB, Category.COMPLAINT_RETURN),
        ("Hvordan returnerer jeg skoene?", NB, Category.COMPLAINT_RETURN),
        ("Kan jeg bytte til en annen størrelse?", NB, Category.EXCHANGE),
        ("Jeg har et spørsmål om bestillingen min", NB, Category.ORDER),
        ("Har dere denne jakken på lager?", NB, Category.PRODUCT_QUESTION),
        ("Var är paketet?", SV, Category.SHIPPING),
        ("Leveransen är försenad", SV, Category.DELIVERY),
        ("Jag vill göra en reklamation", SV, Category.COMPLAINT_RETURN),
        ("Hur returnerar jag? Jag vill returnera tröjan", SV, Category.COMPLAINT_RETURN),
        ("Kan jag byta storlek?", SV, Category.EXCHANGE),
        ("Jag har en fråga om min beställning", SV, Category.ORDER),
        ("Hvor er pakken?", DA, Category.SHIPPING),
        ("Hvornår er levering?", DA, Category.DELIVERY),
        ("Jeg vil lave en reklamation", DA, Category.COMPLAINT_RETURN),
        ("Jeg ønsker at returnere varen", DA, Category.COMPLAINT_RETURN),
        ("Kan jeg bytte varen?", DA, Category.EXCHANGE),
        ("Where is my parcel? Tracking says nothing", EN, Category.SHIPPING),
        ("It was delivered to the wrong address", EN, Category.DELIVERY),
        ("I want a refund, the item is damaged", EN, Category.COMPLAINT_RETURN),
        ("Can I exchange it for a larger one?", EN, Category.EXCHANGE),
        ("I have a question about my order", EN, Category.ORDER),
        ("Is this product available in blue?", EN, Category.PRODUCT_QUESTION),
        ("Hei, hvordan har dere det?", NB, Category.OTHER),
    ],
)
def test_wording_in_every_language_finds_its_category(
    text: str, language: Language, expected: Category
) -> None:
    assert categorise(None, text, language) is expected


def test_the_subject_counts_as_much_as_the_text() -> None:
    assert categorise("Reklamasjon", "Se vedlegg", NB) is Category.COMPLAINT_RETURN


def test_an_exchange_wins_over_the_return_it_implies() -> None:
    assert categorise(None, "Jeg vil returnere og bytte jakken", NB) is Category.EXCHANGE


def test_a_complaint_about_a_parcel_is_a_complaint() -> None:
    assert categorise(None, "Pakken kom ødelagt frem, jeg vil klage", NB) is Category.COMPLAINT_RETURN


def test_keywords_match_whole_words_only() -> None:
    # "leverpostei" is liver paste, "ordrett" is verbatim: neither is about delivery or orders.
    assert categorise(None, "Jeg liker leverpostei og sier det ordrett", NB) is Category.OTHER


def test_an_unknown_language_is_checked_against_all() -> None:
    assert categorise(None, "Var är paketet?", None) is Category.SHIPPING


def test_a_known_language_is_checked_with_english_too() -> None:
    assert categorise(None, "Hei! Har dere fått min refund?", NB) is Category.COMPLAINT_RETURN


def test_language_hints_map_to_the_four_languages() -> None:
    assert language_of("nb-NO") is NB
    assert language_of("nn") is NB
    assert language_of("no") is NB
    assert language_of("sv-FI") is SV
    assert language_of("da") is DA
    assert language_of("en-GB") is EN
    assert language_of("de") is None
    assert language_of(None) is None
