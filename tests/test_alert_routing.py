"""Alertmanager webhook parsing and alert routing: payloads refused with one readable line, rules matched
the way Alertmanager matches, titles that never fail, config mistakes caught at load with where and why."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from bot.alerts.routing import AlertmanagerConfig, Route, default_title, render_title, route, runbook_for
from bot.alerts.webhook import InvalidNotification, Notification, parse_notification
from bot.domain import TITLE_MAX

# The shape documented at prometheus.io/docs/alerting/latest/configuration/#webhook_config, with values as
# Alertmanager 0.25 sends them (a firing alert's endsAt is Go's zero time).
DOCS_PAYLOAD: dict[str, Any] = {
    "version": "4",
    "groupKey": '{}:{alertname="HighErrorRate", service="checkout"}',
    "truncatedAlerts": 0,
    "status": "firing",
    "receiver": "incidentbot",
    "groupLabels": {"alertname": "HighErrorRate", "service": "checkout"},
    "commonLabels": {"alertname": "HighErrorRate", "service": "checkout", "severity": "critical"},
    "commonAnnotations": {"summary": "5xx above 2%"},
    "externalURL": "http://alertmanager.example.org:9093",
    "alerts": [
        {
            "status": "firing",
            "labels": {
                "alertname": "HighErrorRate",
                "service": "checkout",
                "severity": "critical",
                "instance": "a:9090",
            },
            "annotations": {"summary": "5xx above 2%", "runbook_url": "https://runbooks.example.org/a"},
            "startsAt": "2026-03-01T10:00:00.123456Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus.example.org:9090/graph?g0.expr=errors",
            "fingerprint": "7d2d332feada5c59",
        },
        {
            "status": "resolved",
            "labels": {
                "alertname": "HighErrorRate",
                "service": "checkout",
                "severity": "critical",
                "instance": "b:9090",
            },
            "annotations": {"summary": "5xx above 2%"},
            "startsAt": "2026-03-01T09:50:00Z",
            "endsAt": "2026-03-01T10:05:00+01:00",
            "generatorURL": "",
            "fingerprint": "0c1f2e3d4c5b6a79",
        },
    ],
}

CONFIG_YAML = """
refire_window: 5m
resolved_status: monitoring
rules:
  - match: {severity: critical}
    match_re: {service: "checkout|payments"}
    action: declare
    severity: SEV1
    service_label: service
    title: "{{ alertname }} on {{ labels.service }}"
  - match: {severity: warning}
    action: attach
    channel: C0ALERTS
  - action: post
    channel: C0ALERTS
runbooks:
  HighErrorRate: high-error-rate
