"""Which language notify writes in: the order of the sources, BCP 47 and Accept-Language normalisation,
email country domains, and the chains a missing text falls back along."""

from __future__ import annotations

import pytest

from services.notify.core.language import (
    Language,
    choose_language,
    fallback_chain,
    language_of,
    language_of_email,
    language_of_hint,
)

NB, SV, DA, EN = Language.NB, Language.SV, Language.DA, Language.EN


# --- one tag --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "language"),
    [
        ("nb", NB),
        ("no", NB),
        ("nn", NB),
        ("nb-NO", NB),
        ("nn-NO", NB),
        ("NB-no", NB),
        ("nb_NO", NB),  # Meta writes locales with an underscore
        ("sv", SV),
        ("sv-FI", SV),
        ("sv-SE", SV),
        ("da", DA),
        ("da-DK", DA),
        ("en", EN),
        ("en-GB", EN),
        ("en-US", EN),
        (" en ", EN),
    ],
)
def test_a_tag_is_read_by_its_primary_subtag(tag: str, language: Language) -> None:
    assert language_of(tag) is language


@pytest.mark.parametrize("tag", [None, "", "de", "de-DE", "fi-FI", "se", "nob", "x-klingon", "-"])
def test_a_tag_in_a_language_we_do_not_write_says_nothing(tag: str | None) -> None:
    assert language_of(tag) is None


# --- channel hints --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hint", "language"),
    [
        ("sv_SE", SV),
        ("da-DK,da;q=0.9,en;q=0.8", DA),
        ("de-DE,de;q=0.9,sv;q=0.5,en;q=0.3", SV),  # the first one we write in, by preference
        ("en;q=0.5, nb;q=0.9", NB),  # preference, not position
        ("en, nb", EN),  # equal preference: position
        ("nb;q=0, en;q=0.1", EN),  # q=0 means "not this one"
        ("nb;q=bad, da", DA),
    ],
)
def test_a_channel_hint_may_be_an_accept_language_list(hint: str, language: Language) -> None:
    assert language_of_hint(hint) is language


@pytest.mark.parametrize("hint", [None, "", "de-DE,fr;q=0.8", "nb;q=0", "*"])
def test_a_hint_without_our_languages_says_nothing(hint: str | None) -> None:
    assert language_of_hint(hint) is None


# --- email domains --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "language"),
    [
        ("kari@firma.no", NB),
        ("Kari@Firma.NO", NB),
        ("kari@post.firma.no.", NB),
        ("sven@foretag.se", SV),
        ("mette@firma.dk", DA),
        ("john@company.co.uk", EN),
        ("sean@company.ie", EN),
    ],
)
def test_a_country_domain_suggests_a_language(email: str, language: Language) -> None:
    assert language_of_email(email) is language


@pytest.mark.parametrize(
    "email",
    [
        None,
        "",
        "kari@gmail.com",
        "kari@firma.net",
        "kari@firma.eu",
        "kari@firma.de",
        "kari@localhost",
        "kari",
    ],
)
def test_a_generic_or_foreign_domain_says_nothing(email: str | None) -> None:
    assert language_of_email(email) is None


# --- precedence -----------------------------------------------------------------------------------------


def test_a_stated_language_comes_before_the_channel_and_the_email() -> None:
    assert choose_language("sv-SE", "da-DK", "kari@firma.no") is SV


def test_the_channel_comes_before_the_email() -> None:
    assert choose_language(None, "da-DK", "kari@firma.no") is DA


def test_the_email_domain_comes_before_the_default() -> None:
    assert choose_language(None, None, "sven@foretag.se") is SV


def test_with_nothing_to_go_by_the_default_is_bokmaal() -> None:
    assert choose_language(None, None, None) is NB
    assert choose_language(None, None, "kari@gmail.com") is NB


def test_the_default_can_be_chosen() -> None:
    assert choose_language(None, None, "kari@gmail.com", default=EN) is EN


@pytest.mark.parametrize(
    ("stated", "hint", "email", "language"),
    [
        ("de-DE", "da-DK", "kari@firma.no", DA),  # a language we do not write in falls to the next source
        ("", "de", "kari@firma.no", NB),
        ("fi", "fr-FR,de;q=0.5", "john@company.co.uk", EN),
        ("nn", "en-GB", None, NB),
        ("no", None, "sven@foretag.se", NB),
    ],
)
def test_a_source_that_says_nothing_hands_over_to_the_next(
    stated: str, hint: str, email: str | None, language: Language
) -> None:
    assert choose_language(stated, hint, email) is language


# --- fallback chains ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "chain"),
    [
        ("nn", (NB, EN)),
        ("nn-NO", (NB, EN)),
        ("no", (NB, EN)),
        ("nb", (NB, EN)),
        ("nb-NO", (NB, EN)),
        ("sv", (SV, EN)),
        ("sv-FI", (SV, EN)),
        ("da", (DA, EN)),
        ("da-DK", (DA, EN)),
        ("en", (EN,)),
        ("en-GB", (EN,)),
        (SV, (SV, EN)),  # a chosen Language is a tag too
        ("de", (EN,)),
        ("", (EN,)),
        (None, (EN,)),
    ],
)
def test_a_missing_text_falls_back_towards_english(tag: str | None, chain: tuple[Language, ...]) -> None:
    assert fallback_chain(tag) == chain


@pytest.mark.parametrize("language", list(Language))
def test_every_chain_starts_with_its_language_and_ends_in_english(language: Language) -> None:
    chain = fallback_chain(choose_language(language, None, None))
    assert chain[0] is language
    assert chain[-1] is EN
    assert len(set(chain)) == len(chain)
