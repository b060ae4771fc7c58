from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from flarecore.quarantine import QuarantinedInput
from flarecore.records import Quality, Source, XrsRecord, minute_to_datetime


def _record(**overrides: object) -> XrsRecord:
    fields: dict[str, object] = {
        "satellite": 16, "time_utc": datetime(2020, 6, 1, 12, 0, tzinfo=UTC),
        "xrsa_flux_wm2": 1e-8, "xrsb_flux_wm2": 1e-7, "xrsa_quality": Quality.GOOD,
        "xrsb_quality": Quality.GOOD, "source": Source.GOESR_AVG1M,
        "scale_corrected": False,
    }
    fields.update(overrides)
    return XrsRecord.model_validate(fields)


def test_record_round_trips_through_kafka_bytes() -> None:
    record = _record()
    assert XrsRecord.from_bytes(record.to_bytes()) == record
    assert record.key == b"16"
    assert minute_to_datetime(record.minute) == record.time_utc


def test_record_normalises_time_to_utc() -> None:
    local = datetime(2020, 6, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    assert _record(time_utc=local).time_utc == datetime(2020, 6, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(("overrides", "message"), [
    ({"xrsb_flux_wm2": float("nan")}, "NaN"),
    ({"xrsb_flux_wm2": 0.0}, "not positive"),
    ({"xrsb_flux_wm2": -1e-6}, "not positive"),
    ({"xrsb_flux_wm2": 5.0}, "beyond any physical flare"),
    ({"time_utc": datetime(2020, 6, 1, 12, 0)}, "timezone-aware"),
    ({"time_utc": datetime(2020, 6, 1, 12, 0, 30, tzinfo=UTC)}, "whole minute"),
    ({"xrsb_flux_wm2": None}, "no flux but quality 'good'"),
    ({"satellite": 0}, "greater than or equal to 1"),
])
def test_record_rejects_bad_values(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _record(**overrides)


def test_missing_channel_is_allowed_with_its_quality() -> None:
    record = _record(xrsa_flux_wm2=None, xrsa_quality=Quality.MISSING)
    assert record.xrsa_flux_wm2 is None


def test_quarantine_keeps_binary_and_truncates_huge_inputs() -> None:
    entry = QuarantinedInput.of(b"\xff\x00" * 10, source="t[0]@1", reason="garbage",
                                detail="not JSON", stage="test")
    assert entry.raw_encoding == "base64"
    huge = QuarantinedInput.of("x" * 100, source="s", reason="r", detail="d",
                               stage="test", max_raw_bytes=10)
    assert huge.raw == "x" * 10 and "truncated" in huge.detail
