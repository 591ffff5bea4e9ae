"""Which language to write to a customer in, and which to fall back to when a text is missing in it.

Sources are asked in order of how much they say about the person: what they stated (or profile observed
from their own words), then what the channel told us (a browser's Accept-Language, a Meta locale), then
the country of their email domain, then the shop's default. A source that names a language we do not
write in says nothing, so the next one is asked. Nynorsk and plain "no" are answered in Bokmål.
"""

from __future__ import annotations

from enum import StrEnum


class Language(StrEnum):
    NB = "nb"
    SV = "sv"
    DA = "da"
    EN = "en"


_BY_PRIMARY_SUBTAG = {
    "nb": Language.NB,
    "nn": Language.NB,
    "no": Language.NB,
    "sv": Language.SV,
    "da": Language.DA,
    "en": Language.EN,
}

# Country domains whose people we can fairly guess read one of our languages. Generic domains (.com,
# .net, .org, .eu) and other countries say nothing.
_BY_COUNTRY_DOMAIN = {
    "no": Language.NB,
    "se": Language.SV,
    "dk": Language.DA,
    "uk": Language.EN,
    "ie": Language.EN,
}

# Nynorsk readers prefer Bokmål to English; everyone else falls back to English only.
_FALLBACKS = {
    "nn": (Language.NB, Language.EN),
    "nb": (Language.NB, Language.EN),
    "no": (Language.NB, Language.EN),
    "sv": (Language.SV, Language.EN),
    "da": (Language.DA, Language.EN),
    "en": (Language.EN,),
}


def language_of(tag: str | None) -> Language | None:
    """Our language for one BCP 47 tag (``nb-NO``, ``sv_FI`` as Meta writes it, ``EN``); None otherwise."""
    if not tag:
        return None
    return _BY_PRIMARY_SUBTAG.get(_primary_subtag(tag))


def language_of_hint(hint: str | None) -> Language | None:
    """The first of our languages in a channel's hint: one tag, or an Accept-Language list
    (``da-DK,da;q=0.9,en;q=0.8``) read in order of preference."""
    if not hint:
        return None
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate(hint.split(",")):
        tag, _, params = item.strip().partition(";")
        ranked.append((-_quality(params), position, tag.strip()))
    for quality, _, tag in sorted(ranked):
        if quality < 0 and (language := language_of(tag)) is not None:
            return language
    return None


def language_of_email(email: str | None) -> Language | None:
    """A guess from the country domain of an address (``kari@firma.no``); None for generic domains."""
    if not email or "@" not in email:
        return None
    domain = email.rpartition("@")[2].strip().rstrip(".").lower()
    if "." not in domain:
        return None
    return _BY_COUNTRY_DOMAIN.get(domain.rpartition(".")[2])


def choose_language(
    stated: str | None,
    channel_hint: str | None,
    email: str | None,
    default: Language = Language.NB,
) -> Language:
    """The language to write in: stated preference, then channel data, then email domain, then default."""
    return language_of(stated) or language_of_hint(channel_hint) or language_of_email(email) or default


def fallback_chain(tag: str | None) -> tuple[Language, ...]:
    """The languages to try in order for a text: the reader's own, then the nearest, ending in English.
    A tag we do not know (or none) goes straight to English, the one every reader is likelier to read."""
    if not tag:
        return (Language.EN,)
    return _FALLBACKS.get(_primary_subtag(tag), (Language.EN,))


def _primary_subtag(tag: str) -> str:
    return tag.strip().replace("_", "-").split("-", 1)[0].lower()


def _quality(params: str) -> float:
    """The q-value of one Accept-Language item; 1 when absent, 0 (never) when malformed."""
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                return min(max(float(value), 0.0), 1.0)
            except ValueError:
                return 0.0
    return 1.0
