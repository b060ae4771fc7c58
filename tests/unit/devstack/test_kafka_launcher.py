from pathlib import Path

import pytest

from devstack import kafka
from devstack.kafka import LauncherError, LocalKafka, broker_answers, free_port


def test_config_is_kraft_on_loopback_without_auto_created_topics(
        tmp_path: Path) -> None:
    broker = LocalKafka(port=0, data_dir=tmp_path)
    broker._prepare_dirs()
    props = dict(line.split("=", 1) for line in
                 broker._write_config().read_text().splitlines())

    assert props["process.roles"] == "broker,controller"
    assert props["listeners"].startswith(f"PLAINTEXT://127.0.0.1:{broker.port},")
    assert props["auto.create.topics.enable"] == "false"
    assert props["log.dirs"] == str(tmp_path / "data")
    assert str(broker.log_file) in (tmp_path / "log4j.properties").read_text()


def test_fetch_without_maven_fails_clearly(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kafka.shutil, "which", lambda _: None)
    with pytest.raises(LauncherError, match="mvn is not on PATH"):
        kafka.fetch_jars(tmp_path)


def test_fetch_reuses_a_complete_cache(tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "libs").mkdir()
    (tmp_path / "libs" / ".complete").touch()
    monkeypatch.setattr(kafka.subprocess, "run", pytest.fail)
    assert kafka.fetch_jars(tmp_path) == tmp_path / "libs"


def test_nothing_answers_on_a_closed_port() -> None:
    assert not broker_answers(f"127.0.0.1:{free_port()}", timeout_s=1)


def test_cluster_id_never_starts_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    # A made-up UUID whose base64 starts with "-" (kafka-storage would read it as
    # an option), then an ordinary one: the first is drawn again.
    import uuid

    draws = iter([uuid.UUID(bytes=b"\xfb" + bytes(15)), uuid.UUID(int=1)])
    monkeypatch.setattr(kafka.uuid, "uuid4", lambda: next(draws))

    cluster_id = kafka._cluster_id()

    assert cluster_id == "AAAAAAAAAAAAAAAAAAAAAQ"
    assert len(cluster_id) == 22
