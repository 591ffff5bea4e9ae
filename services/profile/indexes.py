"""Profile's collections.

- ``profile_links``: ``_id`` = identifier key (``email:ola@example.no``) → customer id, with provenance.
  The unique ``_id`` is what makes "one identifier, one customer" hold across concurrent consumers.
- ``profile_timeline``: ``_id`` = event id → customer id and what the event said. Written last for each
  batch, it is also the record of which events are fully processed (replays skip them).
- ``profile_customers``: ``_id`` = customer id → the stored facts, the views computed from them, and a
  version for compare-and-set.
- ``profile_reviews``: ``_id`` = event id → a merge held for review.
- ``profile_case_owners``: ``_id`` = case id → the customer that opened it (cases live in their
  customer's document; this finds one by its id).
- ``profile_merges``: ``_id`` = merge id → what each side held when merged (events, links, cases), so
  the merge can be undone exactly; ``undone_at`` once it was.
- ``profile_erasures``: erase receipts (``_id`` = erasure id), a pointer per erased customer
  (``customer:<id>``) and the erase time per SHA-256 of each erased identifier key (``key:<hash>``),
  which the worker checks so a replay never brings an erased person back.
- ``profile_integrations``: ``_id`` = integration id → a CRM that reads profiles (frame origins, secrets).
- ``profile_api_keys``: ``_id`` = key id → the SHA-256 digest of an integration's API key and its life.
- ``profile_webhooks``: ``_id`` = subscription id → a CRM's webhook subscription (URL, event types,
  signing secret, status).
- ``profile_webhook_deliveries``: ``_id`` = ``<subscription id>:<event id>`` → one signed CloudEvent to
  deliver, its place in its customer's order (``sequence``), status, attempts and next attempt.
"""

from __future__ import annotations

from services.common.mongo import IndexSpec

LINKS_COLLECTION = "profile_links"
TIMELINE_COLLECTION = "profile_timeline"
CUSTOMERS_COLLECTION = "profile_customers"
REVIEWS_COLLECTION = "profile_reviews"
CASE_OWNERS_COLLECTION = "profile_case_owners"
ERASURES_COLLECTION = "profile_erasures"
MERGES_COLLECTION = "profile_merges"
INTEGRATIONS_COLLECTION = "profile_integrations"
API_KEYS_COLLECTION = "profile_api_keys"
WEBHOOKS_COLLECTION = "profile_webhooks"
WEBHOOK_DELIVERIES_COLLECTION = "profile_webhook_deliveries"

INDEXES: tuple[IndexSpec, ...] = (
    # A customer's identifiers: link caps, merges re-pointing links, lookups of all identifiers.
    IndexSpec(LINKS_COLLECTION, [("customer_id", 1)], name="by_customer"),
    # A customer's timeline, newest first, and merges re-pointing it.
    IndexSpec(TIMELINE_COLLECTION, [("customer_id", 1), ("occurred_at", -1)], name="by_customer_time"),
    # Merged-away customers, for redirects to the survivor.
    IndexSpec(CUSTOMERS_COLLECTION, [("merged_into", 1)], name="by_survivor", sparse=True),
    IndexSpec(CUSTOMERS_COLLECTION, [("refresh_at", 1)], name="refresh_due", sparse=True),
    # An identifier by the UUID OData knows it by.
    IndexSpec(LINKS_COLLECTION, [("guid", 1)], name="by_guid", unique=True, sparse=True),
    # An integration's keys, for listing and rotation.
    IndexSpec(API_KEYS_COLLECTION, [("integration_id", 1)], name="by_integration"),
    # Active subscriptions, read by the webhook consumer for every batch and by the dispatcher.
    IndexSpec(WEBHOOKS_COLLECTION, [("status", 1)], name="by_status"),
    # The dispatcher's due deliveries.
    IndexSpec(WEBHOOK_DELIVERIES_COLLECTION, [("status", 1), ("next_attempt_at", 1)], name="due"),
    # The head of a lane (one customer at one subscription) and the deliveries held behind it.
    IndexSpec(
        WEBHOOK_DELIVERIES_COLLECTION,
        [("subscription_id", 1), ("customer_id", 1), ("status", 1), ("sequence", 1)],
        name="lane",
    ),
    # The delivery log, newest first, with and without a status filter; replays since a time.
    IndexSpec(WEBHOOK_DELIVERIES_COLLECTION, [("subscription_id", 1), ("sequence", -1)], name="log"),
    IndexSpec(
        WEBHOOK_DELIVERIES_COLLECTION,
        [("subscription_id", 1), ("status", 1), ("sequence", -1)],
        name="log_by_status",
    ),
    IndexSpec(
        WEBHOOK_DELIVERIES_COLLECTION, [("subscription_id", 1), ("published_at", 1)], name="by_published"
    ),
    # An erased customer's deliveries.
    IndexSpec(WEBHOOK_DELIVERIES_COLLECTION, [("customer_id", 1)], name="by_customer"),
)
