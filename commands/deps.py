"""What Slack adapters may use: services and the Slack gateway, never the store."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from bot.config import AppConfig
from bot.integrations.slack import SlackGateway
from bot.metrics import Metrics
from bot.services.actions import ActionItems
from bot.services.archive import ChannelArchiver
from bot.services.catalog import ServiceCatalog
from bot.services.catchup import Catchups
from bot.services.changes import ChangeTracking
from bot.services.command_transfer import CommandTransfer
from bot.services.communication import Communication
from bot.services.drills import Drills
from bot.services.incidents import IncidentService
from bot.services.paging import Paging
from bot.services.postmortems import Postmortems
from bot.services.reminders import UpdateReminders
from bot.services.rollback import Rollbacks
from bot.services.rota import Rota
from bot.services.runbooks import RunbookService
from bot.services.slo import SLOService
from bot.services.statuspage import StatusPageService
from bot.services.welcome import Welcome
from bot.services.workflows import Workflows


@dataclass(frozen=True)
class Deps:
    config: AppConfig
    incidents: IncidentService
    slack: SlackGateway
    metrics: Metrics
    slo: SLOService
    reminders: UpdateReminders
    paging: Paging
    rota: Rota
    runbooks: RunbookService
    actions: ActionItems
    postmortems: Postmortems
    statuspage: StatusPageService
    communication: Communication
    welcome: Welcome
    transfers: CommandTransfer
    catchups: Catchups
    archiver: ChannelArchiver
    workflows: Workflows
    rollbacks: Rollbacks
    changes: ChangeTracking
    drills: Drills
    catalog: ServiceCatalog | None = None
    """The service catalog's use cases (`/incident service`, the at-risk button)."""
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("incidentbot.commands"))
