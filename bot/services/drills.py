"""Drills: a scenario run as an incident marked as practice, its injects on durable timers, scored at the end.

The drill is an incident like any other (same forms, buttons, runbooks, timeline); what differs is said
where it happens: its channel is `drill-…` (the Slack gateway banners everything posted there), pages go
to its participants only and never to PagerDuty/Opsgenie (`bot.services.paging`), real audiences and the
public status page get previews in the channel instead (`communication`, `statuspage`), runbook steps are
simulated (nothing real runs against production), and workflows run only when marked `drills: true`.

Injects are keyed timers (`drill:<incident>:<n>`), so a restart mid-drill fires the remaining ones, once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from bot.alerts.messages import alert_message, digest
from bot.alerts.webhook import Notification
from bot.communication.plan import records
from bot.config import AppConfig
from bot.domain import DeclareRequest, DomainError, EventKind, Incident
from bot.drills import injects as text
from bot.drills.messages import reminder
from bot.drills.scenario import PARTICIPANTS, SCENARIO, Scenario, SLOInject, participants_of
from bot.drills.schedule import next_occurrence
from bot.drills.scorecard import Scorecard, markdown, score, slack_text
from bot.integrations.slack import SlackFailure, SlackGateway
from bot.messages import Message, notice, text_sections
from bot.runbooks.schema import Step
from bot.services.hooks import Change, IncidentHooks
from bot.services.incidents import IncidentService
from bot.store import NewEvent
from bot.timers import Scheduler, Timer

log = logging.getLogger(__name__)

INJECT = "drill.inject"
REMIND = "drill.remind"
START = "drill.start"
"""A drill asked for from the CLI (`incidentbot drill run`): the serving bot starts it."""


class Drills(IncidentHooks):
    steps: ClassVar[dict[Change, str]] = {"set_up": "brief the drill", "resolved": "score the drill"}

    def __init__(
        self,
        config: AppConfig,
        scenarios: dict[str, Scenario],
        incidents: IncidentService,
        slack: SlackGateway,
        scheduler: Scheduler,
        now: Callable[[], datetime],
        scorecards: Path | None,
    ) -> None:
        self.config = config
        self.scenarios = scenarios
        self.incidents = incidents
        self.slack = slack
        self.scheduler = scheduler
        self.now = now
        self.scorecards = scorecards
        """The post-mortems' directory: each scorecard is written there as Markdown."""
        scheduler.on(INJECT, self.inject)
        scheduler.on(START, self.start_asked)
        scheduler.on(REMIND, self.remind)

    def scenario(self, name: str) -> Scenario:
        scenario = self.scenarios.get(name.strip())
        if scenario is None:
            known = (
                ", ".join(f"`{n}`" for n in sorted(self.scenarios)) or "none (add files to drills.directory)"
            )
            raise DomainError(f"No drill scenario {name!r}. Known: {known}.")
        return scenario

    # -- starting --------------------------------------------------------------------------------------
    async def start(self, name: str, participants: list[str], actor: str, key: str) -> Incident:
        """Declare the drill (once per `key`) and plan its injects from its start."""
        scenario = self.scenario(name)
        bot = await self.slack.bot_user_id()
        people = list(dict.fromkeys(p for p in [actor, *participants] if p and p != bot and p != "cli"))
        if not people:
            raise DomainError("A drill needs participants: name them (@someone, or --participants U1,U2).")
        request = DeclareRequest(
            title=f"Drill: {scenario.title}",
            severity=scenario.severity,
            summary=scenario.description or scenario.title,
            reporter=people[0] if actor == "cli" else actor,
            commander=bot,  # taking command is part of the practice
            service=scenario.service,
            drill=True,
            fields={PARTICIPANTS: ",".join(people), SCENARIO: scenario.name},
        )
        incident = (await self.incidents.declare(request, key)).incident
        data = {"scenario": scenario.name, "participants": people, "injects": len(scenario.injects)}
        event = NewEvent(EventKind.DRILL_STARTED, actor, f"drill {scenario.name} started", data)
        await self.incidents.store.append(incident.id, event, self.now(), f"drill-start:{incident.id}")
        for number, inject in scenario.ordered:
            due = incident.created_at + inject.at
            payload = {"scenario": scenario.name, "number": number}
            await self.scheduler.schedule(
                INJECT, due, payload, incident_id=incident.id, key=f"drill:{incident.id}:{number}"
            )
        self.scheduler.kick()
        return await self.incidents.get(incident.id)

    async def start_asked(self, timer: Timer) -> None:
        payload = timer.payload
        participants = [str(p) for p in payload.get("participants") or []]
        try:
            await self.start(str(payload["scenario"]), participants, "cli", f"drill:{timer.key}")
        except DomainError as exc:
            log.warning("drill asked from the CLI not started: %s", exc)

    async def set_up(self, incident: Incident) -> None:
        """The channel exists: bring the participants in and tell them what this is."""
        if not incident.drill or not incident.channel_id:
            return
        people = participants_of(incident)
        await self.slack.invite(incident.channel_id, people)
        scenario = self.scenarios.get(incident.fields.get(SCENARIO, ""))
        said = (
            f":test_tube: *Drill: {scenario.title if scenario else incident.title}* — "
            f"{scenario.description if scenario else ''}\n"
            f"Participants: {', '.join(f'<@{p}>' for p in people)}. Nobody real is paged and no real "
            "audience is told; pages go to the participants. Take command (Assign role), open the "
            "runbook, post updates as you would. `/incident drill stop` ends it; the scorecard follows."
        )
        await self.slack.post(incident.channel_id, Message(said[:2900], text_sections(said, 5)))

    # -- game days -------------------------------------------------------------------------------------
    async def plan_reminders(self) -> None:
        """The next reminder of each `drills.schedule` entry (keyed: every replica and restart agree)."""
        for number, entry in enumerate(self.config.drills.schedule):
            due = next_occurrence(entry, self.now(), self.config.zone)
            key = f"drill-reminder:{number}:{due.isoformat()}"
            await self.scheduler.schedule(REMIND, due, {"entry": number}, key=key)

    async def remind(self, timer: Timer) -> None:
        number = int(timer.payload["entry"])
        if number >= len(self.config.drills.schedule):
            return
        entry = self.config.drills.schedule[number]
        await self._post(entry.channel, reminder(entry, self.scenarios.get(entry.scenario)))
        due = next_occurrence(entry, timer.due_at, self.config.zone)
        await self.scheduler.schedule(
            REMIND, due, {"entry": number}, key=f"drill-reminder:{number}:{due.isoformat()}"
        )

    # -- the injects -----------------------------------------------------------------------------------
    async def inject(self, timer: Timer) -> None:
        incident = await self.incidents.get(int(timer.incident_id or 0))
        if incident.resolved_at is not None:
            return  # the drill ended before this inject
        scenario = self.scenarios.get(str(timer.payload["scenario"]))
        number = int(timer.payload["number"])
        if scenario is None or number >= len(scenario.injects):
            log.warning(
                "%s: drill inject %s of %s is no longer in its scenario",
                incident.reference,
                number,
                timer.payload,
            )
            return
        inject = scenario.injects[number]
        data = text.inject_data(number, inject)
        event = NewEvent(EventKind.DRILL_INJECT, None, f"inject: {inject.describe()}", data)
        if (
            await self.incidents.store.append(
                incident.id, event, self.now(), f"drill-inject:{incident.id}:{number}"
            )
            is None
        ):
            return  # fired before a crash
        channel = incident.channel_id
        if inject.alert:
            body = text.alert_notification(scenario, inject.alert, incident.id, self.now())
            alert = digest(Notification.model_validate(body), None)
            message = alert_message(alert, "opened")
            alert_data = {"change": "opened", "alert": alert.to_json(), "drill": True}
            await self.incidents.store.append(
                incident.id, NewEvent(EventKind.ALERT_RECEIVED, None, message.text, alert_data), self.now()
            )
            await self._post(channel, message)
        elif inject.message:
            await self._post(channel, notice(text.customer_report(inject.message)))
        elif inject.page:
            data = {"user": None, "simulated": True, "who": inject.page.who, "provider": "drill"}
            page = NewEvent(EventKind.PAGE_SENT, None, f"paged {inject.page.who} (simulated)", data)
            await self.incidents.store.append(incident.id, page, self.now())
            await self._post(channel, notice(text.simulated_page(inject.page.who)))
        elif inject.slo:
            await self._post(channel, notice(text.slo_figures([inject.slo])))
        # a check inject shows when its step is run (`step_result`)

    async def _post(self, channel: str | None, message: Message) -> None:
        if channel:
            try:
                await self.slack.post(channel, message)
            except SlackFailure as failure:
                log.warning("drill: could not post in %s: %s", channel, failure)

    async def slo_figures(self, incident: Incident) -> Message:
        """`/incident slo` in a drill: the injected figures so far, clearly marked."""
        figures = [
            SLOInject.model_validate(e.data["slo"])
            for e in await self.incidents.store.timeline(incident.id)
            if e.kind == EventKind.DRILL_INJECT and isinstance(e.data.get("slo"), dict)
        ]
        return notice(text.slo_figures(figures))

    async def step_result(self, incident: Incident, step: Step, shown: str) -> dict[str, Any]:
        """Nothing real runs in a drill: an injected failing check fails, every other step passes as a
        simulation that shows what would have run."""
        for e in await self.incidents.store.timeline(incident.id):
            check = e.data.get("check") if e.kind == EventKind.DRILL_INJECT else None
            if isinstance(check, dict) and check.get("step") == step.id:
                return {
                    "passed": False,
                    "summary": str(check.get("summary")),
                    "output": "injected by the drill",
                }
        what = f"would run: {shown}" if shown else "simulated"
        return {"passed": True, "summary": f"drill: not run ({step.kind}), {what}"[:300], "output": ""}

    # -- the end ---------------------------------------------------------------------------------------
    async def stop(self, incident_id: int, actor: str) -> None:
        incident = await self.incidents.get(incident_id)
        if not incident.drill:
            raise DomainError(f"{incident.reference} is not a drill: resolve it with `/incident resolve`.")
        await self.incidents.resolve(incident_id, f"Drill stopped by <@{actor}>.", actor)

    async def scorecard(self, incident: Incident) -> Scorecard | None:
        scenario = self.scenarios.get(incident.fields.get(SCENARIO, ""))
        if scenario is None:
            return None
        events = await self.incidents.store.timeline(incident.id)
        told = records(self.config.communication, incident, events, True, self.now())
        bot = await self.slack.bot_user_id()
        return score(scenario, incident, events, told, bot, participants_of(incident))

    async def resolved(self, incident: Incident) -> None:
        """Score once: the scorecard in the channel, as Markdown beside the post-mortems, on the timeline."""
        if not incident.drill:
            return
        card = await self.scorecard(incident)
        if card is None:
            return
        scenario = self.scenarios[card.scenario]
        data = {
            "scenario": card.scenario,
            "team": scenario.team,
            "score": card.score,
            "results": [
                {
                    "what": r.what,
                    "target": r.target.total_seconds() if r.target else None,
                    "measured": r.measured.total_seconds() if r.measured is not None else None,
                    "verdict": r.verdict,
                }
                for r in card.results
            ],
        }
        event = NewEvent(EventKind.DRILL_SCORED, None, f"drill {card.scenario} scored {card.score} %", data)
        if (
            await self.incidents.store.append(incident.id, event, self.now(), f"drill-scored:{incident.id}")
            is None
        ):
            return
        local = incident.created_at.astimezone(self.config.zone).strftime("%Y-%m-%d %H:%M %Z")
        written = None
        if self.scorecards is not None:
            self.scorecards.mkdir(parents=True, exist_ok=True)
            written = f"{incident.reference}-drill-{card.scenario}.md"
            (self.scorecards / written).write_text(markdown(card, local), encoding="utf-8")
        if incident.channel_id:
            said = slack_text(card, written)
            await self.slack.post(
                incident.channel_id, Message(f"Drill scorecard: {card.score} %", text_sections(said, 8))
            )
