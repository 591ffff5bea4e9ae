"""Errors the ingest core raises; their text names fields and rules, never the values received."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import ValidationError


class InvalidInputError(ValueError):
    """Input that cannot become an interaction. Answered with 422 (HTTP) or 550 (SMTP)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class SignatureError(ValueError):
    """A webhook whose signature does not verify. Answered with 401."""


def first_problem(
    error: ValidationError, *, prefix: str = "", rename: Callable[[str], str] = lambda path: path
) -> InvalidInputError:
    """The first problem of a validation error, named by its path in the input (``prefix`` first, then
    ``rename`` from our field names to the source's); pydantic's messages do not include the input."""
    first = error.errors(include_input=False, include_url=False)[0]
    path = ".".join(str(part) for part in (prefix, *first["loc"]) if part != "")
    return InvalidInputError(rename(path) if path else "body", first["msg"])
