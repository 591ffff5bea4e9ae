"""The customers a worker read or wrote last, as they are stored, so the next batch about them does not
read them again (reading and decoding customers was a sixth of a batch's cost on both sides).

Safe without any signal from other writers: every write names the version and the last write id it
planned from (compare-and-set), so a write planned from a copy that another worker, an unmerge or an
erasure has since changed or deleted loses, and the customers it lost are read again. The write id also
tells a document erased and written anew (same id, same version count) from the one that was cached.

The cache also knows which outbox entries are over (``settle``): their batch is published and on the
timeline. The next write of the customer drops them (``entries_kept``), which keeps documents small.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import replace

from services.profile.adapters.outbound.documents import outbox_without_messages
from services.profile.ports import CustomerWrite, KeptOutbox, StoredCustomer


class CustomerCache:
    """The ``capacity`` customers used last (0: none kept)."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._customers: OrderedDict[str, StoredCustomer] = OrderedDict()
        # Those kept as written here, not as read: every field as this code writes it.
        self._written: set[str] = set()

    def get(self, customer_id: str) -> StoredCustomer | None:
        customer = self._customers.get(customer_id)
        if customer is not None:
            self._customers.move_to_end(customer_id)
        return customer

    def written_here(self, customer_id: str) -> bool:
        """Whether the copy kept is one this worker wrote (a read copy may come from older code)."""
        return customer_id in self._written

    def put(self, customers: Iterable[StoredCustomer], *, written: bool = False) -> None:
        if not self._capacity:
            return
        for customer in customers:
            self._customers[customer.customer_id] = customer
            self._customers.move_to_end(customer.customer_id)
            if written:
                self._written.add(customer.customer_id)
            else:
                self._written.discard(customer.customer_id)
        while len(self._customers) > self._capacity:
            customer_id, _ = self._customers.popitem(last=False)
            self._written.discard(customer_id)

    def drop(self, customer_ids: Iterable[str]) -> None:
        for customer_id in customer_ids:
            self._customers.pop(customer_id, None)
            self._written.discard(customer_id)

    def settle(self, recorded: Mapping[str, Collection[str]]) -> None:
        """Mark the outbox entries whose events are all recorded now (by customer id) as settled."""
        for customer_id, event_ids in recorded.items():
            customer = self._customers.get(customer_id)
            if customer is None:
                continue
            outbox = tuple(
                replace(entry, settled=True)
                if not entry.settled and entry.event_ids.issubset(event_ids)
                else entry
                for entry in customer.outbox
            )
            if outbox != customer.outbox:
                self._customers[customer_id] = replace(customer, outbox=outbox)


def stored_after(write: CustomerWrite, write_id: str, before: StoredCustomer | None) -> StoredCustomer | None:
    """What the store holds after ``write`` won, from the customer as it was read (``before``); None when
    that is not known (not cached, or another version than the write planned from)."""
    if write.expected_version == 0:
        kept: tuple[KeptOutbox, ...] = ()
    elif before is None or before.version != write.expected_version:
        return None
    else:
        kept = before.outbox[len(before.outbox) - write.outbox_kept :]
    # Without its messages, as a read leaves them: a cached customer whose outbox names an event being
    # applied again is read from the store instead (``MongoProfileStore.customers``).
    added = () if write.outbox is None else (outbox_without_messages(write.outbox),)
    profile = write.profile
    return StoredCustomer(
        customer_id=profile.customer_id,
        facts=replace(profile.facts, event_ids=frozenset()),
        version=write.expected_version + 1,
        merged_into=write.merged_into,
        cases=dict(write.cases),
        link_counts={kind: n for kind, n in write.link_counts.items() if n},
        published=dict(write.published),
        outbox=kept + added,
        kept_apart=write.kept_apart,
        write_id=write_id,
    )
