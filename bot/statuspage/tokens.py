"""Signed links for e-mail subscribers: the confirmation link of the double opt-in and the unsubscribe link.

HMAC-SHA256 with INCIDENTBOT_SUBSCRIPTION_SECRET over the link's purpose and its fields, so a link cannot be
forged or turned into another (a confirmation link is no unsubscribe link). A confirmation link expires
(`CONFIRM_FOR`): an address typed by someone else should not stay one click from subscribed for ever. An
unsubscribe link never expires: it is in every mail, and RFC 8058 one-click unsubscribe must work on old
ones.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

CONFIRM, UNSUBSCRIBE = "confirm", "unsubscribe"
CONFIRM_FOR = timedelta(hours=24)
SIGNATURE_BYTES = 20
"""160 bits of the SHA-256 MAC: beyond guessing, and keeps the links short."""


class BadToken(ValueError):
    """A link that is not ours, was altered, or has expired; the message says which, for the page."""

    def __init__(self, reason: str, expired: bool = False) -> None:
        super().__init__(reason)
        self.expired = expired


@dataclass(frozen=True)
class Confirmation:
    subscriber_id: int
    nonce: str
    issued_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("the subscription secret is empty")
        self._key = secret.encode()

    def _mac(self, purpose: str, payload: str) -> bytes:
        return hmac.new(self._key, f"{purpose}\n{payload}".encode(), hashlib.sha256).digest()[
            :SIGNATURE_BYTES
        ]

    def _sign(self, purpose: str, fields: list[str]) -> str:
        payload = ".".join(fields)
        return f"{_b64(payload.encode())}.{_b64(self._mac(purpose, payload))}"

    def _open(self, purpose: str, token: str) -> list[str]:
        encoded, _, signature = token.strip().partition(".")
        try:
            payload = _unb64(encoded).decode()
            given = _unb64(signature)
        except (ValueError, UnicodeDecodeError):
            raise BadToken("This link is damaged: it may have been cut off or changed.") from None
        if not hmac.compare_digest(given, self._mac(purpose, payload)):
            raise BadToken("This link is not valid: it may have been cut off or changed.")
        return payload.split(".")

    def confirmation(self, subscriber_id: int, nonce: str, issued_at: datetime) -> str:
        return self._sign(CONFIRM, [str(subscriber_id), nonce, str(int(issued_at.timestamp()))])

    def unsubscribe(self, subscriber_id: int) -> str:
        return self._sign(UNSUBSCRIBE, [str(subscriber_id)])

    def open_confirmation(self, token: str, now: datetime) -> Confirmation:
        fields = self._open(CONFIRM, token)
        try:
            subscriber, nonce, issued = int(fields[0]), fields[1], int(fields[2])
        except (IndexError, ValueError):
            raise BadToken("This link is not valid.") from None
        issued_at = datetime.fromtimestamp(issued, UTC)
        if now - issued_at > CONFIRM_FOR:
            hours = int(CONFIRM_FOR.total_seconds() // 3600)
            raise BadToken(
                f"This confirmation link has expired (links work for {hours} hours). "
                "Subscribe again to get a new one.",
                expired=True,
            )
        return Confirmation(subscriber, nonce, issued_at)

    def open_unsubscribe(self, token: str) -> int:
        fields = self._open(UNSUBSCRIBE, token)
        try:
            return int(fields[0])
        except (IndexError, ValueError):
            raise BadToken("This link is not valid.") from None
