"""`incidentbot` command line: one module per command group, `main` parses and dispatches."""

from bot.cli.main import main, run

__all__ = ["main", "run"]
