"""Checks of a loaded config that need the domain packages (templates with every sample, paging)."""

from __future__ import annotations

from bot.config.app import AppConfig
from bot.formatting import format_duration
from bot.postmortem.compile import TEMPLATE, postmortem_context, sample_facts
from bot.statuspage.pages import Pages
from bot.statuspage.sample import sample_state
from bot.templating import Templates


def template_problems(config: AppConfig) -> list[str]:
    """Every template rendered with a plausible context, the post-mortem's and the status page's included."""
    problems = Templates(config).check({TEMPLATE: postmortem_context(sample_facts(config))})
    return problems + Pages(config.templates_dir).problems(*sample_state(config.status_page))


def escalation_warnings(config: AppConfig) -> list[str]:
    """Policies that end on a page: not wrong, but the wait before "run out" is then implicit."""
    warnings = []
    for severity_id, steps in config.oncall.escalation.items():
        if steps and steps[-1].notify is not None:
            severity = config.severity(severity_id)
            target = format_duration(severity.response_target) if severity else "15 min"
            warnings.append(
                f"oncall.escalation.{severity_id} ends on a page: those paged last get {severity_id}'s "
                f"response target ({target}) before the policy is said to have run out; end it with a "
                "`wait` step to choose another time"
            )
    return warnings
