"""Case categories from the customer's own words, in Norwegian, Swedish, Danish and English.

Rules are whole-word phrases with their real inflections; the first category (in priority order) with a
match wins, because a message often touches several topics and the most specific need should route it:
an exchange implies a return, a complaint about a late parcel is a complaint first.
"""

from __future__ import annotations

from schemas.cases import CaseCategory
from services.profile.core.wording import Language, Wording

NB, SV, DA, EN = Language.NORWEGIAN, Language.SWEDISH, Language.DANISH, Language.ENGLISH


_EXCHANGE = Wording(
    {
        NB: ("bytte(?:r|t|s|n|lapp(?:en)?|rett(?:en)?)?", "bytt", "ombytte(?:t)?", "annen størrelse"),
        SV: ("byta", "byter", "bytt", "byte(?:t|n)?", "utbyte(?:t)?", "annan storlek"),
        DA: ("bytte(?:r|t)?", "ombytning(?:en)?", "byt", "anden størrelse"),
        EN: ("exchange(?:s|d)?", "exchanging", "swap(?:s|ped|ping)?", "different size", "wrong size"),
    }
)
_COMPLAINT_RETURN = Wording(
    {
        NB: (
            "reklamasjon(?:en|er|ssak)?",
            "reklamere(?:r|t)?",
            "klage(?:r|n|t)?",
            "retur(?:en|er|nere|nerer|nert|lapp(?:en)?|seddel)?",
            "angrerett(?:en)?",
            "ødelagt(?:e)?",
            "defekt(?:e)?",
            "skadet(?:e)?",
            "refusjon(?:en)?",
            "pengene tilbake",
        ),
        SV: (
            "reklamation(?:en|er)?",
            "reklamera(?:r|t|de)?",
            "klagomål(?:et)?",
            "klaga(?:r|t|de)?",
            "retur(?:en|er)?",
            "returnera(?:r|t|de)?",
            "ångerrätt(?:en)?",
            "trasig(?:a|t)?",
            "skadad(?:e)?",
            "återbetalning(?:en)?",
            "pengarna tillbaka",
        ),
        DA: (
            "reklamation(?:en|er)?",
            "reklamere(?:r|t)?",
            "klage(?:r|n|t)?",
            "retur(?:en|nere|nerer|neret)?",
            "fortrydelsesret(?:ten)?",
            "ødelagt(?:e)?",
            "defekt(?:e)?",
            "beskadiget",
            "refusion(?:en)?",
            "pengene tilbage",
        ),
        EN: (
            "complain(?:t|ts|ed|ing)?",
            "return(?:s|ed|ing)?",
            "refund(?:s|ed)?",
            "broken",
            "damaged",
            "defective",
            "faulty",
            "money back",
        ),
    }
)
_DELIVERY = Wording(
    {
        NB: ("lever(?:ing|ingen|inger|t|te|es|er)", "hjemlevering(?:en)?", "hentested(?:et)?", "utlevert"),
        SV: ("leverans(?:en|er)?", "leverera(?:d|de|t|s)?", "levererad(?:e)?", "utlämning(?:sställe)?"),
        DA: ("lever(?:ing|ingen|et|es|er)", "udbringning(?:en)?", "pakkeshop(?:pen)?", "udleveret"),
        EN: ("deliver(?:y|ed|ies|ing)?", "pick-up point", "pickup point"),
    }
)
_SHIPPING = Wording(
    {
        NB: (
            "pakke(?:n|ne|r)?",
            "forsendelse(?:n|r)?",
            "frakt(?:en)?",
            "sporing(?:en|snummer(?:et)?)?",
            "sporingslenke(?:n)?",
        ),
        SV: ("paket(?:et|en)?", "försändelse(?:n|r)?", "frakt(?:en)?", "spårning(?:en|snummer)?"),
        DA: ("pakke(?:n|r|rne)?", "forsendelse(?:n|r)?", "fragt(?:en)?", "sporing(?:en|snummer)?"),
        EN: (
            "parcel(?:s)?",
            "package(?:s)?",
            "shipping",
            "shipment(?:s)?",
            "shipped",
            "tracking(?: number)?",
            "dispatch(?:ed)?",
        ),
    }
)
_ORDER = Wording(
    {
        NB: ("bestilling(?:en|er|snummer)?", "ordre(?:n|r|nummer|nummeret)?", "bestil(?:t|te|le|ler)"),
        SV: ("beställning(?:en|ar|snummer)?", "order(?:n|nummer|numret)?", "beställ(?:a|de|t|er)"),
        DA: ("bestilling(?:en|er)?", "ordre(?:n|r|nummer|nummeret)?", "bestil(?:t|te|le|ler)"),
        EN: ("order(?:s|ed|ing)?", "purchase(?:d|s)?", "checkout", "order number"),
    }
)
_PRODUCT_QUESTION = Wording(
    {
        NB: (
            "produkt(?:et|er|ene)?",
            "størrelse(?:n|r)?",
            "på lager",
            "lagerstatus",
            "passer",
            "tilgjengelig",
        ),
        SV: (
            "produkt(?:en|er|erna)?",
            "storlek(?:en|ar)?",
            "i lager",
            "lagerstatus",
            "passar",
            "tillgänglig",
        ),
        DA: ("produkt(?:et|er|erne)?", "størrelse(?:n|r)?", "på lager", "passer", "tilgængelig"),
        EN: ("product(?:s)?", "size(?:s)?", "sizing", "in stock", "availab(?:le|ility)", "does it fit"),
    }
)

# Priority order: the most specific need first.
_RULES: tuple[tuple[CaseCategory, Wording], ...] = (
    (CaseCategory.EXCHANGE, _EXCHANGE),
    (CaseCategory.COMPLAINT_RETURN, _COMPLAINT_RETURN),
    (CaseCategory.DELIVERY, _DELIVERY),
    (CaseCategory.SHIPPING, _SHIPPING),
    (CaseCategory.ORDER, _ORDER),
    (CaseCategory.PRODUCT_QUESTION, _PRODUCT_QUESTION),
)


def categorise(subject: str | None, text: str | None, language: Language | None) -> CaseCategory:
    """The category of an inbound message; ``OTHER`` when no rule matches."""
    words = f"{subject or ''}\n{text or ''}"
    for category, wording in _RULES:
        if wording.found_in(words, language):
            return category
    return CaseCategory.OTHER
