"""Languages from hints, and word-boundary phrase rules for Norwegian, Swedish, Danish and English.

Case categories, the experience ledger and consent keywords all read customer wording; one matcher keeps
them consistent: whole words only (inflections are spelled out in each phrase), case-insensitive, any
whitespace between the words of a phrase.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum

_WORD = re.compile(r"\w")


class Language(StrEnum):
    NORWEGIAN = "nb"
    SWEDISH = "sv"
    DANISH = "da"
    ENGLISH = "en"


_BY_PRIMARY_SUBTAG = {
    "nb": Language.NORWEGIAN,
    "nn": Language.NORWEGIAN,
    "no": Language.NORWEGIAN,
    "sv": Language.SWEDISH,
    "da": Language.DANISH,
    "en": Language.ENGLISH,
}


def language_of(hint: str | None) -> Language | None:
    """The language of a BCP 47 hint such as ``nb-NO`` or ``en``; None for others or no hint."""
    if not hint:
        return None
    return _BY_PRIMARY_SUBTAG.get(hint.split("-", 1)[0].lower())


class Wording:
    """Phrases per language. Each phrase is a regular-expression fragment (for inflections, e.g.
    ``pakke(?:n|ne|r)?``) matched as whole words; a space matches any run of whitespace."""

    def __init__(self, phrases: Mapping[Language, tuple[str, ...]]) -> None:
        self._patterns = {
            language: re.compile(
                r"(?<!\w)(?:" + "|".join(phrase.replace(" ", r"\s+") for phrase in listed) + r")(?!\w)",
                re.IGNORECASE,
            )
            for language, listed in phrases.items()
            if listed
        }

    def found_in(self, text: str, language: Language | None) -> bool:
        """Whether any phrase occurs. A known language is checked with English too (customers mix them);
        an unknown one is checked against every language."""
        return any(pattern.search(text) for pattern in self._candidates(language))

    def is_all_of(self, text: str, language: Language | None) -> bool:
        """Whether the text says nothing but these phrases (punctuation and emoji aside)."""
        return any(
            pattern.search(text) and not _WORD.search(pattern.sub(" ", text))
            for pattern in self._candidates(language)
        )

    def _candidates(self, language: Language | None) -> list[re.Pattern[str]]:
        languages = tuple(self._patterns) if language is None else (language, Language.ENGLISH)
        return [pattern for lang in languages if (pattern := self._patterns.get(lang)) is not None]
