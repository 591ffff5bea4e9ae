"""Notify settings (``HELHET_`` environment variables)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Literal, Self

from pydantic import SecretStr, model_validator

from services.common.settings import CommonSettings
from services.common.survey_tokens import DEVELOPMENT_SURVEY_SECRET
from services.notify.core.followup import FollowUpRules
from services.notify.service import NotifyRules


class NotifySettings(CommonSettings):
    service_name: str = "notify"
    api_port: int = 8004
    # The consumer group of cases.v1, assignments.v1 and queue-stats.v1: every notify worker shares it.
    worker_app_id: str = "helhet-notify"
    worker_batch_size: int = 100
    worker_batch_within_seconds: float = 0.01
    worker_retry_initial_seconds: float = 0.5
    worker_retry_max_seconds: float = 30.0
    # Promises at risk, callbacks to move, surveys due, sends to finish, events to publish.
    tick_seconds: float = 5.0

    # Outgoing mail: the local sink under `make run` (every message a file in var/mail/).
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_timeout_seconds: float = 10.0
    # Production relays want TLS: "starttls" upgrades the connection before anything else is said (the
    # submission port, 587) and fails rather than go on in plain text when the relay does not offer it;
    # "tls" speaks TLS from the first byte (465). "none" is plain text, for the local sink.
    smtp_security: Literal["none", "starttls", "tls"] = "none"
    # The relay's account, used (AUTH PLAIN or LOGIN) once TLS is up: both or neither.
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    # A relay whose certificate a private CA signed: that CA's PEM file, trusted instead of the system's
    # CAs. The host name is checked either way.
    smtp_ssl_cafile: str | None = None
    mail_from: str = "kundeservice@helhet.example"
    # SMS through a Twilio-compatible Messages API.
    sms_base_url: str = "https://api.twilio.com"
    twilio_account_sid: str = "AC00000000000000000000000000000000"
    twilio_auth_token: SecretStr = SecretStr("")
    sms_from: str = "+4759440000"
    # Messenger and Instagram through Meta's Send API.
    meta_base_url: str = "https://graph.facebook.com"
    meta_page_access_token: SecretStr = SecretStr("")
    # Chat through the chat adapter's callback.
    chat_callback_url: str = "http://127.0.0.1:1080"
    chat_callback_token: SecretStr | None = None
    http_timeout_seconds: float = 10.0
    # Transient refusals (SMTP 4xx, HTTP 429/5xx, a connection that failed) are retried this often,
    # waiting a random share of an exponentially growing time (full jitter).
    send_attempts: int = 4
    send_retry_initial_seconds: float = 0.5
    send_retry_max_seconds: float = 10.0

    # Also tell the customer when an agent takes their case.
    tell_assigned: bool = False
    survey_after_minutes: float = 120.0
    survey_expires_after_hours: float = 72.0
    # The survey page its link opens (ingest's own, or the company's posting to ingest's /v1/feedback),
    # and the secret its token is signed with (ingest verifies it with the same one).
    survey_url: str = "http://127.0.0.1:8001/v1/feedback/form"
    survey_secret: SecretStr = SecretStr(DEVELOPMENT_SURVEY_SECRET)

    @model_validator(mode="after")
    def _real_secret_outside_development(self) -> Self:
        development = self.environment in {None, "", "development", "test"}
        if not development and self.survey_secret.get_secret_value() == DEVELOPMENT_SURVEY_SECRET:
            raise ValueError(
                f"HELHET_ENVIRONMENT={self.environment!r} needs HELHET_SURVEY_SECRET: the development "
                "default is only used when HELHET_ENVIRONMENT is unset, 'development' or 'test'"
            )
        return self

    @model_validator(mode="after")
    def _smtp_username_with_password(self) -> Self:
        has_username = bool(self.smtp_username)
        has_password = self.smtp_password is not None and bool(self.smtp_password.get_secret_value())
        if has_username != has_password:
            raise ValueError(
                "HELHET_SMTP_USERNAME and HELHET_SMTP_PASSWORD go together: set both to log in to the "
                "relay, or neither"
            )
        return self

    def rules(self) -> NotifyRules:
        follow_up = replace(
            FollowUpRules(),
            survey_after=timedelta(minutes=self.survey_after_minutes),
            survey_expires_after=timedelta(hours=self.survey_expires_after_hours),
        )
        return NotifyRules(follow_up=follow_up, tell_assigned=self.tell_assigned)
