"""Paging providers: PagerDuty Events API v2 and Opsgenie's Alert API.

A page is the one message the bot must never lose quietly. Every failure — a refused key, an outage,
a rate limit that outlasts a short wait, a network that never answers — becomes `PagerFailure` naming
the provider and the action, within a bounded time, so the service can put it on the timeline and
tell the Incident Commander to page by hand. Keys come only from the environment (the YAML names the
variable) and never appear in an error, a log line or a repr.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol, runtime_checkable
from urllib.parse import quote

import aiohttp
from pydantic import BaseModel, ConfigDict, field_validator, model_validator

log = logging.getLogger(__name__)

SOURCE = "incidentbot"
PAGERDUTY_SEVERITIES = ("critical", "error", "warning", "info")
"""What the caller passes as `severity` (it maps SEV1..SEV4 onto these)."""
OPSGENIE_PRIORITIES = {"critical": "P1", "error": "P2", "warning": "P3", "info": "P4"}
SUMMARY_LIMIT = 1024
"""PagerDuty's `payload.summary` limit."""
MESSAGE_LIMIT = 130
"""Opsgenie's `message` limit; the full summary goes to `description`."""
DESCRIPTION_LIMIT = 15000

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_RETRIES = 2
MAX_RETRY_AFTER_S = 5.0
"""A page that waits longer than this for a rate limit is reported as failed instead: the IC must know now."""
_ERROR_TEXT_LIMIT = 300
_SECRET_FIELDS = frozenset({"routing_key", "integration_key", "api_key", "key", "token"})
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class PagerFailure(Exception):
    def __init__(self, provider: str, action: str, error: str) -> None:
        super().__init__(f"{provider} {action} failed: {error}")
        self.provider = provider
        self.action = action
        self.error = error


@dataclass(frozen=True)
class PageReceipt:
    """What the provider accepted, for the timeline: `reference` is its requestId (Opsgenie) or message."""

    provider: str
    action: str
    dedup_key: str
    reference: str | None = None


@dataclass(frozen=True)
class RequestOutcome:
    """What a provider that accepts first and applies later (Opsgenie) finally did with a request."""

    applied: bool
    status: str


@runtime_checkable
class PagerProvider(Protocol):
    name: str

    async def trigger(
        self, dedup_key: str, summary: str, severity: str, details: dict[str, Any], link: str | None = None
    ) -> PageReceipt: ...

    async def acknowledge(self, dedup_key: str) -> PageReceipt: ...

    async def resolve(self, dedup_key: str) -> PageReceipt: ...

    async def close(self) -> None: ...


@runtime_checkable
class ConfirmsLater(Protocol):
    """A provider whose 202 means "queued": `outcome` says later whether the request was applied."""

    name: str

    async def outcome(self, request_id: str) -> RequestOutcome | None:
        """None while the provider has not processed the request yet."""
        ...


# -- configuration (the `paging:` section of the YAML file) -----------------------------------------


def _env_name(value: str) -> str:
    if not _ENV_NAME.match(value):
        raise ValueError(f"{value!r} is not an environment variable name")
    return value


class _ProviderConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str

    @model_validator(mode="before")
    @classmethod
    def _no_secrets(cls, data: Any) -> Any:
        """A key pasted into the YAML would end up in git; say where it belongs instead of "extra field"."""
        if isinstance(data, dict):
            pasted = sorted(k for k in data if k in _SECRET_FIELDS)
            if pasted:
                raise ValueError(
                    f"{', '.join(pasted)}: keys never go in the config file; put the key in the "
                    "environment variable this section names (routing_key_env / api_key_env)"
                )
        return data

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} must start with https:// (or http:// for a local stand-in)")
        return value.rstrip("/")


