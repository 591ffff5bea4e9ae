"""Connection options for the three Kafka clients in use, from one set of settings.

Production brokers (e.g. Strimzi) speak TLS and SASL/SCRAM; locally it is plain text on 127.0.0.1.
"""

from __future__ import annotations

import ssl
from typing import Any

from services.common.settings import CommonSettings


def _sasl(settings: CommonSettings) -> dict[str, Any]:
    if settings.kafka_sasl_mechanism is None:
        return {}
    password = settings.kafka_sasl_password.get_secret_value() if settings.kafka_sasl_password else None
    return {
        "sasl_mechanism": settings.kafka_sasl_mechanism,
        "sasl_plain_username": settings.kafka_sasl_username,
        "sasl_plain_password": password,
    }


def aiokafka_options(settings: CommonSettings) -> dict[str, Any]:
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "security_protocol": settings.kafka_security_protocol,
        **_sasl(settings),
    }
    if "SSL" in settings.kafka_security_protocol:
        options["ssl_context"] = ssl.create_default_context(cafile=settings.kafka_ssl_cafile)
    return options


def kafka_python_options(settings: CommonSettings) -> dict[str, Any]:
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers.split(","),
        "security_protocol": settings.kafka_security_protocol,
        **_sasl(settings),
    }
    if "SSL" in settings.kafka_security_protocol:
        options["ssl_cafile"] = settings.kafka_ssl_cafile
    return options
