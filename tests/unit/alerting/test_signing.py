"""Webhook signatures: what the sender signs is what a receiver verifies."""

from __future__ import annotations

import pytest

from alerting.signing import SignatureError, sign, verify

SECRET = b"shared-secret"
BODY = b'{"alert_id": "abc"}'


def test_verify_accepts_fresh_signed_body() -> None:
    verify(SECRET, "1700000000", BODY, sign(SECRET, "1700000000", BODY),
           now_s=1700000010)


def test_sign_is_hmac_sha256_of_timestamp_dot_body() -> None:
    # Known answer computed independently:
    # printf '1700000000.{"alert_id": "abc"}' | openssl dgst -sha256 -hmac shared-secret
    assert sign(SECRET, "1700000000", BODY) == (
        "v1=81e8be304113279908fc123f964c922d261267eaa596094b6b4c90cb624f8682")


@pytest.mark.parametrize(("timestamp", "body", "secret", "now_s", "message"), [
    ("1700000000", BODY + b" ", SECRET, 1700000000, "does not match"),
    ("1700000000", BODY, b"other", 1700000000, "does not match"),
    ("1700000000", BODY, SECRET, 1700000301, "301 s away"),
    ("1700000000", BODY, SECRET, 1699999000, "1000 s away"),
    ("yesterday", BODY, SECRET, 1700000000, "not Unix seconds"),
])
def test_verify_refuses(timestamp: str, body: bytes, secret: bytes, now_s: float,
                        message: str) -> None:
    signature = sign(SECRET, "1700000000", BODY)
    with pytest.raises(SignatureError, match=message):
        verify(secret, timestamp, body, signature, now_s=now_s)
