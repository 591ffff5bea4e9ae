"""The survey's HTML pages: the form a customer answers, and the page they see after (thanks, already
answered, link closed, link broken). Bokmål first, English under it.

Self-contained: one inline stylesheet, allowed by its hash; no script, image, font or address elsewhere.
Every value is escaped (jinja2 with autoescape). The pages can hold the token and the customer's own
comment, so they are never cached and never send a referrer.
"""

from __future__ import annotations

import base64
import hashlib
from enum import StrEnum
from pathlib import Path

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from services.ingest.core.feedback import MAX_COMMENT_CHARS, Subject

TEMPLATES = Path(__file__).resolve().parent / "templates"

# (value, bokmål, English) of each answer, worst first.
SCALE = (
    (1, "Svært misfornøyd", "Very dissatisfied"),
    (2, "Misfornøyd", "Dissatisfied"),
    (3, "Nøytral", "Neutral"),
    (4, "Fornøyd", "Satisfied"),
    (5, "Svært fornøyd", "Very satisfied"),
)


class Message(StrEnum):
    THANKS = "thanks"
    ANSWERED = "answered"  # the survey took its one answer before
    BUSY = "busy"  # an answer to it is being published right now
    EXPIRED = "expired"
    INVALID = "invalid"  # forged, altered, cut short or missing


class FormError(StrEnum):
    RATING = "rating"
    COMMENT = "comment"
    UNAVAILABLE = "unavailable"  # the broker did not acknowledge: nothing was taken, try again


_TITLES = {
    Message.THANKS: "Takk | Thank you",
    Message.ANSWERED: "Allerede besvart | Already answered",
    Message.BUSY: "Svaret registreres | Being recorded",
    Message.EXPIRED: "Undersøkelsen er avsluttet | Survey closed",
    Message.INVALID: "Lenken virker ikke | Link not working",
}

_environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)
_STYLE = (TEMPLATES / "feedback.css").read_text(encoding="utf-8")
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        f"style-src 'sha256-{_STYLE_HASH}'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    )
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Content-Language": "nb, en",
}


def _page(html: str, status: int, headers: dict[str, str] | None = None) -> HTMLResponse:
    return HTMLResponse(html, status_code=status, headers={**PAGE_HEADERS, **(headers or {})})


def form_page(
    *,
    token: str,
    subject: Subject,
    action: str,
    status: int = 200,
    rating: int | None = None,
    comment: str | None = None,
    error: FormError | None = None,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """The survey form, its question about ``subject`` (how a case was handled, or a delivery); ``rating``
    and ``comment`` filled in again when it comes back with ``error``. ``action`` is relative to the page's
    own address, so the form keeps working behind a path prefix."""
    html = _environment.get_template("feedback_form.html.j2").render(
        style=Markup(_STYLE),  # noqa: S704 - our own stylesheet, allowed by its hash
        token=token,
        subject=subject.value,
        action=action,
        scale=SCALE,
        rating=rating,
        comment=comment,
        error=error.value if error else None,
        max_comment=MAX_COMMENT_CHARS,
    )
    return _page(html, status, headers)


def message_page(
    kind: Message,
    *,
    status: int,
    rating: int | None = None,
    comment: str | None = None,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    html = _environment.get_template("feedback_message.html.j2").render(
        style=Markup(_STYLE),  # noqa: S704 - our own stylesheet, allowed by its hash
        kind=kind.value,
        titles={k.value: title for k, title in _TITLES.items()},
        rating=rating,
        comment=comment,
    )
    return _page(html, status, headers)
