"""Reading submitted modal state (`view.state.values`) into plain values."""

from __future__ import annotations

from typing import Any


class Form:
    """Values of a submitted view, by block id, whatever the element type."""

    def __init__(self, view: dict[str, Any]) -> None:
        self._values: dict[str, dict[str, Any]] = view.get("state", {}).get("values", {})

    def _element(self, block_id: str) -> dict[str, Any]:
        return self._values.get(block_id, {}).get("value", {})

    def text(self, block_id: str) -> str:
        return str(self._element(block_id).get("value") or "").strip()

    def number(self, block_id: str) -> int | None:
        raw = self._element(block_id).get("value")
        try:
            return int(raw) if raw not in (None, "") else None
        except (TypeError, ValueError):
            return None

    def choice(self, block_id: str) -> str | None:
        option = self._element(block_id).get("selected_option")
        return str(option["value"]) if option else None

    def choices(self, block_id: str) -> list[str]:
        return [str(o["value"]) for o in self._element(block_id).get("selected_options") or []]

    def user(self, block_id: str) -> str | None:
        return self._element(block_id).get("selected_user")

    def date(self, block_id: str) -> str | None:
        return self._element(block_id).get("selected_date")

    def date_time(self, block_id: str) -> int | None:
        value = self._element(block_id).get("selected_date_time")
        return int(value) if value is not None else None
