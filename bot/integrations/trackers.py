"""GitHub's and Jira Cloud's REST APIs, for what leaves Slack after an incident: follow-ups as issues and
post-mortems as pull requests.

Only the calls the bot makes, with the vendors' published request and response shapes (GitHub REST
`POST /repos/{owner}/{repo}/issues` and `/pulls`; Jira REST v3 `POST /rest/api/3/issue` with an Atlassian
Document Format description). Every refusal becomes a `TrackerError` that says what to fix; a 429 is
retried once when its `Retry-After` is short, never slept on for long in a Slack handler.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from dataclasses import dataclass
from datetime import date
from typing import Any

import aiohttp

log = logging.getLogger(__name__)

TIMEOUT = aiohttp.ClientTimeout(total=15)
MAX_RETRY_AFTER = 10.0
"""Seconds a 429's Retry-After may ask for and still be waited for, once."""


class TrackerError(Exception):
    """A call the tracker refused or could not answer, worded for the person who clicked."""

    def __init__(self, status: int | None, message: str) -> None:
        super().__init__(message)
        self.status = status


_HINTS = {
    401: "the token was refused: check it and that it has not expired",
    403: "the token may not do this (missing scope or permission)",
    404: "not found: check the repository or project name, and that the token can see it",
}


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    headers: dict[str, str]


async def send_json(
    vendor: str,
    method: str,
    url: str,
    headers: dict[str, str],
    payload: dict[str, Any] | None = None,
    max_retry_after: float = MAX_RETRY_AFTER,
) -> Answer:
    """One JSON call; a 429 asking for at most `max_retry_after` seconds is waited for and sent once more.
    Raises `TrackerError(None, …)` when the vendor cannot be reached."""
    for attempt in range(2):
        try:
            async with (
                aiohttp.ClientSession(timeout=TIMEOUT) as session,
                session.request(method, url, json=payload, headers=headers) as response,
            ):
                text = await response.text()
                try:
                    body: Any = await response.json(content_type=None) if text else None
                except ValueError:
                    body = text
                answer = Answer(response.status, body, dict(response.headers))
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TrackerError(None, f"{vendor} could not be reached ({type(exc).__name__}: {exc})") from exc
        if answer.status == 429 and attempt == 0:
            wait = retry_after(answer.headers)
            if wait is not None and wait <= max_retry_after:
                log.info("%s asked to retry after %.0f s", vendor, wait)
                await asyncio.sleep(wait)
                continue
        return answer
    return answer


def retry_after(headers: dict[str, str]) -> float | None:
    try:
        return float(headers.get("Retry-After", ""))
    except ValueError:
        return None


def details(body: Any) -> str:
    """What the vendor said: GitHub's `message` and `errors`, Jira's `errorMessages` and `errors` map,
    Statuspage's `error`."""
    if not isinstance(body, dict):
        return ""
    found: list[str] = [str(body[key]) for key in ("message", "error") if isinstance(body.get(key), str)]
    found += [str(m) for m in body.get("errorMessages") or []]
    errors = body.get("errors")
    if isinstance(errors, dict):
        found += [f"{key}: {value}" for key, value in errors.items()]
    elif isinstance(errors, list):
        found += [str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors]
    return "; ".join(found)[:300]


def _refusal(vendor: str, answer: Answer, doing: str) -> TrackerError:
    if answer.status == 429:
        wait = retry_after(answer.headers)
        hint = (
            f"rate limited; try again in {wait:.0f} s"
            if wait is not None
            else "rate limited; try again later"
        )
    else:
        hint = _HINTS.get(answer.status, "")
    words = "; ".join(part for part in (hint, details(answer.body)) if part)
    said = f": {words}" if words else ""
    return TrackerError(answer.status, f"{vendor} refused to {doing} (HTTP {answer.status}{said})")


class GitHub:
    def __init__(self, api_url: str, token: str) -> None:
        self.api_url = api_url.rstrip("/")
        self.headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "incidentbot",
        }

    async def create_issue(self, repo: str, title: str, body: str, labels: list[str]) -> str:
        url = f"{self.api_url}/repos/{repo}/issues"
        answer = await send_json(
            "GitHub", "POST", url, self.headers, {"title": title, "body": body, "labels": labels}
        )
        if answer.status != 201:
            raise _refusal("GitHub", answer, f"open an issue in {repo}")
        return str(answer.body["html_url"])

    async def open_pull_request(self, repo: str, head: str, base: str, title: str, body: str) -> str:
        """The pull request's URL; an open one for the same branch is reused (a re-publish updates it)."""
        url = f"{self.api_url}/repos/{repo}/pulls"
        payload = {"title": title, "head": head, "base": base, "body": body}
        answer = await send_json("GitHub", "POST", url, self.headers, payload)
        if answer.status == 201:
            return str(answer.body["html_url"])
        if answer.status == 422:
            owner = repo.split("/", 1)[0]
            found = await send_json("GitHub", "GET", f"{url}?state=open&head={owner}:{head}", self.headers)
            if found.status == 200 and isinstance(found.body, list) and found.body:
                return str(found.body[0]["html_url"])
        raise _refusal("GitHub", answer, f"open a pull request in {repo}")


class Jira:
    def __init__(self, url: str, email: str, token: str) -> None:
        self.url = url.rstrip("/")
        basic = base64.b64encode(f"{email}:{token}".encode()).decode()
        self.headers = {"Authorization": f"Basic {basic}", "Accept": "application/json"}

    async def create_issue(
        self, project: str, issue_type: str, summary: str, description: str, due: date | None
    ) -> str:
        fields: dict[str, Any] = {
            "project": {"key": project},
            "issuetype": {"name": issue_type},
            "summary": summary[:250],
            "description": {
                "type": "doc",
                "version": 1,
                "content": [
                    {"type": "paragraph", "content": [{"type": "text", "text": line}]}
                    for line in description.splitlines()
                    if line.strip()
                ],
            },
        }
        if due is not None:
            fields["duedate"] = due.isoformat()
        answer = await send_json(
            "Jira", "POST", f"{self.url}/rest/api/3/issue", self.headers, {"fields": fields}
        )
        if answer.status != 201:
            raise _refusal("Jira", answer, f"create an issue in {project}")
        return f"{self.url}/browse/{answer.body['key']}"
