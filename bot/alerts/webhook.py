"""Alertmanager's webhook payload (version "4"), parsed strictly enough to trust and loosely enough to last.

Alertmanager adds fields from release to release without bumping the version, so unknown fields are
ignored; a wrong type, a missing required field or another version is refused with a one-line reason the
webhook can return in its 400 and write to the log, so whoever wired the receiver sees what is wrong.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, ValidationError

MAX_REASON_ERRORS = 3
"""Schema errors named in a rejection; beyond that the reason would stop being one readable line."""


def _null_as_empty(value: Any) -> Any:
    """Go marshals a nil map as `null`; for labels and annotations that means "none"."""
    return {} if value is None else value


def _go_zero_time_as_none(value: Any) -> Any:
    """Alertmanager writes Go's zero time (`0001-01-01T00:00:00Z`) for "no end yet"."""
    if isinstance(value, str) and value.startswith("0001-01-01T00:00:00"):
        return None
    return value


LabelSet = Annotated[dict[str, str], BeforeValidator(_null_as_empty)]
OptionalTime = Annotated[datetime | None, BeforeValidator(_go_zero_time_as_none)]
Status = Literal["firing", "resolved"]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class Alert(_Payload):
    status: Status
    labels: LabelSet
    annotations: LabelSet = {}
    starts_at: datetime = Field(alias="startsAt")
    ends_at: OptionalTime = Field(None, alias="endsAt")
    """None while Alertmanager has no end time; for a firing alert it may be the *expected* end."""
    generator_url: str = Field("", alias="generatorURL")
    fingerprint: str
    """Stable per label set: the key for "have we seen this alert before"."""

    @property
    def alertname(self) -> str:
        return self.labels.get("alertname", "")


class Notification(_Payload):
    """One notification for one alert group; Alertmanager sends it again on every change of the group."""

    version: Literal["4"]
    group_key: str = Field(alias="groupKey", min_length=1)
    """Identifies the group across notifications: the key an incident is attached by."""
    truncated_alerts: StrictInt = Field(0, alias="truncatedAlerts", ge=0)
    """Alerts left out because of the receiver's `max_alerts`; `alerts` is then incomplete."""
    status: Status
    receiver: str
    group_labels: LabelSet = Field(default_factory=dict, alias="groupLabels")
    common_labels: LabelSet = Field(default_factory=dict, alias="commonLabels")
    common_annotations: LabelSet = Field(default_factory=dict, alias="commonAnnotations")
    external_url: str = Field("", alias="externalURL")
    alerts: list[Alert]

    @property
    def firing(self) -> list[Alert]:
        return [alert for alert in self.alerts if alert.status == "firing"]

    @property
    def resolved(self) -> list[Alert]:
        return [alert for alert in self.alerts if alert.status == "resolved"]

    @property
    def alertname(self) -> str:
        """Falls back to the first alert because a group may mix alert names (group_by without alertname)."""
        name = self.label("alertname")
        if name:
            return name
        return next((alert.alertname for alert in self.alerts if alert.alertname), "")

    def label(self, name: str) -> str | None:
        """A label that holds for the whole group: common to all its alerts, or one it is grouped by."""
        value = self.common_labels.get(name)
        return value if value is not None else self.group_labels.get(name)

    @property
    def runbook_url(self) -> str | None:
        common = self.common_annotations.get("runbook_url", "").strip()
        if common:
            return common
        first = self.alerts[0].annotations.get("runbook_url", "").strip() if self.alerts else ""
        return first or None

    @property
    def summary(self) -> str:
        for key in ("summary", "description"):
            text = self.common_annotations.get(key, "").strip()
            if text:
                return text
        return self.alertname


class InvalidNotification(ValueError):
    """A body that is not an Alertmanager v4 notification; `reason` is one line for the sender."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_notification(body: bytes) -> Notification:
    if not body.strip():
        raise InvalidNotification("empty body: expected an Alertmanager webhook notification (JSON)")
    try:
        return Notification.model_validate_json(body)
    except ValidationError as exc:
        raise InvalidNotification(describe(exc)) from None


def describe(exc: ValidationError) -> str:
    """Pydantic's report squeezed to one line: JSON syntax with its position, else the first field errors."""
    errors = exc.errors(include_url=False)
    syntax = next((err for err in errors if err["type"] == "json_invalid"), None)
    if syntax is not None:
        detail = str(syntax.get("ctx", {}).get("error", syntax["msg"]))
        return f"invalid JSON: {detail}"
    if errors[0]["loc"] == () and errors[0]["type"] == "model_type":
        return "the body must be a JSON object (an Alertmanager webhook notification)"
    shown = [f"{_where(err['loc'])}: {_message(err)}" for err in errors[:MAX_REASON_ERRORS]]
    more = len(errors) - len(shown)
    return "; ".join(shown) + (f" (and {more} more)" if more > 0 else "")


def _where(loc: tuple[int | str, ...]) -> str:
    """`alerts[0].labels.severity` reads like the payload; pydantic's tuple does not."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(body)"


def _message(err: Any) -> str:
    if err["type"] == "literal_error" and err["loc"] == ("version",):
        return f"got {err['input']!r}; only webhook payload version '4' is understood"
    return str(err["msg"])
