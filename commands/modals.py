"""Modal views. Block and action ids live here, next to the forms that read them back."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.config import AppConfig
from bot.domain import AUDIENCES, TITLE_MAX, Incident
from bot.formatting import format_duration
from bot.messages import truncate

if TYPE_CHECKING:
    from bot.runbooks.schema import Step

DECLARE = "declare_incident"
UPDATE = "post_update"
STATUS = "change_status"
SEVERITY = "change_severity"
ASSIGN = "assign_role"
RESOLVE = "resolve_incident"
RUNBOOK_PARAMS = "runbook_params"

AUDIENCE_LABELS = {
    "channel": "Incident channel (internal update)",
    "announcements": "Announcements (status-page style)",
    "management": "Management summary",
}
STATUS_PAGE = "status_page"
"""The update form's public audience: the public status page (not in `bot.domain.AUDIENCES`, which are
Slack audiences; `commands/statuspage_forms.py` holds its fields)."""
STATUS_PAGE_LABEL = "Status page (public; the IC approves)"


def _text(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _option(value: str, text: str, description: str | None = None) -> dict[str, Any]:
    option: dict[str, Any] = {"text": _text(truncate(text, 75)), "value": value}
    if description:
        option["description"] = _text(truncate(description, 75))
    return option


TIME_HINT = "In your Slack time zone; the bot says it back in the team's zone."


def _input(
    block_id: str, label: str, element: dict[str, Any], optional: bool = False, hint: str | None = None
) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "input",
        "block_id": block_id,
        "label": _text(label),
        "element": element,
        "optional": optional,
    }
    if hint:
        block["hint"] = _text(truncate(hint, 2000))
    return block


def _text_input(
    initial: str | None = None,
    multiline: bool = False,
    max_length: int = 3000,
    placeholder: str | None = None,
) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": "value",
        "multiline": multiline,
        "max_length": max_length,
    }
    if initial:
        element["initial_value"] = initial[:max_length]
    if placeholder:
        element["placeholder"] = _text(placeholder)
    return element


def _select(options: list[dict[str, Any]], initial: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "static_select", "action_id": "value", "options": options[:100]}
    chosen = next((o for o in options if o["value"] == initial), None)
    if chosen:
        element["initial_option"] = chosen
    return element


def _modal(
    callback_id: str,
    title: str,
    blocks: list[dict[str, Any]],
    metadata: dict[str, Any],
    submit: str | None = "Submit",
    close: str = "Cancel",
) -> dict[str, Any]:
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": callback_id,
        "title": _text(truncate(title, 24)),
        "close": _text(close),
        "blocks": blocks,
        "private_metadata": json.dumps(metadata),
    }
    if submit:
        view["submit"] = _text(submit)
    return view


def metadata(view: dict[str, Any]) -> dict[str, Any]:
    try:
        data = json.loads(view.get("private_metadata") or "{}")
    except json.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def severity_options(config: AppConfig) -> list[dict[str, Any]]:
    return [
        _option(s.id, s.label, f"respond < {format_duration(s.response_target)}") for s in config.severities
    ]


def declare_view(
    config: AppConfig, reporter: str, title: str = "", summary: str = "", meta: dict[str, Any] | None = None
) -> dict[str, Any]:
    guide = "\n".join(
        f"*{s.label}* (respond < {format_duration(s.response_target)}): {s.description}"
        for s in config.severities
    )
    blocks: list[dict[str, Any]] = [
        _input(
            "title",
            "Title",
            _text_input(
                title[:TITLE_MAX], max_length=TITLE_MAX, placeholder="What is broken, in a few words"
            ),
        ),
        _input("severity", "Severity", _select(severity_options(config))),
        {"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(guide, 3000)}]},
        _input(
            "summary",
            "Impact / summary",
            _text_input(summary, multiline=True, placeholder="Who is affected and how"),
            optional=True,
        ),
    ]
    if config.services:
        options = [_option(s.id, s.name) for s in config.services]
        blocks.append(_input("service", "Affected service", _select(options), optional=True))
    blocks += [
        _input(
            "commander",
            "Incident Commander",
            {"type": "users_select", "action_id": "value", "initial_user": reporter},
        ),
        _input(
            "private",
            "Visibility",
            {
                "type": "checkboxes",
                "action_id": "value",
                "options": [_option("private", "Private channel (invited people only)")],
            },
            optional=True,
        ),
    ]
    return _modal(DECLARE, "Declare incident", blocks, meta or {}, submit="Declare")


def progress_view(title: str, text: str) -> dict[str, Any]:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, 3000)}}]
    return _modal("progress", title, blocks, {}, submit=None, close="Close")


def update_view(
    config: AppConfig,
    incident: Incident,
    values: dict[str, Any] | None = None,
    preview: list[dict[str, Any]] | None = None,
    meta: dict[str, Any] | None = None,
    public: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The update form; after a first submit it is shown again with the rendered preview on top, and with
    `public`, the status page's fields when that audience is chosen."""
    values = values or {}
    statuses = [_option(s, s.capitalize()) for s in config.statuses[:-1]]
    audiences = [_option(a, AUDIENCE_LABELS[a]) for a in AUDIENCES]
    if config.status_page.enabled and not incident.private:
        audiences.append(_option(STATUS_PAGE, STATUS_PAGE_LABEL))
    chosen = values.get("audiences") or ["channel", "announcements"]
    audience_element: dict[str, Any] = {"type": "checkboxes", "action_id": "value", "options": audiences}
    initial = [o for o in audiences if o["value"] in chosen]
    if initial:
        audience_element["initial_options"] = initial
    next_minutes = values.get("next_update_minutes", config.update_interval_minutes)
    blocks: list[dict[str, Any]] = list(preview or [])
    blocks += [
        _input("status", "Status", _select(statuses, values.get("status", incident.status))),
        # Optional for Slack: a status-page-only update needs no internal text (the service asks for it
        # when an internal audience is ticked).
        _input("known", "What we know", _text_input(values.get("known"), multiline=True), optional=True),
        _input("doing", "What we are doing", _text_input(values.get("doing"), multiline=True), optional=True),
        _input(
            "next_update",
            "Next update in (minutes)",
            {
                "type": "number_input",
                "action_id": "value",
                "is_decimal_allowed": False,
                "min_value": "1",
                "max_value": "1440",
                **({"initial_value": str(next_minutes)} if next_minutes else {}),
            },
            optional=True,
            hint="Leave empty when no further update is planned.",
        ),
        _input("audiences", "Post to", audience_element),
        *(public or []),
    ]
    submit = "Post update" if preview else "Preview"
    return _modal(
        UPDATE,
        f"Update {incident.reference}",
        blocks,
        {"incident_id": incident.id, **(meta or {})},
        submit=submit,
    )


