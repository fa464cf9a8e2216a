"""What Slack adapters may use: services and the Slack gateway, never the store."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from bot.config import AppConfig
from bot.integrations.slack import SlackGateway
from bot.metrics import Metrics
from bot.services.incidents import IncidentService


@dataclass(frozen=True)
class Deps:
    config: AppConfig
    incidents: IncidentService
    slack: SlackGateway
    metrics: Metrics
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("incidentbot.commands"))
