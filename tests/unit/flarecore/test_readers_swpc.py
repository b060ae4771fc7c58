"""SWPC JSON reading: real replies in tests/data/swpc, and corrupted copies of them.

Tests whose name ends in ``_synthetic`` alter a real reply to produce bad input.
"""

from __future__ import annotations

import copy
import gzip
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from flarecore.quarantine import QuarantinedInput
from flarecore.readers import Format, detect_format, iter_records, read_frame
from flarecore.readers.reading import read_frames
from flarecore.readers.swpc import parse_swpc
from flarecore.records import Quality, Source, XrsRecord

DATA = Path(__file__).parents[2] / "data" / "swpc"
SIX_HOUR = DATA / "xrays-6-hour_goes18_20240513.json"
POLL_A = DATA / "xrays-1-day_fetched-20260803T214734Z.json.gz"
POLL_B = DATA / "xrays-1-day_fetched-20260803T224456Z.json.gz"
NOW = datetime(2024, 5, 13, 21, 0, tzinfo=UTC)


def _objects() -> list[dict[str, Any]]:
    return json.loads(SIX_HOUR.read_bytes())


def _parse(objects: Any) -> tuple[pd.DataFrame, list[QuarantinedInput]]:
    reading = parse_swpc(json.dumps(objects).encode(), "test", "test", now=NOW)
    return reading.frame, reading.quarantined


def test_swpc_plain_and_gzip_detected() -> None:
    assert detect_format(SIX_HOUR) is Format.SWPC_JSON
    assert detect_format(POLL_A) is Format.SWPC_JSON


def test_swpc_six_hour_reply_pairs_channels() -> None:
    frame = read_frame(SIX_HOUR)
    assert len(frame) == 716 // 2
    peak = frame.loc[frame["xrsb_flux_wm2"].idxmax()]
    assert peak["time_utc"] == pd.Timestamp("2024-05-13T18:48", tz="UTC")
    assert peak["xrsb_flux_wm2"] == pytest.approx(1.09e-5, rel=0.01)
    assert (frame["satellite"] == 18).all()
    assert (frame["source"] == Source.SWPC_JSON.value).all()
    assert not frame["scale_corrected"].any()


def test_swpc_zero_flux_quarantined_minute_kept() -> None:
    reading = read_frames([POLL_A])
    reasons = Counter(q.reason for q in reading.quarantined)
    assert reasons == {"zero_flux": 116}
    bad_b = reading.frame[reading.frame["xrsb_quality"] == Quality.BAD.value]
    assert len(bad_b) > 0
    assert bad_b["xrsb_flux_wm2"].isna().all()
    assert len(reading.frame) == 1438


def test_swpc_overlapping_polls_deduplicated() -> None:
    first, second = read_frame(POLL_A), read_frame(POLL_B)
    merged = read_frames([POLL_A, POLL_B])
    union = set(first["time_utc"]) | set(second["time_utc"])
    assert len(merged.frame) == len(union)
    assert len(union) < len(first) + len(second)
    # Overlapping polls agree on shared minutes; rejected objects kept once each.
    assert len({(q.reason, q.raw) for q in merged.quarantined}) == len(
        merged.quarantined)


def test_swpc_iter_records_valid() -> None:
    items = list(iter_records([SIX_HOUR]))
    assert all(isinstance(i, XrsRecord) for i in items)
    assert len(items) == 358


def test_swpc_truncated_body_quarantined_synthetic() -> None:
    raw = SIX_HOUR.read_bytes()[:5000]
    reading = parse_swpc(raw, "http://x/xrays", "test", now=NOW)
    assert len(reading.frame) == 0
    assert [q.reason for q in reading.quarantined] == ["invalid_json"]
    assert reading.quarantined[0].source == "http://x/xrays"


@pytest.mark.parametrize(("field", "value", "reason"), [
    ("flux", float("nan"), "nan_flux"),
    ("flux", -1e-6, "negative_flux"),
    ("flux", 0.0, "zero_flux"),
    ("flux", 5.0, "absurd_flux"),
    ("flux", "1e-6", "wrong_type"),
    ("satellite", "18", "wrong_type"),
    ("energy", "1-8A", "unknown_energy"),
    ("time_tag", "2024-05-13 14:36", "bad_time"),
    ("time_tag", "2030-01-01T00:00:00Z", "future_time"),
])
def test_swpc_bad_value_quarantined_synthetic(field: str, value: Any,
                                              reason: str) -> None:
    objects = _objects()
    objects[1] = copy.deepcopy(objects[1])
    objects[1][field] = value
    frame, quarantined = _parse(objects)
    assert reason in [q.reason for q in quarantined]
    assert len(frame) >= 357


def test_swpc_missing_field_quarantined_synthetic() -> None:
    objects = _objects()
    del objects[1]["flux"]
    frame, quarantined = _parse(objects)
    assert [q.reason for q in quarantined] == ["missing_field"]
    first = frame.iloc[0]
    assert first["xrsb_quality"] == Quality.BAD.value
    assert first["xrsa_flux_wm2"] > 0


def test_swpc_missing_channel_keeps_minute_synthetic() -> None:
    objects = _objects()
    del objects[0]  # the first minute's XRS-A object
    frame, quarantined = _parse(objects)
    assert [q.reason for q in quarantined] == ["missing_channel"]
    first = frame.iloc[0]
    assert first["xrsa_quality"] == Quality.MISSING.value
    assert pd.isna(first["xrsa_flux_wm2"])
    assert first["xrsb_flux_wm2"] > 0
    assert len(frame) == 358


def test_swpc_not_an_array_synthetic() -> None:
    frame, quarantined = _parse({"error": "x"})
    assert len(frame) == 0
    assert [q.reason for q in quarantined] == ["not_an_array"]


def test_swpc_gzip_file_matches_plain(tmp_path: Path) -> None:
    plain = tmp_path / "poll.json"
    plain.write_bytes(gzip.decompress(POLL_A.read_bytes()))
    pd.testing.assert_frame_equal(read_frame(plain), read_frame(POLL_A))
