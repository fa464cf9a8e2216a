"""Block Kit builders and templates, with real domain and config objects.

Slack rejects an oversized block with `invalid_blocks` and loses the whole message, so every builder
is checked against the limits from DESIGN.md — locally, by slack_sdk's own models, and by the project's
Slack stand-in validator when it is available.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from bot import messages
from bot.config import AppConfig, Service
from bot.domain import AUDIENCES, Incident, UpdateDraft
from bot.formatting import escape_mrkdwn, human_duration
from bot.templating import Templates, bundled_templates_dir

try:  # written in parallel by another engineer; use it once it exists
    from bot.standin.blockkit import validate_message, validate_view
except ImportError:  # pragma: no cover - depends on the checkout
    validate_message = validate_view = None

NOW = datetime(2026, 1, 15, 14, 0, tzinfo=UTC)  # winter: Europe/Berlin is CET (UTC+1)


# -- limit checker -----------------------------------------------------------------------------------


def _limit_problems(blocks: list[dict[str, Any]], max_blocks: int) -> list[str]:
    problems: list[str] = []
    if len(blocks) > max_blocks:
        problems.append(f"{len(blocks)} blocks > {max_blocks}")
    for i, block in enumerate(blocks):
        kind = block["type"]
        if len(block.get("block_id", "")) > 255:
            problems.append(f"block {i}: block_id too long")
        if kind == "header" and len(block["text"]["text"]) > 150:
            problems.append(f"block {i}: header {len(block['text']['text'])} > 150")
        if kind == "section":
            if "text" in block and not 0 < len(block["text"]["text"]) <= 3000:
                problems.append(f"block {i}: section text {len(block['text']['text'])} chars")
            if "text" not in block and "fields" not in block:
                problems.append(f"block {i}: section without text or fields")
            fields = block.get("fields", [])
            if len(fields) > 10:
                problems.append(f"block {i}: {len(fields)} fields > 10")
            problems.extend(f"block {i}: field > 2000" for f in fields if len(f["text"]) > 2000)
        if kind == "context" and len(block["elements"]) > 10:
            problems.append(f"block {i}: context with {len(block['elements'])} elements")
        if kind == "actions":
            for element in block["elements"]:
                if element["type"] == "button" and len(element["text"]["text"]) > 75:
                    problems.append(f"block {i}: button text > 75")
                if len(element.get("action_id", "")) > 255 or len(element.get("value", "")) > 2000:
                    problems.append(f"block {i}: action_id/value too long")
        Block.parse(block).validate_json()  # slack_sdk's own limit checks raise on violations
    return problems


def assert_valid_message(message: messages.Message) -> None:
    assert message.text.strip(), "fallback text must always be set"
    assert _limit_problems(message.blocks, 50) == []
    if validate_message is not None:
        assert not validate_message(message.text, message.blocks)


def assert_valid_modal_blocks(blocks: list[dict[str, Any]]) -> None:
    assert _limit_problems(blocks, 100) == []
    if validate_view is not None:
        view = {"type": "modal", "title": {"type": "plain_text", "text": "Preview"}, "blocks": blocks}
        assert not validate_view(view)


# -- fixtures --------------------------------------------------------------------------------------------


@pytest.fixture
def config() -> AppConfig:
    return AppConfig(
        timezone="Europe/Berlin",
        services=[Service(id="checkout", name="Checkout")],
    )


@pytest.fixture
def templates(config: AppConfig) -> Templates:
    return Templates(config)


def make_incident(**changes: Any) -> Incident:
    incident = Incident(
        id=12,
        title="Checkout returns 502",
        severity="SEV2",
        status="investigating",
        summary="Roughly 5% of checkouts fail.",
        service="checkout",
        private=False,
        reporter="UREPORTER",
        created_at=NOW - timedelta(minutes=65),
        channel_id="C123",
        channel_name="inc-20260115-12-checkout-returns-502",
        roles={"incident_commander": "UCOMMANDER", "scribe": "USCRIBE"},
    )
    return dataclasses.replace(incident, **changes)


def make_draft(**changes: Any) -> UpdateDraft:
    draft = UpdateDraft(
        status="identified",
        known="The 13:50 deploy broke the payment client.",
        doing="Rolling back.",
        next_update_minutes=30,
        audiences=AUDIENCES,
    )
    return dataclasses.replace(draft, **changes)


def render_update(
    templates: Templates, config: AppConfig, audience: str, incident: Incident, draft: UpdateDraft
) -> str:
    return templates.render(
        f"update_{audience}.md.j2",
        incident=incident,
        draft=draft,
        config=config,
        actor="UACTOR",
        now=NOW,
        severity=config.severity(incident.severity),
    )


# -- incident summary ------------------------------------------------------------------------------------


def _buttons(message: messages.Message) -> dict[str, dict[str, Any]]:
    actions = [b for b in message.blocks if b["type"] == "actions"]
    assert len(actions) == 1
    assert actions[0]["block_id"] == "incident_actions"
    return {e["action_id"]: e for e in actions[0]["elements"]}


def test_summary_has_the_action_buttons_with_the_incident_id(config: AppConfig) -> None:
    message = messages.incident_summary(make_incident(), config)

    buttons = _buttons(message)
    assert list(buttons) == [
        "incident_post_update",
        "incident_change_status",
        "incident_change_severity",
        "incident_assign_role",
        "incident_transfer_command",
        "incident_resolve",
    ]
    assert {b["value"] for b in buttons.values()} == {"12"}
    assert buttons["incident_resolve"]["text"]["text"] == "Resolve"
    assert_valid_message(message)


def test_summary_shows_fields_roles_and_local_time(config: AppConfig) -> None:
    message = messages.incident_summary(make_incident(), config)

    assert message.blocks[0] == {
        "type": "header",
        "text": {
            "type": "plain_text",
            "text": ":rotating_light: INC-12 · Checkout returns 502",
            "emoji": True,
        },
    }
    fields = {f["text"].split("\n", 1)[0]: f["text"].split("\n", 1)[1] for f in message.blocks[1]["fields"]}
    assert fields["*Severity*"] == "SEV2 · Major\nRespond within 15 min"
    assert fields["*Status*"] == "Investigating"
    assert fields["*Incident Commander*"] == "<@UCOMMANDER>"
    assert fields["*Service*"] == "Checkout"
    assert fields["*Reporter*"] == "<@UREPORTER>"
    assert fields["*Declared*"] == "<!date^1768481700^{date_short_pretty} {time}|2026-01-15 13:55 CET>"
    assert fields["*Scribe*"] == "<@USCRIBE>"
    assert fields["*Communications Lead*"] == "unassigned"
    assert "Roughly 5% of checkouts fail." in str(message.blocks)
    assert message.text == "INC-12 · Checkout returns 502 — SEV2 · Major, Investigating"


def test_resolved_summary_offers_reopen_and_shows_resolution(config: AppConfig) -> None:
    incident = make_incident(
        status="resolved", resolved_at=NOW, resolution="Rolled back the deploy.", next_update_due=NOW
    )
    message = messages.incident_summary(incident, config)

    buttons = _buttons(message)
    assert "incident_resolve" not in buttons
    assert buttons["incident_reopen"]["text"]["text"] == "Reopen"
    assert buttons["incident_reopen"]["value"] == "12"
    body = str(message.blocks)
    assert "Rolled back the deploy." in body
    assert "*Time to resolve:* 1 h 5 min" in body
    assert "Next update due" not in body
    assert_valid_message(message)


def test_summary_with_source_permalink_links_it(config: AppConfig) -> None:
    url = "https://example.slack.com/archives/C9/p1700000000000100"
    message = messages.incident_summary(make_incident(source_permalink=url), config)

    assert f"<{url}|this message>" in str(message.blocks)


def test_long_title_and_summary_stay_within_limits(config: AppConfig) -> None:
    incident = make_incident(title="T" * 150, summary="word " * 1000 + "<!channel>")
    message = messages.incident_summary(incident, config)

    assert_valid_message(message)
    header = message.blocks[0]["text"]["text"]
    assert len(header) == 150 and header.endswith("…")
    impact = next(b for b in message.blocks if b.get("text", {}).get("text", "").startswith("*Impact*"))
    assert impact["text"]["text"].endswith("_(truncated)_")


def test_many_roles_are_spread_over_field_sections(config: AppConfig) -> None:
    roles = [{"id": "incident_commander", "name": "Incident Commander"}]
    roles += [{"id": f"role_{i}", "name": f"Role {i}"} for i in range(20)]
    config = AppConfig.model_validate({"timezone": "Europe/Berlin", "roles": roles})
    message = messages.incident_summary(make_incident(), config)

    assert_valid_message(message)
    assert sum(len(b.get("fields", [])) for b in message.blocks) == 6 + 20 + 1  # + scribe, not in config


# -- templates ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "word", "phrase"),
    [
        ("investigating", "*Investigating*", "We are investigating reports of problems with Checkout."),
        ("identified", "*Identified*", "has been identified"),
        ("monitoring", "*Monitoring*", "we are monitoring the results"),
        ("resolved", "*Resolved*", "This incident has been resolved"),
    ],
)
def test_announcement_update_starts_with_the_status_page_word(
    templates: Templates, config: AppConfig, status: str, word: str, phrase: str
) -> None:
    text = render_update(templates, config, "announcements", make_incident(), make_draft(status=status))

    assert text.startswith(word + " — ")
    assert phrase in text.splitlines()[0]
    assert "<@" not in text, "no user mentions on the company-wide thread"
    assert "Incident Commander" not in text


def test_channel_update_shows_next_update_in_configured_zone(templates: Templates, config: AppConfig) -> None:
    text = render_update(templates, config, "channel", make_incident(), make_draft())

    assert "*Identified*" in text
    assert "*Severity:* SEV2 · Major" in text
    assert "*What we know:* The 13:50 deploy broke the payment client." in text
    assert "*What we are doing:* Rolling back." in text
    assert "*Incident Commander:* <@UCOMMANDER>" in text
    assert "*Next update:* 2026-01-15 15:30 CET (in 30 min)" in text


def test_summer_time_is_shown_as_cest(templates: Templates, config: AppConfig) -> None:
    text = templates.render(
        "update_management.md.j2",
        incident=make_incident(),
        draft=make_draft(),
        config=config,
        actor="U1",
        now=datetime(2026, 7, 1, 10, 0, tzinfo=UTC),
        severity=None,
    )
    assert "2026-07-01 12:30 CEST" in text


def test_no_next_update_says_so(templates: Templates, config: AppConfig) -> None:
    draft = make_draft(next_update_minutes=None)

    assert "no further updates planned" in render_update(templates, config, "channel", make_incident(), draft)
    assert "no further updates planned" in render_update(
        templates, config, "management", make_incident(), draft
    )
    assert "Next update" not in render_update(templates, config, "announcements", make_incident(), draft)


def test_management_update_has_impact_duration_and_ic(templates: Templates, config: AppConfig) -> None:
    text = render_update(templates, config, "management", make_incident(), make_draft())

    assert "*Business impact:* Roughly 5% of checkouts fail." in text
    assert "*Duration so far:* 1 h 5 min" in text
    assert "*Severity:* SEV2 · Major" in text
    assert "*Next update:* 2026-01-15 15:30 CET" in text
    assert "<@UCOMMANDER>" in text


def test_resolved_and_announcement_templates(templates: Templates, config: AppConfig) -> None:
    final = templates.render(
        "resolved_channel.md.j2",
        incident=make_incident(status="resolved"),
        resolution="Rolled back.",
        time_to_resolve=timedelta(hours=2, minutes=3),
        config=config,
        actor="UACTOR",
        now=NOW,
        severity=config.severity("SEV2"),
    )
    assert "*Resolution:* Rolled back." in final
    assert "*Time to resolve:* 2 h 3 min" in final

    message = messages.announcement(make_incident(), config, templates, now=NOW)
    assert_valid_message(message)
    text = message.blocks[0]["text"]["text"]
    assert "INC-12: Checkout returns 502" in text
    assert "SEV2 · Major" in text and "Investigating" in text
    assert "<#C123>" not in text and "<@UCOMMANDER>" in text  # the channel once, below
    assert "*Impact:* Roughly 5% of checkouts fail." in text
    assert "*Declared:* <!date^" in text  # each reader's own time zone
    assert message.blocks[1] == {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": "Follow along in <#C123>"}],
    }
    [join] = message.blocks[2]["elements"]
    assert (join["action_id"], join["value"]) == (messages.ACTION_JOIN, "12")


def test_unknown_custom_status_and_removed_severity_still_render(templates: Templates) -> None:
    config = AppConfig(statuses=["triage", "mitigated", "closed"])
    templates = Templates(config)
    incident = make_incident(status="triage", severity="SEV9")
    text = render_update(templates, config, "announcements", incident, make_draft(status="mitigated"))

    assert text.startswith("*Mitigated* — ")
    assert "SEV9" in render_update(templates, config, "channel", incident, make_draft(status="mitigated"))
    assert_valid_message(messages.incident_summary(incident, config))


def test_user_text_is_escaped(templates: Templates, config: AppConfig) -> None:
    incident = make_incident(title="DB down <!channel>", summary="a & b <@U999>")
    draft = make_draft(known="<!here> it broke", doing="<https://evil|click>")

    for audience in AUDIENCES:
        text = render_update(templates, config, audience, incident, draft)
        assert "<!" not in text and "<https" not in text
    assert "&lt;!here&gt; it broke" in render_update(templates, config, "channel", incident, draft)
    management = render_update(templates, config, "management", incident, draft)
    assert "DB down &lt;!channel&gt;" in management and "a &amp; b &lt;@U999&gt;" in management

    for message in (
        messages.incident_summary(incident, config),
        messages.announcement(incident, config, templates),
        messages.incident_list([incident], config, now=NOW),
        messages.note_recorded(incident, "U1", "ping <!everyone>"),
    ):
        # plain_text headers are shown literally by Slack, so they carry the title unescaped
        mrkdwn_blocks = [b for b in message.blocks if b["type"] != "header"]
        everything = message.text + str(mrkdwn_blocks)
        assert "<!channel>" not in everything and "<!everyone>" not in everything


def test_override_directory_replaces_one_template(tmp_path: Path, config: AppConfig) -> None:
    (tmp_path / "update_management.md.j2").write_text(
        "Mgmt: {{ incident.reference }} is {{ draft.status }}\n"
    )
    config = config.model_copy(update={"templates_dir": tmp_path})
    templates = Templates(config)

    assert (
        render_update(templates, config, "management", make_incident(), make_draft())
        == "Mgmt: INC-12 is identified"
    )
    assert "*What we know:*" in render_update(templates, config, "channel", make_incident(), make_draft())
    assert templates.check() == []


def test_check_reports_broken_templates(tmp_path: Path, config: AppConfig) -> None:
    (tmp_path / "update_channel.md.j2").write_text("{% if draft.status %}unclosed\n")
    (tmp_path / "announcement.md.j2").write_text("{{ incident.titel }}\n")
    templates = Templates(config.model_copy(update={"templates_dir": tmp_path}))

    errors = templates.check()

    assert len(errors) == 2, errors
    syntax = next(e for e in errors if "update_channel.md.j2" in e)
    assert str(tmp_path) in syntax
    undefined = next(e for e in errors if "announcement.md.j2" in e)
    assert "UndefinedError" in undefined and "titel" in undefined


def test_check_reports_missing_override_dir(tmp_path: Path, config: AppConfig) -> None:
    templates = Templates(config.model_copy(update={"templates_dir": tmp_path / "nope"}))

    assert templates.check() == [f"templates_dir {tmp_path / 'nope'} is not a directory"]


def test_bundled_templates_are_found() -> None:
    names = {p.name for p in bundled_templates_dir().glob("*.j2")}
    expected = {f"update_{a}.md.j2" for a in AUDIENCES} | {"resolved_channel.md.j2", "announcement.md.j2"}
    assert expected <= names
    assert Templates(AppConfig()).check() == []


# -- status updates and preview --------------------------------------------------------------------------


def test_long_status_update_is_split_not_cut(config: AppConfig) -> None:
    paragraphs = [f"Paragraph {i}: " + "x" * 900 for i in range(12)]
    rendered = "\n\n".join(paragraphs)
    message = messages.status_update("channel", rendered, make_incident())

    assert_valid_message(message)
    assert len(message.blocks) > 1
    joined = "\n\n".join(b["text"]["text"] for b in message.blocks)
    assert joined == rendered
    assert message.text.startswith("INC-12 status update (Incident channel): Paragraph 0")


def test_huge_status_update_is_capped_at_fifty_blocks_with_a_note() -> None:
    rendered = "\n".join("y" * 2000 for _ in range(80))
    message = messages.status_update("management", rendered, make_incident())

    assert_valid_message(message)
    assert len(message.blocks) == 50
    assert "more characters not shown" in message.blocks[-1]["text"]["text"]


def test_split_keeps_code_fences_balanced() -> None:
    text = "```\n" + "\n".join(f"line {i} " + "z" * 60 for i in range(120)) + "\n```"
    parts = messages.split_text(text)

    assert len(parts) > 1
    assert all(len(p) <= 3000 and p.count("```") % 2 == 0 for p in parts)


def test_update_preview_within_modal_limits(templates: Templates, config: AppConfig) -> None:
    rendered = {a: render_update(templates, config, a, make_incident(), make_draft()) for a in AUDIENCES}
    blocks = messages.update_preview(rendered)

    assert_valid_modal_blocks(blocks)
    headers = [b["text"]["text"] for b in blocks if b["type"] == "header"]
    assert headers == ["Incident channel", "Announcements", "Management summary"]

    huge = dict.fromkeys(AUDIENCES, "w " * 200_000)
    blocks = messages.update_preview(huge)
    assert_valid_modal_blocks(blocks)
    assert len(blocks) <= 80, "room must be left for the form inputs in the same modal"
    ends = [blocks[i - 1] for i, b in enumerate(blocks) if b["type"] == "divider"] + [blocks[-1]]
    assert len(ends) == 3
    assert all("more characters not shown" in b["text"]["text"] for b in ends)


# -- lists, help, small messages -----------------------------------------------------------------------


def test_incident_list_empty_and_capped(config: AppConfig) -> None:
    empty = messages.incident_list([], config)
    assert empty.text == "No open incidents."
    assert "No open incidents." in empty.blocks[0]["text"]["text"]

    incidents = [make_incident(id=i, title="t" * 150) for i in range(1, 51)]
    message = messages.incident_list(incidents, config, now=NOW)
    assert_valid_message(message)
    sections = [b for b in message.blocks if b["type"] == "section"]
    assert len(sections) == 45
    assert "5 more" in message.blocks[-1]["elements"][0]["text"]
    first = sections[0]["text"]["text"]
    assert first.startswith("*INC-1* · ")
    assert "SEV2 · Major · Investigating · <#C123> · IC <@UCOMMANDER> · open 1 h 5 min" in first


def test_help_and_integration_failure() -> None:
    help_ = messages.help_message(
        [("/incident declare", "Declare an incident"), ("/incident list", "Open ones")]
    )
    assert_valid_message(help_)
    assert "`/incident declare` — Declare an incident" in help_.blocks[1]["text"]["text"]

    failure = messages.integration_failure("invite responders", "channel_not_found", "Invite them by hand.")
    assert failure.text == ":warning: Could not invite responders: channel_not_found. Invite them by hand."
    assert_valid_message(failure)


def test_small_messages_are_valid(config: AppConfig) -> None:
    incident = make_incident()
    assert messages.channel_created_link(incident) == "Incident INC-12 declared: <#C123>"
    assert messages.topic(make_incident(title="x" * 400), config).startswith(
        "INC-12 · SEV2 · Major · Investigating"
    )
    assert len(messages.topic(make_incident(title="x" * 400), config)) <= 250
    for message in (
        messages.notice("<@U1> is now *Scribe*."),
        messages.problems(["Could not pin: not_in_channel. Pin it by hand.", "Could not set topic: x."]),
        messages.note_recorded(incident, "U1", "line one\nline two", "https://x.slack.com/archives/C1/p1"),
        messages.error("The title is empty."),
    ):
        assert_valid_message(message)


def test_truncate_says_so_and_never_cuts_a_link() -> None:
    assert messages.truncate("short", 10) == "short"
    assert messages.truncate("abcdefghij", 5) == "abcd…"
    cut = messages.truncate("see <https://example.com/very/long|link> now", 20, note=" (truncated)")
    assert cut == "see (truncated)"
    assert messages.truncate("a &amp; b", 5) == "a…"


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=45), "45 s"),
        (timedelta(minutes=65), "1 h 5 min"),
        (timedelta(minutes=5, seconds=30), "5 min 30 s"),
        (timedelta(hours=2, seconds=10), "2 h"),
        (timedelta(days=1, hours=3, minutes=2), "1 d 3 h"),
        (timedelta(0), "0 s"),
    ],
)
def test_human_duration(delta: timedelta, text: str) -> None:
    assert human_duration(delta) == text


def test_escape_mrkdwn() -> None:
    assert escape_mrkdwn("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"
    assert escape_mrkdwn(None) == ""
