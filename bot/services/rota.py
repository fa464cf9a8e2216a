"""The rota people live with: who is on call (the config's schedules with the swaps and overrides made in
Slack), `/oncall next` and `who … at …`, swaps asked for and answered, overrides by a manager, and the
Slack user groups kept equal to who is on call.

Paging asks `on_call` here, so an accepted swap pages the new person at once. A change is announced in the
schedule's channel and DMed to everyone whose future time moved. User groups are synced by a durable
timer per change, retried with backoff when Slack refuses, so a blip never leaves the wrong people in
`@payments-oncall`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.config import AppConfig
from bot.domain import DomainError
from bot.integrations.slack import SlackFailure, SlackGateway
from bot.messages import Message, notice
from bot.oncall import ical
from bot.oncall.handoff import moved_dm, moves_text, swap_request, taken_dm, when
from bot.oncall.rota import (
    ACCEPTED,
    DECLINED,
    OVERRIDE_KIND,
    PENDING,
    SWAP,
    Move,
    Piece,
    RotaChange,
    effective,
    moves,
    on_call_users,
    parse_moments,
    swap_pieces,
)
from bot.oncall.rota_store import RotaStore
from bot.oncall.schedules import OnCallSummary, Schedule, Shift, on_call, shifts, summarize
from bot.timers import LATER_PRIORITY, Scheduler, Timer

log = logging.getLogger(__name__)

SYNC = "oncall.usergroup_sync"
NEXT_SHIFTS = 3
"""Shifts per schedule `/oncall next` lists."""
NEXT_HORIZON = timedelta(days=60)
SWAP_USAGE = (
    "Usage: `/oncall swap @someone <from> <to>` — e.g. `/oncall swap @dave 2026-12-14 2026-12-21T09:00`."
)
OVERRIDE_USAGE = (
    "Usage: `/oncall override @someone <from> <to> [schedule]` — managers only; "
    "e.g. `/oncall override @dave 2026-12-24T09:00 2026-12-27T09:00 primary`."
)
WHO_USAGE = "Usage: `/oncall who <schedule> at <time>` — e.g. `/oncall who primary at 2026-12-14 03:00`."


class Rota:
    def __init__(
        self,
        config: AppConfig,
        store: RotaStore,
        scheduler: Scheduler,
        slack: SlackGateway,
        claim: Callable[[list[str]], Awaitable[list[bool]]],
        now: Callable[[], datetime],
    ) -> None:
        self.config = config
        self.store = store
        self.scheduler = scheduler
        self.slack = slack
        self.claim = claim
        """`claim_many(keys)`: which of these deliveries this process is the first to make."""
        self.now = now
        self.on_change: list[Callable[[list[str]], Awaitable[None]]] = []
        """Called with the schedule ids a change touched (the hand-offs plan their next change again)."""
        self._pieces: list[Piece] = []
        """The accepted changes as last read: what the synchronous `cached_on_call` answers from."""
        scheduler.on(SYNC, self.sync)

    # -- who is on call ---------------------------------------------------------------------------------
    async def schedules(self, since: datetime | None = None) -> list[Schedule]:
        """Every schedule as it stands: the config's, with the accepted swaps and overrides merged in."""
        self._pieces = pieces = await self.store.pieces(
            since if since is not None else self.now() - timedelta(days=1)
        )
        return [effective(schedule, pieces) for schedule in self.config.oncall.schedules]

    async def schedule(self, schedule_id: str) -> Schedule:
        found = next((s for s in await self.schedules() if s.id == schedule_id), None)
        if found is None:
            known = ", ".join(f"`{s.id}`" for s in self.config.oncall.schedules) or "none configured"
            raise DomainError(f"Unknown schedule {schedule_id!r} (schedules: {known}).")
        return found

    async def on_call(self, schedule: Schedule, at: datetime) -> Shift | None:
        """Who to page for `schedule` at `at`: a swap accepted a second ago counts."""
        return on_call(await self.schedule(schedule.id), at)

    def cached_on_call(self, schedule: Schedule, at: datetime) -> Shift | None:
        """`on_call` for synchronous callers (the IC of an alert's incident), from the changes last read."""
        return on_call(effective(schedule, self._pieces), at)

    async def who_is_on_call(self, schedule_id: str | None = None) -> list[OnCallSummary]:
        schedules = [await self.schedule(schedule_id)] if schedule_id else await self.schedules()
        return [summarize(schedule, self.now()) for schedule in schedules]

    async def next_shifts(self, user: str | None = None) -> list[tuple[Schedule, Shift]]:
        """The next shifts of each schedule (of `user` only, when given), the current one first."""
        now = self.now()
        found: list[tuple[Schedule, Shift]] = []
        for schedule in await self.schedules():
            upcoming = [
                s for s in shifts(schedule, now, now + NEXT_HORIZON) if user is None or s.user == user
            ]
            found += [(schedule, shift) for shift in upcoming[:NEXT_SHIFTS]]
        return found

    async def who_at(self, words: list[str]) -> tuple[Schedule, datetime, Shift | None]:
        """`<schedule> at <time>` (the time in the schedule's zone)."""
        if len(words) < 3 or words[1].lower() != "at":
            raise DomainError(WHO_USAGE)
        schedule = await self.schedule(words[0])
        try:
            [at] = parse_moments(words[2:], schedule.zone, self.now())
        except ValueError as exc:
            raise DomainError(f"{exc}. {WHO_USAGE}") from None
        return schedule, at, on_call(schedule, at)

    # -- calendar feeds ---------------------------------------------------------------------------------
    async def calendar(self, token: str) -> bytes | None:
        """The feed a secret token opens: a schedule's every shift, or one person's in every schedule."""
        subject = await self.store.feed_subject(token)
        if subject is None:
            return None
        schedules = await self.schedules(self.now() - ical.PAST)
        chosen = [s for s in schedules if s.id == subject]
        people = {user for s in schedules for layer in s.layers for user in layer.users} | {subject}
        names = await self.slack.display_names(people) if self.config.oncall.schedules else {}
        return ical.feed(chosen or schedules, self.now(), None if chosen else subject, names)

    # -- swaps and overrides ----------------------------------------------------------------------------
    def _span(self, words: list[str], usage: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
        try:
            moments = parse_moments(words, zone, self.now())
        except ValueError as exc:
            raise DomainError(f"{exc}. {usage}") from None
        if len(moments) != 2 or moments[1] <= moments[0]:
            raise DomainError(f"Give a start and a later end. {usage}")
        if moments[1] <= self.now():
            raise DomainError(f"That time is already over. {usage}")
        return moments[0], moments[1]

    async def ask_swap(self, request_key: str, asker: str, taker: str | None, words: list[str]) -> str:
        """`taker` is asked (Accept / Decline) to cover `asker`'s shifts in the span; nothing moves yet."""
        if not taker or taker == asker:
            raise DomainError(SWAP_USAGE)
        start, end = self._span(words, SWAP_USAGE, self.config.zone)
        pieces = swap_pieces(await self.schedules(), asker, taker, start, end)
        if not pieces:
            raise DomainError(
                f"You are not on call between {when(start, self.config.zone)} and "
                f"{when(end, self.config.zone)}, so there is nothing to swap."
            )
        values = {
            "user": taker,
            "replaces": asker,
            "starts_at": start,
            "ends_at": end,
            "status": PENDING,
            "pieces": [],
            "requested_by": asker,
        }
        change, created = await self.store.add(request_key, SWAP, values, self.now())
        if created:
            zones = {s.id: s.zone for s in self.config.oncall.schedules}
            before = [Move(p.schedule_id, asker, taker, p.start, p.end) for p in pieces]
            ids = sorted({p.schedule_id for p in pieces})
            await self.slack.direct_message(
                taker, swap_request(change.id, asker, ids, moves_text(before, zones))
            )
        return f"Asked <@{taker}> to take your on-call time; you will hear when they answer."

    async def answer_swap(self, change_id: int, user: str, accept: bool) -> str:
        """The first answer decides (and its text replaces the buttons); any later click is told, in a
        DomainError, what was decided."""
        change = await self.store.get(change_id)
        if change is None or change.kind != SWAP:
            raise DomainError("This swap is unknown (the database may have been reset).")
        if user != change.user:
            raise DomainError(f"Only <@{change.user}> can answer this swap.")
        pieces = swap_pieces(
            await self.schedules(), change.replaces or "", change.user, change.start, change.end
        )
        status = ACCEPTED if accept and pieces else DECLINED
        if not await self.store.decide(
            change_id, status, user, self.now(), pieces if status == ACCEPTED else None
        ):
            again = await self.store.get(change_id)
            raise DomainError(f"This swap was already {again.status if again else 'answered'}.")
        asker = change.replaces or change.requested_by
        if status == DECLINED:
            why = "declined" if accept is False else "could not be made (the shifts are no longer theirs)"
            await self._dm(asker, f"<@{user}> {why} your swap.", f"swap:{change_id}:declined")
            return (
                "Declined; nothing changed."
                if not accept
                else "Those shifts have moved meanwhile; nothing changed."
            )
        await self._apply(change, pieces, f"<@{user}> took over <@{asker}>'s on-call time (a swap)")
        return "Accepted: you are on call for that time now."

    async def override(self, request_key: str, manager: str, user: str | None, words: list[str]) -> str:
        if manager not in self.config.oncall.managers:
            raise DomainError(
                "Only on-call managers (`oncall.managers` in the config) can set overrides; "
                "ask for a swap with `/oncall swap @someone <from> <to>`."
            )
        if not user:
            raise DomainError(OVERRIDE_USAGE)
        schedules = self.config.oncall.schedules
        named = [w for w in words if any(s.id == w for s in schedules)]
        if not schedules or len(named) > 1 or (len(schedules) > 1 and not named):
            raise DomainError(
                f"Name one schedule ({', '.join(s.id for s in schedules) or 'none'}). {OVERRIDE_USAGE}"
            )
        schedule = await self.schedule(named[0] if named else schedules[0].id)
        start, end = self._span([w for w in words if w not in named], OVERRIDE_USAGE, schedule.zone)
        pieces = [Piece(schedule.id, user, start, end)]
        values = {
            "user": user,
            "schedule_id": schedule.id,
            "starts_at": start,
            "ends_at": end,
            "status": PENDING,
            "pieces": [],
            "requested_by": manager,
        }
        change, created = await self.store.add(request_key, OVERRIDE_KIND, values, self.now())
        if created and await self.store.decide(change.id, ACCEPTED, manager, self.now(), pieces):
            await self._apply(change, pieces, f"<@{manager}> put <@{user}> on call (an override)")
        span = f"{when(start, schedule.zone)} to {when(end, schedule.zone)}"
        return f"<@{user}> is on call for {schedule.name} from {span}."

    async def _apply(self, change: RotaChange, pieces: list[Piece], headline: str) -> None:
        """Announce an accepted change where each schedule's team reads, DM whoever's time moved, and
        sync the user groups. The effect on paging needs nothing: `on_call` reads the change."""
        after = {s.id: s for s in await self.schedules()}
        # `schedules()` already holds the change: "before" is painted without its pieces.
        others = [p for p in self._pieces if p not in pieces]
        before = {s.id: effective(s, others) for s in self.config.oncall.schedules}
        for schedule_id in sorted({p.schedule_id for p in pieces}):
            old, new = before[schedule_id], after[schedule_id]
            found = moves(
                schedule_id, shifts(old, change.start, change.end), shifts(new, change.start, change.end)
            )
            await self._announce(change, new, found, headline)
        touched = sorted({p.schedule_id for p in pieces})
        await self.request_sync(touched, f"change:{change.id}")
        for listener in self.on_change:
            await listener(touched)

    async def _announce(
        self, change: RotaChange, schedule: Schedule, found: list[Move], headline: str
    ) -> None:
        zone = schedule.zone
        if schedule.channel and found:
            text = f":repeat: {headline} on *{schedule.name}*:\n{moves_text(found, {schedule.id: zone})}"
            await self._post(schedule.channel, notice(text), f"oncall:{change.id}:{schedule.id}:channel")
        for index, move in enumerate(found):
            if move.start < self.now():
                continue  # only future time "moves"; the present is told in the channel
            if move.old:
                await self._dm(
                    move.old, moved_dm(move, zone, schedule.name), f"oncall:{change.id}:{index}:old"
                )
            if move.new:
                await self._dm(
                    move.new, taken_dm(move, zone, schedule.name), f"oncall:{change.id}:{index}:new"
                )

    async def _dm(self, user: str, text: str, key: str) -> None:
        if (await self.claim([key]))[0]:
            try:
                await self.slack.direct_message(user, notice(text))
            except SlackFailure as failure:
                log.warning("on-call DM to %s not sent: %s", user, failure)

    async def _post(self, channel: str, message: Message, key: str) -> None:
        if (await self.claim([key]))[0]:
            await self.slack.post_or_log(channel, message, "on-call announcement")

    # -- user groups ------------------------------------------------------------------------------------
    async def request_sync(self, schedule_ids: list[str], reason: str) -> None:
        """A durable timer per user group and reason: Slack refusing is retried with backoff."""
        groups = sorted(
            {s.usergroup for s in self.config.oncall.schedules if s.id in schedule_ids and s.usergroup}
        )
        for group in groups:
            await self.scheduler.schedule(
                SYNC,
                self.now(),
                {"usergroup": group},
                key=f"{SYNC}:{group}:{reason}",
                priority=LATER_PRIORITY,
            )

    async def sync(self, timer: Timer) -> None:
        """Make the user group's members exactly who is on call now, in every schedule naming it."""
        group = str(timer.payload["usergroup"])
        named = [s for s in await self.schedules() if s.usergroup == group]
        wanted = sorted({u for u in on_call_users(named, self.now()).values() if u})
        if not wanted:
            log.info(
                "user group %s: nobody on call; Slack refuses an empty group, so it is left as is", group
            )
            return
        if sorted(await self.slack.usergroup_members(group)) != wanted:
            await self.slack.set_usergroup_members(group, wanted)  # a refusal raises: the timer retries
