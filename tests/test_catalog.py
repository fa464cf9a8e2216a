"""The service catalog on paper (issue 20): loading (inline and `catalog_dir`), the dependency graph, the
import of Backstage's own documented example files, and `incidentbot catalog import | validate`."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from bot.catalog import Catalog, CatalogConfig
from bot.catalog.backstage import entity_name, import_backstage
from bot.cli.main import run
from bot.config import ConfigError, load_config
from tests.fixtures_bot import EXAMPLE_CONFIG

BACKSTAGE = Path(__file__).resolve().parent / "fixtures" / "backstage"


def test_the_example_catalog_feeds_the_services_and_knows_the_seeds_targets() -> None:
    config = load_config(EXAMPLE_CONFIG)
    ids = [s.id for s in config.services]
    # The configured services keep their order; catalog-only components are appended as services.
    assert ids[:8] == ["checkout", "payments", "orchestrator", "pms", "messaging", "database", "cache", "api"]
    assert ids[8:] == ["whatsapp", "booking", "monitoring"]
    api = config.service("api")
    assert api is not None and api.name == "Public API" and api.responders == ["U0DAVE0000"]
    whatsapp = config.service("whatsapp")
    assert whatsapp is not None and whatsapp.status_component == "notifications"
    assert [link.title for link in whatsapp.links] == ["Meta platform status"]
    sla = {c.id: c.sla for c in config.catalog.components}
    assert sla["api"] == 99.95 and sla["database"] == 99.95 and sla["cache"] == 99.9
    assert sla["pms"] == 99.5 and sla["whatsapp"] == 99.5
    database = config.catalog.component("database")
    assert database is not None and database.tier == 1
    assert (database.rto, database.rpo) == (timedelta(hours=1), timedelta(minutes=15))
    assert len(config.catalog.scenarios) == 10
    down = config.catalog.scenarios[0]
    assert (down.name, down.components, down.rto) == ("Database down", ["database"], timedelta(minutes=15))


def test_dependencies_and_dependents_direct_and_transitive() -> None:
    config = load_config(EXAMPLE_CONFIG)
    catalog = Catalog(config.catalog, [s.id for s in config.services])
    assert catalog.dependencies("booking", transitive=False) == ["api", "pms", "whatsapp"]
    assert catalog.dependencies("booking") == ["api", "pms", "whatsapp", "database", "cache"]
    assert catalog.dependents("database", transitive=False) == ["api"]
    assert catalog.dependents("database") == ["api", "booking"]
    assert catalog.dependents("checkout") == [] and catalog.dependencies("nowhere") == []
    assert "checkout" in catalog.service_ids() and "booking" in catalog.service_ids()
    assert catalog.cycles() == []


def test_cycles_and_unknown_names_are_problems() -> None:
    section = CatalogConfig.model_validate(
        {
            "components": [
                {"id": "a", "depends_on": ["b"], "oncall": "nobody", "slos": ["a/x"], "runbooks": ["gone"]},
                {"id": "b", "depends_on": ["c", "ghost"], "status_component": "nope"},
                {"id": "c", "depends_on": ["a"]},
                {"id": "d", "depends_on": ["d"]},
            ],
            "scenarios": [{"name": "Everything", "components": ["a", "zzz"], "rto": "15m"}],
            "rto_audiences": ["management", "board"],
        }
    )
    problems = Catalog(section).problems(
        ["primary"], ["api/availability"], ["database-down"], ["api"], ["management"]
    )
    assert problems == [
        "catalog.components.a.oncall: unknown schedule 'nobody' (primary)",
        "catalog.components.a.slos: unknown SLO 'a/x'",
        "catalog.components.a.runbooks: unknown runbook 'gone'",
        "catalog.components.b.status_component: unknown status page component 'nope' (api)",
        "catalog.components.b.depends_on: unknown service 'ghost'",
        "catalog.scenarios[1] (Everything).components: unknown service 'zzz'",
        "catalog.rto_audiences: unknown audience 'board'",
        "catalog: dependency cycle a → b → c → a",
        "catalog: dependency cycle d → d",
    ]


def test_a_catalog_dir_with_a_broken_file_fails_the_config_with_the_file_named(tmp_path: Path) -> None:
    (tmp_path / "catalog").mkdir()
    (tmp_path / "catalog" / "one.yml").write_text("components:\n  - {id: api, tier: 7}\n", encoding="utf-8")
    (tmp_path / "incidentbot.yml").write_text("catalog_dir: catalog\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "incidentbot.yml")
    assert "one.yml: components[0].tier: Input should be less than or equal to 4" in str(caught.value)
    (tmp_path / "catalog" / "one.yml").write_text("components:\n  - {id: api, tier: 2}\n", encoding="utf-8")
    config = load_config(tmp_path / "incidentbot.yml")
    assert [s.id for s in config.services] == ["api"] and config.catalog.components[0].tier == 2


def test_backstage_references_name_the_entity() -> None:
    assert entity_name("component:default/Foo") == "foo"
    assert entity_name("resource:artists-db") == "artists-db"
    assert entity_name("group:default/team-a") == "team-a"
    assert entity_name("platform") == "platform"


def test_backstage_documented_examples_import() -> None:
    files = sorted(BACKSTAGE.glob("backstage-*.yaml"))
    imported = import_backstage(files)
    assert imported.problems == []
    by_id = {c.id: c for c in imported.catalog.components}
    assert sorted(by_id) == ["artist-lookup", "artists-db", "hello-world", "wayback-archive"]
    lookup = by_id["artist-lookup"]
    assert lookup.owner is not None and lookup.owner.team == "team-a" and lookup.owner.slack_channel is None
    assert (lookup.system, lookup.lifecycle) == ("artist-engagement-portal", "experimental")
    assert lookup.depends_on == ["artists-db"]
    assert lookup.annotations["buildkite.com/project-slug"] == "nutrien/digital-k8s"
    assert [link.title for link in lookup.links][:2] == ["Examples Users", "Example Group"]
    assert by_id["hello-world"].lifecycle == "deprecated" and by_id["artists-db"].system is not None
    # The Group's Users are skipped with a note each; the System and Group are not components.
    assert [n.split(": ", 1)[1] for n in imported.notes] == [
        "skipped User 'breanna.davison' (not a component, API, resource, system or group)",
        "skipped User 'janelle.dawe' (not a component, API, resource, system or group)",
    ]
    assert Catalog(imported.catalog).problems([], None, None, []) == []


def test_our_annotations_channel_pagerduty_and_runbook_link() -> None:
    imported = import_backstage([BACKSTAGE / "ours-catalog-info.yaml"], runbooks=["high-error-rate"])
    [booking] = imported.catalog.components
    assert booking.owner is not None
    assert (booking.owner.team, booking.owner.slack_channel, booking.owner.usergroup) == (
        "platform",
        "C0PLATFORM",
        "S0PLATFORM",
    )
    assert (booking.tier, booking.sla, booking.oncall) == (1, 99.9, "primary")
    assert (booking.rto, booking.rpo) == (timedelta(minutes=30), timedelta(minutes=15))
    assert booking.depends_on == ["api", "database"] and booking.runbooks == ["high-error-rate"]
    assert booking.annotations == {
        "pagerduty.com/service-id": "PBOOK01",
        "github.com/project-slug": "example/booking",
    }
    assert "skipped Location 'booking-location'" in imported.notes[0]
    # What `import` writes loads back as the same catalog.
    again = CatalogConfig.model_validate(yaml.safe_load(imported.yaml()))
    assert again.components == imported.catalog.components


def test_import_then_validate_with_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "catalog.yml"
    config = ["--config", str(EXAMPLE_CONFIG)]
    assert run(["catalog", "import", str(BACKSTAGE), "--output", str(out), *config]) == 0
    err = capsys.readouterr().err
    assert "note: " in err and "skipped User 'janelle.dawe'" in err and f"{out}: 5 components" in err
    # Backstage's examples name no schedule of ours, but the imported booking's `api` and `database` exist
    # only in the config: validate checks the file against the config.
    assert run(["catalog", "validate", str(out), *config]) == 0
    assert "5 components, 0 scenarios, 0 problems" in capsys.readouterr().out
    broken = yaml.safe_load(out.read_text(encoding="utf-8"))
    broken["components"][0]["depends_on"] = ["artists-db", "nowhere"]
    broken["components"][1]["depends_on"] = ["artist-lookup"]
    broken["components"][4]["oncall"] = "tertiary"
    out.write_text(yaml.safe_dump(broken), encoding="utf-8")
    assert run(["catalog", "validate", str(out), *config]) == 1
    printed = capsys.readouterr().out
    assert "error: catalog.components.artist-lookup.depends_on: unknown service 'nowhere'" in printed
    assert (
        "error: catalog.components.booking.oncall: unknown schedule 'tertiary' (primary, secondary)"
        in printed
    )
    assert "error: catalog: dependency cycle artist-lookup → artists-db → artist-lookup" in printed
    assert run(["catalog", "validate", *config]) == 0  # the example's own catalog is clean
    assert "7 components, 10 scenarios, 0 problems" in capsys.readouterr().out
    assert run(["catalog", "validate", str(tmp_path / "missing.yml"), *config]) == 2
    assert run(["catalog", "import", str(tmp_path / "missing.yml")]) == 2
    assert run(["catalog"]) == 2


def test_a_missing_catalog_dir_loads_empty_but_check_and_validate_say_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "incidentbot.yml"
    config.write_text("catalog_dir: nope\n", encoding="utf-8")
    assert load_config(config).catalog.components == []
    assert run(["config", "check", "--config", str(config)]) == 1
    assert f"catalog_dir: {tmp_path / 'nope'} is not a directory" in capsys.readouterr().err
    assert run(["catalog", "validate", "--config", str(config)]) == 1
    assert "is not a directory" in capsys.readouterr().out


def test_import_reports_documents_that_are_no_entity_and_entities_that_make_no_component(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    odd = tmp_path / "catalog-info.yaml"
    odd.write_text(
        "just: a mapping\n---\n"
        "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
        "metadata: {name: Bad Name, annotations: {incidentbot.io/tier: '7'}}\nspec: {owner: team-a}\n",
        encoding="utf-8",
    )
    assert run(["catalog", "import", str(odd), "--config", str(tmp_path / "none.yml")]) == 1
    err = capsys.readouterr().err
    assert f"error: {odd} (document 1): not a Backstage entity (no kind or metadata)" in err
    assert "(Component Bad Name): tier: Input should be less than or equal to 4" in err
    assert "(Component Bad Name): id: 'bad name': use lowercase letters" in err
