"""Grouping SLOs that share a query shape, so hundreds of SLOs cost a handful of Prometheus requests.

A platform team's SLOs are mostly one query per kind of SLO, repeated per service with only a label value
changed (`service="checkout"`, `service="search"`, …). Such SLOs are asked together: every `sum(` becomes
`sum by (service) (`, and `service="checkout"` becomes `service=~"checkout|search|…"`. Prometheus then
answers every SLO of the group in one evaluation, one series per label value, summing the same series in
the same order as each SLO's own query, so each figure is the one the SLO's own query gives.

Only expressions whose meaning survives the rewrite are grouped: `sum`, `rate`, `irate`, `increase`,
arithmetic and `or`/`and`/`unless` over selectors that all pin the grouping label. Anything else (other
aggregations, `by`/`without`, `on`/`ignoring`, `vector()`, …) is asked per SLO, as before, and so is a group
whose answer carries any label but the grouping one (the engine checks).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from bot.slo.model import SLO

MAX_GROUP = 200
"""Label values per grouped request: keeps the query (sent in the URL) far below Prometheus's 1 MiB limit."""

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_SELECTOR = re.compile(r"\{[^{}]*\}")
_EQUALS = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"([A-Za-z0-9_.:/-]*)"')
_CALL = re.compile(r"([A-Za-z_][A-Za-z0-9_:]*)\s*\(")
_ALLOWED_CALLS = frozenset({"sum", "rate", "irate", "increase", "or", "and", "unless", "bool"})
_FORBIDDEN_WORDS = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\b")
_HOLE = "\x00"


@dataclass(frozen=True)
class Group:
    """SLOs asked together: `label` is None for an SLO asked on its own."""

    slos: list[SLO]
    label: str | None
    values: list[str]
    """The grouping label's value of each SLO, in the order of `slos` (SLOs may share one)."""
    templates: dict[str, str]
    """Figure name -> query with the label's value replaced by a hole (the SLO's own query when alone)."""

    def query(self, figure: str) -> str:
        template = self.templates[figure]
        if self.label is None:
            return template
        unique = dict.fromkeys(self.values)  # SLOs of one value (other objectives) share its answer
        # Values are letters, digits and `_.:/-` (`_EQUALS`); of those only `.` means something in a regex,
        # and its backslash is doubled for the PromQL string.
        alternatives = "|".join(v.replace(".", "\\\\.") for v in unique)
        grouped = template.replace(f'{self.label}="{_HOLE}"', f'{self.label}=~"{alternatives}"')
        return re.sub(r"\bsum\s*\(", f"sum by ({self.label}) (", grouped)


def _groupable(query: str) -> bool:
    bare = _SELECTOR.sub("{}", _STRING.sub('""', query))
    if _FORBIDDEN_WORDS.search(bare):
        return False
    return all(name in _ALLOWED_CALLS for name in _CALL.findall(bare))


def _candidates(figures: dict[str, str]) -> dict[str, str]:
    """Labels pinned to one value (`label="value"`) in every selector of every figure: label -> value."""
    found: dict[str, str] | None = None
    for query in figures.values():
        if not _groupable(query):
            return {}
        for selector in _SELECTOR.findall(query):
            pinned: dict[str, str] = {}
            for label, value in _EQUALS.findall(selector):
                if label in pinned and pinned[label] != value:
                    pinned[label] = _HOLE  # pinned twice to different values: not a grouping label
                else:
                    pinned[label] = value
            pinned = {k: v for k, v in pinned.items() if v != _HOLE}
            found = pinned if found is None else {k: v for k, v in found.items() if pinned.get(k) == v}
    return found or {}


def _template(figures: dict[str, str], label: str, value: str) -> dict[str, str] | None:
    pattern = re.compile(rf'\b{re.escape(label)}\s*=\s*"{re.escape(value)}"')
    out = {name: pattern.sub(f'{label}="{_HOLE}"', query) for name, query in figures.items()}
    # The value must not stand anywhere else (as another label's value), or the groups would differ there.
    if any(f'"{value}"' in query for query in out.values()):
        return None
    return out


def group_slos(slos: list[SLO], figures_of: dict[int, dict[str, str]]) -> list[Group]:
    """Groups of SLOs that share a query shape (each at most `MAX_GROUP`), then every other SLO alone.

    `figures_of` maps each SLO (by `id()`: two specs may share an SLO id) to its figure queries.
    Each SLO joins the candidate group that the most SLOs share, so `{service="x", job="api"}` groups by
    service when the SLOs differ by service.
    """
    keyed: dict[int, list[tuple[tuple[str, tuple[tuple[str, str], ...]], str, dict[str, str]]]] = {}
    counts: Counter[tuple[str, tuple[tuple[str, str], ...]]] = Counter()
    for slo in slos:
        figures = figures_of[id(slo)]
        options = []
        for label, value in sorted(_candidates(figures).items()):
            templates = _template(figures, label, value)
            if templates is not None:
                key = (label, tuple(sorted(templates.items())))
                options.append((key, value, templates))
                counts[key] += 1
        keyed[id(slo)] = options
    members: dict[tuple[str, tuple[tuple[str, str], ...]], list[tuple[SLO, str, dict[str, str]]]] = {}
    alone: list[Group] = []
    for slo in slos:
        options = [o for o in keyed[id(slo)] if counts[o[0]] > 1]
        if not options:
            alone.append(Group([slo], None, [], figures_of[id(slo)]))
            continue
        key, value, templates = max(options, key=lambda o: (counts[o[0]], -len(o[0][0])))
        members.setdefault(key, []).append((slo, value, templates))
    groups: list[Group] = []
    for (label, _), entries in members.items():
        if len(entries) == 1:
            alone.append(Group([entries[0][0]], None, [], figures_of[id(entries[0][0])]))
            continue
        values = list(dict.fromkeys(value for _, value, _ in entries))
        for start in range(0, len(values), MAX_GROUP):
            chunk = set(values[start : start + MAX_GROUP])
            part = [entry for entry in entries if entry[1] in chunk]
            groups.append(Group([e[0] for e in part], label, [e[1] for e in part], part[0][2]))
    return groups + alone
