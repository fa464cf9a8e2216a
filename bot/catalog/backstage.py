"""Backstage `catalog-info.yaml` → our catalog (`incidentbot catalog import`).

Backstage describes software as entities (`apiVersion: backstage.io/v1alpha1`), several per file. What
an incident needs from them: `Component`, `API` and `Resource` entities become components (a database is
a Resource, and it fails like anything else); `System` gives the components their system and, when they
have none, their owner; `Group` gives the owner team its Slack channel and user group. Every other kind
(User, Location, Domain, Template…) is skipped with a note, so an import of a whole repository works.

Annotations read (besides keeping them all): `slack.com/channel` (or `slack.com/channel-id`,
`slack.com/bot-notify`) for the team's channel, `slack.com/usergroup` for its user group,
`pagerduty.com/service-id` (kept, shown on the card), and our own `incidentbot.io/…`: tier, sla, rto, rpo,
oncall, slos, runbooks, status-component. A link whose title or type says "runbook" names a runbook when
its last path segment is a runbook name given in `runbooks`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bot.catalog.settings import CatalogConfig, Component, Owner
from bot.problems import Problems, yaml_documents

AS_COMPONENT = {"component", "api", "resource"}
SLACK_CHANNEL = ("slack.com/channel", "slack.com/channel-id", "slack.com/bot-notify")
OURS = "incidentbot.io/"
LISTS = {"slos", "runbooks", "responders"}


@dataclass
class Imported:
    catalog: CatalogConfig
    notes: list[str] = field(default_factory=list)
    """Entities skipped and facts dropped, one line each (printed to stderr by the CLI)."""
    problems: list[str] = field(default_factory=list)
    """Documents that are not entities, entities that do not make a valid component."""

    def yaml(self) -> str:
        """The catalog file (`components:`), in the order the entities came."""
        data = self.catalog.model_dump(exclude_defaults=True, include={"components"})
        for component in data.get("components", []):
            for key in ("rto", "rpo"):
                if key in component:
                    component[key] = duration_text(component[key])
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def entity_name(ref: str) -> str:
    """`component:default/foo`, `group:team-a`, `default/foo` or `foo` → `foo` (lowercase: our ids are)."""
    return ref.split(":", 1)[-1].rsplit("/", 1)[-1].strip().lower()


def import_backstage(paths: Iterable[Path], runbooks: Iterable[str] = ()) -> Imported:
    problems = Problems()
    entities: list[tuple[str, dict[str, Any]]] = []
    for path in paths:
        for where, document in yaml_documents(path, problems):
            if not isinstance(document, dict) or "kind" not in document or "metadata" not in document:
                problems.add(where, None, "not a Backstage entity (no kind or metadata)")
                continue
            entities.append((where, document))
    groups = {entity_name(_name(e)): e for _, e in entities if str(e["kind"]).lower() == "group"}
    systems = {entity_name(_name(e)): e for _, e in entities if str(e["kind"]).lower() == "system"}
    components: list[Component] = []
    notes: list[str] = []
    for where, entity in entities:
        kind = str(entity["kind"])
        if kind.lower() in ("group", "system"):
            continue
        if kind.lower() not in AS_COMPONENT:
            notes.append(
                f"{where}: skipped {kind} {_name(entity)!r} (not a component, API, resource, system or group)"
            )
            continue
        try:
            components.append(_component(entity, groups, systems, set(runbooks), notes, where))
        except ValidationError as exc:
            problems.validation(f"{where} ({kind} {_name(entity)})", exc)
        except ValueError as exc:
            problems.add(f"{where} ({kind} {_name(entity)})", None, str(exc))
    return Imported(CatalogConfig(components=components), notes, problems.items)


def _name(entity: dict[str, Any]) -> str:
    return str((entity.get("metadata") or {}).get("name") or "")


def _component(
    entity: dict[str, Any],
    groups: dict[str, dict[str, Any]],
    systems: dict[str, dict[str, Any]],
    runbooks: set[str],
    notes: list[str],
    where: str,
) -> Component:
    metadata = entity.get("metadata") or {}
    spec = entity.get("spec") or {}
    annotations = {str(k): str(v) for k, v in (metadata.get("annotations") or {}).items()}
    system = entity_name(str(spec["system"])) if spec.get("system") else None
    owner_ref = spec.get("owner") or ((systems.get(system or "") or {}).get("spec") or {}).get("owner")
    ours = {k.removeprefix(OURS): v for k, v in annotations.items() if k.startswith(OURS)}
    depends = [entity_name(str(ref)) for ref in spec.get("dependsOn") or []]
    depends += [entity_name(str(ref)) for ref in spec.get("consumesApis") or []]
    links, named_runbooks = [], _split(ours.get("runbooks", ""))
    for link in metadata.get("links") or []:
        url, title = str(link.get("url", "")), str(link.get("title") or link.get("url", ""))
        is_runbook = "runbook" in f"{title} {link.get('type', '')}".lower()
        slug = url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".yml").removesuffix(".yaml")
        if is_runbook and slug in runbooks:
            named_runbooks.append(slug)
        if url.startswith(("http://", "https://")):
            links.append({"title": title[:80], "url": url})
        else:
            notes.append(f"{where}: dropped link {url!r} (not an http(s) URL)")
    return Component.model_validate(
        {
            "id": entity_name(_name(entity)),
            "name": str(metadata.get("title") or ""),
            "description": str(metadata.get("description") or ""),
            "owner": _owner(str(owner_ref), groups, annotations) if owner_ref else None,
            "system": system,
            "lifecycle": str(spec.get("lifecycle") or "production"),
            "tier": ours.get("tier"),
            "sla": ours.get("sla", "").rstrip("%") or None,
            "rto": ours.get("rto"),
            "rpo": ours.get("rpo"),
            "oncall": ours.get("oncall"),
            "slos": _split(ours.get("slos", "")),
            "runbooks": list(dict.fromkeys(named_runbooks)),
            "status_component": ours.get("status-component"),
            "depends_on": list(dict.fromkeys(depends)),
            "annotations": {k: v for k, v in annotations.items() if not k.startswith(OURS)},
            "links": links,
        }
    )


def _owner(ref: str, groups: dict[str, dict[str, Any]], annotations: dict[str, str]) -> Owner:
    """The owning team; its channel from the component's own annotation, else from its Group's."""
    team = entity_name(ref)
    group = (groups.get(team) or {}).get("metadata") or {}
    theirs = {str(k): str(v) for k, v in (group.get("annotations") or {}).items()}
    channel = next((a[k] for a in (annotations, theirs) for k in SLACK_CHANNEL if a.get(k)), None)
    usergroup = annotations.get("slack.com/usergroup") or theirs.get("slack.com/usergroup")
    return Owner(team=team, slack_channel=channel, usergroup=usergroup)


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def duration_text(delta: timedelta) -> str:
    """A duration as the config writes it (`30m`, `4h`, `1d`), the largest unit that divides it."""
    total = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if total and total % size == 0:
            return f"{total // size}{unit}"
    return f"{total}s"
