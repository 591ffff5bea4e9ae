"""Notify's MongoDB indexes (created by ``services.common.bootstrap``)."""

from __future__ import annotations

from services.common.mongo import IndexSpec
from services.notify.adapters.outbound.mongo_store import CASES, DELIVERIES, PROMISES, SENDS

INDEXES = (
    IndexSpec(PROMISES, [("case_id", 1)], "by_case"),
    IndexSpec(PROMISES, [("state", 1)], "by_state"),
    IndexSpec(SENDS, [("case_id", 1)], "by_case"),
    IndexSpec(SENDS, [("conversation", 1)], "by_conversation"),
    IndexSpec(SENDS, [("state", 1)], "by_state"),
    IndexSpec(SENDS, [("published", 1)], "by_published"),
    IndexSpec(CASES, [("survey_sent", 1)], "by_survey_sent"),
    IndexSpec(DELIVERIES, [("sent", 1)], "by_sent"),
)
