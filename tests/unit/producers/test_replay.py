"""Replay pacing and the dry-run summary, on real files of tests/data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flarecore.readers import iter_records
from flarecore.records import XrsRecord
from producers.__main__ import main
from producers.replay import Speed, _paced, dry_run

DATA = Path(__file__).parents[2] / "data"
LEGACY_NC = DATA / "ncei" / "g14_xrs_1m_20100601_20100630_excerpt_0000-0159.nc"
IRRAD15 = DATA / "ncei" / "sci_gxrs-l2-irrad_g15_d20140128_v0-0-0_excerpt_1900-2029.nc"
POLLS = sorted((DATA / "swpc").glob("xrays-1-day_fetched-*.json.gz"))


@pytest.mark.parametrize(("text", "factor"), [
    ("max", None), ("realtime", 1.0), ("x60", 60.0), ("x2.5", 2.5)])
def test_speed_parse(text: str, factor: float | None) -> None:
    assert Speed.parse(text).factor == factor


@pytest.mark.parametrize("text", ["fast", "x0", "60", "x-1"])
def test_speed_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="expected realtime"):
        Speed.parse(text)


def test_paced_realtime_one_batch_per_minute() -> None:
    batches = list(_paced(iter_records([LEGACY_NC]), Speed.parse("x60"), 2000))
    assert len(batches) == 120
    assert [due for _, due in batches[:3]] == [0.0, 1.0, 2.0]
    assert all(len(batch) == 1 for batch, _ in batches)


def test_paced_max_batches_by_size() -> None:
    batches = list(_paced(iter_records([LEGACY_NC]), Speed.parse("max"), 50))
    assert [len(b) for b, _ in batches] == [50, 50, 20]
    assert {due for _, due in batches} == {0.0}


def test_paced_keeps_time_order_across_files() -> None:
    items = [i for b, _ in _paced(iter_records([IRRAD15, LEGACY_NC]),
                                  Speed.parse("max"), 1000) for i in b]
    times = [i.time_utc for i in items if isinstance(i, XrsRecord)]
    assert times == sorted(times)
    assert times[0].year == 2010


def test_dry_run_summary_overlapping_polls() -> None:
    summary = dry_run(POLLS)
    assert summary.files == 2
    assert summary.records_per_satellite == {18: summary.records}
    minutes = (summary.last_minute[18] - summary.first_minute[18]).total_seconds()
    assert summary.records == minutes / 60 + 1  # continuous, each minute once
    # Both polls carry the same 116 zero-flux objects: quarantined once each.
    assert summary.quarantined == {"zero_flux": 116}
    assert summary.published is None


def test_cli_replay_dry_run_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "--dry-run", str(LEGACY_NC)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["records"] == 120
    assert printed["xrsb_quality"] == {"good": 120}
    assert printed["first_minute"] == {"14": "2010-06-12T00:00:00Z"}


def test_cli_replay_expands_folders(tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    nested = tmp_path / "polls" / "day"
    nested.mkdir(parents=True)
    for poll in POLLS:
        (nested / poll.name).write_bytes(poll.read_bytes())
    # An archive folder's README and hidden files are not data.
    (tmp_path / "polls" / "README.md").write_text("# provenance")
    (nested / ".partial").write_text("not data")

    assert main(["replay", "--dry-run", *map(str, POLLS)]) == 0
    by_files = json.loads(capsys.readouterr().out)
    assert main(["replay", "--dry-run", str(tmp_path / "polls")]) == 0
    by_folder = json.loads(capsys.readouterr().out)

    assert by_folder["files"] == 2
    for field in ("records", "first_minute", "last_minute", "quarantined"):
        assert by_folder[field] == by_files[field]


def test_cli_bad_speed_is_misuse() -> None:
    assert main(["replay", "--dry-run", "--speed", "fast", str(LEGACY_NC)]) == 2


def test_cli_unsupported_file_fails(tmp_path: Path) -> None:
    odd = tmp_path / "odd.txt"
    odd.write_text("not data")
    assert main(["replay", "--dry-run", str(odd)]) == 1
