"""A local stand-in for Slack: Web API server, workspace state, Block Kit checks and a request driver.

Tests and the browser sandbox run the real bot against it: the bot's `AsyncWebClient` points at
`start_standin().api_url`, and `SlackDriver` sends signed slash commands, clicks, submissions and
events to the bot exactly as Slack would. A bot in Socket Mode dials in instead: `SocketModeHub`
(`standin.socket_mode`) is Slack's end of its websocket and `SocketModeDriver` sends the same payloads
as envelopes. No Slack workspace is needed.
"""

from bot.standin.blockkit import message_error, validate_message, validate_view
from bot.standin.driver import ACK_DEADLINE, DriverResponse, SlackDriver
from bot.standin.payloads import EMPTY
from bot.standin.server import RunningStandin, create_standin_app, start_standin
from bot.standin.socket_mode import Ack, Envelope, SocketModeDriver, SocketModeHub
from bot.standin.state import (
    Call,
    Channel,
    Message,
    ResponsePost,
    SlackError,
    UploadedFile,
    User,
    View,
    Workspace,
    message_text,
)
from bot.standin.waiting import eventually

__all__ = [
    "ACK_DEADLINE",
    "EMPTY",
    "Ack",
    "Call",
    "Channel",
    "DriverResponse",
    "Envelope",
    "Message",
    "ResponsePost",
    "RunningStandin",
    "SlackDriver",
    "SlackError",
    "SocketModeDriver",
    "SocketModeHub",
    "UploadedFile",
    "User",
    "View",
    "Workspace",
    "create_standin_app",
    "eventually",
    "message_error",
    "message_text",
    "start_standin",
    "validate_message",
    "validate_view",
]
