"""Sending one message: words rendered in the reader's language, the send key claimed before the
provider is called (a replay or a redelivery finds it claimed and sends nothing), the provider's answer
recorded, a refusal dead-lettered (and a hard email bounce sent by SMS instead), and the outcome published
on ``notifications.v1``."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from schemas.catalog import event_type_of
from schemas.envelope import Event
from schemas.interactions import Channel
from schemas.notifications import ExpectedAnswer, ExpectedAnswerKind, MessageKind, NotificationChanged
from services.notify.core.eta import Estimate
from services.notify.core.language import Language, choose_language, fallback_chain
from services.notify.core.records import Address, Reader, SendRecord, SendState
from services.notify.core.wording import phrase_eta, render
from services.notify.ports import (
    DeadSends,
    NotificationFeed,
    NotifyStore,
    Outgoing,
    PermanentSendError,
    Sender,
    SendError,
)

_log = logging.getLogger(__name__)
SOURCE = "/notify"
_NOTIFICATION_NAMESPACE = uuid.UUID("6f1d4c1e-8a55-4a55-9a0b-6e6f74696679")


def notification_id(send_key: str) -> str:
    return str(uuid.uuid5(_NOTIFICATION_NAMESPACE, send_key))


class Delivery:
    def __init__(
        self,
        store: NotifyStore,
        sender: Sender,
        feed: NotificationFeed,
        dead_sends: DeadSends,
        now: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._sender = sender
        self._feed = feed
        self._dead_sends = dead_sends
        self._now = now

    def message(
        self,
        reader: Reader,
        kind: MessageKind,
        *,
        key: str,
        address: Address,
        context: dict[str, object],
        time_zone: str,
        conversation: str | None = None,
        promise_id: str | None = None,
        now: datetime,
    ) -> SendRecord:
        """``now``: the instant an estimate in ``context`` (``eta``) was made at, so the words say what it
        said; the answer time is recorded as said, in the language the message is in."""
        email = address.to if address.channel is Channel.EMAIL else None
        language = choose_language(reader.language, None, email)
        message = render(
            kind,
            fallback_chain(language.value),
            {"first_name": None, "case_ref": reader.reference, **context},
            now=now,
            time_zone=time_zone,
        )
        return SendRecord(
            send_key=key,
            case_id=reader.case_id,
            customer_id=reader.customer_id,
            kind=kind,
            address=address,
            language=message.language.value,
            subject=message.subject,
            body=message.body,
            claimed_at=now,
            conversation=conversation,
            expected_answer=_expected(eta, message.language, now, time_zone)
            if isinstance(eta := context.get("eta"), Estimate)
            else None,
            promise_id=promise_id,
        )

    async def deliver(self, send: SendRecord, reader: Reader | None) -> int:
        if not await self._store.claim(send):
            return 0  # sent (or being sent) before: a replay or a redelivery
        return await self.attempt(send, reader)

    async def attempt(self, send: SendRecord, reader: Reader | None) -> int:
        outgoing = Outgoing(
            send_key=send.send_key,
            channel=send.address.channel,
            to=send.address.to,
            body=send.body,
            subject=send.subject,
            in_reply_to=send.address.in_reply_to,
            scope=send.address.scope,
        )
        try:
            attempts = await self._sender.send(outgoing)
        except SendError as error:
            failed = replace(
                send,
                state=SendState.FAILED,
                reason=error.code,
                attempts=error.attempts,
                finished_at=self._now(),
            )
            await self._store.finish(failed)
            await self._dead_sends.send(send.send_key, error)
            await self.publish([failed])
            _log.warning("send %s failed: %s", notification_id(send.send_key), error.code)
            if isinstance(error, PermanentSendError):
                return await self._fall_back(failed, reader)
            return 0
        done = replace(send, state=SendState.SENT, attempts=attempts, finished_at=self._now())
        await self._store.finish(done)
        await self.publish([done])
        return 1

    async def _fall_back(self, failed: SendRecord, reader: Reader | None) -> int:
        """A hard email bounce: the same words by SMS, when the customer gave a number and did not refuse
        service messages."""
        if (
            failed.address.channel is not Channel.EMAIL
            or not (failed.reason or "").startswith("smtp_5")
            or reader is None
            or reader.phone is None
            or reader.consents_to_service is False
        ):
            return 0
        fallback = replace(
            failed,
            send_key=f"{failed.send_key}:sms",
            address=Address(Channel.SMS, reader.phone),
            subject=None,
            state=SendState.CLAIMED,
            reason=None,
            attempts=0,
            claimed_at=self._now(),
            finished_at=None,
            published=False,
        )
        return await self.deliver(fallback, reader)

    async def publish(self, sends: Sequence[SendRecord]) -> None:
        events = [_event(send) for send in sends if send.status is not None]
        await self._feed.publish(events)
        await self._store.published([send.send_key for send in sends])


def _expected(current: Estimate, language: Language, now: datetime, time_zone: str) -> ExpectedAnswer:
    return ExpectedAnswer(
        kind=ExpectedAnswerKind(current.kind.value),
        earliest=current.earliest,
        latest=current.latest,
        said=phrase_eta(current, language, now, ZoneInfo(time_zone)),
    )


def _event(send: SendRecord) -> Event[NotificationChanged]:
    status = send.status
    assert status is not None  # only finished sends are published
    at = send.finished_at or send.claimed_at
    return Event[NotificationChanged](
        # One id per send and outcome: a republished event is the same event to its consumers.
        id=str(uuid.uuid5(_NOTIFICATION_NAMESPACE, f"{send.send_key}|{status.value}")),
        source=SOURCE,
        type=event_type_of(NotificationChanged).name,
        subject=send.case_id,
        time=at,
        key=send.customer_id,
        data=NotificationChanged(
            notification_id=notification_id(send.send_key),
            case_id=send.case_id,
            customer_id=send.customer_id,
            kind=send.kind,
            channel=send.address.channel,
            language=send.language,
            status=status,
            reason=send.reason,
            subject=send.subject,
            text=send.body,
            expected_answer=send.expected_answer,
            promise_id=send.promise_id,
            attempts=max(1, send.attempts),
            occurred_at=at,
        ),
    )
