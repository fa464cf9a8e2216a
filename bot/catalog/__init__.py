"""The service catalog (issue 20): components with owners, tiers, SLA, RTO/RPO, on-call, SLOs, runbooks and
dependencies, the seeds' failure scenarios, and the import of Backstage `catalog-info.yaml` files.

A domain package: it receives its section (`CatalogConfig`) and the names the rest of the config knows,
reads nothing of Slack and nothing of the store.
"""

from bot.catalog.graph import Catalog
from bot.catalog.settings import CatalogConfig, Component, Owner, Scenario

__all__ = ["Catalog", "CatalogConfig", "Component", "Owner", "Scenario"]
