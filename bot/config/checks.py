"""Checks of a loaded config that need the domain packages (templates with every sample, paging)."""

from __future__ import annotations

from bot.communication.mails import MailTemplates
from bot.communication.transport import MailConfigError, check_sender, parse_smtp_url
from bot.config.app import AppConfig
from bot.config.env import Settings
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


def communication_problems(config: AppConfig) -> list[str]:
    """Each audience's templates exist for the ways it is told and render with a sample incident."""
    return MailTemplates(config).problems(config.communication)


def mail_warnings(settings: Settings, config: AppConfig) -> list[str]:
    """E-mail audiences without a usable transport: not an error (Slack still works), but said now
    rather than discovered when management was never told."""
    emailed = config.communication.emailed()
    if not emailed:
        return []
    names = ", ".join(emailed)
    if settings.smtp_url is None:
        return [f"communication: INCIDENTBOT_SMTP_URL is not set: the e-mail of {names} will not be sent"]
    try:
        parse_smtp_url(settings.smtp_url.get_secret_value())
        check_sender(settings.mail_from)
    except MailConfigError as exc:
        return [f"communication: {exc}: the e-mail of {names} will not be sent"]
    return []
