"""Ingest settings (``HELHET_`` environment variables)."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr, model_validator

from services.common.settings import CommonSettings
from services.common.survey_tokens import DEVELOPMENT_SURVEY_SECRET

# Where the development defaults of the channel secrets apply; anywhere else they must be set.
DEVELOPMENT_ENVIRONMENTS = frozenset({"", "development", "test"})
# Development defaults, documented in the README. Public knowledge: never valid outside development.
DEVELOPMENT_SECRETS = {
    "twilio_auth_token": "helhet-dev-twilio-auth-token",
    "meta_app_secret": "helhet-dev-meta-app-secret",
    "meta_verify_token": "helhet-dev-meta-verify-token",
    "survey_secret": DEVELOPMENT_SURVEY_SECRET,
}


class IngestSettings(CommonSettings):
    service_name: str = "ingest"
    api_port: int = 8001
    # National numbers without +country are read as this region's.
    default_phone_region: str = "NO"
    # 500 full interactions need more than the 1 MiB default.
    max_body_bytes: int = 16 * 1024 * 1024
    # A claim older than this without a receipt is taken over: longer than any publish can take.
    dedupe_stale_after_seconds: float = 30.0
    # Published keys each process remembers (≈ 200 bytes each), answering redeliveries without the database.
    dedupe_remembered_keys: int = 100_000

    # Twilio signs with the account's auth token; Meta signs with the app secret and checks the verify
    # token we gave it in the subscription handshake.
    twilio_auth_token: SecretStr = SecretStr("")
    meta_app_secret: SecretStr = SecretStr("")
    meta_verify_token: SecretStr = SecretStr("")
    # Notify signs the survey links with it (HELHET_SURVEY_SECRET, the same value in both services); the
    # answers that come back are verified with it.
    survey_secret: SecretStr = SecretStr("")
    # Our own Meta app id: echoes of messages our app sent are skipped (notify records them already).
    meta_app_id: str | None = None
    # The public base URL Twilio calls (e.g. https://ingest.example.com). Twilio signs the URL it called;
    # behind a proxy or load balancer the request's own URL (scheme, host, port) differs from it, so the
    # signature would never match. Unset: the request's own URL.
    public_base_url: str | None = None

    # Inbound SMTP, served by the API process. Port 0 picks a free port (tests).
    smtp_listen_host: str = "127.0.0.1"
    smtp_listen_port: int = 2525
    smtp_max_bytes: int = 10 * 1024 * 1024
    # Our own support address: a Reply-To pointing back at it is not the customer's. Its domain marks our
    # mailboxes: the address a mail was delivered to on it becomes the event's ``mailbox``.
    email_mailbox: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _secrets(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        environment = data.get("environment")
        development = environment is None or str(environment) in DEVELOPMENT_ENVIRONMENTS
        missing = []
        for name, default in DEVELOPMENT_SECRETS.items():
            value = data.get(name)
            given = value.get_secret_value() if isinstance(value, SecretStr) else value
            if given:
                continue
            if development:
                data = {**data, name: default}
            else:
                missing.append(f"HELHET_{name.upper()}")
        if missing:
            raise ValueError(
                f"HELHET_ENVIRONMENT={environment!r} needs {', '.join(missing)}: the development "
                "defaults are only used when HELHET_ENVIRONMENT is unset, 'development' or 'test'"
            )
        return data
