"""Errors the ingest core raises; their text names fields and rules, never the values received."""

from __future__ import annotations


class InvalidInputError(ValueError):
    """Input that cannot become an interaction. Answered with 422 (HTTP) or 550 (SMTP)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class SignatureError(ValueError):
    """A webhook whose signature does not verify. Answered with 401."""
