"""Notify against the real broker, the local MongoDB-wire server, a real SMTP server and the local
provider sink: one case, exactly one acknowledgement in the customer's language with its answer time;
replays send nothing; auto-replies get nothing; a 4xx is retried, a 5xx dead-lettered (and answered by
SMS instead); rising load sends a status update; a callback nobody can make is moved by SMS; a resolved
case gets one survey."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

import pytest
from aiokafka import AIOKafkaConsumer
from pymongo.asynchronous.database import AsyncDatabase

from schemas.cases import CaseChange, CaseChanged
from schemas.catalog import DLQ_SUFFIX
from schemas.commerce import OrderDelivered
from schemas.customers import Purpose
from schemas.feedback import FeedbackReceived
from schemas.identifiers import CustomerIdentifier
from schemas.interactions import Channel, Direction, InteractionEvent
from schemas.notifications import ExpectedAnswerKind, MessageKind, NotificationChanged, NotificationStatus
from schemas.routing import AssignmentChange, AssignmentChanged
from services.common import survey_tokens
from services.common.kafka.connection import aiokafka_options
from services.common.mongo import Document
from services.common.settings import CommonSettings
from services.notify.adapters.outbound.mongo_store import MongoNotifyStore
from services.notify.core.records import PromiseKind, PromiseState, SendState
from services.notify.delivery import notification_id
from services.notify.service import NotifyService
from tests.notify.integration.conftest import MailServer, NotifyParts, ProviderSink
from tests.notify.integration.notify_flow import (
    ALWAYS_OPEN,
    case_opened,
    closed,
    email_of,
    hour_start,
    phone,
    stats,
)
from tests.support.clock import Clock
from tests.support.kafka import events_on

pytestmark = pytest.mark.integration


async def open_email_queue(
    service: NotifyService, clock: Clock, *, backlog: int = 8, per_hour: int = 4
) -> None:
    await service.put_calendar("email", ALWAYS_OPEN)
    await service.handle_stats([stats("email", clock.now, backlog=backlog, per_hour=per_hour)])


async def notifications_of(infra: CommonSettings, case_id: str, wanted: int) -> list[NotificationChanged]:
    events = await events_on(infra, "notifications.v1", wanted=wanted, timeout_s=10)
    return [e.data for e in events if isinstance(e.data, NotificationChanged) and e.data.case_id == case_id]


async def test_one_case_gets_exactly_one_acknowledgement_in_its_language_with_its_answer_time(
    service: NotifyService,
    mail_server: MailServer,
    notify_db: AsyncDatabase[Document],
    infra: CommonSettings,
    clock: Clock,
) -> None:
    await open_email_queue(service, clock, backlog=8, per_hour=4)  # 2 hours of work ahead
    opened = case_opened(clock.now, language="sv")
    contact = opened.contact
    assert contact is not None

    assert await service.handle_cases([opened]) == 1

    [mail] = mail_server.accepted
    assert mail["To"] == contact.identifiers[0].value
    assert mail["Auto-Submitted"] == "auto-replied"
    assert mail["In-Reply-To"] == contact.source_message_id
    assert str(contact.source_message_id) in str(mail["References"])
    body = mail.get_content()
    assert "tagit emot" in f"{mail['Subject']} {body}"  # Swedish, as the customer wrote
    [send] = await service.notifications(opened.case_id)
    assert send.state is SendState.SENT
    assert send.language == "sv"
    expected = send.expected_answer
    assert expected is not None
    assert expected.kind is ExpectedAnswerKind.WITHIN
    assert expected.said in body
    # 2 hours of work said as 1-3 hours from now, rounded to whole hours.
    assert expected.earliest == clock.now + timedelta(hours=1)
    assert expected.latest == clock.now + timedelta(hours=3)
    [promise] = await service.promises(opened.case_id)
    assert promise.kind is PromiseKind.ANSWER_BY
    assert promise.due_at == expected.latest
    [published] = await notifications_of(infra, opened.case_id, wanted=1)
    assert published.status is NotificationStatus.SENT
    assert published.notification_id == notification_id(send.send_key)
    assert published.expected_answer == expected
    assert published.kind is MessageKind.ACKNOWLEDGEMENT


async def test_replaying_every_topic_sends_nothing_new(
    service: NotifyService,
    mail_server: MailServer,
    notify_db: AsyncDatabase[Document],
    clock: Clock,
) -> None:
    await open_email_queue(service, clock)
    opened = case_opened(clock.now)
    joined_later = opened.model_copy(update={"interactions": 2})
    await service.handle_cases([opened, joined_later])
    assert len(mail_server.accepted) == 1

    clock.advance(minutes=5)
    # The same messages again, as a redelivered batch and as a fresh worker replaying from offset 0.
    assert await service.handle_cases([opened, joined_later]) == 0
    assert await service.tick() == 0
    assert len(mail_server.accepted) == 1
    assert len(await service.notifications(opened.case_id)) == 1
    assert len(await service.promises(opened.case_id)) == 1


async def test_a_second_contact_in_the_same_conversation_the_same_day_is_not_acknowledged_again(
    service: NotifyService, mail_server: MailServer, clock: Clock
) -> None:
    await open_email_queue(service, clock)
    opened = case_opened(clock.now)
    await service.handle_cases([opened])
    contact = opened.contact
    assert contact is not None
    again = opened.model_copy(
        update={"contact": contact.model_copy(update={"event_id": "interaction-second"}), "interactions": 2}
    )
    clock.advance(hours=2)
    assert await service.handle_cases([again]) == 0
    assert len(mail_server.accepted) == 1


@pytest.mark.parametrize(
    ("auto_submitted", "direction"), [(True, Direction.INBOUND), (False, Direction.OUTBOUND)]
)
async def test_auto_replies_and_our_own_messages_get_no_answer(
    service: NotifyService, mail_server: MailServer, clock: Clock, auto_submitted: bool, direction: Direction
) -> None:
    await open_email_queue(service, clock)
    opened = case_opened(clock.now, auto_submitted=auto_submitted, direction=direction)
    assert await service.handle_cases([opened]) == 0
    assert mail_server.accepted == []
    assert await service.notifications(opened.case_id) == []


async def test_an_smtp_4xx_is_retried_until_the_mail_is_taken(
    service: NotifyService, mail_server: MailServer, clock: Clock
) -> None:
    await open_email_queue(service, clock)
    mail_server.refusals = ["451 4.3.0 Try again later", "421 4.7.0 Busy"]
    opened = case_opened(clock.now)

    assert await service.handle_cases([opened]) == 1

    assert mail_server.data_commands == 3
    assert len(mail_server.accepted) == 1
    [send] = await service.notifications(opened.case_id)
    assert send.state is SendState.SENT


async def test_an_smtp_5xx_is_dead_lettered_and_answered_by_sms_instead(
    service: NotifyService,
    mail_server: MailServer,
    provider_sink: ProviderSink,
    infra: CommonSettings,
    clock: Clock,
) -> None:
    await open_email_queue(service, clock)
    mail_server.refusals = ["550 5.1.1 No such mailbox"]
    opened = case_opened(clock.now, identifiers=(email_of("gone"), phone("+4791234567")))

    assert await service.handle_cases([opened]) == 1  # the SMS

    assert mail_server.data_commands == 1  # a hard bounce is not retried
    assert mail_server.accepted == []
    failed, texted = await service.notifications(opened.case_id)
    assert failed.state is SendState.FAILED
    assert failed.reason == "smtp_550"
    assert texted.state is SendState.SENT
    assert texted.address.channel is Channel.SMS
    [request] = provider_sink.requests("sms")
    sms = json.loads(request.read_text())
    assert sms["form"]["To"] == "+4791234567"
    assert "tagit emot" in sms["form"]["Body"]

    headers = await dead_letter_of_send(infra, failed.send_key)
    assert headers["dlq_error_reason"] == b"smtp_550"
    assert b"gone@example.se" not in b"".join(headers.values())
    statuses = {(n.channel, n.status) for n in await notifications_of(infra, opened.case_id, wanted=2)}
    assert statuses == {(Channel.EMAIL, NotificationStatus.FAILED), (Channel.SMS, NotificationStatus.SENT)}


async def dead_letter_of_send(infra: CommonSettings, send_key: str) -> dict[str, bytes]:
    consumer = AIOKafkaConsumer(
        "notifications.v1" + DLQ_SUFFIX, auto_offset_reset="earliest", **aiokafka_options(infra)
    )
    await consumer.start()
    try:
        for _ in range(40):
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    headers = dict(record.headers)
                    if headers.get("dlq_send_key") == send_key.encode():
                        assert record.value == b""
                        return headers
    finally:
        await consumer.stop()
    raise AssertionError("no dead letter for the refused send")


async def test_rising_load_sends_a_status_update_with_the_new_time_once(
    service: NotifyService, mail_server: MailServer, clock: Clock
) -> None:
    await open_email_queue(service, clock, backlog=4, per_hour=4)
    opened = case_opened(clock.now, language="en")
    await service.handle_cases([opened])
    [before] = await service.promises(opened.case_id)

    clock.advance(minutes=10)
    await service.handle_stats([stats("email", clock.now, backlog=40, per_hour=4)])  # 10 hours of work
    assert await service.tick() == 1
    assert await service.tick() == 0  # the renewed promise holds

    _acknowledgement, update = mail_server.accepted
    assert "update" in f"{update['Subject']} {update.get_content()}".lower()
    [after] = await service.promises(opened.case_id)
    assert after.updates == 1
    assert after.due_at > before.due_at + timedelta(hours=5)
    sends = await service.notifications(opened.case_id)
    assert [s.kind for s in sends] == [MessageKind.ACKNOWLEDGEMENT, MessageKind.STATUS_UPDATE]
    renewed = sends[1].expected_answer
    assert renewed is not None
    assert renewed.latest == after.due_at


async def test_an_agent_taking_the_case_keeps_the_promise_and_stops_updates(
    service: NotifyService, mail_server: MailServer, clock: Clock
) -> None:
    await open_email_queue(service, clock, backlog=4, per_hour=4)
    opened = case_opened(clock.now)
    await service.handle_cases([opened])
    clock.advance(minutes=20)
    accepted = accepted_by("ada", opened, clock.now)
    assert await service.handle_assignments([accepted]) == 1
    assert len(mail_server.accepted) == 1  # telling "taken" is off by default
    await service.handle_stats([stats("email", clock.now, backlog=80, per_hour=4)])

    assert await service.tick() == 0
    [promise] = await service.promises(opened.case_id)
    assert promise.state is PromiseState.KEPT
    assert promise.settled_at == clock.now
    assert len(mail_server.accepted) == 1


async def test_a_callback_nobody_can_make_is_moved_by_sms_before_its_window(
    service: NotifyService, provider_sink: ProviderSink, clock: Clock
) -> None:
    await service.put_calendar("callback", ALWAYS_OPEN)
    window = (clock.now + timedelta(minutes=10), clock.now + timedelta(minutes=40))
    opened = case_opened(
        clock.now,
        channel=Channel.PHONE,
        step=InteractionEvent.CALLBACK_REQUESTED,
        identifiers=(phone("+4798765432"),),
        callback_window=window,
        language="nb",
    )
    staffed_from = hour_start(clock.now, 3)
    await service.handle_stats(
        [stats("callback", clock.now, backlog=1, per_hour=0, scheduled={staffed_from: 2})]
    )
    assert await service.handle_cases([opened]) == 1  # the acknowledgement, by SMS
    [callback] = [p for p in await service.promises(opened.case_id) if p.kind is PromiseKind.CALLBACK]
    assert (callback.starts_at, callback.due_at) == window

    assert await service.tick() == 1

    [moved] = [p for p in await service.promises(opened.case_id) if p.kind is PromiseKind.CALLBACK]
    assert moved.starts_at == staffed_from
    assert moved.due_at == staffed_from + timedelta(minutes=30)
    texts = [json.loads(path.read_text())["form"] for path in provider_sink.requests("sms")]
    assert [text["To"] for text in texts] == ["+4798765432", "+4798765432"]
    sends = await service.notifications(opened.case_id)
    assert [s.kind for s in sends] == [MessageKind.ACKNOWLEDGEMENT, MessageKind.CALLBACK_RESCHEDULED]
    assert await service.tick() == 0  # the new window is staffed


async def test_a_resolved_case_gets_one_survey_after_the_delay_and_spam_gets_none(
    service: NotifyService, mail_server: MailServer, notify_db: AsyncDatabase[Document], clock: Clock
) -> None:
    await open_email_queue(service, clock)
    resolved = case_opened(clock.now, language="en")
    spam = case_opened(clock.now, language="en")
    await service.handle_cases([resolved, spam])
    clock.advance(minutes=30)
    await service.handle_cases([closed(resolved, clock.now), closed(spam, clock.now, reason="spam")])
    [kept] = await service.promises(resolved.case_id)
    [cancelled] = await service.promises(spam.case_id)
    assert kept.state is PromiseState.KEPT
    assert cancelled.state is PromiseState.CANCELLED

    clock.advance(minutes=60)
    assert await service.tick() == 0  # not yet: two hours after the close
    clock.advance(minutes=61)
    assert await service.tick() == 1
    assert await service.tick() == 0
    await service.handle_cases([closed(resolved, clock.now - timedelta(minutes=121))])  # a redelivered close
    assert await service.tick() == 0

    survey = mail_server.accepted[-1]
    assert survey["To"] == email_of(resolved.customer_id).value
    assert "/v1/feedback/form?t=" in survey.get_content()  # the link, with its token
    sends = await service.notifications(resolved.case_id)
    assert [s.kind for s in sends] == [MessageKind.ACKNOWLEDGEMENT, MessageKind.CASE_EVALUATION]
    assert [s.kind for s in await service.notifications(spam.case_id)] == [MessageKind.ACKNOWLEDGEMENT]
    store = MongoNotifyStore(notify_db)
    case = await store.case(resolved.case_id)
    assert case is not None
    assert case.survey_sent


async def surveyed(service: NotifyService, mail_server: MailServer, clock: Clock) -> tuple[str, str, str]:
    """A case acknowledged, resolved and surveyed: its case id, customer id and the survey link's token."""
    await open_email_queue(service, clock)
    opened = case_opened(clock.now, language="en")
    await service.handle_cases([opened])
    clock.advance(minutes=30)
    await service.handle_cases([closed(opened, clock.now)])
    clock.advance(hours=2, minutes=1)
    assert await service.tick() == 1
    survey = mail_server.accepted[-1].get_content()
    [token] = re.findall(r"/v1/feedback/form\?t=([A-Za-z0-9_.\-]+)", survey)
    return opened.case_id, opened.customer_id, token


