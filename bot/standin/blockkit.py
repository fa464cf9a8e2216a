"""Block Kit limit checks, so a message that Slack would refuse also fails locally.

Slack answers an over-long section or a 51st block with `invalid_blocks` and the message is never
shown — a bug that only surfaces in production with real incident data. These checks mirror the
documented limits closely enough to fail the same payloads, and phrase each problem the way Slack
does (`... [json-pointer:/blocks/3/text/text]`) so the culprit is easy to find.

The functions are pure: they take decoded JSON and return a list of human-readable problems.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

MESSAGE_TEXT_MAX = 40_000
MESSAGE_BLOCKS_MAX = 50
VIEW_BLOCKS_MAX = 100
SECTION_TEXT_MAX = 3000
SECTION_FIELDS_MAX = 10
SECTION_FIELD_TEXT_MAX = 2000
HEADER_TEXT_MAX = 150
CONTEXT_ELEMENTS_MAX = 10
ACTIONS_ELEMENTS_MAX = 25
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000
URL_MAX = 3000
ID_MAX = 255
MODAL_TITLE_MAX = 24
MODAL_BUTTON_MAX = 24
SELECT_OPTIONS_MAX = 100
OVERFLOW_OPTIONS_MAX = 5
CHOICE_OPTIONS_MAX = 10
OPTION_TEXT_MAX = 75
OPTION_VALUE_MAX = 150
PLACEHOLDER_MAX = 150
TEXT_INPUT_MAX = 3000
LABEL_MAX = 2000
HINT_MAX = 2000
ALT_TEXT_MAX = 2000
PRIVATE_METADATA_MAX = 3000

BLOCK_TYPES = frozenset(
    {"section", "header", "divider", "context", "actions", "input", "image", "rich_text", "file", "video"}
)
SELECT_TYPES = frozenset({"static_select", "multi_static_select"})
USER_SELECT_TYPES = frozenset({"users_select", "multi_users_select"})
CONVERSATION_SELECT_TYPES = frozenset(
    {"conversations_select", "multi_conversations_select", "channels_select", "multi_channels_select"}
)
CHOICE_TYPES = frozenset({"checkboxes", "radio_buttons"})
TEXT_INPUT_TYPES = frozenset({"plain_text_input", "email_text_input", "url_text_input", "number_input"})
ELEMENT_TYPES = frozenset(
    {"button", "overflow", "datepicker", "timepicker", "datetimepicker", "image", "external_select"}
    | SELECT_TYPES
    | USER_SELECT_TYPES
    | CONVERSATION_SELECT_TYPES
    | CHOICE_TYPES
    | TEXT_INPUT_TYPES
)
INPUT_ONLY_TYPES = TEXT_INPUT_TYPES
"""Elements Slack accepts only inside an `input` block."""

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class _Checker:
    """Collects problems while walking one message or view; block ids must be unique across it."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.block_ids: set[str] = set()

    def fail(self, pointer: str, problem: str) -> None:
        self.problems.append(f"{problem} [json-pointer:{pointer}]")

    def length(self, value: Any, pointer: str, limit: int, minimum: int = 0) -> None:
        if not isinstance(value, str):
            self.fail(pointer, f"must be a string, got {type(value).__name__}")
        elif len(value) > limit:
            self.fail(pointer, f"must be at most {limit} characters (is {len(value)})")
        elif len(value) < minimum:
            self.fail(pointer, f"must be at least {minimum} character{'s' if minimum > 1 else ''}")

    def text(
        self, obj: Any, pointer: str, limit: int, *, plain_only: bool = False, required: bool = True
    ) -> None:
        """A composition text object: `{"type": "plain_text"|"mrkdwn", "text": ...}`."""
        if obj is None:
            if required:
                self.fail(pointer, "missing required field")
            return
        if not isinstance(obj, dict):
            self.fail(pointer, "must be a text object")
            return
        kind = obj.get("type")
        if kind is None:
            self.fail(f"{pointer}/type", "missing required field")
        elif plain_only and kind != "plain_text":
            self.fail(f"{pointer}/type", f"must be plain_text (is {kind!r})")
        elif kind not in ("plain_text", "mrkdwn"):
            self.fail(f"{pointer}/type", f"must be plain_text or mrkdwn (is {kind!r})")
        if "text" not in obj:
            self.fail(f"{pointer}/text", "missing required field")
        else:
            self.length(obj["text"], f"{pointer}/text", limit, minimum=1)

    def identifier(self, value: Any, pointer: str) -> None:
        if value is not None:
            self.length(value, pointer, ID_MAX, minimum=1)

    def blocks(self, blocks: Any, pointer: str, limit: int, *, in_view: bool) -> None:
        if not isinstance(blocks, list):
            self.fail(pointer, "must be an array of blocks")
            return
        if len(blocks) > limit:
            self.fail(pointer, f"must have at most {limit} blocks (has {len(blocks)})")
        for index, block in enumerate(blocks):
            self.block(block, f"{pointer}/{index}", in_view=in_view)

    def block(self, block: Any, pointer: str, *, in_view: bool) -> None:
        if not isinstance(block, dict):
            self.fail(pointer, "must be a block object")
            return
        kind = block.get("type")
        if kind not in BLOCK_TYPES:
            self.fail(f"{pointer}/type", f"unknown block type {kind!r}")
            return
        block_id = block.get("block_id")
        if block_id is not None:
            self.identifier(block_id, f"{pointer}/block_id")
            if block_id in self.block_ids:
                self.fail(f"{pointer}/block_id", f"duplicate block_id {block_id!r}")
            self.block_ids.add(block_id)
        getattr(self, f"_block_{kind}", self._block_loose)(block, pointer, in_view)

    def _block_loose(self, block: dict[str, Any], pointer: str, in_view: bool) -> None:
        """rich_text, file and video: accepted as long as they are objects."""

    def _block_divider(self, block: dict[str, Any], pointer: str, in_view: bool) -> None:
        pass

    def _block_section(self, block: dict[str, Any], pointer: str, in_view: bool) -> None:
        text, fields = block.get("text"), block.get("fields")
        if text is None and not fields:
            self.fail(pointer, "section must have text or fields")
        if text is not None:
            self.text(text, f"{pointer}/text", SECTION_TEXT_MAX)
        if fields is not None:
            if not isinstance(fields, list):
                self.fail(f"{pointer}/fields", "must be an array of text objects")
            else:
                if len(fields) > SECTION_FIELDS_MAX:
                    self.fail(
                        f"{pointer}/fields",
                        f"must have at most {SECTION_FIELDS_MAX} items (has {len(fields)})",
                    )
                for index, field in enumerate(fields):
                    self.text(field, f"{pointer}/fields/{index}", SECTION_FIELD_TEXT_MAX)
        if "accessory" in block:
            self.element(block["accessory"], f"{pointer}/accessory", place="section")

    def _block_header(self, block: dict[str, Any], pointer: str, in_view: bool) -> None:
        self.text(block.get("text"), f"{pointer}/text", HEADER_TEXT_MAX, plain_only=True)

    def _block_context(self, block: dict[str, Any], pointer: str, in_view: bool) -> None:
        elements = block.get("elements")
        if not isinstance(elements, list) or not elements:
            self.fail(f"{pointer}/elements", "must be a non-empty array")
            return
        if len(elements) > CONTEXT_ELEMENTS_MAX:
            self.fail(
                f"{pointer}/elements", f"must have at most {CONTEXT_ELEMENTS_MAX} items (has {len(elements)})"
            )
        for index, element in enumerate(elements):
            if isinstance(element, dict) and element.get("type") == "image":
                self.element(element, f"{pointer}/elements/{index}", place="context")
            else:
                self.text(element, f"{pointer}/elements/{index}", SECTION_TEXT_MAX)

    def _block_actions(self, block: dict[str, Any], pointer: str, in_view: bool) -> None:
        elements = block.get("elements")
        if not isinstance(elements, list) or not elements:
            self.fail(f"{pointer}/elements", "must be a non-empty array")
            return
        if len(elements) > ACTIONS_ELEMENTS_MAX:
            self.fail(
                f"{pointer}/elements", f"must have at most {ACTIONS_ELEMENTS_MAX} items (has {len(elements)})"
            )
        for index, element in enumerate(elements):
            self.element(element, f"{pointer}/elements/{index}", place="actions")

    def _block_input(self, block: dict[str, Any], pointer: str, in_view: bool) -> None:
        if not in_view:
            self.fail(f"{pointer}/type", "input blocks are only allowed in modals and the home tab")
        self.text(block.get("label"), f"{pointer}/label", LABEL_MAX, plain_only=True)
        self.text(block.get("hint"), f"{pointer}/hint", HINT_MAX, plain_only=True, required=False)
        if "element" not in block:
            self.fail(f"{pointer}/element", "missing required field")
        else:
            self.element(block["element"], f"{pointer}/element", place="input")

    def _block_image(self, block: dict[str, Any], pointer: str, in_view: bool) -> None:
        self._image(block, pointer)
        self.text(block.get("title"), f"{pointer}/title", ALT_TEXT_MAX, plain_only=True, required=False)

    def _image(self, obj: dict[str, Any], pointer: str) -> None:
        if "image_url" in obj:
            self.length(obj["image_url"], f"{pointer}/image_url", URL_MAX, minimum=1)
        elif "slack_file" not in obj:
            self.fail(f"{pointer}/image_url", "missing required field")
        if "alt_text" not in obj:
            self.fail(f"{pointer}/alt_text", "missing required field")
        else:
            self.length(obj["alt_text"], f"{pointer}/alt_text", ALT_TEXT_MAX, minimum=1)

    # -- elements -----------------------------------------------------------------------------------

    def element(self, element: Any, pointer: str, *, place: str) -> None:
        if not isinstance(element, dict):
            self.fail(pointer, "must be an element object")
            return
        kind = element.get("type")
        if kind not in ELEMENT_TYPES:
            self.fail(f"{pointer}/type", f"unknown element type {kind!r}")
            return
        if kind in INPUT_ONLY_TYPES and place != "input":
            self.fail(f"{pointer}/type", f"{kind} is only allowed in input blocks")
        if kind == "image":
            if place not in ("context", "section"):
                self.fail(f"{pointer}/type", "image elements are only allowed in context and section blocks")
            self._image(element, pointer)
            return
        self.identifier(element.get("action_id"), f"{pointer}/action_id")
        self.text(
            element.get("placeholder"),
            f"{pointer}/placeholder",
            PLACEHOLDER_MAX,
            plain_only=True,
            required=False,
        )
        if "confirm" in element:
            self._confirm(element["confirm"], f"{pointer}/confirm")
        if kind == "button":
            self._button(element, pointer)
        elif kind in SELECT_TYPES:
            self._options(element, pointer, SELECT_OPTIONS_MAX, plain_only=True, groups_allowed=True)
        elif kind == "overflow":
            self._options(element, pointer, OVERFLOW_OPTIONS_MAX, plain_only=True)
        elif kind in CHOICE_TYPES:
            self._options(element, pointer, CHOICE_OPTIONS_MAX, plain_only=False)
        elif kind == "plain_text_input":
            self._text_input(element, pointer)
        elif kind == "number_input":
            self._number_input(element, pointer)
        elif kind == "datepicker":
            self._pattern(element.get("initial_date"), f"{pointer}/initial_date", _DATE, "YYYY-MM-DD")
        elif kind == "timepicker":
            self._pattern(element.get("initial_time"), f"{pointer}/initial_time", _TIME, "HH:mm")

    def _button(self, element: dict[str, Any], pointer: str) -> None:
        self.text(element.get("text"), f"{pointer}/text", BUTTON_TEXT_MAX, plain_only=True)
        if "value" in element:
            self.length(element["value"], f"{pointer}/value", BUTTON_VALUE_MAX)
        if "url" in element:
            self.length(element["url"], f"{pointer}/url", URL_MAX, minimum=1)
        style = element.get("style")
        if style is not None and style not in ("primary", "danger"):
            self.fail(f"{pointer}/style", f"must be primary or danger (is {style!r})")

    def _confirm(self, confirm: Any, pointer: str) -> None:
        if not isinstance(confirm, dict):
            self.fail(pointer, "must be a confirmation dialog object")
            return
        self.text(confirm.get("title"), f"{pointer}/title", 100, plain_only=True)
        self.text(confirm.get("text"), f"{pointer}/text", 300)
        self.text(confirm.get("confirm"), f"{pointer}/confirm", 30, plain_only=True)
        self.text(confirm.get("deny"), f"{pointer}/deny", 30, plain_only=True)

    def _option(self, option: Any, pointer: str, *, plain_only: bool) -> str | None:
        if not isinstance(option, dict):
            self.fail(pointer, "must be an option object")
            return None
        self.text(option.get("text"), f"{pointer}/text", OPTION_TEXT_MAX, plain_only=plain_only)
        self.text(
            option.get("description"),
            f"{pointer}/description",
            OPTION_TEXT_MAX,
            plain_only=True,
            required=False,
        )
        if "value" not in option:
            self.fail(f"{pointer}/value", "missing required field")
            return None
        self.length(option["value"], f"{pointer}/value", OPTION_VALUE_MAX, minimum=1)
        return option["value"] if isinstance(option["value"], str) else None

    def _options(
        self,
        element: dict[str, Any],
        pointer: str,
        limit: int,
        *,
        plain_only: bool,
        groups_allowed: bool = False,
    ) -> None:
        values: list[str | None] = []
        if groups_allowed and "option_groups" in element:
            groups = element["option_groups"]
            if not isinstance(groups, list) or not groups:
                self.fail(f"{pointer}/option_groups", "must be a non-empty array")
                return
            for g, group in enumerate(groups):
                options = group.get("options") if isinstance(group, dict) else None
                self._check_option_list(
                    options, f"{pointer}/option_groups/{g}/options", limit, plain_only, values
                )
        else:
            self._check_option_list(element.get("options"), f"{pointer}/options", limit, plain_only, values)
        known = {v for v in values if v is not None}
        initial = element.get("initial_option")
        if isinstance(initial, dict) and initial.get("value") not in known:
            self.fail(f"{pointer}/initial_option", "must match one of the options")
        for index, option in enumerate(element.get("initial_options") or []):
            if not isinstance(option, dict) or option.get("value") not in known:
                self.fail(f"{pointer}/initial_options/{index}", "must match one of the options")

    def _check_option_list(
        self, options: Any, pointer: str, limit: int, plain_only: bool, values: list[str | None]
    ) -> None:
        if not isinstance(options, list) or not options:
            self.fail(pointer, "must be a non-empty array of options")
            return
        if len(options) > limit:
            self.fail(pointer, f"must have at most {limit} options (has {len(options)})")
        for index, option in enumerate(options):
            values.append(self._option(option, f"{pointer}/{index}", plain_only=plain_only))

    def _text_input(self, element: dict[str, Any], pointer: str) -> None:
        max_length = element.get("max_length", TEXT_INPUT_MAX)
        min_length = element.get("min_length", 0)
        if not isinstance(max_length, int) or not 1 <= max_length <= TEXT_INPUT_MAX:
            self.fail(f"{pointer}/max_length", f"must be an integer between 1 and {TEXT_INPUT_MAX}")
            max_length = TEXT_INPUT_MAX
        if not isinstance(min_length, int) or not 0 <= min_length <= max_length:
            self.fail(f"{pointer}/min_length", "must be an integer between 0 and max_length")
        if "initial_value" in element:
            self.length(element["initial_value"], f"{pointer}/initial_value", max_length)

    def _number_input(self, element: dict[str, Any], pointer: str) -> None:
        if not isinstance(element.get("is_decimal_allowed"), bool):
            self.fail(f"{pointer}/is_decimal_allowed", "missing required boolean field")
        initial = element.get("initial_value")
        if initial is not None:
            try:
                float(initial)
            except (TypeError, ValueError):
                self.fail(f"{pointer}/initial_value", "must be a number")

    def _pattern(self, value: Any, pointer: str, pattern: re.Pattern[str], shape: str) -> None:
        if value is not None and (not isinstance(value, str) or not pattern.match(value)):
            self.fail(pointer, f"must be formatted {shape}")


