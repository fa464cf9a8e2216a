"""Checks of a loaded config that need the domain packages (templates with every sample, paging)."""

from __future__ import annotations

from bot.config.app import AppConfig
from bot.postmortem.compile import TEMPLATE, postmortem_context, sample_facts
from bot.templating import Templates


def template_problems(config: AppConfig) -> list[str]:
    """Every template rendered with a plausible context, the post-mortem's included."""
    return Templates(config).check({TEMPLATE: postmortem_context(sample_facts(config))})
