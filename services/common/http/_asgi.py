"""Small helpers over the raw ASGI scope, shared by the middlewares."""

from __future__ import annotations

from starlette.types import Scope

UNMATCHED_ROUTE = "<unmatched>"


def route_template(scope: Scope) -> str:
    """The matched route's template (``/v1/customers/{customer_id}``), never the raw path.

    Raw paths carry ids and sometimes personal data (an email in a lookup URL), so they must not reach
    metric labels or logs. The router stores the matched route in the scope; without a match there is
    no template to give.
    """
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return template if isinstance(template, str) and template else UNMATCHED_ROUTE
