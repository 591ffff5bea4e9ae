"""The profile card's words in bokmål, Swedish, Danish and English: one row per phrase, one column per
language (in ``LANGUAGES`` order), so a phrase cannot be missing in one of them."""

from __future__ import annotations

from collections.abc import Mapping

from services.profile.core.card import LANGUAGES

# Each language's name in itself, for the language switch.
LANGUAGE_NAMES = {"nb": "Norsk bokmål", "sv": "Svenska", "da": "Dansk", "en": "English"}

_WORDS: dict[str, tuple[str, str, str, str]] = {
    "card": ("Kundekort", "Kundkort", "Kundekort", "Customer card"),
    "no_name": ("Uten navn", "Namn saknas", "Uden navn", "No name"),
    "customer_id": ("Kunde-ID", "Kund-ID", "Kunde-ID", "Customer ID"),
    "tier": ("Nivå", "Nivå", "Niveau", "Tier"),
    "value": ("Verdi hittil", "Värde hittills", "Værdi indtil nu", "Value to date"),
    "lifetime_value": (
        "Forventet livstidsverdi",
        "Förväntat livstidsvärde",
        "Forventet livstidsværdi",
        "Predicted lifetime value",
    ),
    "lifecycle": ("Livsfase", "Livscykelfas", "Livsfase", "Lifecycle stage"),
    "customer_language": ("Kundens språk", "Kundens språk", "Kundens sprog", "Customer's language"),
    "needs_recovery": (
        "Trenger ekstra oppfølging",
        "Behöver extra uppföljning",
        "Har brug for ekstra opfølgning",
        "Needs recovery",
    ),
    "reason": ("Årsak", "Orsak", "Årsag", "Reason"),
    "unknown": ("Ukjent", "Okänt", "Ukendt", "Unknown"),
    "consent": ("Samtykke", "Samtycke", "Samtykke", "Consent"),
    "granted": ("Gitt", "Givet", "Givet", "Granted"),
    "refused": ("Avslått", "Nekat", "Afvist", "Refused"),
    "not_asked": ("Ikke spurt", "Inte tillfrågad", "Ikke spurgt", "Not asked"),
    "open_cases": ("Åpne saker", "Öppna ärenden", "Åbne sager", "Open cases"),
    "no_open_cases": ("Ingen åpne saker", "Inga öppna ärenden", "Ingen åbne sager", "No open cases"),
    "case": ("Sak", "Ärende", "Sag", "Case"),
    "opened": ("Åpnet", "Öppnat", "Åbnet", "Opened"),
    "reopened": ("Gjenåpnet", "Återöppnat", "Genåbnet", "Reopened"),
    "new_case": ("Ny", "Nytt", "Ny", "New"),
    "promised_by": ("Lovet svar innen", "Utlovat svar senast", "Lovet svar senest", "Answer promised by"),
    "overdue": ("Forfalt", "Försenat", "Overskredet", "Overdue"),
    "no_promise": ("Ingen tid lovet", "Ingen tid utlovad", "Ingen tid lovet", "No time promised"),
    "last_contacts": (
        "Siste kontakt per kanal",
        "Senaste kontakt per kanal",
        "Seneste kontakt pr. kanal",
        "Last contact per channel",
    ),
    "no_contacts": ("Ingen kontakt ennå", "Ingen kontakt ännu", "Ingen kontakt endnu", "No contact yet"),
    "inbound": ("fra kunden", "från kunden", "fra kunden", "from the customer"),
    "outbound": ("til kunden", "till kunden", "til kunden", "to the customer"),
    "last_told": (
        "Sist fortalt kunden",
        "Senast sagt till kunden",
        "Senest fortalt kunden",
        "What the customer was last told",
    ),
    "nothing_told": (
        "Ingen meldinger sendt",
        "Inga meddelanden skickade",
        "Ingen beskeder sendt",
        "No messages sent",
    ),
    "said": ("Svartid oppgitt", "Angiven svarstid", "Oplyst svartid", "Answer time given"),
    "next_promise": ("Neste løfte", "Nästa löfte", "Næste løfte", "Next promise due"),
    "no_next_promise": (
        "Ingen løfter venter",
        "Inga väntande löften",
        "Ingen ventende løfter",
        "No promises pending",
    ),
    "full_timeline": ("Hele tidslinjen", "Hela tidslinjen", "Hele tidslinjen", "Full timeline"),
    "timeline": ("Tidslinje", "Tidslinje", "Tidslinje", "Timeline"),
    "back_to_card": (
        "Tilbake til kundekortet",
        "Tillbaka till kundkortet",
        "Tilbage til kundekortet",
        "Back to the card",
    ),
    "older": ("Eldre hendelser", "Äldre händelser", "Ældre hændelser", "Older entries"),
    "no_entries": ("Ingen hendelser", "Inga händelser", "Ingen hændelser", "No entries"),
    "language": ("Språk", "Språk", "Sprog", "Language"),
    "of": ("av", "av", "ud af", "of"),
    "events": ("hendelser", "händelser", "hændelser", "events"),
    "when": ("Tid", "Tid", "Tid", "When"),
    "what": ("Hva", "Vad", "Hvad", "What"),
    "channel": ("Kanal", "Kanal", "Kanal", "Channel"),
    "status": ("Status", "Status", "Status", "Status"),
    # Refusals and other pages without a card.
    "unsigned_title": (
        "Lenken er ikke gyldig",
        "Länken är inte giltig",
        "Linket er ikke gyldigt",
        "This link is not valid",
    ),
    "unsigned_text": (
        "Kortet må åpnes fra CRM-systemet. Last det inn på nytt der.",
        "Kortet måste öppnas från CRM-systemet. Ladda det på nytt där.",
        "Kortet skal åbnes fra CRM-systemet. Indlæs det igen der.",
        "The card must be opened from your CRM. Please reload it there.",
    ),
    "expired_title": ("Lenken er utløpt", "Länken har gått ut", "Linket er udløbet", "This link has expired"),
    "expired_text": (
        "Lenker til kortet gjelder bare en kort stund. Last kortet inn på nytt fra CRM-systemet.",
        "Länkar till kortet gäller bara en kort stund. Ladda kortet på nytt från CRM-systemet.",
        "Links til kortet gælder kun kort tid. Indlæs kortet igen fra CRM-systemet.",
        "Links to the card are only valid for a short while. Please reload the card from your CRM.",
    ),
    "forbidden_title": ("Ingen tilgang", "Ingen åtkomst", "Ingen adgang", "Access denied"),
    "forbidden_text": (
        "Lenken er endret, eller den hører ikke til denne integrasjonen.",
        "Länken har ändrats, eller så hör den inte till den här integrationen.",
        "Linket er ændret, eller det hører ikke til denne integration.",
        "The link was altered, or it does not belong to this integration.",
    ),
    "not_found_title": ("Fant ingen kunde", "Ingen kund hittades", "Ingen kunde fundet", "No customer found"),
    "not_found_text": (
        "Ingen kunde har denne ID-en eller identifikatoren.",
        "Ingen kund har detta ID eller denna identifierare.",
        "Ingen kunde har dette id eller denne identifikator.",
        "No customer has this id or identifier.",
    ),
    "bad_request_title": (
        "Ugyldig forespørsel",
        "Ogiltig begäran",
        "Ugyldig forespørgsel",
        "Invalid request",
    ),
    "bad_request_text": (
        "Identifikatoren eller siden kunne ikke leses.",
        "Identifieraren eller sidan kunde inte läsas.",
        "Identifikatoren eller siden kunne ikke læses.",
        "The identifier or page could not be read.",
    ),
}

