"""The config file's `changes:` section."""

from __future__ import annotations

from datetime import timedelta

from bot.settings import Duration, Strict


class ChangesConfig(Strict):
    window: Duration = timedelta(hours=24)
    """What changed: the deploys this long before the declaration (and `/incident changes` by default)."""
    production: list[str] = ["production", "prod"]
    """Environments that count as production: what-changed shows only these, DORA counts only these."""
    repositories: dict[str, str] = {}
    """GitHub `owner/name` → service id, for repositories not named like their service."""
    aliases: dict[str, str] = {}
    """A name a pipeline uses → service id (say `api-server: api`)."""
    arm_rollback: bool = True
    """A production deploy of a service under `rollback.services` arms its watch (with the version it
    replaced as the rollback target)."""
    shown: int = 15
    """At most this many deploys in the what-changed post (newest first); `/incident changes` says how
    many more there were."""

    def service_for(self, name: str, repository: str | None = None) -> str:
        if repository and repository in self.repositories:
            return self.repositories[repository]
        return self.aliases.get(name, name)
