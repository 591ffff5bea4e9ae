"""notify's SMTP settings: TLS and the relay's login, read from HELHET_* variables."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.notify.adapters.outbound.senders import SmtpSender
from services.notify.settings import NotifySettings

PASSWORD = "s3cret-relay-password"


def test_plain_smtp_without_a_login_is_the_default() -> None:
    settings = NotifySettings()

    assert settings.smtp_security == "none"
    assert settings.smtp_username is None
    assert settings.smtp_password is None
    assert settings.smtp_ssl_cafile is None


def test_the_environment_sets_tls_and_the_login(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELHET_SMTP_SECURITY", "starttls")
    monkeypatch.setenv("HELHET_SMTP_USERNAME", "helhet-relay")
    monkeypatch.setenv("HELHET_SMTP_PASSWORD", PASSWORD)
    monkeypatch.setenv("HELHET_SMTP_SSL_CAFILE", "/etc/helhet/relay-ca.pem")

    settings = NotifySettings()

    assert settings.smtp_security == "starttls"
    assert settings.smtp_username == "helhet-relay"
    assert settings.smtp_password is not None
    assert settings.smtp_password.get_secret_value() == PASSWORD
    assert settings.smtp_ssl_cafile == "/etc/helhet/relay-ca.pem"
    assert PASSWORD not in repr(settings)


def test_a_username_needs_a_password() -> None:
    with pytest.raises(ValidationError, match="HELHET_SMTP_PASSWORD go together"):
        NotifySettings(smtp_username="helhet-relay")


def test_a_password_needs_a_username_and_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELHET_SMTP_PASSWORD", PASSWORD)

    with pytest.raises(ValidationError, match="HELHET_SMTP_USERNAME and HELHET_SMTP_PASSWORD") as caught:
        NotifySettings()

    # pydantic shows the input in its errors unless told not to: here that would be the password.
    assert PASSWORD not in str(caught.value)


def test_an_empty_password_is_no_password() -> None:
    with pytest.raises(ValidationError, match="go together"):
        NotifySettings.model_validate({"smtp_username": "helhet-relay", "smtp_password": ""})


def test_an_unknown_security_is_refused() -> None:
    with pytest.raises(ValidationError, match="smtp_security"):
        NotifySettings.model_validate({"smtp_security": "ssl"})


def test_the_sender_refuses_half_a_login_too() -> None:
    with pytest.raises(ValueError, match="together"):
        SmtpSender("127.0.0.1", 587, "support@helhet.no", timeout=1.0, username="helhet-relay")


def test_the_sender_reads_its_ca_file_at_once() -> None:
    with pytest.raises(FileNotFoundError):
        SmtpSender("127.0.0.1", 465, "support@helhet.no", timeout=1, security="tls", ssl_cafile="/no/ca")
