"""The status page's form parts: the "Status page" section of the update form, the approver's Edit form,
the resolved text of the resolve form, and the maintenance form. Block ids live here, next to the code
that reads them back."""

from __future__ import annotations

from typing import Any

from bot.config import AppConfig
from bot.domain import TITLE_MAX
from bot.statuspage.model import OPERATIONAL, PublicDraft, PublicUpdate
from bot.statuspage.settings import COMPONENT_STATUSES
from bot.statuspage.state import label
from commands.forms import Form
from commands.modals import TIME_HINT, _input, _modal, _option, _select, _text_input

PUBLIC_STATUSES = ("investigating", "identified", "monitoring")
"""Stages offered in the update form; `resolved` comes with resolving the incident."""
EDIT = "statuspage_edit"
MAINTENANCE = "statuspage_maintenance"
RESOLVED_TEXT = "public_resolved"
BODY_MAX = 3000


def _component_block(component_id: str) -> str:
    return f"public_component_{component_id}"


def public_fields(
    config: AppConfig, draft: PublicDraft, statuses: tuple[str, ...] = PUBLIC_STATUSES
) -> list[dict[str, Any]]:
    """What the public will read: the stage, a public title, the text, and each component's status."""
    options = [_option(s, label(s)) for s in statuses]
    component_options = [_option(s, label(s)) for s in COMPONENT_STATUSES]
    blocks: list[dict[str, Any]] = [
        {"type": "divider"},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "*Status page (public)*: what everyone can read."},
        },
        _input("public_status", "Public status", _select(options, draft.status)),
        _input(
            "public_title",
            "Public title",
            _text_input(draft.title, max_length=TITLE_MAX),
            hint="The incident's title is internal; say it the way customers would.",
        ),
        _input("public_body", "Public text", _text_input(draft.body, multiline=True, max_length=BODY_MAX)),
    ]
    for component in config.status_page.components:
        current = draft.components.get(component.id, OPERATIONAL)
        blocks.append(
            _input(
                _component_block(component.id),
                component.name,
                _select(component_options, current),
                optional=True,
            )
        )
    return blocks


def has_public_fields(form: Form) -> bool:
    return bool(form.choice("public_status")) or bool(form.text("public_body"))


def read_public(form: Form, config: AppConfig, previous: dict[str, str]) -> PublicDraft:
    """The public draft typed in the form; a component counts when it is not operational, or when it was
    not before (it is back to operational)."""
    components = {}
    for component in config.status_page.components:
        status = form.choice(_component_block(component.id)) or OPERATIONAL
        if status != OPERATIONAL or component.id in previous:
            components[component.id] = status
    return PublicDraft(
        status=form.choice("public_status") or "",
        title=form.text("public_title"),
        body=form.text("public_body"),
        components=components,
    )


def edit_view(config: AppConfig, update: PublicUpdate, reference: str) -> dict[str, Any]:
    """The approver's Edit: the requested update, to change and publish in one go."""
    intro = {
        "type": "section",
        "text": {
            "type": "mrkdwn",
            "text": f"Edit the status page update <@{update.author}> asked for; "
            "it is published when you submit.",
        },
    }
    statuses = tuple(dict.fromkeys([*PUBLIC_STATUSES, update.status]))
    blocks = [intro, *public_fields(config, update.draft(), statuses)[2:]]
    return _modal(EDIT, f"Status page {reference}"[:24], blocks, {"update_id": update.id}, submit="Publish")


def resolved_text_block(text: str) -> dict[str, Any]:
    return _input(
        RESOLVED_TEXT,
        "Status page: resolved text",
        _text_input(text, multiline=True, max_length=BODY_MAX),
        hint="This incident is on the public status page: this text tells everyone it is over.",
    )


def maintenance_view(config: AppConfig) -> dict[str, Any]:
    picker: dict[str, Any] = {"type": "datetimepicker", "action_id": "value"}
    options = [_option(c.id, c.name) for c in config.status_page.components]
    blocks: list[dict[str, Any]] = [
        _input("title", "Title", _text_input(max_length=TITLE_MAX, placeholder="Database upgrade")),
        _input("body", "What happens", _text_input(multiline=True, max_length=BODY_MAX), optional=True),
        _input("starts", "Starts", picker, hint=TIME_HINT),
        _input("ends", "Ends", dict(picker), hint=TIME_HINT),
    ]
    if options:
        element = {"type": "multi_static_select", "action_id": "value", "options": options[:100]}
        blocks.insert(2, _input("components", "Components under maintenance", element, optional=True))
    return _modal(MAINTENANCE, "Schedule maintenance", blocks, {}, submit="Schedule")
