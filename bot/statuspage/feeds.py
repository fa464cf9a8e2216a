"""`/history.atom` and `/history.rss`: one entry per public update, newest first. Built with ElementTree,
which escapes every text, so a title with markup stays text in every feed reader."""

from __future__ import annotations

from datetime import datetime
from email.utils import format_datetime
from xml.etree import ElementTree as ET

from bot.statuspage.model import PublicIncident, PublicUpdate
from bot.statuspage.shapes import iso
from bot.statuspage.state import PageState, label

ENTRIES = 50
ATOM = "http://www.w3.org/2005/Atom"


def entries(state: PageState) -> list[tuple[PublicIncident, PublicUpdate]]:
    found = [(i, u) for i in state.incidents for u in i.updates if u.display_at is not None]
    found.sort(key=lambda pair: (pair[1].display_at, pair[1].id), reverse=True)
    return found[:ENTRIES]


def _text(incident: PublicIncident, update: PublicUpdate, state: PageState) -> str:
    names = state.component_names()
    index = incident.updates.index(update)
    lines = [f"{label(update.status)} - {update.body}"]
    affected = incident.affected(index, names)
    if affected:
        lines.append("Affected: " + ", ".join(f"{a.name} ({label(a.new_status)})" for a in affected))
    return "\n".join(lines)


def _link(state: PageState, incident: PublicIncident) -> str:
    return f"{state.config.url}/status/incidents/{incident.id}"


def _bytes(root: ET.Element) -> bytes:
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def atom(state: PageState) -> bytes:
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed", {"xml:lang": "en"})

    def add(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        if text is not None:
            element.text = text
        return element

    add(feed, "id", state.config.page_url)
    add(feed, "title", f"{state.config.title} status history")
    add(feed, "updated", iso(state.updated_at))
    add(feed, "link", rel="alternate", type="text/html", href=state.config.page_url)
    add(feed, "link", rel="self", type="application/atom+xml", href=f"{state.config.url}/history.atom")
    author = add(feed, "author")
    add(author, "name", state.config.title)
    for incident, update in entries(state):
        entry = add(feed, "entry")
        add(entry, "id", f"{_link(state, incident)}#update-{update.id}")
        add(entry, "title", f"{incident.name} - {label(update.status)}")
        add(entry, "updated", iso(update.display_at))
        add(entry, "published", iso(update.display_at))
        add(entry, "link", rel="alternate", type="text/html", href=_link(state, incident))
        add(entry, "content", _text(incident, update, state), type="text")
    return _bytes(feed)


def _rfc822(moment: datetime) -> str:
    return format_datetime(moment, usegmt=True)


def rss(state: PageState) -> bytes:
    root = ET.Element("rss", {"version": "2.0"})
    channel = ET.SubElement(root, "channel")
    for tag, text in (
        ("title", f"{state.config.title} status history"),
        ("link", state.config.page_url),
        ("description", f"Incident updates from {state.config.title}"),
        ("language", "en"),
        ("lastBuildDate", _rfc822(state.updated_at)),
    ):
        ET.SubElement(channel, tag).text = text
    for incident, update in entries(state):
        item = ET.SubElement(channel, "item")
        assert update.display_at is not None
        ET.SubElement(item, "title").text = f"{incident.name} - {label(update.status)}"
        ET.SubElement(item, "link").text = _link(state, incident)
        ET.SubElement(
            item, "guid", {"isPermaLink": "false"}
        ).text = f"{_link(state, incident)}#update-{update.id}"
        ET.SubElement(item, "pubDate").text = _rfc822(update.display_at)
        ET.SubElement(item, "description").text = _text(incident, update, state)
    return _bytes(root)
