"""Settings every service shares, read from the environment with the ``HELHET_`` prefix."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class CommonSettings(BaseSettings):
    """Connection and runtime settings; each service subclasses this and adds its own fields."""

    # A refused start must not print the secrets it was given (SASL password, MongoDB URI, provider
    # tokens of the services' own settings).
    model_config = SettingsConfigDict(
        env_prefix="HELHET_", extra="ignore", frozen=True, hide_input_in_errors=True
    )

    service_name: str = "helhet"
    # Unset, "development" or "test": services may fall back to their development secrets; anything else
    # (e.g. "production") refuses to start without real ones.
    environment: str | None = None
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: str | None = None
    mongodb_uri: SecretStr = SecretStr("mongodb://127.0.0.1:27017/?directConnection=true")
    mongodb_database: str = "helhet"
    log_level: str = "INFO"
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None, description="OTLP/HTTP collector endpoint; spans are only exported when set."
    )
    # Authentication for the REST APIs: tokens are verified against this issuer's JWKS.
    oidc_issuer: str = "http://127.0.0.1:8000"
    oidc_audience: str = "helhet"
    oidc_jwks_url: str = "http://127.0.0.1:8000/.well-known/jwks.json"
    oidc_algorithms: tuple[str, ...] = ("RS256",)
    max_body_bytes: int = 1_048_576
    # Only documents the token endpoint in OpenAPI (Swagger's "Authorize"); None means <issuer>/oauth/token.
    oidc_token_url: str | None = None
    # Per readiness check; keep below the probe's timeoutSeconds.
    readiness_timeout_seconds: float = 2.0
    # How soon the partitions of a worker that died without saying goodbye move to another one.
    kafka_session_timeout_seconds: float = 30.0
    # Publishing gives up (and the API answers 503) when the broker has not acknowledged by then; the
    # producer drops the expired batch, so a refused message never appears later.
    kafka_publish_timeout_ms: int = 5_000
    # Roles without an API (workers, the webhook dispatcher) serve /healthz, /readyz and /metrics here
    # when set, as they do in a pod; None (local runs) serves nothing.
    health_port: int | None = Field(default=None, ge=1, le=65535)
    # 127.0.0.1 locally; 0.0.0.0 inside a container.
    api_host: str = "127.0.0.1"
    # API processes sharing the service's ports (uvicorn's workers), for a host without an orchestrator:
    # one per core. Kubernetes runs one per pod and scales by replicas.
    api_processes: int = Field(default=1, ge=1, le=64)
    # Topic replication: 1 on the local single broker, 3 on a production cluster.
    kafka_topic_replication_factor: int = 1
