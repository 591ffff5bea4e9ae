"""Notify's settings refuse what must not reach production."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from services.common.survey_tokens import DEVELOPMENT_SURVEY_SECRET
from services.notify.settings import NotifySettings

SECRET = "a-secret-long-enough-for-hs256-0123456789"


def test_notify_refuses_the_development_secret_outside_development() -> None:
    with pytest.raises(ValueError, match="HELHET_SURVEY_SECRET"):
        NotifySettings(environment="production")
    assert (
        NotifySettings(
            environment="production", survey_secret=SecretStr(SECRET)
        ).survey_secret.get_secret_value()
        == SECRET
    )
    assert NotifySettings().survey_secret.get_secret_value() == DEVELOPMENT_SURVEY_SECRET
