"""Notify's service: what the customer is told, when, and on which channel.

- ``handle_cases`` (``cases.v1``): a new inbound contact gets one acknowledgement with an honest expected
  answer time, and the answer time becomes a promise; a callback request becomes a callback promise; a
  close settles the promises and schedules the satisfaction survey.
- ``handle_assignments`` (``assignments.v1``): an agent taking the case keeps (or, late, breaks) the
  answer promise; overflow and callback offers move the case to its new queue.
- ``handle_stats`` (``queue-stats.v1``): the newest figures of each queue, for the next estimate.
- ``handle_deliveries`` (``deliveries.v1``): a delivered order is asked about a day later ("are you
  satisfied?").
- ``handle_feedback`` (``feedback.v1``): the customer is thanked for a survey answer, and told someone
  follows a negative one up (profile reopens the case; a ``reopened`` change opens it here too).
- ``tick``: promises that will be missed get a status update with the new time, callbacks that cannot
  happen get a new window by SMS, due surveys go out, sends whose sender died are finished, and events
  not yet acknowledged by the broker are published.

Sending (``delivery``) is at most once per send key: the key (event, case, promise version, channel) is
claimed in the database before the provider is called, so a replayed topic or a redelivered batch sends
nothing new. A sender that died between claim and answer leaves a claimed send that the tick finishes
after a lease: the only case where a customer could get a message twice, because nobody can know whether
the provider took it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from schemas.cases import CaseChange, CaseChanged, CaseStatus, CloseReason
from schemas.commerce import OrderDelivered
from schemas.customers import Purpose
from schemas.feedback import FeedbackReceived
from schemas.identifiers import IdentifierKind
from schemas.interactions import Channel, Direction, InteractionEvent
from schemas.notifications import (
    MessageKind,
)
from schemas.routing import AssignmentChange, AssignmentChanged, QueueStats
from services.notify.calendars import CalendarSpec
from services.notify.core.acknowledge import Acknowledge, acknowledgement, conversation_of
from services.notify.core.calendar import OpeningHours, QueueCalendar
from services.notify.core.eta import DEFAULT_RULES, Estimate, EtaRules, estimate, round_estimate
from services.notify.core.followup import (
    DEFAULT_FOLLOW_UP_RULES,
    FollowUpRules,
    delivery_address,
    quiet_until,
    reader_zone,
    survey_due,
    survey_stale,
)
from services.notify.core.language import Language
from services.notify.core.promises import (
    DEFAULT_PROMISE_RULES,
    PromiseRules,
    answer_promise,
    callback_new_window,
    callback_promise,
    cancelled,
    needs_update,
    next_supplier_update,
    renewed,
    rescheduled,
    settled,
    supplier_promise,
    supplier_update_due,
)
from services.notify.core.records import (
    Address,
    CaseRecord,
    DeliveryFollowUp,
    PromiseKind,
    PromiseRecord,
    PromiseState,
    Reader,
    SendRecord,
)
from services.notify.core.wording import TEMPLATES, VARIABLES, template_name
from services.notify.delivery import Delivery, notification_id
from services.notify.ports import (
    DeadSends,
    NotificationFeed,
    NotifyStore,
    Sender,
    SurveyLinks,
)

_log = logging.getLogger(__name__)
# Queues answered live: their estimate counts agents coming free, not the queue's clearing rate.
_LIVE_QUEUES = frozenset({"chat", "phone", "callback"})
_NOT_ANSWERED = frozenset(
    {CloseReason.SPAM.value, CloseReason.DUPLICATE.value, CloseReason.NO_REPLY_NEEDED.value}
)


def _weekdays_8_to_16() -> QueueCalendar:
    hours = OpeningHours.weekly({day: [("08:00", "16:00")] for day in range(5)})
    return QueueCalendar("Europe/Oslo", hours, "NO")


DEFAULT_CALENDAR = _weekdays_8_to_16()


@dataclass(frozen=True)
class NotifyRules:
    # The queue a case waits in, by the channel it was opened on; routing's defaults.
    queues: dict[Channel, str] = field(
        default_factory=lambda: {
            Channel.PHONE: "phone",
            Channel.CHAT: "chat",
            Channel.SMS: "messaging",
            Channel.MESSENGER: "messaging",
            Channel.INSTAGRAM: "messaging",
            Channel.EMAIL: "email",
            Channel.WEB_FORM: "email",
            Channel.PORTAL: "email",
            Channel.STORE: "email",
        }
    )
    callback_queue: str = "callback"
    # The calendar of a queue nobody configured: weekdays 08-16 in Oslo, Norwegian holidays.
    default_calendar: QueueCalendar = DEFAULT_CALENDAR
    eta: EtaRules = DEFAULT_RULES
    promises: PromiseRules = DEFAULT_PROMISE_RULES
    follow_up: FollowUpRules = DEFAULT_FOLLOW_UP_RULES
    # A send claimed this long ago and never finished lost its sender: finish it.
    send_lease: timedelta = timedelta(minutes=2)
    # Tell the customer when an agent takes the case (off by default: the answer itself follows soon).
    tell_assigned: bool = False
    # Customers whose case changes are handled at once (each may wait on a provider).
    customers_at_once: int = 16


class PromiseConflictError(Exception):
    """The promise is not in a state that allows the change."""


class NotifyService:
    def __init__(
        self,
        store: NotifyStore,
        sender: Sender,
        feed: NotificationFeed,
        dead_sends: DeadSends,
        now: Callable[[], datetime],
        *,
        survey_links: SurveyLinks,
        rules: NotifyRules | None = None,
    ) -> None:
        self._survey_links = survey_links
        self._delivery = Delivery(store, sender, feed, dead_sends, now)
        self._store = store
        self._sender = sender
        self._feed = feed
        self._dead_sends = dead_sends
        self._now = now
        self._rules = rules or NotifyRules()
        self._side_by_side = asyncio.Semaphore(self._rules.customers_at_once)

    # -- consumed events -------------------------------------------------------------------------------

    async def handle_cases(self, changes: Sequence[CaseChanged]) -> int:
        """Returns how many messages went out. Customers are served side by side (a send waits on a
        provider); each customer's changes in the order they came."""
        by_customer: dict[str, list[CaseChanged]] = {}
        for changed in changes:
            by_customer.setdefault(changed.customer_id, []).append(changed)

        async def in_order(theirs: list[CaseChanged]) -> int:
            async with self._side_by_side:
                return sum([await self._case_changed(changed) for changed in theirs])

        return sum(await asyncio.gather(*(in_order(theirs) for theirs in by_customer.values())))

    async def handle_assignments(self, changes: Sequence[AssignmentChanged]) -> int:
        """Returns how many cases it changed."""
        changed_cases = 0
        for change in changes:
            case = await self._store.case(change.case_id)
            if case is None:
                continue  # a case notify never heard of: nothing was promised
            if change.change is AssignmentChange.ACCEPTED:
                case = replace(case, agent_id=change.agent_id)
                await self._settle(case, change.occurred_at, answered=True)
                if self._rules.tell_assigned:
                    await self._tell_assigned(case, change)
            elif change.change in {AssignmentChange.OVERFLOWED, AssignmentChange.CALLBACK_OFFERED}:
                case = replace(case, queue=change.queue)
            else:
                continue
            await self._store.save_case(case)
            changed_cases += 1
        return changed_cases

    async def handle_feedback(self, answers: Sequence[FeedbackReceived]) -> int:
        """Tell each customer their answer was heard, and that someone follows a negative one up (profile
        reopens the case, or opens one about the order). Returns how many messages went out."""
        now = self._now()
        sent = 0
        for answer in answers:
            found = await self._asked(answer)
            if found is None:
                continue  # nowhere we may answer
            reader, address, time_zone = found
            send = self._delivery.message(
                replace(reader, customer_id=answer.customer_id),
                MessageKind.FEEDBACK_ACKNOWLEDGED,
                now=now,
                key=f"feedback:{answer.survey_id}",
                address=address,
                context={"follow_up": answer.negative},
                time_zone=time_zone,
            )
            sent += await self._delivery.deliver(send, reader)
        return sent

    async def _asked(self, answer: FeedbackReceived) -> tuple[Reader, Address, str] | None:
        """Whom the answered survey was sent to, where, and in which zone; None when we may not answer."""
        if answer.case_id is not None:
            case = await self._store.case(answer.case_id)
            if case is None or case.address is None or case.consents_to_service is False:
                return None
            return case.reader, case.address, (await self._calendar(case.queue)).time_zone
        delivery = await self._store.delivery(answer.order_id or "")
        if delivery is None or delivery.address is None or delivery.consents_to_service is False:
            return None
        return delivery.reader, delivery.address, self._rules.default_calendar.time_zone

    async def handle_deliveries(self, deliveries: Sequence[OrderDelivered]) -> int:
        """Keep each delivered order to ask about later; returns how many were new."""
        kept = 0
        for delivered in deliveries:
            phone = next(
                (i.value for i in delivered.identifiers if i.kind is IdentifierKind.PHONE and not i.unparsed),
                None,
            )
            follow_up = DeliveryFollowUp(
                order_id=delivered.order_id,
                customer_id=delivered.customer_id,
                delivered_at=delivered.delivered_at,
                due_at=delivered.delivered_at + self._rules.follow_up.delivery_survey_after,
                address=delivery_address(delivered.identifiers),
                language=delivered.customer.language,
                phone=phone,
                consents_to_service=delivered.customer.consent.get(Purpose.SERVICE_MESSAGES),
            )
            kept += await self._store.save_delivery(follow_up)
        return kept

    async def _tell_assigned(self, case: CaseRecord, change: AssignmentChanged) -> None:
        """Optional: "someone has taken your case" (agents are not named: notify knows ids only)."""
        if case.address is None or case.consents_to_service is False or case.status is CaseStatus.CLOSED:
            return
        calendar = await self._calendar(case.queue)
        send = self._delivery.message(
            case.reader,
            MessageKind.ASSIGNED,
            now=self._now(),
            key=f"assigned:{case.case_id}:{change.offer_id or change.agent_id}",
            address=case.address,
            context={"agent_name": None},
            time_zone=calendar.time_zone,
        )
        await self._delivery.deliver(send, case.reader)

    async def handle_stats(self, stats: Sequence[QueueStats]) -> int:
        kept = 0
        for each in stats:
            kept += await self._store.save_stats(each)
        return kept

    # -- the clock ---------------------------------------------------------------------------------------

    async def tick(self) -> int:
        """Everything time alone makes due; returns how many messages went out."""
        sent = await self.finish_unfinished()
        sent += await self.keep_promises()
        sent += await self.send_surveys()
        sent += await self.send_delivery_surveys()
        await self.republish()
        return sent

    async def keep_promises(self) -> int:
        now = self._now()
        sent = 0
        for promise in await self._store.open_promises():
            case = await self._store.case(promise.case_id)
            if case is None or case.status is CaseStatus.CLOSED:
                continue
            if promise.kind is PromiseKind.ANSWER_BY and case.agent_id is None:
                sent += await self._update_answer_time(case, promise, now)
            elif promise.kind is PromiseKind.CALLBACK:
                sent += await self._reschedule_callback(case, promise, now)
            elif promise.kind is PromiseKind.SUPPLIER_UPDATE:
                sent += await self._still_waiting_for_supplier(case, promise, now)
        return sent

    async def send_surveys(self) -> int:
        now = self._now()
        sent = 0
        for case in await self._store.due_follow_ups(now):
            if case.survey_due_at is None or case.closed_at is None:
                continue
            address = case.address
            stale = survey_stale(case.survey_due_at, now, self._rules.follow_up)
            if stale or address is None or case.consents_to_service is False:
                await self._store.save_case(replace(case, survey_sent=True))
                continue
            calendar = await self._calendar(case.queue)
            key = f"survey:{case.case_id}:{case.closed_at.isoformat()}"
            asked = await self._ask(
                case.reader, MessageKind.CASE_EVALUATION, key, address, calendar.time_zone
            )
            if asked is not None:
                sent += asked
                await self._store.save_case(replace(case, survey_sent=True))
        return sent

    async def send_delivery_surveys(self) -> int:
        """ "Are you satisfied?" a day after a delivery, once, where the order said; not when stale, not
        without consent, not at night by text."""
        now = self._now()
        sent = 0
        for delivery in await self._store.due_deliveries(now):
            address = delivery.address
            stale = survey_stale(delivery.due_at, now, self._rules.follow_up)
            if stale or address is None or delivery.consents_to_service is False:
                await self._store.delivery_surveyed(delivery.order_id)
                continue
            key = f"delivery-survey:{delivery.order_id}"
            asked = await self._ask(
                delivery.reader,
                MessageKind.SATISFACTION_SURVEY,
                key,
                address,
                self._rules.default_calendar.time_zone,
                order_id=delivery.order_id,
            )
            if asked is not None:
                sent += asked
                await self._store.delivery_surveyed(delivery.order_id)
        return sent

    async def _ask(
        self,
        reader: Reader,
        kind: MessageKind,
        key: str,
        address: Address,
        queue_zone: str,
        *,
        order_id: str | None = None,
    ) -> int | None:
        """Send one survey with its signed link; None when not now (a text at night: the morning)."""
        now = self._now()
        zone = reader_zone(address.channel, address.to, now, queue_zone)
        if quiet_until(address.channel, now, zone, rules=self._rules.follow_up):
            return None
        link = self._survey_links.link(
            survey_id=notification_id(key),
            case_id=reader.case_id,
            order_id=order_id,
            customer_id=reader.customer_id,
            expires_at=now + self._rules.follow_up.answer_within,
        )
        send = self._delivery.message(
            reader, kind, now=now, key=key, address=address, context={"survey_url": link}, time_zone=zone
        )
        return await self._delivery.deliver(send, reader)

    async def finish_unfinished(self) -> int:
        sent = 0
        for send in await self._store.unfinished(self._now() - self._rules.send_lease):
            case = await self._store.case(send.case_id) if send.case_id else None
            sent += await self._delivery.attempt(send, case.reader if case else None)
        return sent

    async def republish(self) -> None:
        pending = await self._store.unpublished()
        if pending:
            await self._delivery.publish(pending)

    # -- cases ---------------------------------------------------------------------------------------

    async def _case_changed(self, changed: CaseChanged) -> int:
        known = await self._store.case(changed.case_id)
        if changed.change is CaseChange.CLOSED:
            await self._closed(changed, known)
            return 0
        case = self._case_record(changed, known)
        if changed.change is CaseChange.REOPENED:
            # Worked again: a later close is a new resolution with a survey of its own.
            await self._store.save_case(
                replace(
                    case,
                    status=CaseStatus.OPEN,
                    closed_at=None,
                    close_reason=None,
                    agent_id=None,
                    survey_due_at=None,
                )
            )
            return 0
        contact = changed.contact
        if changed.change is CaseChange.MOVED or contact is None:
            await self._store.save_case(case)
            return 0
        if contact.direction is Direction.OUTBOUND:
            await self._store.save_case(replace(case, agent_replied=True))
            return 0
        now = self._now()
        conversation = conversation_of(changed)
        last = await self._store.last_told(conversation)
        told = {conversation: last} if last is not None else {}
        decision = acknowledgement(changed, told, now, agent_replied=case.agent_replied)
        if isinstance(decision, Acknowledge):
            case = replace(case, address=_address(decision))
        await self._store.save_case(case)
        if contact.step is InteractionEvent.CALLBACK_REQUESTED:
            await self._promise_callback(case, changed, now)
        if not isinstance(decision, Acknowledge):
            _log.info("no acknowledgement for case %s: %s", changed.case_id, decision.value)
            return 0
        return await self._acknowledge(case, changed, decision, now)

    def _case_record(self, changed: CaseChanged, known: CaseRecord | None) -> CaseRecord:
        contact = changed.contact
        callback = contact is not None and contact.step is InteractionEvent.CALLBACK_REQUESTED
        queue = self._rules.callback_queue if callback else self._rules.queues.get(changed.channel, "email")
        phone = next(
            (
                i.value
                for i in (contact.identifiers if contact else [])
                if i.kind is IdentifierKind.PHONE and not i.unparsed
            ),
            None,
        )
        consent = changed.customer.consent.get(Purpose.SERVICE_MESSAGES)
        language = changed.customer.language or changed.language
        if known is None:
            return CaseRecord(
                case_id=changed.case_id,
                customer_id=changed.customer_id,
                queue=queue,
                channel=changed.channel,
                category=changed.category,
                status=changed.status,
                opened_at=changed.opened_at,
                language=language,
                phone=phone,
                consents_to_service=consent,
            )
        return replace(
            known,
            customer_id=changed.customer_id,
            queue=self._rules.callback_queue if callback else known.queue,
            language=language or known.language,
            phone=phone or known.phone,
            consents_to_service=consent,
            status=known.status if known.status is CaseStatus.CLOSED else changed.status,
        )

    async def _acknowledge(
        self, case: CaseRecord, changed: CaseChanged, decision: Acknowledge, now: datetime
    ) -> int:
        contact = changed.contact
        assert contact is not None  # acknowledged contacts exist
        calendar = await self._calendar(case.queue)
        current = await self._estimate(case.queue, calendar, now)
        promise = answer_promise(case, current, now)
        if promise is not None:
            stored = await self._store.promise(promise.promise_id)
            if stored is None:
                await self._store.save_promise(promise)
            else:
                promise = stored  # a second contact: the promise made stands
        send = self._delivery.message(
            case.reader,
            MessageKind.ACKNOWLEDGEMENT,
            now=now,
            key=f"ack:{contact.event_id}:{case.case_id}:{decision.channel.value}",
            address=_address(decision),
            context={"eta": current},
            time_zone=calendar.time_zone,
            conversation=decision.conversation,
            promise_id=promise.promise_id if promise else None,
        )
        return await self._delivery.deliver(send, case.reader)

    async def _closed(self, changed: CaseChanged, known: CaseRecord | None) -> None:
        if known is None:
            known = self._case_record(changed, None)
        closed_at = changed.closed_at or changed.last_activity_at
        if known.status is CaseStatus.CLOSED and known.closed_at == closed_at:
            return  # a redelivered close
        due = survey_due(closed_at, changed.close_reason, self._rules.follow_up)
        case = replace(
            known,
            status=CaseStatus.CLOSED,
            closed_at=closed_at,
            close_reason=changed.close_reason,
            survey_due_at=due,
            survey_sent=False,
        )
        await self._settle(case, closed_at, answered=changed.close_reason not in _NOT_ANSWERED)
        await self._store.save_case(case)

    async def _settle(self, case: CaseRecord, at: datetime, *, answered: bool) -> None:
        for promise in await self._store.promises(case.case_id):
            if promise.state is not PromiseState.OPEN:
                continue
            if promise.kind is not PromiseKind.ANSWER_BY and case.status is not CaseStatus.CLOSED:
                continue  # taking the case is neither the call nor the supplier's answer; the close is
            done = settled(promise, at) if answered else cancelled(promise, at)
            await self._store.save_promise(replace(done, version=promise.version))

    async def _promise_callback(self, case: CaseRecord, changed: CaseChanged, now: datetime) -> None:
        contact = changed.contact
        if contact is None or contact.callback_window_start is None or contact.callback_window_end is None:
            return
        promise = callback_promise(case, contact.callback_window_start, contact.callback_window_end, now)
        if await self._store.promise(promise.promise_id) is None:
            await self._store.save_promise(promise)

    # -- promises ------------------------------------------------------------------------------------

    async def _update_answer_time(self, case: CaseRecord, promise: PromiseRecord, now: datetime) -> int:
        calendar = await self._calendar(case.queue)
        current = await self._estimate(case.queue, calendar, now)
        if not needs_update(
            promise,
            current,
            now,
            time_zone=calendar.time_zone,
            rules=self._rules.promises,
            eta_rules=self._rules.eta,
        ):
            return 0
        address = case.address
        if address is None or case.consents_to_service is False:
            return 0
        zone = reader_zone(address.channel, address.to, now, calendar.time_zone)
        if quiet_until(address.channel, now, zone, rules=self._rules.follow_up):
            return 0  # the morning: the promise is still at risk then
        updated = renewed(promise, current, now)
        if not await self._store.save_promise(updated):
            return 0  # another worker renewed it first
        send = self._delivery.message(
            case.reader,
            MessageKind.STATUS_UPDATE,
            now=now,
            key=f"update:{promise.promise_id}:{updated.updates}",
            address=address,
            context={"eta": current, "waiting_for_supplier": False},
            time_zone=calendar.time_zone,
            promise_id=promise.promise_id,
        )
        return await self._delivery.deliver(send, case.reader)

    async def _still_waiting_for_supplier(
        self, case: CaseRecord, promise: PromiseRecord, now: datetime
    ) -> int:
        if not supplier_update_due(promise, now, self._rules.promises):
            return 0
        calendar = await self._calendar(case.queue)
        current = round_estimate(calendar, now, now, next_supplier_update(promise, now), self._rules.eta)
        updated = renewed(promise, current, now)
        if not await self._store.save_promise(updated):
            return 0  # another worker renewed it first
        address = case.address
        if address is None or case.consents_to_service is False:
            return 0
        send = self._delivery.message(
            case.reader,
            MessageKind.STATUS_UPDATE,
            now=now,
            key=f"supplier:{promise.promise_id}:{updated.updates}",
            address=address,
            context={"eta": current, "waiting_for_supplier": True},
            time_zone=calendar.time_zone,
            promise_id=promise.promise_id,
        )
        return await self._delivery.deliver(send, case.reader)

    async def _reschedule_callback(self, case: CaseRecord, promise: PromiseRecord, now: datetime) -> int:
        calendar = await self._calendar(case.queue)
        stats = await self._store.stats(case.queue)
        window = callback_new_window(promise, stats, calendar, now, self._rules.promises)
        if window is None:
            return 0
        if not await self._store.save_promise(rescheduled(promise, *window, now)):
            return 0
        if case.phone is None or case.consents_to_service is False:
            return 0
        send = self._delivery.message(
            case.reader,
            MessageKind.CALLBACK_RESCHEDULED,
            now=now,
            key=f"callback:{promise.promise_id}:{promise.updates + 1}",
            address=Address(Channel.SMS, case.phone),
            context={"callback_start": window[0], "callback_end": window[1]},
            time_zone=calendar.time_zone,
            promise_id=promise.promise_id,
        )
        return await self._delivery.deliver(send, case.reader)

    # -- estimates -----------------------------------------------------------------------------------

    async def _calendar(self, queue: str) -> QueueCalendar:
        return await self._store.calendar(queue) or self._rules.default_calendar

    async def _estimate(self, queue: str, calendar: QueueCalendar, now: datetime) -> Estimate:
        stats = await self._store.stats(queue) or _no_figures(queue, now)
        live = queue in _LIVE_QUEUES
        return estimate(stats, calendar, now, live=live, rules=self._rules.eta)

    # -- queries (the API) ------------------------------------------------------------------------

    async def notifications(self, case_id: str) -> list[SendRecord]:
        return await self._store.sends(case_id)

    async def promises(self, case_id: str) -> list[PromiseRecord]:
        return await self._store.promises(case_id)

    async def promise_supplier_update(self, case_id: str, due_at: datetime) -> PromiseRecord | None:
        """Record what an agent told the customer: an update by ``due_at`` while we wait for a supplier.
        None for an unknown case; ``PromiseConflictError`` while one is open; ``ValueError`` when due in
        the past."""
        case = await self._store.case(case_id)
        if case is None:
            return None
        made = supplier_promise(case, due_at, self._now())
        stored = await self._store.promise(made.promise_id)
        if stored is not None and stored.state is PromiseState.OPEN:
            raise PromiseConflictError("an update is already promised for this case")
        fresh = replace(made, version=stored.version) if stored is not None else made
        if not await self._store.save_promise(fresh):
            raise PromiseConflictError("the promise changed meanwhile")
        return replace(fresh, version=fresh.version + 1)

    async def keep_promise(self, promise_id: str) -> PromiseRecord | None:
        """An agent kept the promise (the supplier answered, the customer was called back). None when
        unknown; ``PromiseConflictError`` when it was settled before."""
        promise = await self._store.promise(promise_id)
        if promise is None:
            return None
        if promise.state is not PromiseState.OPEN:
            raise PromiseConflictError(f"the promise is {promise.state.value}")
        done = settled(promise, self._now())
        if not await self._store.save_promise(done):
            raise PromiseConflictError("the promise changed meanwhile")
        return replace(done, version=done.version + 1)

    async def put_calendar(self, queue: str, spec: CalendarSpec) -> None:
        await self._store.save_calendar_spec(queue, spec)

    async def calendar_spec(self, queue: str) -> CalendarSpec | None:
        return await self._store.calendar_spec(queue)

    @staticmethod
    def templates() -> list[tuple[MessageKind, frozenset[str], list[Language]]]:
        """Each kind, the variables its templates read, and the languages it is written in."""
        return [
            (
                kind,
                VARIABLES[kind],
                [lang for lang in Language if (TEMPLATES / template_name(lang, kind)).is_file()],
            )
            for kind in MessageKind
        ]


def _address(decision: Acknowledge) -> Address:
    return Address(decision.channel, decision.to.value, decision.to.scope, decision.in_reply_to)


def _no_figures(queue: str, now: datetime) -> QueueStats:
    """A queue routing has not described yet: nothing known, so the defaults decide."""
    return QueueStats(
        queue=queue,
        backlog=0,
        offered=0,
        oldest_wait_seconds=0,
        arrivals_last_hour=0,
        completions_last_hour=0,
        agents_eligible_now=0,
        agents_present_now=0,
        sla_seconds=3600,
        as_of=now,
    )
