"""The profile service layer: a batch of decoded events in, identity links, customer facts, cases and
timeline entries out, in a handful of bulk writes, and the case and profile changes and delivered orders
they cause published on ``cases.v1``, ``profiles.v1`` and ``deliveries.v1``.

Safe to run twice and in parallel:
- events already on a timeline are skipped up front, so a replay writes nothing;
- the timeline entry is written last; a crash before it only means the events are applied again, and
  every part of ``ProfileFacts`` is idempotent (keyed by event id or newest-wins), so re-applying changes
  nothing — and an unchanged customer is not written at all;
- links are inserted on their unique identifier key, customers are written with compare-and-set on a
  version; a lost race re-plans the batch from what is stored now, so two consumers never create two
  customers for one identifier;
- the messages a write causes are stored with it (its outbox) and published after it, before the
  timeline: a batch redelivered after a crash in between finds them there and publishes them again.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.cases import CaseChange, CaseStatus
from schemas.identifiers import IdentifierKind
from services.profile.core.cases import (
    CaseConfig,
    JoinCase,
    JoinRule,
    OpenCase,
    close_case,
    decide_case,
    decide_delivery_case,
    decide_reopen,
    moved,
)
from services.profile.core.delivery import decide_delivery
from services.profile.core.erasure import is_suppressed, key_hash, suppression_subjects
from services.profile.core.experience import PhoneStep
from services.profile.core.identity import (
    Attach,
    HoldForReview,
    IdentityConfig,
    KnownCustomer,
    Merge,
    NewCustomer,
    resolve,
    survivor_order,
)
from services.profile.core.ids import stable_id
from services.profile.core.merge import MergeRecord, combine, unmerge
from services.profile.core.observe import ObservedEvent, ProfileEvent, observe, without_personal_text
from services.profile.core.outbox import OutboxRetention, entries_kept
from services.profile.core.profile import ProfileConfig, ProfileFacts, evaluate, next_refresh_at
from services.profile.core.snapshot import (
    case_changed,
    case_contact,
    case_snapshot_moved,
    changed_fields,
    order_delivered,
    published_fields,
)
from services.profile.outgoing import case_event, delivery_event, profile_event
from services.profile.plan import (
    MERGE_CHAIN_LIMIT,
    CaseStep,
    MergeDraft,
    Plan,
    PlannedCustomer,
    cases_of,
    final,
    final_of,
    from_stored,
    in_segments,
    last_survivor,
    links_made_for,
    unpublished,
)
from services.profile.ports import (
    ChangeFeed,
    CustomerWrite,
    OutboxEntry,
    Outgoing,
    ProfileStore,
    ReviewHold,
    StoredLink,
    SuppressionReader,
    TimelineEntry,
)

_log = logging.getLogger(__name__)
_OUTBOX_RETENTION = OutboxRetention()
_NO_OFFSET = timedelta(0)


class ConcurrentUpdateError(Exception):
    """The batch lost races on every attempt; retrying it later is safe."""


class _NotUndoableError(Exception):
    """The merge cannot be undone as it stands (a side is gone, or the survivor was merged on)."""


@dataclass(frozen=True)
class _Written:
    """A batch segment written, not yet finished: the messages it caused and its timeline entries."""

    customers: int
    messages: list[Outgoing]
    entries: list[TimelineEntry]


@dataclass(frozen=True)
class BatchOutcome:
    applied: int  # events newly recorded
    already_recorded: int  # events skipped: recorded before (replay, redelivery, repeated in the batch)
    customers_written: int
    attempts: int
    published: int = 0  # case and profile changes published (again, for a redelivered batch)
    erased: int = 0  # events of erased people, dropped (a replay must not bring them back)


Finish = Callable[[], Coroutine[Any, Any, BatchOutcome]]


class ProfileService:
    def __init__(
        self,
        store: ProfileStore,
        feed: ChangeFeed,
        erased: SuppressionReader,
        clock: Callable[[], datetime],
        *,
        identity: IdentityConfig | None = None,
        profile: ProfileConfig | None = None,
        cases: CaseConfig | None = None,
        max_attempts: int = 8,
    ) -> None:
        self._store = store
        self._feed = feed
        self._erased = erased
        self._clock = clock
        self._identity = identity or IdentityConfig()
        self._profile = profile or ProfileConfig()
        self._cases = cases or CaseConfig()
        self._max_attempts = max_attempts
        # Resolved when the last batch applied is finished (see ``apply_batch``).
        self._finished: asyncio.Future[None] | None = None

    async def handle_batch(self, events: Sequence[ProfileEvent]) -> BatchOutcome:
        """Apply the batch and finish it: returns once its events are on the timeline. A batch that fails
        here is given up (to be delivered again), so the batches after it do not wait for it."""
        finish = await self.apply_batch(events)
        try:
            return await finish()
        finally:
            self._finished = None  # one batch at a time: nothing else is left to finish

    async def apply_batch(self, events: Sequence[ProfileEvent]) -> Finish:
        """Write what the batch changes (links, cases, customers with their outboxes) and return what
        finishes it: publishing those messages, then the timeline entries that mark its events done.

        The next batch may be applied while this one finishes (the worker overlaps them): finishes run
        in the order their batches were applied, and a step that reads the timeline (a merge's record,
        an unmerge) first waits for the finish before it. A finish that failed may be called again."""
        observed: dict[str, ObservedEvent] = {}
        for event in events:
            observed.setdefault(event.id, to_millis(observe(event)))
        # The links too, at once: the plan of a batch without unmerges needs no other read before them.
        keys = {identifier.key for event in observed.values() for identifier in event.identifiers}
        recorded, kept, links = await asyncio.gather(
            self._store.recorded(list(observed)),
            self._not_erased(list(observed.values())),
            self._store.links(keys),
        )
        unrecorded = [event for event_id, event in observed.items() if event_id not in recorded]
        pending = [event for event in unrecorded if event.event_id in kept]
        skipped = len(events) - len(unrecorded)
        erased = len(unrecorded) - len(pending)
        outcome = BatchOutcome(len(pending), skipped, 0, 0, erased=erased)
        written: _Written | None = None
        segments = in_segments(pending)
        for segment in segments:
            if written is not None:  # an earlier segment: finished before the next one is applied
                await self._settled()
                outcome = replace(outcome, published=outcome.published + await self._finish(written))
                written = None
            if segment[0].unmerge is not None:
                customers, published = await self._unmerge(segment[0])
                outcome = replace(
                    outcome,
                    customers_written=outcome.customers_written + customers,
                    attempts=max(outcome.attempts, 1),
                    published=outcome.published + published,
                )
            else:
                written, tries = await self._apply(segment, links if len(segments) == 1 else None)
                outcome = replace(
                    outcome,
                    customers_written=outcome.customers_written + written.customers,
                    attempts=max(outcome.attempts, tries),
                )
        return self._chain(outcome, written)

    def _chain(self, outcome: BatchOutcome, written: _Written | None) -> Finish:
        """The finish of a batch, after the finish of the batch applied before it."""
        previous, mine = self._finished, asyncio.get_running_loop().create_future()
        self._finished = mine

        async def finish() -> BatchOutcome:
            if previous is not None:
                await asyncio.shield(previous)
            published = 0 if written is None else await self._finish(written)
            if not mine.done():
                mine.set_result(None)
            return replace(outcome, published=outcome.published + published)

        return finish

    async def _settled(self) -> None:
        """Wait until every batch applied so far is on the timeline."""
        if self._finished is not None:
            await asyncio.shield(self._finished)

    async def _apply(
        self, pending: list[ObservedEvent], links: dict[str, StoredLink] | None
    ) -> tuple[_Written, int]:
        """``links``: read for this batch just before, if nothing wrote links since (a retry reads again)."""
        also_load: set[str] = set()
        for attempt in range(1, self._max_attempts + 1):
            written = await self._attempt(pending, also_load, links if attempt == 1 else None)
            if written is not None:
                return written, attempt
            _log.info("profile batch lost a race; re-planning (attempt %d)", attempt)
            # An erase deletes the customer document, so a batch that read the person before it loses
            # its compare-and-set here: asking again keeps it from writing the person back.
            kept = await self._not_erased(pending)
            pending = [event for event in pending if event.event_id in kept]
            if not pending:
                return _Written(0, [], []), attempt
        raise ConcurrentUpdateError(f"batch of {len(pending)} events lost {self._max_attempts} races")

    async def _unmerge(self, request: ObservedEvent) -> tuple[int, int]:
        """Undo a merge exactly (``core.merge.unmerge``), from what both customers hold now: a repeated
        request (a redelivery after a crash half-way) computes the same split and finishes it."""
        assert request.unmerge is not None
        assert request.customer_id is not None
        await self._settled()  # the split reads both timelines
        stored = await self._store.merge(request.unmerge)
        entry = TimelineEntry(request, request.customer_id)
        if stored is None or stored.undone_at is not None or stored.record.survivor_id != request.customer_id:
            _log.info("unmerge %s names no merge still in place; recorded and ignored", request.event_id)
            await self._store.record_timeline([entry])
            return 0, 0
        record = stored.record
        for attempt in range(1, self._max_attempts + 1):
            try:
                done = await self._unmerge_attempt(request, record)
            except _NotUndoableError:
                _log.info("unmerge %s: a customer is gone or merged on; ignored", request.event_id)
                await self._store.record_timeline([entry])
                return 0, 0
            if done is not None:
                await self._store.mark_unmerged(record.merge_id, request.occurred_at)
                await self._store.record_timeline([entry])
                return done
            _log.info("unmerge lost a race; re-planning (attempt %d)", attempt)
        raise ConcurrentUpdateError(f"unmerge lost {self._max_attempts} races")

    async def _unmerge_attempt(self, request: ObservedEvent, record: MergeRecord) -> tuple[int, int] | None:
        ids = [record.survivor_id, record.merged_away_id]
        stored = await self._store.customers(ids, [request.event_id])
        if len(stored) < len(ids) or stored[record.survivor_id].merged_into is not None:
            raise _NotUndoableError
        now = _ms(self._clock())  # as stored: a write compares with what it wrote before
        split = unmerge(
            record,
            held=stored[record.survivor_id].facts,
            events=await self._store.timeline_events(ids),
            links=await self._store.links_of(ids),
            cases=cases_of(stored[record.survivor_id], stored[record.merged_away_id]),
            config=self._profile,
            now=now,
        )
        plan = Plan({customer_id: from_stored(customer) for customer_id, customer in stored.items()})
        plan.owner[request.event_id] = record.survivor_id
        for profile, links in (
            (split.survivor, split.survivor_links),
            (split.restored, split.restored_links),
        ):
            customer = plan.customers[profile.customer_id]
            customer.facts, customer.merged_into, customer.touched = profile.facts, None, True
            other = record.merged_away_id if profile.customer_id == record.survivor_id else record.survivor_id
            customer.kept_apart = customer.kept_apart | {other}
            customer.cases = {c.case_id: c for c in split.cases if c.customer_id == profile.customer_id}
            plan.link_counts[profile.customer_id] = Counter(link.kind for link in links)
        for case in split.cases:
            if case.customer_id == record.merged_away_id and case.status is CaseStatus.OPEN:
                plan.case_steps.append(CaseStep(CaseChange.MOVED, case, None, request.event_id))
        writes = self._writes(plan, now)
        if await self._store.save_customers(writes, uuid.uuid4().hex):
            return None
        await self._store.relink(split.restored_links)
        await self._store.move_timeline(split.event_owner)
        await self._store.set_case_owners(
            {
                case.case_id: case.customer_id
                for case in split.cases
                if case.customer_id == record.merged_away_id
            }
        )
        messages = _messages(plan, writes)
        await self._feed.publish(messages)
        return len(writes), len(messages)

    async def _not_erased(self, events: list[ObservedEvent]) -> set[str]:
        """The ids of the events that do not belong to an erased person (erased after they occurred)."""
        if not events:
            return set()
        subjects = {
            e.event_id: suppression_subjects(e.identifiers, e.event_id, self._identity) for e in events
        }
        hashes = {key_hash(subject) for keys in subjects.values() for subject in keys}
        suppressed = await self._erased.suppressions(hashes)
        return {
            event.event_id
            for event in events
            if not suppressed or not is_suppressed(subjects[event.event_id], event.occurred_at, suppressed)
        }

    async def _attempt(
        self, pending: list[ObservedEvent], also_load: set[str], links: dict[str, StoredLink] | None
    ) -> _Written | None:
        """Plan and write; None when a race was lost (``also_load`` then names what to re-read)."""
        now = _ms(self._clock())  # as stored: a write compares with what it wrote before
        plan = await self._plan(pending, also_load, now, links)
        conflicts = await self._store.add_links(plan.new_links)
        if conflicts:
            also_load.update(conflicts.values())
            return None
        # Before the customers: once a case is stored with its customer, a batch applied again no longer
        # opens it, and would not write its owner.
        await self._store.add_case_owners(
            {s.case.case_id: s.case.customer_id for s in plan.case_steps if s.change is CaseChange.OPENED}
        )
        if plan.merge_drafts:
            await self._settled()  # a merge's record lists the events on both timelines
            await self._store.save_merges(await self._merge_records(plan))
        writes = self._writes(plan, now)
        lost = await self._store.save_customers(writes, uuid.uuid4().hex)
        if lost:
            also_load.update(lost)
            return None
        if plan.merged:
            await self._store.repoint(plan.merged)
        if plan.holds:
            await self._store.hold_for_review(plan.holds)
        messages = _messages(plan, writes)
        entries = [
            TimelineEntry(
                without_personal_text(event) if event.event_id in plan.unheld else event,
                final(plan, plan.owner[event.event_id]),
                plan.case_of.get(event.event_id),
            )
            for event in pending
        ]
        return _Written(len(writes), messages, entries)

    async def _finish(self, written: _Written) -> int:
        """Publish what a written batch caused, then mark its events done; returns the messages published.
        A person erased since the batch was written is left out of both (the erase removed the write)."""
        kept = await self._not_erased([entry.event for entry in written.entries])
        erased = {entry.customer_id for entry in written.entries if entry.event.event_id not in kept}
        messages = [message for message in written.messages if message.key not in erased]
        entries = [entry for entry in written.entries if entry.event.event_id in kept]
        await self._feed.publish(messages)
        await self._store.record_timeline(entries)
        await self._follow_concurrent_merges(entries)
        return len(messages)

    async def _follow_concurrent_merges(self, entries: list[TimelineEntry]) -> None:
        """Another consumer may have merged one of this batch's customers away after this batch planned;
        its re-pointing of the timeline may have run before these entries existed. Every merge is stored
        before it re-points, so looking after inserting finds it, and these entries move themselves."""
        owners = {entry.customer_id for entry in entries}
        survivors: dict[str, str] = {}
        for _ in range(MERGE_CHAIN_LIMIT):
            merged = await self._store.merged_into(owners)
            if not merged:
                break
            survivors.update(merged)
            owners = set(merged.values())
        if survivors:
            await self._store.move_timeline(
                {
                    e.event.event_id: last_survivor(survivors, e.customer_id)
                    for e in entries
                    if e.customer_id in survivors
                }
            )

    async def _merge_records(self, plan: Plan) -> list[MergeRecord]:
        """What each side of each merge held (stored and from this batch), read before links and
        timeline move to the survivor."""
        drafts = plan.merge_drafts
        stored = await self._store.holdings({d.survivor_id for d in drafts} | {d.away_id for d in drafts})
        return [
            MergeRecord(
                merge_id=stable_id("merge", f"{d.survivor_id}\x00{d.away_id}\x00{d.cause.event_id}"),
                survivor_id=d.survivor_id,
                merged_away_id=d.away_id,
                merged_at=d.cause.occurred_at,
                cause_event_id=d.cause.event_id,
                survivor_event_ids=stored[d.survivor_id].event_ids | d.survivor_batch_events,
                merged_away_event_ids=stored[d.away_id].event_ids | d.away_batch_events,
                survivor_links=stored[d.survivor_id].links + links_made_for(plan, d.survivor_id),
                merged_away_links=stored[d.away_id].links + links_made_for(plan, d.away_id),
                survivor_case_ids=d.survivor_case_ids,
                merged_away_case_ids=d.away_case_ids,
            )
            for d in drafts
        ]

    def _writes(self, plan: Plan, now: datetime) -> list[CustomerWrite]:
        """The changed customers, each with the messages its change causes (a merged-away customer's go
        with its survivor, whose write is the one a redelivered batch finds)."""
        changed = [c for c in plan.customers.values() if c.changed]
        profiles = {c.customer_id: evaluate(c.customer_id, c.facts, self._profile, now) for c in changed}
        published = {c.customer_id: published_fields(profiles[c.customer_id], c.merged_into) for c in changed}
        messages: dict[str, list[Outgoing]] = {}
        for step in [*plan.case_steps, *self._snapshot_steps(plan, changed, published)]:
            owner = final(plan, step.case.customer_id)
            contact = None if step.cause is None else case_contact(step.cause)
            event = case_event(case_changed(step.change, step.case, profiles[owner], contact), step, now)
            messages.setdefault(owner, []).append(event)
        for delivery in plan.deliveries:
            owner = final(plan, delivery.customer_id)
            # Recording a delivered order always changes its customer; one unchanged recorded it before
            # (a redelivered batch), and that write's outbox holds the message: ``unpublished``.
            if (profile := profiles.get(owner)) is not None:
                delivered = delivery_event(order_delivered(delivery, profile), delivery, now)
                messages.setdefault(owner, []).append(delivered)
        for customer in changed:
            profile = profiles[customer.customer_id]
            if names := changed_fields(customer.published, published[customer.customer_id]):
                owner = final(plan, customer.customer_id)
                change = profile_event(profile, customer.merged_into, names, now)
                messages.setdefault(owner, []).append(change)
        caused: dict[str, set[str]] = {}
        for event_id, owner in plan.owner.items():
            caused.setdefault(final(plan, owner), set()).add(event_id)
        return [
            CustomerWrite(
                profiles[c.customer_id],
                expected_version=c.version,
                expected_write_id=c.write_id,
                merged_into=c.merged_into,
                cases=c.cases,
                link_counts=plan.link_counts.get(c.customer_id, Counter()),
                published=published[c.customer_id],
                # An unmerge's restored customer owns no event of the batch: the request caused it.
                outbox=OutboxEntry(frozenset(caused.get(c.customer_id) or plan.owner), tuple(outbox), now)
                if (outbox := messages.get(c.customer_id))
                else None,
                outbox_kept=entries_kept(
                    [entry.written_at for entry in c.outbox],
                    now,
                    _OUTBOX_RETENTION,
                    [entry.settled for entry in c.outbox],
                    adding=c.customer_id in messages,
                ),
                kept_apart=c.kept_apart,
                # A merged-away customer is never looked at again: its survivor is.
                refresh_at=None if c.merged_into else next_refresh_at(c.facts, self._profile, now),
            )
            for c in changed
        ]

    @staticmethod
    def _snapshot_steps(
        plan: Plan, changed: list[PlannedCustomer], published: dict[str, dict[str, Any]]
    ) -> list[CaseStep]:
        """A "customer changed" for each open case of a customer whose snapshot moved, unless the batch
        changes the case anyway (its message carries the new snapshot). Named by the write's version: a
        redelivered batch writes nothing new, a later change is another occasion."""
        stepped = {step.case.case_id for step in plan.case_steps}
        return [
            CaseStep(CaseChange.CUSTOMER_CHANGED, case, None, f"customer-version-{c.version + 1}")
            for c in changed
            if c.merged_into is None and case_snapshot_moved(c.published, published[c.customer_id])
            for case in c.cases.values()
            if case.status is CaseStatus.OPEN and case.case_id not in stepped
        ]

    async def _plan(
        self,
        pending: list[ObservedEvent],
        also_load: set[str],
        now: datetime,
        known_links: dict[str, StoredLink] | None,
    ) -> Plan:
        keys = {identifier.key for event in pending for identifier in event.identifiers}
        if known_links is None:
            stored_links = await self._store.links(keys)
        else:
            stored_links = {key: link for key, link in known_links.items() if key in keys}
        link_times: dict[str, datetime] = {}
        for link in stored_links.values():
            first = link_times.get(link.customer_id)
            link_times[link.customer_id] = link.linked_at if first is None else min(first, link.linked_at)
        addressed = {
            c for event in pending if event.customer_id for c in (event.customer_id, *event.merge_with)
        }
        customers = await self._load(
            {link.customer_id for link in stored_links.values()} | also_load | addressed,
            [event.event_id for event in pending],
        )
        links = {key: final_of(customers, link.customer_id) for key, link in stored_links.items()}
        for customer_id in set(links.values()) - customers.keys():
            customers[customer_id] = PlannedCustomer(customer_id, ProfileFacts(), 0, None)
        for customer_id, first in link_times.items():
            if customer_id in customers:
                customers[customer_id].first_seen_hint = first
        plan = Plan({c.customer_id: c for c in customers.values()})
        plan.link_counts = await self._link_counts(customers)
        for event in pending:
            self._place(event, plan, links)
        return plan

    async def _link_counts(self, customers: dict[str, PlannedCustomer]) -> dict[str, Counter[IdentifierKind]]:
        counts = {
            c.customer_id: Counter(c.link_counts) for c in customers.values() if c.link_counts is not None
        }
        uncounted = [customer_id for customer_id in customers if customer_id not in counts]
        if uncounted:
            for customer_id, by_kind in (await self._store.link_counts(uncounted)).items():
                counts[customer_id] = Counter(by_kind)
        return counts

    async def _load(self, customer_ids: set[str], events: list[str]) -> dict[str, PlannedCustomer]:
        """The customers and, for merged-away ones, their survivors."""
        loaded: dict[str, PlannedCustomer] = {}
        wanted = set(customer_ids)
        for _ in range(MERGE_CHAIN_LIMIT):
            if not wanted:
                break
            found = await self._store.customers(list(wanted), events)
            for customer_id, stored in found.items():
                loaded[customer_id] = from_stored(stored)
            wanted = {c.merged_into for c in loaded.values() if c.merged_into} - loaded.keys()
        return loaded

    def _place(
        self,
        event: ObservedEvent,
        plan: Plan,
        links: dict[str, str],
    ) -> None:
        if event.customer_id is not None:
            self._place_request(event, plan)
            return
        customers, counts = plan.customers, plan.link_counts
        # Only the customers this event's identifiers name: resolution needs no others, and describing
        # every customer of the batch for every event made a batch quadratic.
        named = {links[i.key] for i in event.identifiers if i.key in links}
        known = {
            customer_id: KnownCustomer(
                first_seen=c.facts.first_seen or c.first_seen_hint or event.occurred_at,
                link_counts=counts.get(customer_id, Counter()),
                kept_apart=c.kept_apart,
            )
            for customer_id in named
            if (c := customers[customer_id]).merged_into is None
        }
        resolution = resolve(event, links, known, self._identity)
        match resolution:
            case NewCustomer(customer_id=owner, links=new) | Attach(customer_id=owner, links=new):
                pass
            case Merge(survivor=owner, merged_away=away, links=new):
                for away_id in away:
                    self._merge(plan, owner, away_id, event)
                    for key, customer_id in links.items():
                        if customer_id == away_id:
                            links[key] = owner
            case HoldForReview(reason=reason, customers=held):
                owner, new = held[0], ()
                plan.holds.append(ReviewHold(event.event_id, reason, held, event.occurred_at))
        customer = customers.get(owner)
        if customer is None:
            customer = customers[owner] = PlannedCustomer(owner, ProfileFacts(), 0, None)
        customer.facts = customer.facts.with_event(event)
        customer.touched = True
        for link in new:
            links[link.key] = owner
            counts.setdefault(owner, Counter())[link.kind] += 1
            plan.new_links.append(link)
        plan.owner[event.event_id] = owner
        self._decide_case(plan, customer, event)
        if (delivery := decide_delivery(event, owner)) is not None:
            plan.deliveries.append(delivery)

    def _place_request(self, event: ObservedEvent, plan: Plan) -> None:
        """A request or report addressed to a customer by id (a case close, a consent decision, an
        assignment change, a notification, a survey answer); a merged-away id is followed to its survivor.

        For an unknown customer (never seen, or erased) it never creates one: it is only recorded on the
        timeline under the id it names (with its case, without the customer's own words), and logged, so
        a replay skips it too and it can still be found there; nothing of it reaches a profile."""
        assert event.customer_id is not None
        owner = final(plan, event.customer_id)
        plan.owner[event.event_id] = owner
        if event.case_id is not None:
            plan.case_of[event.event_id] = event.case_id  # the timeline's case filter
        customer = plan.customers.get(owner)
        if customer is None or customer.stored is None:
            _log.info(
                "%s %s names no stored customer; recorded and ignored", event.event_type, event.event_id
            )
            plan.unheld.add(event.event_id)
            return
        if event.merge_with:
            owner = self._merge_requested(event, plan, owner)
            plan.owner[event.event_id] = owner
            customer = plan.customers[owner]
        customer.facts = customer.facts.with_event(event)
        customer.touched = True
        # Written even when nothing changed: the write moves the time to look again past this one.
        customer.refreshed = customer.refreshed or event.refresh
        close = event.case_close
        case = None if close is None else customer.cases.get(close.case_id)
        if close is not None and case is not None and case.status is CaseStatus.OPEN:
            closed = close_case(case, event.occurred_at, close.reason)
            customer.cases[case.case_id] = closed
            plan.case_steps.append(CaseStep(CaseChange.CLOSED, closed, None, event.event_id))
            plan.case_of[event.event_id] = case.case_id
        # A negative survey answer about a closed case: reopened, published with the answer as its cause
        # (so the change's id is the same for a redelivered answer, and differs for a later one).
        if (reopened := decide_reopen(event, customer.customer_id, customer.cases)) is not None:
            customer.cases[reopened.case_id] = reopened
            plan.case_steps.append(CaseStep(CaseChange.REOPENED, reopened, event))
        # A negative answer about a delivered order: a delivery case opens so someone follows up, with
        # no contact to answer; its id comes from the answer, so a redelivered one finds it and stops.
        if (opened := decide_delivery_case(event, customer.customer_id, customer.cases)) is not None:
            customer.cases[opened.case_id] = opened
            plan.case_steps.append(CaseStep(CaseChange.OPENED, opened, event))

    def _merge_requested(self, event: ObservedEvent, plan: Plan, first: str) -> str:
        """Merge the customers a request names (all stored, none merged away yet); the one seen first
        survives. Returns the survivor."""
        named = {first} | {final(plan, other) for other in event.merge_with}
        known = {
            customer_id: KnownCustomer(c.facts.first_seen or event.occurred_at)
            for customer_id in named
            if (c := plan.customers.get(customer_id)) is not None and c.stored is not None
        }
        if len(known) < len(named) or len(named) < 2:
            _log.info("merge request %s names unknown or identical customers; ignored", event.event_id)
            return first
        survivor, *away = survivor_order(known)
        for away_id in away:
            self._merge(plan, survivor, away_id, event)
        return survivor

    def _merge(self, plan: Plan, survivor_id: str, away_id: str, cause: ObservedEvent) -> None:
        survivor, merged_away = plan.customers[survivor_id], plan.customers[away_id]
        plan.merge_drafts.append(
            MergeDraft(
                survivor_id,
                away_id,
                cause,
                {e for e, owner in plan.owner.items() if owner == survivor_id},
                {e for e, owner in plan.owner.items() if owner == away_id},
                frozenset(survivor.cases),
                frozenset(merged_away.cases),
            )
        )
        survivor.facts = combine(
            survivor.facts, merged_away.facts, away_id=away_id, merged_at=cause.occurred_at
        )
        self._move_cases(plan, merged_away, survivor, cause.event_id)
        merged_away.merged_into = survivor_id
        merged_away.touched = survivor.touched = True
        plan.merged[away_id] = survivor_id
        counts = plan.link_counts
        counts.setdefault(survivor_id, Counter()).update(counts.pop(away_id, Counter()))
        for event_id, owner in plan.owner.items():
            if owner == away_id:
                plan.owner[event_id] = survivor_id

    def _decide_case(self, plan: Plan, customer: PlannedCustomer, event: ObservedEvent) -> None:
        match decide_case(event, customer.customer_id, customer.cases.values(), self._cases):
            case OpenCase(case=case):
                change = CaseChange.OPENED
            case JoinCase(case=case, rule=rule) if rule is not JoinRule.ALREADY_IN_CASE:
                change = CaseChange.JOINED
            case _:
                return
        plan.case_of[event.event_id] = case.case_id
        customer.cases[case.case_id] = case
        plan.case_steps.append(CaseStep(change, case, event))

    @staticmethod
    def _move_cases(
        plan: Plan, merged_away: PlannedCustomer, survivor: PlannedCustomer, merged_by: str
    ) -> None:
        for case in merged_away.cases.values():
            now_theirs = moved(case, survivor.customer_id)
            survivor.cases[case.case_id] = now_theirs
            if case.status is CaseStatus.OPEN:
                plan.case_steps.append(CaseStep(CaseChange.MOVED, now_theirs, None, merged_by))


def _ms(at: datetime) -> datetime:
    # MongoDB keeps milliseconds: facts compared with stored ones must be at that precision already.
    return at.astimezone(UTC).replace(microsecond=at.microsecond // 1000 * 1000)


def _is_ms(at: datetime | None) -> bool:
    return at is None or (at.microsecond % 1000 == 0 and at.utcoffset() == _NO_OFFSET)


def to_millis(event: ObservedEvent) -> ObservedEvent:
    """The event with every instant at the precision the store keeps (the event itself when they are:
    most are, and copying frozen dataclasses costs)."""
    step: PhoneStep | None = event.phone_step
    notification = event.notification
    expected = None if notification is None else notification.expected_answer
    instants = [
        event.occurred_at,
        *(a.occurred_at for a in event.attributes),
        *(c.occurred_at for c in event.consent),
        None if event.order is None else event.order.occurred_at,
        None if event.experience is None else event.experience.occurred_at,
        None if step is None else step.occurred_at,
        None if step is None else step.callback_window_end,
        None if expected is None else expected.earliest,
        None if expected is None else expected.latest,
    ]
    if all(_is_ms(at) for at in instants):
        return event
    if notification is not None and expected is not None:
        earliest, latest = expected.earliest, expected.latest
        expected = replace(
            expected,
            earliest=None if earliest is None else _ms(earliest),
            latest=None if latest is None else _ms(latest),
        )
        notification = replace(notification, expected_answer=expected)
    if step is not None:
        window_end = step.callback_window_end
        step = replace(
            step,
            occurred_at=_ms(step.occurred_at),
            callback_window_end=None if window_end is None else _ms(window_end),
        )
    return replace(
        event,
        occurred_at=_ms(event.occurred_at),
        attributes=tuple(replace(a, occurred_at=_ms(a.occurred_at)) for a in event.attributes),
        consent=tuple(replace(c, occurred_at=_ms(c.occurred_at)) for c in event.consent),
        order=None if event.order is None else replace(event.order, occurred_at=_ms(event.order.occurred_at)),
        experience=None
        if event.experience is None
        else replace(event.experience, occurred_at=_ms(event.experience.occurred_at)),
        phone_step=step,
        notification=notification,
    )


def _messages(plan: Plan, writes: list[CustomerWrite]) -> list[Outgoing]:
    """What a written batch publishes: earlier writes' messages first (on compacted ``profiles.v1`` the
    last message of a key is the one kept), then those of its own writes."""
    return unpublished(plan) + [m for write in writes if write.outbox for m in write.outbox.messages]