def status_view(config: AppConfig, incident: Incident) -> dict[str, Any]:
    options = [_option(s, s.capitalize()) for s in config.statuses[:-1] if s != incident.status]
    blocks = [_input("status", "New status", _select(options))]
    return _modal(
        STATUS, f"Status {incident.reference}", blocks, {"incident_id": incident.id}, submit="Change"
    )


def severity_view(config: AppConfig, incident: Incident) -> dict[str, Any]:
    options = [o for o in severity_options(config) if o["value"] != incident.severity]
    blocks = [_input("severity", "New severity", _select(options))]
    return _modal(
        SEVERITY, f"Severity {incident.reference}", blocks, {"incident_id": incident.id}, submit="Change"
    )


def assign_view(config: AppConfig, incident: Incident) -> dict[str, Any]:
    roles = [_option(r.id, r.name, r.description or None) for r in config.roles]
    blocks = [
        _input("role", "Role", _select(roles)),
        _input("user", "Person", {"type": "users_select", "action_id": "value"}),
    ]
    return _modal(
        ASSIGN, f"Assign {incident.reference}", blocks, {"incident_id": incident.id}, submit="Assign"
    )


TRANSFER = "transfer_command"


def transfer_view(incident: Incident) -> dict[str, Any]:
    """Who takes command next; they confirm in the channel before anything changes."""
    intro = {
        "type": "section",
        "text": {
            "type": "mrkdwn",
            "text": f"Hand over command of *{incident.reference}*. The new Incident Commander is asked in "
            "the channel and takes over once they accept.",
        },
    }
    person = _input("user", "New Incident Commander", {"type": "users_select", "action_id": "value"})
    return _modal(
        TRANSFER, f"Transfer {incident.reference}", [intro, person], {"incident_id": incident.id}, "Ask them"
    )