async def test_the_survey_link_carries_a_signed_token_naming_the_case_and_nothing_personal(
    service: NotifyService, mail_server: MailServer, clock: Clock
) -> None:
    case_id, customer_id, token = await surveyed(service, mail_server, clock)

    claims = survey_tokens.verify(token, survey_tokens.DEVELOPMENT_SURVEY_SECRET, clock.now)
    assert (claims.case_id, claims.customer_id) == (case_id, customer_id)
    [_, survey] = await service.notifications(case_id)
    assert claims.survey_id == notification_id(survey.send_key)
    assert claims.expires_at > clock.now + timedelta(days=13)
    with pytest.raises(survey_tokens.InvalidSurveyTokenError):
        survey_tokens.verify(token, "another-secret-of-enough-length-0123456789", clock.now)


@pytest.mark.parametrize(("rating", "follows_up"), [(1, True), (5, False)])
async def test_an_answer_is_acknowledged_once_and_a_negative_one_promises_a_follow_up(
    service: NotifyService, mail_server: MailServer, clock: Clock, rating: int, follows_up: bool
) -> None:
    case_id, customer_id, token = await surveyed(service, mail_server, clock)
    claims = survey_tokens.verify(token, survey_tokens.DEVELOPMENT_SURVEY_SECRET, clock.now)
    clock.advance(hours=3)  # the customer reads the survey later
    answer = FeedbackReceived(
        survey_id=claims.survey_id,
        case_id=case_id,
        customer_id=customer_id,
        rating=rating,
        occurred_at=clock.now,
    )

    assert await service.handle_feedback([answer]) == 1
    assert await service.handle_feedback([answer]) == 0  # redelivered

    thanks = mail_server.accepted[-1].get_content()
    assert "thank you for your feedback" in f"{mail_server.accepted[-1]['Subject']} {thanks}".lower()
    assert ("will contact you" in thanks) is follows_up
    kinds = [s.kind for s in await service.notifications(case_id)]
    assert kinds[-1] is MessageKind.FEEDBACK_ACKNOWLEDGED
    assert kinds.count(MessageKind.FEEDBACK_ACKNOWLEDGED) == 1