def validate_message(text: Any, blocks: Any, *, attachments: Any = None) -> list[str]:
    """Problems that would make Slack refuse `chat.postMessage`/`chat.update` with these arguments."""
    problems: list[str] = []
    if not text and not blocks and not attachments:
        return ["no_text: a message needs text, blocks or attachments"]
    if text is not None and not isinstance(text, str):
        problems.append("text must be a string [json-pointer:/text]")
    elif isinstance(text, str) and len(text) > MESSAGE_TEXT_MAX:
        problems.append(
            f"msg_too_long: text must be at most {MESSAGE_TEXT_MAX} characters (is {len(text)}) "
            "[json-pointer:/text]"
        )
    if blocks is not None:
        checker = _Checker()
        checker.blocks(blocks, "/blocks", MESSAGE_BLOCKS_MAX, in_view=False)
        problems.extend(checker.problems)
    return problems


def message_error(text: Any, blocks: Any, *, attachments: Any = None) -> tuple[str, list[str]] | None:
    """Slack's error code for an unpostable message plus the detail messages, or None when fine."""
    problems = validate_message(text, blocks, attachments=attachments)
    if not problems:
        return None
    for code in ("no_text", "msg_too_long"):
        if any(p.startswith(f"{code}:") for p in problems):
            return code, problems
    return "invalid_blocks", problems


