"""How long a customer's outbox entries are kept: the messages of a write stay with the customer until a
batch redelivered after a crash between the write and its publish can no longer come back for them.

A redelivery comes back once the partition has a consumer again: the crashed worker's session times out
(seconds to a minute) and the group rebalances, while other replicas may go on writing the same customer
from other partitions. So an entry is dropped only when it is old *and* newer writes are kept beside it;
counting writes alone lost the messages of a customer written more often than that in the meantime.
An entry the worker saw through (published, its events on the timeline) can go at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class OutboxRetention:
    keep_last: int = 4  # however old: a group down altogether writes nothing until it is back
    keep_for: timedelta = timedelta(hours=1)  # far beyond a session timeout and a rebalance
    # Bounds a customer written constantly (its document is read and rewritten with every write); a
    # redelivery would have to come back after this many writes of the one customer, within keep_for.
    max_entries: int = 64


def entries_kept(
    written_at: Sequence[datetime | None],
    now: datetime,
    retention: OutboxRetention,
    settled: Sequence[bool] = (),
    *,
    adding: bool = True,
) -> int:
    """How many of the stored entries (oldest first; None: stored before entries had a time) a write keeps:
    the newest ones. Entries are appended in write order, so what goes is a prefix.

    ``settled`` (oldest first, as many or fewer) says which are known to be over: a settled prefix goes
    whatever its age, so a customer written often does not carry every message it caused for an hour. A
    write that adds no entry (``adding``) drops only that: by age, entries go as newer ones replace them."""
    over = 0
    for done in settled:
        if not done:
            break
        over += 1
    if not adding:
        return len(written_at) - over
    cutoff = now - retention.keep_for
    young = 0
    for at in reversed(written_at):
        if at is None or at < cutoff:
            break
        young += 1
    kept = min(max(young, min(len(written_at), retention.keep_last - 1)), retention.max_entries - 1)
    return min(kept, len(written_at) - over)
