"""Persistence: the engine and migrations (`db`), the tables (`models`) and the incident store."""

from bot.store.incidents import IncidentStore, NewEvent, StaleChange

__all__ = ["IncidentStore", "NewEvent", "StaleChange"]
