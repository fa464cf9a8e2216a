"""Block Kit for runbooks: the list, the checklist (one message per section, edited as steps change),
the running/result message of a step, and the approval request of a dangerous step."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.formatting import escape_mrkdwn
from bot.messages import (
    MESSAGE_BLOCKS,
    TEXT_LIMIT,
    Message,
    button,
    context,
    divider,
    header,
    section,
    truncate,
)
from bot.runbooks.params import preview
from bot.runbooks.schema import Runbook, Step
from bot.runbooks.store import (
    AWAITING_APPROVAL,
    DONE,
    FAILED,
    RUNNING,
    SKIPPED,
    SUCCEEDED,
    RunRecord,
    StepRecord,
)

ACTION_OPEN = "runbook_open"
ACTION_RUN = "runbook_run"
ACTION_SKIP = "runbook_skip"
ACTION_DONE = "runbook_done"
ACTION_APPROVE = "runbook_approve"
ACTION_REJECT = "runbook_reject"
STEPS_PER_MESSAGE = 22
"""Two blocks a step plus the header and intro: 22 steps stay inside a message's 50 blocks."""

SECTION_LABELS = {
    "immediate": "Immediate actions",
    "investigation": "Investigation",
    "recovery": "Recovery",
    "validation": "Validation",
    "communication": "Communication",
}
STATE_ICONS = {
    "pending": ":white_large_square:",
    RUNNING: ":hourglass_flowing_sand:",
    SUCCEEDED: ":white_check_mark:",
    FAILED: ":x:",
    SKIPPED: ":fast_forward:",
    DONE: ":ballot_box_with_check:",
    AWAITING_APPROVAL: ":raised_hand:",
}
OUTPUT_IN_MESSAGE = 2500
"""Characters of output shown in Slack; longer output is attached as a file."""


def step_value(run_id: int, step_id: str, runs: int | None = None) -> str:
    """`run|step`, and for a Run button `|runs`: the runs the person saw, so a double click runs once."""
    return f"{run_id}|{step_id}" + (f"|{runs}" if runs is not None else "")


def parse_step_value(value: str | None) -> tuple[int, str] | None:
    run, _, rest = (value or "").partition("|")
    step = rest.rpartition("|")[0] if seen_runs(value) is not None else rest
    return (int(run), step) if run.isdigit() and step else None


def seen_runs(value: str | None) -> int | None:
    """How many runs the step had when its Run button was drawn (None on buttons from older versions)."""
    parts = (value or "").split("|")
    return int(parts[-1]) if len(parts) == 3 and parts[-1].isdigit() else None


def runbook_list(entries: Sequence[tuple[Runbook, bool]], reference: str) -> Message:
    if not entries:
        text = "No runbooks are configured (see `runbooks.directory` in the config)."
        return Message(text, [section(text)])
    blocks: list[dict[str, Any]] = [header(f"Runbooks for {reference}")]
    for runbook, matched in entries[: MESSAGE_BLOCKS - 2]:
        why = " · :dart: matches this incident" if matched else ""
        text = (
            f"*{escape_mrkdwn(runbook.title)}* (`{runbook.name}`){why}\n"
            f"Owner {escape_mrkdwn(runbook.owner)} · reviewed {runbook.last_reviewed.isoformat()}"
        )
        block = section(text)
        block["accessory"] = button("Post checklist", ACTION_OPEN, runbook.name)
        blocks.append(block)
    if len(entries) > MESSAGE_BLOCKS - 2:
        blocks.append(
            context(f"…and {len(entries) - (MESSAGE_BLOCKS - 2)} more: `/incident runbook <name>`.")
        )
    names = ", ".join(r.name for r, _ in entries)
    return Message(truncate(f"Runbooks: {names}", 3000), blocks)


def _detail(step: Step, record: StepRecord) -> str:
    if step.kind == "command":
        shown = preview(step, record.params or None)
        return f"`{truncate(shown, 500)}`" + (" · :warning: *dangerous*" if step.dangerous else "")
    if step.kind == "http":
        return f"`{step.method} {truncate(step.url or '', 400)}` → expect {step.expect_status}"
    if step.kind == "check":
        return f"`{truncate(step.query or '', 400)}` {escape_mrkdwn(step.condition or '')}"
    return ""


def _outcome(record: StepRecord) -> str:
    who = f" by <@{record.actor}>" if record.actor else ""
    if record.state == RUNNING:
        return f"_running{who}…_"
    if record.state == AWAITING_APPROVAL:
        return f"_waiting for an Incident Commander or Operations Lead to approve (asked{who})_"
    if record.state in (SUCCEEDED, FAILED) and record.result:
        return f"{escape_mrkdwn(record.result.get('summary', ''))}{who}"
    if record.state in (DONE, SKIPPED):
        return f"_{record.state}{who}_"
    return ""