async def test_a_reopened_case_closed_again_gets_a_survey_of_its_own(
    service: NotifyService, mail_server: MailServer, clock: Clock
) -> None:
    await open_email_queue(service, clock)
    opened = case_opened(clock.now, language="en")
    await service.handle_cases([opened])
    clock.advance(minutes=30)
    await service.handle_cases([closed(opened, clock.now)])
    clock.advance(hours=2, minutes=1)
    assert await service.tick() == 1  # the first survey
    clock.advance(hours=1)
    reopened = opened.model_copy(
        update={"change": CaseChange.REOPENED, "last_activity_at": clock.now, "contact": None}
    )
    await service.handle_cases([reopened, reopened])  # redelivered too
    clock.advance(hours=1)
    await service.handle_cases([closed(opened, clock.now)])
    clock.advance(hours=2, minutes=1)

    assert await service.tick() == 1
    assert await service.tick() == 0
    kinds = [s.kind for s in await service.notifications(opened.case_id)]
    assert kinds == [MessageKind.ACKNOWLEDGEMENT, MessageKind.CASE_EVALUATION, MessageKind.CASE_EVALUATION]


async def test_when_asked_to_the_customer_hears_that_someone_took_the_case_once(
    notify_parts: NotifyParts, mail_server: MailServer, clock: Clock
) -> None:
    service = notify_parts.service(tell_assigned=True)
    await open_email_queue(service, clock)
    opened = case_opened(clock.now, language="en")
    await service.handle_cases([opened])
    clock.advance(minutes=5)
    accepted = accepted_by("ada", opened, clock.now)
    await service.handle_assignments([accepted, accepted])

    kinds = [s.kind for s in await service.notifications(opened.case_id)]
    assert kinds == [MessageKind.ACKNOWLEDGEMENT, MessageKind.ASSIGNED]
    assert "ada" not in mail_server.accepted[-1].get_content()