class PagerDutyConfig(_ProviderConfig):
    base_url: str = "https://events.pagerduty.com"
    routing_key_env: str = "INCIDENTBOT_PAGERDUTY_ROUTING_KEY"
    """Name of the variable holding the Events API v2 integration (routing) key; the key is never in YAML."""

    @field_validator("routing_key_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        return _env_name(value)

    def key(self, env: Mapping[str, str]) -> str | None:
        return (env.get(self.routing_key_env) or "").strip() or None

    def problems(self, env: Mapping[str, str]) -> list[str]:
        key = self.key(env)
        if key is None:
            return [
                f"paging.pagerduty: environment variable {self.routing_key_env} is not set, so no page "
                "will reach PagerDuty (set it to the service's Events API v2 integration key)"
            ]
        if len(key) != 32:
            return [
                f"paging.pagerduty: {self.routing_key_env} is {len(key)} characters long; a PagerDuty "
                "Events API v2 integration key has 32"
            ]
        return []


class OpsgenieConfig(_ProviderConfig):
    base_url: str = "https://api.opsgenie.com"
    """EU accounts use https://api.eu.opsgenie.com."""
    api_key_env: str = "INCIDENTBOT_OPSGENIE_API_KEY"
    """Name of the variable holding an API *integration* key (account keys cannot create alerts)."""

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        return _env_name(value)

    def key(self, env: Mapping[str, str]) -> str | None:
        return (env.get(self.api_key_env) or "").strip() or None

    def problems(self, env: Mapping[str, str]) -> list[str]:
        key = self.key(env)
        if key is None:
            return [
                f"paging.opsgenie: environment variable {self.api_key_env} is not set, so no page "
                "will reach Opsgenie (set it to an API integration key)"
            ]
        if not _UUID.match(key):
            return [
                f"paging.opsgenie: {self.api_key_env} does not look like an Opsgenie API key "
                "(expected a UUID such as 01234567-89ab-cdef-0123-456789abcdef)"
            ]
        return []


class PagingConfig(BaseModel):
    """`paging:` in the YAML; a provider is on when its section is present, even empty (`pagerduty:`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pagerduty: PagerDutyConfig | None = None
    opsgenie: OpsgenieConfig | None = None

    @model_validator(mode="before")
    @classmethod
    def _empty_section_means_defaults(cls, data: Any) -> Any:
        """YAML reads `pagerduty:` with nothing under it as null; the writer meant "on, with defaults"."""
        if isinstance(data, dict):
            return {k: ({} if k in ("pagerduty", "opsgenie") and v is None else v) for k, v in data.items()}
        return data

    def problems(self, env: Mapping[str, str] | None = None) -> list[str]:
        """Configured providers that cannot page, worded for `incidentbot config check`."""
        env = os.environ if env is None else env
        found: list[str] = []
        for provider in (self.pagerduty, self.opsgenie):
            if provider is not None:
                found += provider.problems(env)
        return found


# -- transport shared by both providers -------------------------------------------------------------


@dataclass(frozen=True)
class _Answer:
    status: int
    headers: Mapping[str, str]
    text: str

    def json(self) -> dict[str, Any]:
        try:
            data = json.loads(self.text)
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}


Describe = Callable[[_Answer], str]


class _Transport:
    """One aiohttp session per client, a deadline on every attempt, bounded retries on 429 and 5xx.

    Connection failures and timeouts are not retried: with a 10 s deadline a retry would double the
    time before the IC learns the page did not go out.
    """

    def __init__(
        self,
        provider: str,
        base_url: str,
        secret: str,
        *,
        timeout: float,
        retries: int,
        max_retry_after: float,
        backoff: float,
    ) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self._secret = secret
        self._timeout = timeout
        self._retries = retries
        self._max_retry_after = max_retry_after
        self._backoff = backoff
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._timeout))
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    def redact(self, text: str) -> str:
        return text.replace(self._secret, "[redacted]") if self._secret else text

    def fail(self, action: str, error: str) -> PagerFailure:
        return PagerFailure(self.provider, action, self.redact(error))

    async def post(
        self,
        action: str,
        path: str,
        body: dict[str, Any],
        describe: Describe,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        attempt = 1
        while True:
            answer = await self._send(action, path, body, headers, params)
            if 200 <= answer.status < 300:
                return answer.json()
            error = describe(answer)
            if answer.status != 429 and answer.status < 500:
                raise self.fail(action, error)
            if attempt > self._retries:
                raise self.fail(action, f"{error} (gave up after {attempt} attempts)")
            wait = self._wait(answer, attempt)
            if wait is None:
                raise self.fail(action, f"{error} (asked to wait more than {self._max_retry_after:g} s)")
            log.info("%s %s: HTTP %s, retrying in %.1f s", self.provider, action, answer.status, wait)
            await asyncio.sleep(wait)
            attempt += 1

    async def get(self, action: str, path: str, headers: Mapping[str, str]) -> _Answer:
        """One attempt, the answer as it is: the caller reads its status (a 404 can be an answer)."""
        return await self._send(action, path, None, headers, None)

    async def _send(
        self,
        action: str,
        path: str,
        body: dict[str, Any] | None,
        headers: Mapping[str, str] | None,
        params: Mapping[str, str] | None,
    ) -> _Answer:
        url = f"{self.base_url}{path}"
        try:
            async with self._client().request(
                "GET" if body is None else "POST",
                url,
                data=None if body is None else json.dumps(body, default=str),
                headers={"Content-Type": "application/json", **(headers or {})},
                params=params,
            ) as response:
                text = await response.text(errors="replace")
                return _Answer(response.status, response.headers, text)
        except TimeoutError as exc:
            raise self.fail(action, f"no answer from {self.base_url} within {self._timeout:g} s") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise self.fail(
                action, f"{self.provider} unreachable at {self.base_url} ({type(exc).__name__}: {exc})"
            ) from exc

    def _wait(self, answer: _Answer, attempt: int) -> float | None:
        """Seconds to wait before the next attempt; None when the provider asks for more than we allow."""
        if answer.status != 429:
            return self._backoff * attempt
        asked = _retry_after(answer.headers.get("Retry-After"))
        if asked is None:
            return min(self._backoff * attempt, self._max_retry_after)
        return asked if asked <= self._max_retry_after else None


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header, which may be a number or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _snippet(answer: _Answer) -> str:
    text = " ".join(answer.text.split())
    return _truncate(text, _ERROR_TEXT_LIMIT) if text else "(empty body)"


def _check_severity(provider: str, severity: str) -> str:
    wanted = severity.strip().lower()
    if wanted not in PAGERDUTY_SEVERITIES:
        raise PagerFailure(
            provider, "trigger", f"unknown severity {severity!r} (use {', '.join(PAGERDUTY_SEVERITIES)})"
        )
    return wanted


# -- PagerDuty --------------------------------------------------------------------------------------


class _Client:
    """What both providers share: the key (never shown), the transport with its retries and deadline."""

    name = ""
    default_url = ""

    def __init__(
        self,
        key: str,
        base_url: str | None = None,
        *,
        key_env: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        retries: int = DEFAULT_RETRIES,
        max_retry_after: float = MAX_RETRY_AFTER_S,
        backoff: float = 1.0,
    ) -> None:
        self._key = key
        self._key_env = key_env
        self._http = _Transport(
            self.name,
            base_url or self.default_url,
            key,
            timeout=timeout,
            retries=retries,
            max_retry_after=max_retry_after,
            backoff=backoff,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self._http.base_url!r})"

    async def close(self) -> None:
        await self._http.close()


class PagerDutyClient(_Client):
    """Events API v2: one endpoint, the routing key in the body, the dedup key ties the three actions."""

    name = "pagerduty"
    default_url = "https://events.pagerduty.com"

    async def trigger(
        self, dedup_key: str, summary: str, severity: str, details: dict[str, Any], link: str | None = None
    ) -> PageReceipt:
        payload: dict[str, Any] = {
            "summary": _truncate(summary, SUMMARY_LIMIT),
            "source": SOURCE,
            "severity": _check_severity(self.name, severity),
            "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
            "custom_details": details,
        }
        event: dict[str, Any] = {"payload": payload, "client": SOURCE}
        if link:
            event["links"] = [{"href": link, "text": "Incident channel"}]
            event["client_url"] = link
        return await self._event("trigger", dedup_key, event)

    async def acknowledge(self, dedup_key: str) -> PageReceipt:
        return await self._event("acknowledge", dedup_key, {})

    async def resolve(self, dedup_key: str) -> PageReceipt:
        return await self._event("resolve", dedup_key, {})

    async def _event(self, action: str, dedup_key: str, extra: dict[str, Any]) -> PageReceipt:
        body = {"routing_key": self._key, "event_action": action, "dedup_key": dedup_key, **extra}
        data = await self._http.post(action, "/v2/enqueue", body, self._describe)
        return PageReceipt(self.name, action, str(data.get("dedup_key") or dedup_key), data.get("message"))

    def _describe(self, answer: _Answer) -> str:
        """PagerDuty's `{"message", "errors": [...]}`, plus where the key lives when it is the problem."""
        data = answer.json()
        if not data.get("message"):
            return f"HTTP {answer.status}: {_snippet(answer)}"
        errors = data.get("errors")
        reasons = "; ".join(map(str, errors)) if isinstance(errors, list) and errors else ""
        text = f"HTTP {answer.status}: {data['message']}" + (f" ({reasons})" if reasons else "")
        if "routing_key" in reasons or "routing key" in reasons.lower():
            text += f" — check the routing key in {self._key_env or 'the configuration'}"
        return _truncate(text, _ERROR_TEXT_LIMIT)


# -- Opsgenie ---------------------------------------------------------------------------------------


class OpsgenieClient(_Client):
    """Alert API v2: the dedup key is the alert's alias; every write is accepted (202) and applied later."""

    name = "opsgenie"
    default_url = "https://api.opsgenie.com"

    async def trigger(
        self, dedup_key: str, summary: str, severity: str, details: dict[str, Any], link: str | None = None
    ) -> PageReceipt:
        priority = OPSGENIE_PRIORITIES[_check_severity(self.name, severity)]
        flat = {str(k): v if isinstance(v, str) else json.dumps(v, default=str) for k, v in details.items()}
        if link:
            flat["link"] = link
        description = summary + (f"\n\nIncident channel: {link}" if link else "")
        body = {
            "message": _truncate(summary, MESSAGE_LIMIT),
            "alias": dedup_key,
            "description": _truncate(description, DESCRIPTION_LIMIT),
            "priority": priority,
            "details": flat,
            "source": SOURCE,
        }
        data = await self._http.post("trigger", "/v2/alerts", body, self._describe, headers=self._auth())
        return PageReceipt(self.name, "trigger", dedup_key, data.get("requestId"))

    async def acknowledge(self, dedup_key: str) -> PageReceipt:
        return await self._alert_action("acknowledge", "acknowledge", dedup_key)

    async def resolve(self, dedup_key: str) -> PageReceipt:
        return await self._alert_action("resolve", "close", dedup_key)

    async def outcome(self, request_id: str) -> RequestOutcome | None:
        answer = await self._http.get(
            "check", f"/v2/alerts/requests/{quote(request_id, safe='')}", headers=self._auth()
        )
        if answer.status == 404:
            return None
        if not 200 <= answer.status < 300:
            raise self._http.fail("check", self._describe(answer))
        data = answer.json().get("data") or {}
        applied = bool(data.get("isSuccess", data.get("success", False)))
        return RequestOutcome(applied, str(data.get("status") or ("applied" if applied else "not applied")))

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"GenieKey {self._key}"}

    async def _alert_action(self, action: str, verb: str, alias: str) -> PageReceipt:
        data = await self._http.post(
            action,
            f"/v2/alerts/{quote(alias, safe='')}/{verb}",
            {"source": SOURCE},
            self._describe,
            headers=self._auth(),
            params={"identifierType": "alias"},
        )
        return PageReceipt(self.name, action, alias, data.get("requestId"))

    def _describe(self, answer: _Answer) -> str:
        """Opsgenie's `{"message", "errors": {field: reason}}`, plus a hint when the key was refused."""
        data = answer.json()
        if not data.get("message"):
            return f"HTTP {answer.status}: {_snippet(answer)}"
        errors = data.get("errors")
        reasons = "; ".join(f"{k}: {v}" for k, v in errors.items()) if isinstance(errors, dict) else ""
        text = f"HTTP {answer.status}: {data['message']}" + (f" ({reasons})" if reasons else "")
        if answer.status in (401, 403) or "Key format" in str(data["message"]):
            text += f" — check the API integration key in {self._key_env or 'the configuration'}"
        return _truncate(text, _ERROR_TEXT_LIMIT)


def build_providers(config: PagingConfig, env: Mapping[str, str]) -> list[PagerProvider]:
    """The providers that can page; one configured without its key is left out (`problems()` says why)."""
    providers: list[PagerProvider] = []
    if config.pagerduty is not None and (key := config.pagerduty.key(env)):
        providers.append(
            PagerDutyClient(key, config.pagerduty.base_url, key_env=config.pagerduty.routing_key_env)
        )
    if config.opsgenie is not None and (key := config.opsgenie.key(env)):
        providers.append(OpsgenieClient(key, config.opsgenie.base_url, key_env=config.opsgenie.api_key_env))
    return providers