def resolve_view(
    incident: Incident, summary: str = "", public: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The close-out: how it ended, when users stopped (and started) being affected, what must follow."""
    picker: dict[str, Any] = {"type": "datetimepicker", "action_id": "value"}
    user: dict[str, Any] = {"type": "users_select", "action_id": "value"}
    day: dict[str, Any] = {"type": "datepicker", "action_id": "value"}
    needed = {
        "type": "radio_buttons",
        "action_id": "value",
        "options": [_option("yes", "Post-mortem needed"), _option("no", "No post-mortem needed")],
    }
    blocks = [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": truncate(
                    f"Resolving *{incident.reference}: {incident.title}*. "
                    "The summary goes into the final update.",
                    3000,
                ),
            },
        },
        _input(
            "resolution",
            "Resolution summary",
            _text_input(summary, multiline=True, placeholder="What fixed it"),
        ),
        _input("impact_ended_at", "Customer impact ended at", picker, True, hint=TIME_HINT + " Empty: now."),
        _input("impact_started_at", "Customer impact started at", dict(picker), True, hint=TIME_HINT),
        _input("followup", "Follow-up", _text_input(placeholder="What must happen next"), True),
        _input("followup_owner", "Follow-up owner", dict(user), True),
        _input("followup_due", "Follow-up due", dict(day), True, hint="More with `/incident action`."),
        _input("postmortem", "Post-mortem", needed, True),
        _input("postmortem_owner", "Post-mortem owner", dict(user), True),
        _input("postmortem_due", "Post-mortem due", dict(day), True),
        *([public] if public else []),
    ]
    return _modal(
        RESOLVE, f"Resolve {incident.reference}", blocks, {"incident_id": incident.id}, submit="Resolve"
    )


def runbook_params_view(step: Step, run_id: int) -> dict[str, Any]:
    """The parameters of a command step: the only part of a command a person types."""
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": truncate(f"*{step.title}*\n`{' '.join(step.command)}`", 3000)},
        }
    ]
    if step.dangerous:
        warning = ":warning: Dangerous: it runs once an Incident Commander or Operations Lead approves it."
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": warning}]})
    for name, param in step.params.items():
        if param.type == "enum":
            element = _select([_option(choice, choice) for choice in param.choices], param.default)
        else:
            element = _text_input(param.default, max_length=param.max_length)
        hint = param.description or (f"Must match {param.pattern}" if param.pattern else None)
        blocks.append(_input(name, name, element, hint=hint))
    return _modal(RUNBOOK_PARAMS, "Run step", blocks, {"run_id": run_id, "step_id": step.id}, submit="Run")


ACTION_ITEM = "action_item"


def action_item_view(incident: Incident) -> dict[str, Any]:
    blocks = [
        _input("text", "What needs doing", _text_input(multiline=True, max_length=500)),
        _input("owner", "Owner", {"type": "users_select", "action_id": "value"}, optional=True),
        _input("due", "Due", {"type": "datepicker", "action_id": "value"}, optional=True),
    ]
    return _modal(
        ACTION_ITEM, f"Follow-up {incident.reference}", blocks, {"incident_id": incident.id}, submit="Add"
    )


POSTMORTEM = "postmortem_narrative"
POSTMORTEM_TEXTS = (
    ("summary", "Executive summary", "What happened and what it meant, in a few sentences"),
    ("impact_users", "Impact on users", "Who was affected, how many, for how long"),
    ("impact_business", "Impact on the business", "Revenue, SLAs, reputation"),
    ("impact_technical", "Technical impact", "Systems and data affected"),
    ("root_cause", "Root cause", "The underlying cause, blamelessly"),
    ("contributing_factors", "Contributing factors", "What made it worse or harder to see"),
    ("lessons_went_well", "What went well", None),
    ("lessons_went_wrong", "What went wrong", None),
    ("lessons_lucky", "Where we got lucky", None),
    ("prevention", "Prevention", "What stops it from happening again"),
)
WHYS = 5


def postmortem_view(incident: Incident, narrative: dict[str, Any]) -> dict[str, Any]:
    """What only people know; the rest of the post-mortem comes from the timeline."""

    def texts(part: tuple[tuple[str, str, str | None], ...]) -> list[dict[str, Any]]:
        return [
            _input(key, label, _text_input(narrative.get(key), True, placeholder=placeholder), True)
            for key, label, placeholder in part
        ]

    started = narrative.get("impact_started_at")
    picker: dict[str, Any] = {"type": "datetimepicker", "action_id": "value"}
    if started:
        picker["initial_date_time"] = int(datetime.fromisoformat(started).timestamp())
    whys = list(narrative.get("whys") or [])
    blocks = [
        *texts(POSTMORTEM_TEXTS[:4]),
        _input(
            "impact_started_at",
            "Impact started at",
            picker,
            True,
            hint=TIME_HINT + " For the time to detect.",
        ),
        *texts(POSTMORTEM_TEXTS[4:6]),
        *(
            _input(f"why{n + 1}", f"Why #{n + 1}", _text_input(whys[n] if n < len(whys) else None), True)
            for n in range(WHYS)
        ),
        *texts(POSTMORTEM_TEXTS[6:]),
    ]
    meta = {"incident_id": incident.id}
    return _modal(POSTMORTEM, f"Post-mortem {incident.reference}", blocks, meta, submit="Save")