async def test_while_we_wait_for_the_supplier_the_customer_hears_so_when_the_promised_time_comes(
    service: NotifyService, mail_server: MailServer, clock: Clock
) -> None:
    await open_email_queue(service, clock)
    opened = case_opened(clock.now, language="en")
    await service.handle_cases([opened])
    clock.advance(minutes=20)
    await service.handle_assignments([accepted_by("ada", opened, clock.now)])  # she asks the supplier
    promise = await service.promise_supplier_update(opened.case_id, clock.now + timedelta(hours=4))
    assert promise is not None
    assert promise.kind is PromiseKind.SUPPLIER_UPDATE

    clock.advance(hours=3, minutes=59)
    assert await service.tick() == 0  # not due yet
    clock.advance(minutes=2)
    assert await service.tick() == 1
    assert await service.tick() == 0  # renewed: the next update is due hours from now

    update = mail_server.accepted[-1].get_content()
    assert "supplier" in update
    [renewed] = [p for p in await service.promises(opened.case_id) if p.kind is PromiseKind.SUPPLIER_UPDATE]
    assert renewed.updates == 1
    assert renewed.due_at >= clock.now + timedelta(hours=4)
    kept = await service.keep_promise(renewed.promise_id)
    assert kept is not None
    assert kept.state is PromiseState.KEPT
    clock.advance(hours=10)
    assert await service.tick() == 0  # kept: nothing more to say


