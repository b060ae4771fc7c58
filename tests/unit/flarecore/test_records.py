import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from flarecore.quarantine import QuarantinedInput
from flarecore.records import (
    MAX_RECORDS_PER_MESSAGE,
    Quality,
    Source,
    XrsRecord,
    XrsRecordBatch,
    decode_records,
    minute_to_datetime,
)


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


def _minutes(count: int, satellite: int = 16) -> list[XrsRecord]:
    start = datetime(2020, 6, 1, 12, 0, tzinfo=UTC)
    return [_record(satellite=satellite, time_utc=start + timedelta(minutes=n))
            for n in range(count)]


def test_decode_reads_a_single_record_and_a_batch() -> None:
    records = _minutes(60)
    batch = XrsRecordBatch(records=records)

    assert decode_records(records[0].to_bytes()) == ([records[0]], [])
    assert decode_records(batch.to_bytes()) == (records, [])
    assert batch.key == b"16"


def test_decode_keeps_a_batch_s_good_records_and_rejects_the_bad_ones() -> None:
    value = json.loads(XrsRecordBatch(records=_minutes(5)).to_bytes())
    value["records"][1]["xrsb_flux_wm2"] = -1.0
    value["records"][3] = "not a record"

    records, rejected = decode_records(json.dumps(value).encode())

    assert [r.time_utc.minute for r in records] == [0, 2, 4]
    assert [(bad.index, "not positive" in str(bad.error)) for bad in rejected] == [
        (1, True), (3, False)]
    assert json.loads(rejected[1].raw) == "not a record"


@pytest.mark.parametrize("raw", [
    b'{"records": 5}', b'{"records":[]}', b'{"records":[{"x":1}', b"[1, 2]",
    b'{"satellite": "not a record"}',
])
def test_decode_raises_for_what_is_no_record_nor_readable_batch(raw: bytes) -> None:
    with pytest.raises(ValidationError):
        decode_records(raw)


def test_batch_holds_one_satellite_and_a_bounded_count() -> None:
    with pytest.raises(ValidationError, match="one satellite"):
        XrsRecordBatch(records=[*_minutes(2, 16), *_minutes(2, 18)])
    with pytest.raises(ValidationError, match="at most"):
        XrsRecordBatch(records=_minutes(MAX_RECORDS_PER_MESSAGE + 1))
