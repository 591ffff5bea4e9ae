"""The HTTP runtime every Helhet service's FastAPI app uses: auth, problem details, health, metrics."""

from services.common.http.app import create_app, serve_api, settled
from services.common.http.auth import (
    ALL_SCOPES,
    SCOPES,
    Principal,
    TokenVerifier,
    require_scopes,
    set_token_verifier,
)
from services.common.http.health import ReadinessCheck
from services.common.http.problems import PROBLEM_JSON, problem

__all__ = [
    "ALL_SCOPES",
    "PROBLEM_JSON",
    "SCOPES",
    "Principal",
    "ReadinessCheck",
    "TokenVerifier",
    "create_app",
    "problem",
    "require_scopes",
    "serve_api",
    "set_token_verifier",
    "settled",
]