def accepted_by(agent_id: str, opened: CaseChanged, at: datetime) -> AssignmentChanged:
    return AssignmentChanged(
        change=AssignmentChange.ACCEPTED,
        case_id=opened.case_id,
        customer_id=opened.customer_id,
        queue="email",
        channel=opened.channel,
        category=opened.category,
        tier=opened.customer.tier,
        offer_id=f"{opened.case_id}.1",
        agent_id=agent_id,
        waiting_since=opened.opened_at,
        occurred_at=at,
    )


def delivered(
    at: datetime, *, identifiers: tuple[CustomerIdentifier, ...], language: str = "sv"
) -> OrderDelivered:
    opened = case_opened(at, language=language)
    return OrderDelivered(
        order_id=f"order-{opened.case_id[:8]}",
        customer_id=opened.customer_id,
        delivered_at=at,
        identifiers=list(identifiers),
        customer=opened.customer,
    )


async def test_a_delivered_order_is_asked_about_once_a_day_later_and_its_answer_is_thanked(
    service: NotifyService, mail_server: MailServer, clock: Clock
) -> None:
    order = delivered(clock.now, identifiers=(email_of("olle"), phone("+46701234567")))
    assert await service.handle_deliveries([order, order]) == 1  # redelivered: kept once

    clock.advance(hours=23)
    assert await service.tick() == 0
    clock.advance(hours=1, minutes=1)
    assert await service.tick() == 1
    assert await service.tick() == 0

    survey = mail_server.accepted[-1]
    assert survey["To"] == "olle@example.se"
    assert "levererats" in survey.get_content()  # Swedish, the customer's language
    [token] = re.findall(r"/v1/feedback/form\?t=([A-Za-z0-9_.\-]+)", survey.get_content())
    claims = survey_tokens.verify(token, survey_tokens.DEVELOPMENT_SURVEY_SECRET, clock.now)
    assert (claims.order_id, claims.case_id, claims.customer_id) == (order.order_id, None, order.customer_id)

    clock.advance(hours=2)
    answer = FeedbackReceived(
        survey_id=claims.survey_id,
        order_id=order.order_id,
        customer_id=order.customer_id,
        rating=2,
        occurred_at=clock.now,
    )
    assert await service.handle_feedback([answer, answer]) == 1
    thanks = mail_server.accepted[-1]
    assert thanks["To"] == "olle@example.se"
    assert "återkoppling" in thanks.get_content().lower() or "feedback" in thanks["Subject"].lower()


async def test_no_delivery_survey_without_consent_or_once_stale(
    service: NotifyService, mail_server: MailServer, clock: Clock
) -> None:
    refused = delivered(clock.now, identifiers=(email_of("nej"),))
    refused = refused.model_copy(
        update={
            "customer": refused.customer.model_copy(update={"consent": {Purpose.SERVICE_MESSAGES: False}})
        }
    )
    late = delivered(clock.now - timedelta(days=10), identifiers=(email_of("sent"),))
    await service.handle_deliveries([refused, late])

    clock.advance(days=1, minutes=1)
    assert await service.tick() == 0
    assert mail_server.accepted == []