def _step_blocks(run: RunRecord, step: Step, record: StepRecord) -> list[dict[str, Any]]:
    lines = [f"{STATE_ICONS.get(record.state, '')} *{escape_mrkdwn(step.title)}* · {step.kind}"]
    if step.description:
        lines.append(escape_mrkdwn(step.description))
    for extra in (_detail(step, record), _outcome(record)):
        if extra:
            lines.append(extra)
    value = step_value(run.id, step.id)
    buttons = []
    if record.state not in (RUNNING, AWAITING_APPROVAL):
        if step.kind != "manual":
            again = record.state in (SUCCEEDED, FAILED)
            run_value = step_value(run.id, step.id, record.runs)
            buttons.append(button("Run again" if again else "Run", ACTION_RUN, run_value, style="primary"))
        buttons.append(button("Done", ACTION_DONE, value))
        buttons.append(button("Skip", ACTION_SKIP, value))
    blocks = [section(truncate("\n".join(lines), TEXT_LIMIT))]
    if buttons:
        blocks.append({"type": "actions", "block_id": f"step-{step.id}"[:255], "elements": buttons})
    return blocks


def checklist(
    runbook: Runbook, run: RunRecord, part: str, steps: Sequence[tuple[Step, StepRecord]], first: bool
) -> Message:
    """One message of the checklist: a section of the runbook (or a part of a long one)."""
    section_name = part.split("#")[0]
    title = f"{runbook.title} · {SECTION_LABELS.get(section_name, section_name)}"
    blocks: list[dict[str, Any]] = [header(f":clipboard: {title}")]
    if first:
        links = " · ".join(f"<{link}|link>" for link in runbook.links)
        intro = (
            f"Runbook `{runbook.name}` · owner {escape_mrkdwn(runbook.owner)} · "
            f"reviewed {runbook.last_reviewed.isoformat()}" + (f" · {links}" if links else "")
        )
        blocks.append(context(intro))
    for step, record in steps:
        blocks.extend(_step_blocks(run, step, record))
    done = sum(r.state in (SUCCEEDED, DONE, SKIPPED) for _, r in steps)
    blocks.append(divider())
    return Message(f"{title}: {done}/{len(steps)} steps done", blocks[:MESSAGE_BLOCKS])


def step_running(step: Step, actor: str, shown: str) -> Message:
    title = escape_mrkdwn(step.title)
    text = f":hourglass_flowing_sand: <@{actor}> is running *{title}*: `{truncate(shown, 1500)}`"
    return Message(f"Running {step.title}", [section(text)])


def step_result(step: Step, actor: str, shown: str, result: dict[str, Any], attached: bool) -> Message:
    icon = ":white_check_mark:" if result.get("passed") else ":x:"
    head = f"{icon} *{escape_mrkdwn(step.title)}* (<@{actor}>): {escape_mrkdwn(result.get('summary', ''))}"
    blocks = [section(truncate(f"{head}\n`{truncate(shown, 1000)}`", TEXT_LIMIT))]
    output = str(result.get("output") or "")
    if output:
        shown_output = truncate(output.replace("```", "ʼʼʼ"), OUTPUT_IN_MESSAGE, "\n…")
        blocks.append(section(f"```{shown_output}```"))
    notes = []
    if result.get("truncated") or len(output) > OUTPUT_IN_MESSAGE:
        notes.append(f"{result.get('output_bytes', len(output)):,} bytes of output")
        notes.append("full output attached below" if attached else "output truncated")
    if notes:
        blocks.append(context(" · ".join(notes)))
    return Message(f"{step.title}: {result.get('summary', '')}", blocks)


def approval_request(run: RunRecord, step: Step, requester: str, shown: str) -> Message:
    text = (
        f":warning: <@{requester}> wants to run the dangerous step *{escape_mrkdwn(step.title)}*:\n"
        f"`{truncate(shown, 1500)}`\nAn Incident Commander or Operations Lead must approve it."
    )
    value = step_value(run.id, step.id)
    approve = button("Approve and run", ACTION_APPROVE, value, style="danger")
    approve["confirm"] = {
        "title": {"type": "plain_text", "text": "Run a dangerous step?"},
        "text": {"type": "plain_text", "text": truncate(f"{step.title}: {shown}", 300)},
        "confirm": {"type": "plain_text", "text": "Run it"},
        "deny": {"type": "plain_text", "text": "Cancel"},
    }
    actions = {
        "type": "actions",
        "block_id": "approval",
        "elements": [approve, button("Reject", ACTION_REJECT, value)],
    }
    return Message(f"Approval needed: {step.title}", [section(text), actions])