"""


def payload(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(DOCS_PAYLOAD)
    body.update(changes)
    return body


def encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


def notification(
    labels: dict[str, str],
    *,
    annotations: dict[str, str] | None = None,
    status: str = "firing",
    group_by: tuple[str, ...] = ("alertname", "service"),
    more: list[dict[str, str]] | None = None,
) -> Notification:
    """A one-group notification built the way Alertmanager builds it (common labels = intersection)."""
    label_sets = [labels, *(more or [])]
    common = {k: v for k, v in labels.items() if all(s.get(k) == v for s in label_sets)}
    alerts = [
        {
            "status": status,
            "labels": alert_labels,
            "annotations": annotations or {},
            "startsAt": "2026-03-01T10:00:00Z",
            "endsAt": "2026-03-01T10:10:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
            "fingerprint": f"{i:016x}",
        }
        for i, alert_labels in enumerate(label_sets)
    ]
    body = payload(
        status=status,
        groupKey="{}:" + json.dumps({k: labels.get(k, "") for k in group_by}),
        groupLabels={k: labels[k] for k in group_by if k in labels},
        commonLabels=common,
        commonAnnotations=annotations or {},
        alerts=alerts,
    )
    return parse_notification(encode(body))


def load(text: str = CONFIG_YAML) -> AlertmanagerConfig:
    return AlertmanagerConfig.model_validate(yaml.safe_load(text))


def routed(config: AlertmanagerConfig, group: Notification) -> Route:
    found = route(config, group)
    assert found is not None, "no rule matched"
    return found


def rejected(raw: dict[str, Any]) -> list[tuple[str, str]]:
    """(location, message) of every error, as `incidentbot config check` would print them."""
    with pytest.raises(ValidationError) as caught:
        AlertmanagerConfig.model_validate(raw)
    return [(".".join(str(p) for p in err["loc"]), err["msg"]) for err in caught.value.errors()]


def reason_for(body: bytes) -> str:
    with pytest.raises(InvalidNotification) as caught:
        parse_notification(body)
    assert "\n" not in caught.value.reason
    assert str(caught.value) == caught.value.reason
    return caught.value.reason


# --- parsing -------------------------------------------------------------------------------------------


def test_documented_payload_parses_into_typed_fields() -> None:
    parsed = parse_notification(encode(DOCS_PAYLOAD))

    assert parsed.version == "4"
    assert parsed.group_key == '{}:{alertname="HighErrorRate", service="checkout"}'
    assert parsed.status == "firing"
    assert parsed.receiver == "incidentbot"
    assert parsed.truncated_alerts == 0
    assert parsed.external_url == "http://alertmanager.example.org:9093"
    firing, resolved = parsed.alerts
    assert parsed.firing == [firing]
    assert parsed.resolved == [resolved]
    assert firing.starts_at == datetime(2026, 3, 1, 10, 0, 0, 123456, tzinfo=UTC)
    assert firing.ends_at is None  # Go's zero time means "no end yet"
    assert resolved.ends_at == datetime(2026, 3, 1, 9, 5, tzinfo=UTC)
    assert firing.generator_url.startswith("http://prometheus.example.org:9090/")
    assert firing.fingerprint == "7d2d332feada5c59"
    assert parsed.alertname == "HighErrorRate"
    assert parsed.label("severity") == "critical"
    assert parsed.label("instance") is None
    assert parsed.runbook_url == "https://runbooks.example.org/a"  # not common: the first alert's
    assert parsed.summary == "5xx above 2%"


def test_label_prefers_common_labels_then_group_labels() -> None:
    parsed = parse_notification(
        encode(payload(groupLabels={"team": "shop", "service": "x"}, commonLabels={"service": "checkout"}))
    )
    assert parsed.label("service") == "checkout"
    assert parsed.label("team") == "shop"


def test_summary_falls_back_to_description_then_alertname() -> None:
    described = parse_notification(encode(payload(commonAnnotations={"description": "errors up"})))
    assert described.summary == "errors up"
    bare = parse_notification(encode(payload(commonAnnotations={})))
    assert bare.summary == "HighErrorRate"


def test_alertname_comes_from_the_alerts_when_the_group_has_none_in_common() -> None:
    parsed = parse_notification(encode(payload(groupLabels={}, commonLabels={})))
    assert parsed.alertname == "HighErrorRate"


def test_unknown_fields_are_ignored_at_every_level() -> None:
    body = payload(orgId=1, futureField={"nested": [1, 2]})
    body["alerts"][0].update(silenceURL="http://am/silence", values={"B": 44.2})
    parsed = parse_notification(encode(body))
    assert parsed.group_key == DOCS_PAYLOAD["groupKey"]
    assert not hasattr(parsed, "orgId")


def test_null_label_maps_from_go_read_as_empty() -> None:
    parsed = parse_notification(encode(payload(commonAnnotations=None, groupLabels=None)))
    assert parsed.common_annotations == {}
    assert parsed.group_labels == {}


def test_invalid_json_reason_names_the_position() -> None:
    reason = reason_for(b'{"version": "4",\n "groupKey": }')
    assert reason.startswith("invalid JSON: ")
    assert "line 2 column 14" in reason


def test_empty_body_and_non_object_are_refused_plainly() -> None:
    assert reason_for(b"").startswith("empty body")
    assert reason_for(b'[{"version": "4"}]') == (
        "the body must be a JSON object (an Alertmanager webhook notification)"
    )


def test_missing_group_key_is_named() -> None:
    body = payload()
    del body["groupKey"]
    assert reason_for(encode(body)) == "groupKey: Field required"


@pytest.mark.parametrize("version", ["3", 4, "5", None])
def test_other_versions_are_refused(version: object) -> None:
    reason = reason_for(encode(payload(version=version)))
    assert reason == f"version: got {version!r}; only webhook payload version '4' is understood"


def test_wrong_types_are_listed_field_by_field_up_to_three() -> None:
    body = payload(status="ok", truncatedAlerts="2")
    body["alerts"][0]["labels"]["severity"] = 2
    body["alerts"][1]["startsAt"] = "yesterday"
    reason = reason_for(encode(body))
    assert reason.startswith(
        "truncatedAlerts: Input should be a valid integer; "
        "status: Input should be 'firing' or 'resolved'; "
        "alerts[0].labels.severity: Input should be a valid string"
    )
    assert reason.endswith("(and 1 more)")


def test_alerts_must_be_a_list_of_alerts_with_fingerprints() -> None:
    assert reason_for(encode(payload(alerts={"status": "firing"}))) == "alerts: Input should be a valid array"
    body = payload()
    del body["alerts"][1]["fingerprint"]
    assert reason_for(encode(body)) == "alerts[1].fingerprint: Field required"


# --- routing -------------------------------------------------------------------------------------------

CRITICAL_CHECKOUT = {"alertname": "HighErrorRate", "service": "checkout", "severity": "critical"}


def test_equality_and_regex_declare_with_rendered_title() -> None:
    found = route(load(), notification(CRITICAL_CHECKOUT))
    assert found == Route(
        rule_index=0,
        rule=load().rules[0],
        action="declare",
        severity="SEV1",
        service="checkout",
        title="HighErrorRate on checkout",
        channel=None,
    )


@pytest.mark.parametrize(
    ("service", "rule_index"),
    [("payments", 0), ("checkout", 0), ("checkout-v2", 2), ("my-checkout", 2), ("", 2)],
)
def test_regex_must_match_the_whole_value(service: str, rule_index: int) -> None:
    assert routed(load(), notification({**CRITICAL_CHECKOUT, "service": service})).rule_index == rule_index


def test_first_matching_rule_wins() -> None:
    config = load(CONFIG_YAML.replace("action: post", "action: post\n    match: {severity: warning}"))
    # rule 1 and rule 2 both match severity=warning; rule 1 is first.
    found = routed(config, notification({"alertname": "DiskFilling", "severity": "warning"}))
    assert (found.rule_index, found.action, found.channel, found.severity) == (1, "attach", "C0ALERTS", None)
    assert found.service is None


def test_no_matching_rule_returns_none() -> None:
    config = load("rules:\n  - match: {severity: critical}\n    action: declare\n    severity: SEV2\n")
    assert route(config, notification({"alertname": "DiskFilling", "severity": "info"})) is None
    assert route(AlertmanagerConfig(), notification(CRITICAL_CHECKOUT)) is None


def test_a_missing_label_counts_as_empty_like_in_alertmanager() -> None:
    config = load("rules:\n  - match: {env: ''}\n    action: post\n    channel: C1\n")
    assert route(config, notification({"alertname": "X"})) is not None
    assert route(config, notification({"alertname": "X", "env": "prod"})) is None


def test_a_group_routes_where_one_of_its_firing_alerts_would() -> None:
    warning = {**CRITICAL_CHECKOUT, "severity": "warning", "instance": "b"}
    group = notification({**CRITICAL_CHECKOUT, "instance": "a"}, more=[warning])
    assert "severity" not in group.common_labels
    assert routed(load(), group).action == "declare"


def test_a_resolved_group_routes_by_its_alerts() -> None:
    assert routed(load(), notification(CRITICAL_CHECKOUT, status="resolved")).rule_index == 0


def test_service_comes_from_the_configured_label() -> None:
    rule = "action: declare\n    severity: SEV2\n    service_label: app\n    title: '{{ service }}!'"
    config = load(f"rules:\n  - {rule}\n")
    found = routed(config, notification({"alertname": "X", "app": "search"}, group_by=("alertname",)))
    assert (found.service, found.title) == ("search", "search!")


def test_default_title_is_alertname_and_summary() -> None:
    config = load("rules:\n  - action: post\n    channel: C1\n")
    with_summary = notification(CRITICAL_CHECKOUT, annotations={"summary": "5xx above 2%"})
    assert routed(config, with_summary).title == "HighErrorRate: 5xx above 2%"
    assert routed(config, notification(CRITICAL_CHECKOUT)).title == "HighErrorRate"


@pytest.mark.parametrize(
    "template",
    [
        "{{ labels.instance }} down",  # a label the group does not share: undefined
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",  # sandbox violation
        "{{ 1 / 0 }}",
        "{{ alertname | no_such_filter }}",  # refused at load, but render_title must survive it too
        "{{ alertname ",  # syntax error, likewise
        "   ",
    ],
)
def test_a_failing_title_template_falls_back_to_the_default(template: str) -> None:
    group = notification(CRITICAL_CHECKOUT, annotations={"summary": "5xx above 2%"})
    assert render_title(template, group) == "HighErrorRate: 5xx above 2%"


def test_titles_are_one_line_and_fit_the_incident_limit() -> None:
    group = notification(CRITICAL_CHECKOUT, annotations={"summary": "line one\nline two  " + "x" * 300})
    rendered = render_title("{{ annotations.summary }}", group)
    assert rendered.startswith("line one line two x")
    assert len(rendered) == TITLE_MAX and rendered.endswith("…")
    assert len(default_title(group)) == TITLE_MAX


def test_templates_see_alertname_labels_annotations_and_count() -> None:
    group = notification(
        {**CRITICAL_CHECKOUT, "instance": "a"},
        annotations={"summary": "slow"},
        more=[{**CRITICAL_CHECKOUT, "instance": "b"}],
    )
    text = "{{ alertname }}/{{ labels.service }}/{{ annotations.summary }}/{{ count }} firing/{{ severity }}"
    assert render_title(text, group, severity="SEV1") == "HighErrorRate/checkout/slow/2 firing/SEV1"


def test_runbook_from_the_annotation_wins_over_config() -> None:
    config = load()
    annotated = notification(CRITICAL_CHECKOUT, annotations={"runbook_url": "https://wiki/runbooks/errors"})
    assert runbook_for(config, annotated) == "https://wiki/runbooks/errors"
    assert runbook_for(config, notification(CRITICAL_CHECKOUT)) == "high-error-rate"
    assert runbook_for(config, notification({"alertname": "DiskFilling"})) is None
    blank = notification(CRITICAL_CHECKOUT, annotations={"runbook_url": "  "})
    assert runbook_for(config, blank) == "high-error-rate"


# --- config validation ---------------------------------------------------------------------------------


def test_the_documented_yaml_loads() -> None:
    config = load()
    assert config.refire_window == timedelta(minutes=5)
    assert config.resolved_status == "monitoring"
    assert [r.action for r in config.rules] == ["declare", "attach", "post"]
    assert config.rules[0].match_re == {"service": "checkout|payments"}
    assert config.runbooks == {"HighErrorRate": "high-error-rate"}
    assert load("resolved_status: null").resolved_status is None
    assert AlertmanagerConfig().rules == []


def test_declare_needs_a_severity() -> None:
    assert rejected({"rules": [{"action": "declare"}]}) == [
        ("rules.0", "Value error, action declare needs a severity (e.g. severity: SEV1)")
    ]


def test_post_and_attach_need_a_channel() -> None:
    errors = rejected({"rules": [{"match": {"a": "b"}, "action": "attach"}, {"action": "post"}]})
    assert errors == [
        (
            "rules.0",
            "Value error, action attach needs a channel for alerts when no incident of their service is open",
        ),
        ("rules.1", "Value error, action post needs a channel (a channel id such as C0ALERTS)"),
    ]


def test_unknown_action_lists_the_valid_ones() -> None:
    assert rejected({"rules": [{"action": "page", "channel": "C1"}]}) == [
        ("rules.0.action", "Input should be 'declare', 'attach' or 'post'")
    ]


def test_a_bad_regex_names_the_rule_index_and_label() -> None:
    raw = yaml.safe_load(CONFIG_YAML)
    raw["rules"][1]["match_re"] = {"service": "checkout|(payments"}
    [(where, message)] = rejected(raw)
    assert where == "rules.1.match_re"
    assert message.startswith("Value error, label 'service': 'checkout|(payments' is not a valid regular")
    assert "missing )" in message


def test_label_names_and_templates_are_checked_at_load() -> None:
    errors = rejected(
        {
            "rules": [
                {"match": {"sev-erity": "x"}, "action": "post", "channel": "C1"},
                {"action": "post", "channel": "C1", "title": "{{ alertname "},
            ]
        }
    )
    assert errors[0][0] == "rules.0.match"
    assert "'sev-erity' is not a label name" in errors[0][1]
    assert errors[1][0] == "rules.1.title"
    assert errors[1][1].startswith("Value error, not a valid Jinja2 template: ")


def test_durations_are_validated() -> None:
    assert load("refire_window: 90s").refire_window == timedelta(seconds=90)
    assert load("refire_window: 2h").refire_window == timedelta(hours=2)
    [(where, message)] = rejected({"refire_window": "five minutes"})
    assert where == "refire_window"
    assert "is not a duration such as 30s, 5m, 1h, 7d" in message
    assert rejected({"refire_window": -1}) == [("refire_window", "Value error, must not be negative")]


def test_unknown_keys_are_typos() -> None:
    [(where, message)] = rejected({"rules": [{"action": "post", "channel": "C1", "mtach": {"a": "b"}}]})
    assert (where, message) == ("rules.0.mtach", "Extra inputs are not permitted")


def test_a_catch_all_rule_must_come_last() -> None:
    raw = {
        "rules": [
            {"action": "post", "channel": "C1"},
            {"match": {"a": "b"}, "action": "post", "channel": "C2"},
        ]
    }
    [(where, message)] = rejected(raw)
    assert where == "rules"
    assert "rule 0 has no match or match_re" in message and "move it last" in message


def test_references_to_severities_and_statuses_are_checked_against_the_whole_config() -> None:
    config = load(
        CONFIG_YAML.replace("SEV1", "sev9").replace("resolved_status: monitoring", "resolved_status: fixed")
    )
    assert config.check_references(["SEV1", "SEV2"], ["investigating", "monitoring", "resolved"]) == [
        "alertmanager.rules.0.severity: unknown severity 'sev9' (configured: SEV1, SEV2)",
        "alertmanager.resolved_status: 'fixed' is not one of the statuses "
        "(investigating, monitoring, resolved); use one of them or null",
    ]
    assert load().check_references(["sev1"], ["monitoring"]) == []
