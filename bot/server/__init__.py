"""The one HTTP process: Slack events, webhooks, health and metrics (`app`), with their helpers."""

from bot.server.app import Runtime, SocketModeRefused, build_runtime, make_web_app, serve

__all__ = ["Runtime", "SocketModeRefused", "build_runtime", "make_web_app", "serve"]
