"""The catalog as a dependency graph: what a service needs, what needs it, and what is wrong with it.

`dependencies` and `dependents` are the API other capabilities use (the change tracking asks for the
deploys of a service and of what it depends on; the summary says which dependents are at risk). Both walk
the graph transitively by default, nearest first: a database outage puts the API at risk, and through it
the checkout; `transitive=False` gives the direct edges only. Unknown ids give empty lists.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.catalog.settings import CatalogConfig, Component


class Catalog:
    def __init__(self, section: CatalogConfig, service_ids: Iterable[str] = ()) -> None:
        self.section = section
        self.components = {c.id: c for c in section.components}
        self._ids = list(dict.fromkeys([*service_ids, *self.components]))
        self._needs = {c.id: list(dict.fromkeys(c.depends_on)) for c in section.components}
        self._needed_by: dict[str, list[str]] = {}
        for component in section.components:
            for dependency in self._needs[component.id]:
                self._needed_by.setdefault(dependency, []).append(component.id)

    def service_ids(self) -> list[str]:
        """Every service the bot knows: the config's `services` and the catalog's components."""
        return list(self._ids)

    def component(self, service_id: str | None) -> Component | None:
        return self.components.get(service_id or "")

    def dependencies(self, service_id: str, transitive: bool = True) -> list[str]:
        """What `service_id` depends on (its `depends_on`, then theirs when transitive), nearest first."""
        return self._walk(service_id, self._needs, transitive)

    def dependents(self, service_id: str, transitive: bool = True) -> list[str]:
        """What depends on `service_id` (directly, then through others when transitive), nearest first."""
        return self._walk(service_id, self._needed_by, transitive)

    @staticmethod
    def _walk(start: str, edges: dict[str, list[str]], transitive: bool) -> list[str]:
        seen: list[str] = []
        frontier = list(edges.get(start, []))
        while frontier:
            following: list[str] = []
            for node in frontier:
                if node != start and node not in seen:
                    seen.append(node)
                    following += edges.get(node, [])
            frontier = following if transitive else []
        return seen

    def cycles(self) -> list[list[str]]:
        """Each dependency cycle once, as the path that closes it (`a → b → a`)."""
        found: list[list[str]] = []
        keys: set[frozenset[str]] = set()
        done: set[str] = set()

        def visit(node: str, path: list[str]) -> None:
            if node in path:
                cycle = [*path[path.index(node) :], node]
                if frozenset(cycle) not in keys:
                    keys.add(frozenset(cycle))
                    found.append(cycle)
                return
            if node in done:
                return
            for following in self._needs.get(node, []):
                visit(following, [*path, node])
            done.add(node)

        for node in self._needs:
            visit(node, [])
        return found

    def problems(
        self,
        schedules: Iterable[str],
        slos: Iterable[str] | None,
        runbooks: Iterable[str] | None,
        status_components: Iterable[str],
        audiences: Iterable[str] | None = None,
    ) -> list[str]:
        """Every name the catalog uses that the rest of the config does not know, and every cycle.
        `slos` / `runbooks` / `audiences` None: not checked (their files could not be read here)."""
        schedules, status_components = set(schedules), set(status_components)
        known = set(self._ids)
        problems: list[str] = []
        seen: set[str] = set()
        for component in self.section.components:
            where = f"catalog.components.{component.id}"
            if component.id in seen:
                problems.append(f"{where}: defined twice")
            seen.add(component.id)
            if component.oncall and component.oncall not in schedules:
                problems.append(f"{where}.oncall: unknown schedule {component.oncall!r}{_among(schedules)}")
            if component.status_component and component.status_component not in status_components:
                problems.append(
                    f"{where}.status_component: unknown status page component "
                    f"{component.status_component!r}{_among(status_components)}"
                )
            problems += _unknown(f"{where}.depends_on", component.depends_on, known, "service")
            if slos is not None:
                problems += _unknown(f"{where}.slos", component.slos, set(slos), "SLO")
            if runbooks is not None:
                problems += _unknown(f"{where}.runbooks", component.runbooks, set(runbooks), "runbook")
        for number, scenario in enumerate(self.section.scenarios, start=1):
            where = f"catalog.scenarios[{number}] ({scenario.name})"
            problems += _unknown(f"{where}.components", scenario.components, known, "service")
            if runbooks is not None and scenario.runbook:
                problems += _unknown(f"{where}.runbook", [scenario.runbook], set(runbooks), "runbook")
        if audiences is not None and "rto_audiences" in self.section.model_fields_set:  # else lenient
            problems += _unknown(
                "catalog.rto_audiences", self.section.rto_audiences, set(audiences), "audience"
            )
        problems += [f"catalog: dependency cycle {' → '.join(cycle)}" for cycle in self.cycles()]
        return problems


def _among(names: set[str]) -> str:
    return f" ({', '.join(sorted(names))})" if names else " (none configured)"


def _unknown(where: str, used: list[str], known: set[str], what: str) -> list[str]:
    return [f"{where}: unknown {what} {name!r}" for name in used if name not in known]
