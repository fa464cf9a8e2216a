"""The contract's environment variables (DESIGN.md), read from the environment and `.env`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.store.db import DEFAULT_URL


class Settings(BaseSettings):
    """The contract's environment variables (DESIGN.md)."""

    model_config = SettingsConfigDict(
        env_file=".env", env_prefix="INCIDENTBOT_", extra="ignore", populate_by_name=True
    )

    slack_bot_token: SecretStr | None = Field(None, validation_alias=AliasChoices("SLACK_BOT_TOKEN"))
    slack_signing_secret: SecretStr | None = Field(
        None, validation_alias=AliasChoices("SLACK_SIGNING_SECRET")
    )
    slack_app_token: SecretStr | None = Field(None, validation_alias=AliasChoices("SLACK_APP_TOKEN"))
    slack_api_url: str = "https://slack.com/api/"
    database_url: str = DEFAULT_URL
    prometheus_url: str | None = None
    prometheus_bearer_token: SecretStr | None = None
    """Sent as `Authorization: Bearer …` (Grafana Cloud, a Mimir or Thanos gateway, an auth proxy)."""
    prometheus_username: str | None = None
    prometheus_password: SecretStr | None = None
    """Basic auth, with `prometheus_username`."""
    prometheus_headers: str | None = None
    """Extra headers, `Name: value` pairs separated by `;` or new lines (e.g. `X-Scope-OrgID: tenant-1`)."""
    config: Path = Path("./incidentbot.yml")
    webhook_token: SecretStr | None = None
    github_webhook_secret: SecretStr | None = None
    """Verifies `X-Hub-Signature-256` on GitHub `deployment_status` deliveries (none: they are refused)."""
    pagerduty_webhook_secret: SecretStr | None = None
    """Signing secret of the PagerDuty v3 webhook subscription that reports acknowledgements back."""
    statuspage_api_key: SecretStr | None = None
    """Atlassian Statuspage API key, for `status_page.atlassian` (the push to a hosted page)."""
    host: str = "0.0.0.0"
    port: int = 3000
    auto_migrate: bool = False
    log_level: str = "INFO"
    smtp_url: SecretStr | None = None
    """`smtp://user:pass@host:587` (STARTTLS), `smtps://…:465` (TLS), `smtp://host:25` (plain relay)."""
    mail_from: str | None = None
    """Sender address of every e-mail."""
    smtp_ca_file: Path | None = None
    """A CA bundle to trust for the SMTP server's certificate (an internal relay), besides the system's."""
    subscription_secret: SecretStr | None = None
    """Signs the status page subscribers' confirmation and unsubscribe links (HMAC-SHA256). Unset: the
    page offers no e-mail subscriptions. Changing it breaks the links already sent."""
    slack_channel_budget: str = Field("20/60", pattern=r"^\d+/\d+(\.\d+)?$")
    """Channel creations Slack allows per window ("count/seconds"; tier 2 is 20 a minute): the bot
    spaces its own under it instead of meeting 429s."""

    def channel_budget(self) -> tuple[int, float]:
        count, seconds = self.slack_channel_budget.split("/")
        return int(count), float(seconds)

    def prometheus_client_options(self) -> dict[str, Any]:
        """Headers and basic auth for `PrometheusClient`, from the three settings above."""
        headers: dict[str, str] = {}
        for line in re.split(r"[;\n]", self.prometheus_headers or ""):
            name, sep, value = line.partition(":")
            if sep and name.strip():
                headers[name.strip()] = value.strip()
        if self.prometheus_bearer_token:
            headers["Authorization"] = f"Bearer {self.prometheus_bearer_token.get_secret_value()}"
        auth = None
        if self.prometheus_username:
            password = self.prometheus_password.get_secret_value() if self.prometheus_password else ""
            auth = (self.prometheus_username, password)
        return {"headers": headers, "auth": auth}

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    def missing_slack_settings(self) -> list[str]:
        missing = [] if self.slack_bot_token else ["SLACK_BOT_TOKEN"]
        if not self.socket_mode and not self.slack_signing_secret:
            missing.append("SLACK_SIGNING_SECRET (or SLACK_APP_TOKEN for Socket Mode)")
        return missing
