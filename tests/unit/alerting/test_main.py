"""The command line: misuse exits 2 with one line, before touching Kafka."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerting import __main__ as cli
from alerting.__main__ import main


@pytest.fixture(autouse=True)
def _keep_pytest_logging(monkeypatch: pytest.MonkeyPatch) -> None:
    # main() installs the process's log handler on the root logger, which would
    # remove pytest's capture handlers for the rest of the session.
    monkeypatch.setattr(cli.logs, "configure", lambda level="INFO": None)


def test_main_without_subscribers_exits_2(monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("FLARE_ALERTING_SUBSCRIBERS", raising=False)
    monkeypatch.delenv("FLARE_ALERTING_CONFIG_FILE", raising=False)
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no subscribers" in err


def test_main_replay_unknown_subscriber_exits_2(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]
                                                ) -> None:
    config = tmp_path / "subs.yaml"
    config.write_text("subscribers:\n  - {name: console, kind: stdout}\n")
    assert main(["--config", str(config), "replay-deadletter",
                 "--subscriber", "nobody"]) == 2
    assert "unknown subscriber(s): nobody" in capsys.readouterr().err


def test_main_without_command_exits_2() -> None:
    with pytest.raises(SystemExit) as caught:
        main([])
    assert caught.value.code == 2
