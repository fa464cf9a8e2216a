"""Persistence: the engine and migrations (`db`), the tables (`models`) and the incident store."""

from bot.store.incidents import IncidentStore, InTransaction, NewEvent, StaleChange

__all__ = ["InTransaction", "IncidentStore", "NewEvent", "StaleChange"]
