"""HMAC-SHA256 signatures of webhook bodies, and their verification by receivers.

The signed text is ``timestamp + "." + body``: binding the timestamp into the MAC
lets receivers reject old requests (replays) without trusting an unsigned header.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from alerting import AlertingError

TIMESTAMP_HEADER = "X-Flare-Timestamp"
SIGNATURE_HEADER = "X-Flare-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
SCHEMA_HEADER = "X-Flare-Schema-Version"
SIGNATURE_PREFIX = "v1="
DEFAULT_MAX_AGE_S = 300


class SignatureError(AlertingError):
    """A webhook request's signature or timestamp did not verify."""


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The signature header value: ``v1=`` and the hex HMAC-SHA256."""
    mac = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256)
    return SIGNATURE_PREFIX + mac.hexdigest()


def verify(secret: bytes, timestamp: str, body: bytes, signature: str, *,
           max_age_s: float = DEFAULT_MAX_AGE_S, now_s: float | None = None) -> None:
    """Check a received webhook; raise :class:`SignatureError` if it must be refused.

    Parameters
    ----------
    secret
        The subscriber's shared secret.
    timestamp
        The ``X-Flare-Timestamp`` header: Unix seconds when the request was sent.
    body
        The raw request body, exactly as received (before any JSON parsing).
    signature
        The ``X-Flare-Signature`` header.
    max_age_s
        Refuse requests whose timestamp is further than this from now, either way.
    """
    try:
        sent_s = int(timestamp)
    except ValueError as exc:
        raise SignatureError(f"timestamp {timestamp!r} is not Unix seconds") from exc
    skew_s = abs((time.time() if now_s is None else now_s) - sent_s)
    if skew_s > max_age_s:
        raise SignatureError(f"timestamp {skew_s:.0f} s away from now, limit "
                             f"{max_age_s:.0f} s")
    if not hmac.compare_digest(sign(secret, timestamp, body), signature):
        raise SignatureError("signature does not match body and timestamp")
