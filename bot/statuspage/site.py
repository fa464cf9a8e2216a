"""The public site as documents: rendered once per change, served from memory, exported as files.

When the database is away, the last page is served (the page is read most when things are broken).
A `Snapshot` holds the page state of one revision of the records and renders each document the first
time it is asked for; every later request gets the same bytes, with an ETag of them. `PublicSite` keeps
the current snapshot: a change made here replaces it at once, one made elsewhere (another replica, the
CLI) is noticed by reading the change counter at most once a second, and time alone (a maintenance
starting, the day turning) replaces it when it is due.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from bot.statuspage import feeds, shapes
from bot.statuspage.model import PublicIncident
from bot.statuspage.pages import Pages
from bot.statuspage.settings import StatusPageConfig
from bot.statuspage.sli_uptime import SliUptime
from bot.statuspage.state import PageState
from bot.statuspage.store import StatusPageStore

log = logging.getLogger(__name__)
HTML = "text/html; charset=utf-8"
JSON = "application/json"
CONTENT_TYPES = {".atom": "application/atom+xml; charset=utf-8", ".rss": "application/rss+xml; charset=utf-8"}
INCIDENT_PATH = re.compile(r"^/status/incidents/(\d{1,12})$")
CHECK_EVERY_SECONDS = 1.0
CACHE_CONTROL = "public, max-age=30"
"""Short: a client or proxy may reuse an answer half a minute, then revalidates it with its ETag."""


@dataclass(frozen=True)
class Document:
    body: bytes
    content_type: str
    etag: str
    last_modified: datetime
    headers: dict[str, str] = field(default_factory=dict)
    """Every header of the answer, computed once with the document."""


def _document(body: bytes, content_type: str, modified: datetime) -> Document:
    etag = f'"{hashlib.sha256(body).hexdigest()[:24]}"'
    headers = {
        "Content-Type": content_type,
        "ETag": etag,
        "Last-Modified": format_datetime(modified, usegmt=True),
        "Cache-Control": CACHE_CONTROL,
        "Access-Control-Allow-Origin": "*",
        "X-Content-Type-Options": "nosniff",
    }
    return Document(body, content_type, etag, modified, headers)


@dataclass
class Snapshot:
    state: PageState
    pages: Pages
    extra: dict[int, PublicIncident | None] = field(default_factory=dict)
    """Incidents older than the page shows, asked for by their URL (None: not public)."""
    renders: int = 0
    """Documents rendered from this snapshot: one per path, however many requests ask for it."""
    _documents: dict[str, Document] = field(default_factory=dict)
    _json: dict[str, dict[str, object]] | None = None

    @property
    def revision(self) -> int:
        return self.state.revision

    def fixed_paths(self) -> list[str]:
        return ["/status", "/history.atom", "/history.rss", *self._api()]

    def _api(self) -> dict[str, dict[str, object]]:
        if self._json is None:
            self._json = shapes.documents(self.state)
        return self._json

    def incident(self, incident_id: int) -> PublicIncident | None:
        found = next((i for i in self.state.incidents if i.id == incident_id), None)
        return found or self.extra.get(incident_id)

    def document(self, path: str) -> Document | None:
        """The document at `path`, rendered on first use; None when there is none (a 404)."""
        if path in self._documents:
            return self._documents[path]
        body, content_type = self._render(path)
        if body is None:
            return None
        self.renders += 1
        made = self._documents[path] = _document(body, content_type, self.state.updated_at)
        return made

    def _render(self, path: str) -> tuple[bytes | None, str]:
        if path == "/status":
            return self.pages.status(self.state).encode(), HTML
        if path in ("/history.atom", "/history.rss"):
            render = feeds.atom if path.endswith(".atom") else feeds.rss
            return render(self.state), CONTENT_TYPES[path[-5:] if path.endswith(".atom") else ".rss"]
        api = self._api()
        if path in api:
            return json.dumps(api[path], ensure_ascii=False, separators=(",", ":")).encode(), JSON
        match = INCIDENT_PATH.match(path)
        incident = self.incident(int(match.group(1))) if match else None
        if incident is None:
            return None, HTML
        return self.pages.incident(self.state, incident).encode(), HTML


async def load_state(
    store: StatusPageStore,
    config: StatusPageConfig,
    now: datetime,
    changed_at: datetime | None = None,
    sli: SliUptime | None = None,
) -> PageState:
    revision, stored_change = await store.revision()
    window = timedelta(days=max(config.uptime_days, config.history_days) + 1)
    incidents = await store.incidents(now - window)
    maintenances = await store.maintenances(now - window)
    figures = {component: dict(days) for component, days in sli.figures.items()} if sli else {}
    return PageState(config, now, incidents, maintenances, revision, changed_at or stored_change, figures)


class PublicSite:
    def __init__(
        self,
        store: StatusPageStore,
        config: StatusPageConfig,
        pages: Pages,
        now: Callable[[], datetime],
        check_every: float = CHECK_EVERY_SECONDS,
    ) -> None:
        self.store = store
        self.config = config
        self.pages = pages
        self.now = now
        self.check_every = check_every
        self._current: Snapshot | None = None
        self._valid_until: datetime | None = None
        self._checked = 0.0
        self._lock = asyncio.Lock()
        self._unreachable = False
        self.sli: SliUptime | None = None
        """Daily uptime from Prometheus for components with `uptime_slo`; a change renders the page again."""
        self._sli_generation = 0

    def _sli_changed(self) -> bool:
        return self.sli is not None and self.sli.generation != self._sli_generation

    @property
    def current(self) -> Snapshot | None:
        return self._current

    def invalidate(self) -> None:
        """A change was committed here: the next request reads the counter."""
        self._checked = 0.0

    def _fresh_enough(self) -> bool:
        return (
            self._current is not None
            and time.monotonic() - self._checked < self.check_every
            and (self._valid_until is None or self.now() < self._valid_until)
            and not self._sli_changed()
        )

    async def snapshot(self) -> Snapshot:
        if self._fresh_enough():
            assert self._current is not None
            return self._current
        if self._lock.locked() and self._current is not None:
            return self._current  # someone is already checking; the page of a second ago is fine
        async with self._lock:
            if self._fresh_enough():
                assert self._current is not None
                return self._current
            now = self.now()
            try:
                revision, _ = await self.store.revision()
                expired = self._valid_until is not None and now >= self._valid_until
                stale = expired or self._sli_changed()
                if self._current is None or self._current.revision != revision or stale:
                    same = self._current is not None and self._current.revision == revision
                    generation = self.sli.generation if self.sli else 0
                    changed_at = now if stale and same else None
                    state = await load_state(self.store, self.config, now, changed_at, self.sli)
                    self._sli_generation = generation
                    self._current = Snapshot(state, self.pages)
                    self._valid_until = state.valid_until()
                elif self._unreachable:
                    log.warning("status page: the database answers again")
                self._unreachable = False
            except Exception:
                if self._current is None:
                    raise
                if not self._unreachable:  # once per outage, not once a second
                    log.warning("status page: database unreachable; serving the last page", exc_info=True)
                self._unreachable = True
                self._valid_until = None
            self._checked = time.monotonic()
            return self._current

    async def document(self, path: str) -> Document | None:
        snapshot = await self.snapshot()
        found = snapshot.document(path)
        if found is not None:
            return found
        match = INCIDENT_PATH.match(path)
        if match and int(match.group(1)) not in snapshot.extra:
            incident_id = int(match.group(1))
            snapshot.extra[incident_id] = await self.store.incident(incident_id)
            found = snapshot.document(path)
        return found


def _file_of(path: str) -> str:
    if path == "/status" or path.startswith("/status/incidents/"):
        return path.lstrip("/") + "/index.html"
    return path.lstrip("/")


def export(snapshot: Snapshot, directory: Path) -> list[Path]:
    """Write the whole site under `directory` (each file replaced atomically), laid out like the URLs so a
    plain static host serves it: status/index.html (also index.html), status/incidents/N/index.html,
    api/v2/*.json, history.atom, history.rss."""
    written = []
    paths = snapshot.fixed_paths() + [f"/status/incidents/{i.id}" for i in snapshot.state.incidents]
    for path in paths:
        document = snapshot.document(path)
        assert document is not None
        names = [_file_of(path)] + (["index.html"] if path == "/status" else [])
        for name in names:
            target = directory / name
            target.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=target.parent, delete=False, prefix=".tmp-") as handle:
                handle.write(document.body)
            os.replace(handle.name, target)
            written.append(target)
    return written
