"""The incident metrics report: response times per severity against targets, incidents per month,
repeat incidents, post-mortem and action item completion.

This module is what `incidentbot report` calls: `load_report` reads the database through the stores in
four queries whatever the window holds and hands the rows to `report_figures.build_report` (pure: rows
in, figures out, and where the rules of every figure are written down); `RENDERERS` print the result
through `report_render` as Markdown, JSON or CSV.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.postmortem.metrics import TIME_KINDS
from bot.postmortem.report_figures import Report, build_report
from bot.postmortem.report_render import render_csv, render_json, render_markdown
from bot.postmortem.report_settings import ReportConfig
from bot.postmortem.store import ActionItemStore, PostmortemStore
from bot.settings import IncidentSettings
from bot.store import IncidentStore


def report_config(config: IncidentSettings) -> ReportConfig:
    """The config's `report:` section, or the defaults while IncidentSettings has none."""
    section = getattr(config, "report", None)
    return section if isinstance(section, ReportConfig) else ReportConfig()


async def load_report(
    sessions: async_sessionmaker[AsyncSession],
    config: IncidentSettings,
    since: datetime,
    until: datetime,
    now: datetime,
    include_drills: bool = False,
) -> Report:
    """Read what the report needs (incidents of the window and of the repeat look-back, the events its
    figures are made of in one query, post-mortems, action items) and compute it. Drills are practice:
    left out unless asked for."""
    section = report_config(config)
    store = IncidentStore(sessions)
    incidents = await store.declared_between(since - section.repeat_window, until)
    incidents = [i for i in incidents if include_drills or not i.drill]
    events = await store.timelines([i.id for i in incidents], TIME_KINDS)  # the figures' events only
    postmortems = await PostmortemStore(sessions).everything()
    items = await ActionItemStore(sessions).everything()
    return build_report(incidents, events, postmortems, items, config, section, since, until, now)


RENDERERS = {"markdown": render_markdown, "json": render_json, "csv": render_csv}