_LABELS: dict[str, dict[str, tuple[str, str, str, str]]] = {
    "tier": {
        "standard": ("Standard", "Standard", "Standard", "Standard"),
        "silver": ("Sølv", "Silver", "Sølv", "Silver"),
        "gold": ("Gull", "Guld", "Guld", "Gold"),
        "platinum": ("Platina", "Platina", "Platin", "Platinum"),
    },
    "lifecycle": {
        "prospect": ("Potensiell kunde", "Potentiell kund", "Potentiel kunde", "Prospect"),
        "new": ("Ny", "Ny", "Ny", "New"),
        "active": ("Aktiv", "Aktiv", "Aktiv", "Active"),
        "at_risk": ("I faresonen", "I riskzonen", "I risikozonen", "At risk"),
        "churned": ("Tapt", "Förlorad", "Tabt", "Churned"),
        "won_back": ("Vunnet tilbake", "Återvunnen", "Vundet tilbage", "Won back"),
    },
    "reason": {
        "complaint": ("Klage", "Klagomål", "Klage", "Complaint"),
        "unanswered_call": ("Ubesvart anrop", "Obesvarat samtal", "Ubesvaret opkald", "Unanswered call"),
        "long_wait": ("Lang ventetid", "Lång väntetid", "Lang ventetid", "Long wait"),
        "broken_promise": ("Brutt løfte", "Brutet löfte", "Brudt løfte", "Broken promise"),
        "praise": ("Ros", "Beröm", "Ros", "Praise"),
        "kept_promise": ("Holdt løfte", "Hållet löfte", "Holdt løfte", "Kept promise"),
        "order_delivered": ("Ordre levert", "Order levererad", "Ordre leveret", "Order delivered"),
        "negative_feedback": (
            "Negativ tilbakemelding",
            "Negativ återkoppling",
            "Negativ feedback",
            "Negative feedback",
        ),
        "positive_feedback": (
            "Positiv tilbakemelding",
            "Positiv återkoppling",
            "Positiv feedback",
            "Positive feedback",
        ),
    },
    "purpose": {
        "service_messages": ("Servicemeldinger", "Servicemeddelanden", "Servicebeskeder", "Service messages"),
        "marketing": ("Markedsføring", "Marknadsföring", "Markedsføring", "Marketing"),
        "profiling": ("Profilering", "Profilering", "Profilering", "Profiling"),
    },
    "channel": {
        "email": ("E-post", "E-post", "E-mail", "Email"),
        "chat": ("Chat", "Chatt", "Chat", "Chat"),
        "sms": ("SMS", "SMS", "SMS", "SMS"),
        "messenger": ("Messenger", "Messenger", "Messenger", "Messenger"),
        "instagram": ("Instagram", "Instagram", "Instagram", "Instagram"),
        "phone": ("Telefon", "Telefon", "Telefon", "Phone"),
        "web_form": ("Nettskjema", "Webbformulär", "Webformular", "Web form"),
        "portal": ("Kundeportal", "Kundportal", "Kundeportal", "Portal"),
        "store": ("Butikk", "Butik", "Butik", "Store"),
    },
    "category": {
        "order": ("Ordre", "Order", "Ordre", "Order"),
        "shipping": ("Frakt", "Frakt", "Fragt", "Shipping"),
        "delivery": ("Levering", "Leverans", "Levering", "Delivery"),
        "complaint_return": (
            "Reklamasjon og retur",
            "Reklamation och retur",
            "Reklamation og retur",
            "Complaint or return",
        ),
        "exchange": ("Bytte", "Byte", "Ombytning", "Exchange"),
        "product_question": (
            "Spørsmål om produkt",
            "Produktfråga",
            "Spørgsmål om produkt",
            "Product question",
        ),
        "other": ("Annet", "Övrigt", "Andet", "Other"),
    },
    "handling": {
        "waiting": ("I kø", "I kö", "I kø", "Waiting"),
        "offered": ("Tilbudt", "Erbjudet", "Tilbudt", "Offered"),
        "assigned": ("Tildelt", "Tilldelat", "Tildelt", "Assigned"),
        "callback": ("Tilbakeringing", "Återuppringning", "Tilbageringning", "Callback"),
        "completed": ("Ferdig", "Klart", "Færdig", "Done"),
    },
    "message": {
        "acknowledgement": ("Bekreftelse", "Bekräftelse", "Bekræftelse", "Acknowledgement"),
        "status_update": ("Statusoppdatering", "Statusuppdatering", "Statusopdatering", "Status update"),
        "callback_rescheduled": (
            "Tilbakeringing flyttet",
            "Återuppringning flyttad",
            "Tilbageringning flyttet",
            "Callback moved",
        ),
        "assigned": ("Saken er tatt", "Ärendet har tagits", "Sagen er taget", "Case taken"),
        "case_evaluation": ("Hvordan gikk det?", "Hur gick det?", "Hvordan gik det?", "How did we do?"),
        "satisfaction_survey": (
            "Fornøyd med leveringen?",
            "Nöjd med leveransen?",
            "Tilfreds med leveringen?",
            "Happy with the delivery?",
        ),
        "feedback_acknowledged": (
            "Takk for tilbakemeldingen",
            "Tack för återkopplingen",
            "Tak for feedbacken",
            "Thanks for the feedback",
        ),
    },
    "kind": {
        "interaction": ("Henvendelse", "Kontakt", "Henvendelse", "Interaction"),
        "order": ("Ordre", "Order", "Ordre", "Order"),
        "web_activity": ("Nettaktivitet", "Webbaktivitet", "Webaktivitet", "Web activity"),
        "web_session": ("Nettbesøk", "Webbesök", "Webbesøg", "Web visit"),
        "change": ("Endring", "Ändring", "Ændring", "Change"),
        "assignment": ("Saksfordeling", "Fördelning", "Fordeling", "Assignment"),
        "notification": (
            "Melding til kunden",
            "Meddelande till kunden",
            "Besked til kunden",
            "Message to the customer",
        ),
        "feedback": ("Tilbakemelding", "Återkoppling", "Feedback", "Feedback"),
    },
    "change": {
        "offered": ("tilbudt", "erbjudet", "tilbudt", "offered"),
        "accepted": ("akseptert", "accepterat", "accepteret", "accepted"),
        "declined": ("avslått", "avböjt", "afvist", "declined"),
        "expired": ("utløpt", "utgånget", "udløbet", "expired"),
        "withdrawn": ("trukket tilbake", "återkallat", "trukket tilbage", "withdrawn"),
        "completed": ("fullført", "slutfört", "fuldført", "completed"),
        "waiting": ("venter", "väntar", "venter", "waiting"),
        "overflowed": (
            "flyttet til annen kø",
            "flyttat till annan kö",
            "flyttet til anden kø",
            "moved to another queue",
        ),
        "callback_offered": (
            "tilbakeringing tilbudt",
            "återuppringning erbjuden",
            "tilbageringning tilbudt",
            "callback offered",
        ),
    },
    "order_status": {
        "placed": ("bestilt", "beställd", "bestilt", "placed"),
        "delivered": ("levert", "levererad", "leveret", "delivered"),
        "returned": ("returnert", "returnerad", "returneret", "returned"),
        "refunded": ("refundert", "återbetald", "refunderet", "refunded"),
    },
}


def _column(language: str) -> int:
    return LANGUAGES.index(language)


WORDS: Mapping[str, Mapping[str, str]] = {
    language: {key: row[_column(language)] for key, row in _WORDS.items()} for language in LANGUAGES
}
LABELS: Mapping[str, Mapping[str, Mapping[str, str]]] = {
    language: {
        group: {value: row[_column(language)] for value, row in rows.items()}
        for group, rows in _LABELS.items()
    }
    for language in LANGUAGES
}
