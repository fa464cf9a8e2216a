"""A local stand-in for Slack: Web API server, workspace state, Block Kit checks and a request driver.

Tests and the browser sandbox run the real bot against it: the bot's `AsyncWebClient` points at
`start_standin().api_url`, and `SlackDriver` sends signed slash commands, clicks, submissions and
events to the bot exactly as Slack would. No Slack workspace is needed.
"""

from bot.standin.blockkit import message_error, validate_message, validate_view
from bot.standin.driver import ACK_DEADLINE, DriverResponse, SlackDriver
from bot.standin.payloads import EMPTY
from bot.standin.server import RunningStandin, create_standin_app, start_standin
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
    "Call",
    "Channel",
    "DriverResponse",
    "Message",
    "ResponsePost",
    "RunningStandin",
    "SlackDriver",
    "SlackError",
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