def validate_view(view: Any) -> list[str]:
    """Problems that would make Slack refuse `views.open`/`update`/`push`/`publish` with this view."""
    if not isinstance(view, dict):
        return ["view must be an object [json-pointer:/view]"]
    checker = _Checker()
    kind = view.get("type")
    if kind not in ("modal", "home"):
        checker.fail("/view/type", f"must be modal or home (is {kind!r})")
    if "blocks" not in view:
        checker.fail("/view/blocks", "missing required field")
    else:
        checker.blocks(view["blocks"], "/view/blocks", VIEW_BLOCKS_MAX, in_view=True)
    if kind == "modal":
        checker.text(view.get("title"), "/view/title", MODAL_TITLE_MAX, plain_only=True)
        checker.text(view.get("submit"), "/view/submit", MODAL_BUTTON_MAX, plain_only=True, required=False)
        checker.text(view.get("close"), "/view/close", MODAL_BUTTON_MAX, plain_only=True, required=False)
        if view.get("submit") is None and any(_is_input(b) for b in _as_list(view.get("blocks"))):
            checker.fail("/view/submit", "is required when the view contains input blocks")
    if "private_metadata" in view:
        checker.length(view["private_metadata"], "/view/private_metadata", PRIVATE_METADATA_MAX)
    for key in ("callback_id", "external_id"):
        if key in view:
            checker.identifier(view[key], f"/view/{key}")
    return checker.problems


def _as_list(value: Any) -> Iterable[Any]:
    return value if isinstance(value, list) else ()


def _is_input(block: Any) -> bool:
    return isinstance(block, dict) and block.get("type") == "input"
