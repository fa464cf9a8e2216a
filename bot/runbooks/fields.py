"""Checks of single runbook fields, and the rules a command's argv and environment follow.

Shared by the file format (`schema`), parameter substitution (`params`), execution (`execute`) and
`validate` (`files`), so a placeholder, a credential-like name or a condition means the same thing
everywhere; none of it knows what a runbook is.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from urllib.parse import urlsplit

from pydantic_core import PydanticCustomError

ALWAYS_PASSED_ENV = ("PATH", "HOME", "LANG")
"""Copied from the bot's environment into every command's environment."""

_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?")
PARAM_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,31}")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
"""`{name}` is a parameter; `{{` and `}}` are literal braces; any other brace is literal text."""
_CONDITION = re.compile(r"\s*(<=|>=|==|!=|<|>)\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*")
OWN_SETTINGS = ("SLACK_", "INCIDENTBOT_")
"""Prefixes of the bot's own settings and credentials: never handed to a runbook command."""
CREDENTIAL_NAME = re.compile(
    r"TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL|AUTH",
    re.IGNORECASE,
)
"""Environment names that look like they hold a credential: passed through only when listed in
`runbooks.secret_env`, so their values are redacted from the output posted to Slack."""


# --- field checks ---------------------------------------------------------------------------------


class Issues:
    """Several `(field, reason)` problems of one model, raised as one error the loader splits again."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, field_name: str, reason: str) -> None:
        self.items.append((field_name, reason))

    def raise_any(self) -> None:
        if self.items:
            summary = "; ".join(f"{f}: {r}" if f else r for f, r in self.items)
            context = {"summary": summary, "issues": self.items}
            raise PydanticCustomError("runbook_fields", "{summary}", context)


def slug(value: str) -> str:
    if not _SLUG.fullmatch(value):
        raise ValueError(
            "must be a slug: lowercase letters, digits, '-' and '_', starting and ending with a letter or "
            f"digit, at most 64 characters (got {value!r})"
        )
    return value


def control_character(text: str) -> str | None:
    """The first control or line-break character in `text`, as U+XXXX, or None."""
    for char in text:
        if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            return f"U+{ord(char):04X}"
    return None


def http_url_problem(url: str) -> str | None:
    """Why `url` is not an absolute http(s) URL, or None."""
    if control_character(url) or any(c.isspace() for c in url):
        return f"must be an absolute http(s) URL without spaces or control characters (got {url!r})"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"must be an absolute http:// or https:// URL (got {url!r})"
    try:
        parts.port  # noqa: B018 — raises on a malformed port
    except ValueError:
        return f"has an invalid port (got {url!r})"
    return None


def parse_condition(text: str) -> tuple[str, float]:
    """`"< 0.05"` → `("<", 0.05)`; raises ValueError with a message a runbook author can act on."""
    match = _CONDITION.fullmatch(text or "")
    if not match:
        raise ValueError(
            f"must be a comparison operator (<, <=, >, >=, ==, !=) and a number, e.g. '< 0.05' (got {text!r})"
        )
    return match.group(1), float(match.group(2))


def placeholders(element: str) -> list[str]:
    """Names of the `{name}` placeholders in one argv element, in order (`{{`/`}}` are not placeholders)."""
    return [m.group(1) for m in PLACEHOLDER.finditer(element) if m.group(1)]


@functools.lru_cache(maxsize=512)
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Parameter patterns are ASCII-only: `\\w`, `\\d` and `\\s` never match look-alike Unicode letters."""
    return re.compile(pattern, re.ASCII)
