"""E-mail subscriptions to the public status page, as the public's browser drives them: the form, the
double opt-in confirmation (a signed, expiring link mailed to the address), and unsubscribing (a page with a
button for people, RFC 8058 one-click POST for mail providers).

Subscriptions are offered when INCIDENTBOT_SUBSCRIPTION_SECRET is set (it signs the links) and mail can be
sent (INCIDENTBOT_SMTP_URL, INCIDENTBOT_MAIL_FROM); otherwise the page says they are off and the form's POST
answers 404. Unsubscribing works whenever the secret is set, mail server or not.

Every answer to the form is the same "check your inbox" for a new, a pending and a subscribed address
alike; only a malformed address or an unknown component is answered otherwise (neither tells anything of
anyone's subscription). The confirmation mail itself is a durable job, sent after the answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.communication.mails import build_message
from bot.communication.transport import MailFailure
from bot.services.communication import Mailer
from bot.services.statuspage import StatusPageService
from bot.statuspage.subscribers import BadAddress, Requested, Subscriber, SubscriberStore, normalize_email
from bot.statuspage.tokens import CONFIRM_FOR, BadToken, Signer
from bot.timers import DEFAULT_PRIORITY, NewTimer, RetryLater, Scheduler, Timer

log = logging.getLogger(__name__)
CONFIRM_MAIL = "subscribers.confirm"
CONFIRM_RETRY = timedelta(seconds=30)
OFF = "E-mail subscriptions are off on this status page."
CHECK_INBOX = (
    "Check your inbox: if the address can be subscribed, we have sent it a link to confirm. "
    "Nothing is sent to you before you follow it."
)


@dataclass(frozen=True)
class Answer:
    """An HTML page and its status code, for the route to send as is."""

    status: int
    html: str


@dataclass(frozen=True)
class FormInput:
    email: str
    all: bool
    components: list[str]
    error: str | None = None


class Subscriptions:
    def __init__(
        self,
        statuspage: StatusPageService,
        store: SubscriberStore,
        scheduler: Scheduler,
        mailer: Mailer | None,
        signer: Signer | None,
        now: Callable[[], datetime],
    ) -> None:
        self.statuspage = statuspage
        self.section = statuspage.section
        self.store = store
        self.scheduler = scheduler
        self.mailer = mailer
        self.signer = signer
        self.now = now
        statuspage.pages.subscriptions = self.offered
        scheduler.on(CONFIRM_MAIL, self.send_confirmation)

    @property
    def offered(self) -> bool:
        return self.statuspage.enabled and self.signer is not None and self.mailer is not None

    def confirm_url(self, token: str) -> str:
        return f"{self.section.url}/status/subscribe/confirm?token={token}"

    def unsubscribe_url(self, token: str) -> str:
        return f"{self.section.url}/status/unsubscribe?token={token}"

    def chosen_in_words(self, all_components: bool, components: Sequence[str]) -> str:
        names = self.statuspage.names()
        if all_components or not components:
            return "all components"
        return ", ".join(names.get(c, c) for c in components)

    async def _page(self, status: int, heading: str, **context: Any) -> Answer:
        state = (await self.statuspage.site.snapshot()).state
        return Answer(status, self.statuspage.pages.subscribe_page(state, heading, **context))

    # -- the form ---------------------------------------------------------------------------------------
    async def form(self) -> Answer:
        if not self.offered:
            return await self._page(404, "Subscribe to updates", message=OFF)
        return await self._page(200, "Subscribe to updates", form=FormInput("", True, []))

    def read_form(self, email: str, all_ticked: bool, components: Sequence[str]) -> FormInput:
        known = {c.id for c in self.section.components}
        unknown = [c for c in components if c not in known]
        chosen = sorted({c for c in components if c in known})
        typed = email.strip()[:300]
        if unknown:
            return FormInput(typed, all_ticked, chosen, "Choose among the components listed.")
        try:
            address = normalize_email(email)
        except BadAddress as exc:
            return FormInput(typed, all_ticked, chosen, str(exc))
        return FormInput(address, all_ticked or not chosen, chosen)

    async def subscribe(self, email: str, all_ticked: bool, components: Sequence[str]) -> Answer:
        """Record the request and queue its confirmation (unless a cap says no); the answer is the same
        for every well-formed address."""
        if not self.offered:
            return await self._page(404, "Subscriptions are off", message=OFF)
        typed = self.read_form(email, all_ticked, components)
        if typed.error:
            return await self._page(400, "Subscribe to updates", form=typed)
        now = self.now()
        requested = await self.store.request(
            typed.email,
            None if typed.all else typed.components,
            now,
            lambda r: NewTimer(
                CONFIRM_MAIL,
                now,
                {"subscriber": r.subscriber_id, "nonce": r.nonce, "issued": now.isoformat()},
                key=f"{CONFIRM_MAIL}:{r.subscriber_id}:{r.nonce}",
                priority=DEFAULT_PRIORITY,
            ),
        )
        if requested is not None:
            self.scheduler.kick()
        return await self._page(200, "Check your inbox", message=CHECK_INBOX)

    async def send_confirmation(self, timer: Timer) -> None:
        """The durable job that mails the confirmation link (its expiry counts from the request)."""
        payload = timer.payload
        requested = Requested(int(payload["subscriber"]), str(payload["nonce"]))
        issued = datetime.fromisoformat(str(payload["issued"]))
        pending = await self.store.pending_request(requested)
        if pending is None or self.signer is None or self.mailer is None:
            return  # superseded or unsubscribed since, or mail is off now: the link would not work
        if self.now() - issued > CONFIRM_FOR:
            log.warning("subscriber %s: confirmation not sent within its link's life; dropped", pending.id)
            return
        token = self.signer.confirmation(requested.subscriber_id, requested.nonce, issued)
        context = {
            "title": self.section.title,
            "page_url": self.section.page_url,
            "confirm_url": self.confirm_url(token),
            "hours": int(CONFIRM_FOR.total_seconds() // 3600),
            "components": self.chosen_in_words(pending.all_components, pending.components),
        }
        text, html = self.statuspage.pages.subscriber_mail("confirm", **context)
        message = build_message(
            mail_from=self.mailer.sender,
            recipients=[pending.email],
            subject=f"Confirm your subscription to {self.section.title}",
            text=text,
            html=html,
            message_id=f"<confirm.{pending.id}.{requested.nonce}@{self.mailer.domain}>",
            in_reply_to=None,
            references=None,
            written_at=issued,
            reference=None,
        )
        try:
            await self.mailer.transport.send(message)
        except MailFailure as failure:
            if failure.temporary:
                raise RetryLater(CONFIRM_RETRY, failure.error) from failure
            log.warning("subscriber %s: confirmation refused for good: %s", pending.id, failure.error)

    # -- confirming and unsubscribing --------------------------------------------------------------------
    async def confirm(self, token: str) -> Answer:
        if self.signer is None:
            return await self._page(404, "Subscriptions are off", message=OFF)
        try:
            confirmation = self.signer.open_confirmation(token, self.now())
        except BadToken as bad:
            return await self._refused(bad)
        confirmed = await self.store.confirm(confirmation.subscriber_id, confirmation.nonce, self.now())
        if confirmed is None:
            return await self._page(
                410,
                "This link no longer works",
                message="A newer confirmation link was sent, or the address was unsubscribed since. "
                "Subscribe again to get a new link.",
                form=FormInput("", True, []) if self.offered else None,
            )
        return await self._page(
            200,
            "You are subscribed",
            message=f"{confirmed.email} will get an e-mail with each public update.",
            components_chosen=self.chosen_in_words(confirmed.all_components, confirmed.components),
            unsubscribe_token=None,
        )

    async def _unsubscriber(self, token: str) -> int | Answer:
        """The subscriber an unsubscribe link names, or the page that says why it names nobody."""
        if self.signer is None:
            return await self._page(404, "Subscriptions are off", message=OFF)
        try:
            return self.signer.open_unsubscribe(token)
        except BadToken as bad:
            return await self._refused(bad)

    async def _refused(self, bad: BadToken) -> Answer:
        heading = "This link has expired" if bad.expired else "This link is not valid"
        form = FormInput("", True, []) if bad.expired and self.offered else None
        return await self._page(410 if bad.expired else 400, heading, message=str(bad), form=form)

    async def unsubscribe_page(self, token: str) -> Answer:
        """GET: a page with a button. Opening the link (a person, or a mail scanner that follows every link)
        changes nothing; pressing the button POSTs, as RFC 8058 clients do."""
        subscriber_id = await self._unsubscriber(token)
        if isinstance(subscriber_id, Answer):
            return subscriber_id
        found = await self.store.get(subscriber_id)
        shown = found.email if found else "this address"
        return await self._page(
            200,
            "Unsubscribe",
            message=f"Stop e-mail updates from {self.section.title} to {shown}?",
            unsubscribe_token=token,
        )

    async def unsubscribe(self, token: str) -> Answer:
        """POST (the button, or a mail provider's one-click `List-Unsubscribe=One-Click`): unsubscribed at
        once, with no further question; a second POST answers the same."""
        subscriber_id = await self._unsubscriber(token)
        if isinstance(subscriber_id, Answer):
            return subscriber_id
        gone: Subscriber | None = await self.store.unsubscribe(subscriber_id, self.now())
        shown = gone.email if gone else "This address"
        return await self._page(
            200, "You are unsubscribed", message=f"{shown} will get no more e-mail from {self.section.title}."
        )
