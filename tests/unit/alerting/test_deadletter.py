"""Dead letters round-trip through their Kafka value."""

from __future__ import annotations

from alerting.deadletter import DeadLetter, DeadLetterReason, source_of
from flarecore.quarantine import QuarantinedInput
from tests.unit.alerting.factory import synthetic_alert


def test_dead_letter_round_trips_with_alert_synthetic() -> None:
    letter = DeadLetter(reason=DeadLetterReason.DELIVERY_FAILED, subscriber="ops",
                        error="HTTP 500: down", attempts=8,
                        source=source_of("flare.alerts", 0, 41),
                        alert=synthetic_alert())
    assert DeadLetter.from_bytes(letter.to_bytes()) == letter
    assert letter.source == "flare.alerts[0]@41"


def test_dead_letter_keeps_malformed_bytes() -> None:
    rejected = QuarantinedInput.of(b"\xff\x00not json", source="flare.alerts[0]@3",
                                   reason="malformed_alert", detail="bad",
                                   stage="alerting")
    letter = DeadLetter(reason=DeadLetterReason.MALFORMED_ALERT, subscriber=None,
                        error="bad", attempts=0, source="flare.alerts[0]@3",
                        rejected=rejected)
    parsed = DeadLetter.from_bytes(letter.to_bytes())
    assert parsed.rejected is not None and parsed.rejected.raw_encoding == "base64"
