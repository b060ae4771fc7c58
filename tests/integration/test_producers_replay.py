"""``python -m producers replay`` into the real broker, on real files."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from flarecore.quarantine import QuarantinedInput
from flarecore.records import decode_records
from flarecore.settings import KafkaSettings
from producers.__main__ import main
from producers.replay import dry_run
from tests.integration.test_producers_swpc import _read_all

DATA = Path(__file__).parents[1] / "data"
FILES = [
    DATA / "ncei" / "g14_xrs_1m_20100601_20100630_excerpt_0000-0159.nc",
    DATA / "ncei" / "sci_gxrs-l2-irrad_g15_d20140128_v0-0-0_excerpt_1900-2029.nc",
    *sorted((DATA / "swpc").glob("xrays-1-day_fetched-*.json.gz")),
]

pytestmark = pytest.mark.timeout(180)


@pytest.mark.parametrize("per_message", [1, 60])
def test_replay_cli_publishes_each_minute_once_in_order(
        kafka_settings: KafkaSettings, unique_name: Callable[[str], str],
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        per_message: int) -> None:
    records_topic, quarantine_topic = unique_name("records"), unique_name("quar")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_settings.bootstrap_servers)
    for role, name in [("RECORDS", records_topic), ("QUARANTINE", quarantine_topic),
                       ("ALERTS", unique_name("alerts")),
                       ("ALERTS_DEADLETTER", unique_name("dead")),
                       ("MODELS", unique_name("models"))]:
        monkeypatch.setenv(f"FLARE_TOPIC_{role}", name)
    monkeypatch.setenv("FLARE_TOPIC_RECORDS_PARTITIONS", "2")

    assert main(["replay", "--speed", "max", "--records-per-message",
                 str(per_message), *map(str, FILES)]) == 0
    summary = json.loads(capsys.readouterr().out)
    expected = dry_run(FILES)
    assert summary["records"] == expected.records
    assert summary["published"] == expected.records + sum(
        expected.quarantined.values())

    values = asyncio.run(_read_all(kafka_settings, records_topic, 2))
    records = [r for v in values for r in decode_records(v)[0]]
    assert len(records) == expected.records
    # Packed per satellite: a message is a minute, or up to an hour of one (less
    # where a send batch of 2000 items ends).
    if per_message == 1:
        assert len(values) == expected.records
    else:
        assert expected.records / per_message <= len(values) < expected.records / 30
    assert max(Counter((r.satellite, r.minute) for r in records).values()) == 1
    for satellite in {r.satellite for r in records}:
        minutes = [r.minute for r in records if r.satellite == satellite]
        assert minutes == sorted(minutes)  # one key per partition keeps order
    legacy = next(r for r in records if r.satellite == 14 and r.minute * 60 ==
                  1276304220)  # 2010-06-12 00:57, M2.0 on the old scale
    assert legacy.xrsb_flux_wm2 == pytest.approx(2.0214e-5 / 0.7, rel=1e-3)
    assert legacy.scale_corrected

    quarantined = [QuarantinedInput.model_validate_json(v) for v in
                   asyncio.run(_read_all(kafka_settings, quarantine_topic, 1))]
    assert Counter(q.reason for q in quarantined) == expected.quarantined
