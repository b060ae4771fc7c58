"""docker-compose.yml and docker-compose.prod.yml: structure, names, ports, files."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import pytest

from tests.unit.deploy.settings_env import env_settings
from tests.unit.deploy.stack import (
    COMPOSE,
    COMPOSE_PROD,
    PROMETHEUS,
    REPO,
    env_example_names,
    environment,
    interpolated,
    load_yaml,
    python_services,
    with_defaults,
)

TOP_LEVEL = {"name", "services", "volumes", "networks", "configs", "secrets"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_yaml(COMPOSE)


@pytest.fixture(scope="module")
def prod() -> dict[str, Any]:
    return load_yaml(COMPOSE_PROD)


def _command(spec: dict[str, Any]) -> list[str]:
    command = spec["command"]
    return [with_defaults(str(part)) for part in
            (command if isinstance(command, list) else command.split())]


def test_compose_files_have_only_known_top_level_keys(
        compose: dict[str, Any], prod: dict[str, Any]) -> None:
    for document in (compose, prod):
        keys = {k for k in document if not k.startswith("x-")}
        assert keys <= TOP_LEVEL


def test_stack_has_every_service_the_issue_names(compose: dict[str, Any]) -> None:
    assert {"kafka", "producer", "stream", "alerting", "trainer", "mlflow",
            "prometheus", "grafana"} <= set(compose["services"])
    assert compose["services"]["kafka"]["image"].startswith("apache/kafka:")
    kraft = compose["services"]["kafka"]["environment"]
    assert kraft["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert kraft["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def test_references_name_existing_services(compose: dict[str, Any],
                                           prod: dict[str, Any]) -> None:
    services = set(compose["services"])
    assert set(prod["services"]) <= services
    for name, spec in compose["services"].items():
        depends = spec.get("depends_on") or []
        assert set(depends) <= services - {name}, name


def test_stream_is_scalable(compose: dict[str, Any]) -> None:
    stream = compose["services"]["stream"]
    assert "container_name" not in stream
    published = [with_defaults(p) for p in stream["ports"]]
    # A range of host ports, one per replica, never one fixed host port.
    assert all(re.search(r":\d+-\d+:\d+$", p) for p in published), published


def test_volumes_are_declared(compose: dict[str, Any], prod: dict[str, Any]) -> None:
    declared = set(prod.get("volumes") or {}) | set(compose.get("volumes") or {})
    for document in (compose, prod):
        for name, spec in document["services"].items():
            for volume in spec.get("volumes", []):
                source = with_defaults(volume).split(":")[0]
                if not source.startswith((".", "/")):
                    assert source in declared, f"{name}: volume {source}"


def test_prod_persists_kafka_mlflow_grafana_and_limits_everything(
        compose: dict[str, Any], prod: dict[str, Any]) -> None:
    def named(spec: dict[str, Any]) -> dict[str, str]:
        mounts = [with_defaults(v).split(":") for v in spec.get("volumes", [])]
        return {m[1]: m[0] for m in mounts if not m[0].startswith((".", "/"))}

    kafka_env = compose["services"]["kafka"]["environment"]
    assert kafka_env["KAFKA_LOG_DIRS"] in named(prod["services"]["kafka"])
    assert "/var/lib/grafana" in named(prod["services"]["grafana"])
    mlflow = " ".join(_command(compose["services"]["mlflow"]))
    [store] = named(compose["services"]["mlflow"])
    assert f"sqlite:///{store}/" in mlflow and f"{store}/artifacts" in mlflow
    for name in compose["services"]:
        spec = prod["services"].get(name, {})
        if name not in ("topics", "replay"):
            assert spec.get("restart") == "unless-stopped", name
            assert spec["deploy"]["resources"]["limits"]["memory"], name


def test_bind_mounted_files_exist(compose: dict[str, Any]) -> None:
    for name, spec in compose["services"].items():
        for volume in spec.get("volumes", []):
            source = with_defaults(volume).split(":")[0]
            inside = (REPO / source).resolve().is_relative_to(REPO)
            if source.startswith(".") and inside:
                assert (REPO / source).exists(), f"{name}: {source} is missing"


def test_python_service_environment_names_are_settings(
        compose: dict[str, Any]) -> None:
    known = env_settings()
    for name, spec in python_services(compose).items():
        for variable in environment(spec):
            assert variable in known, f"{name}: {variable} is read by no settings class"


def test_interpolated_variables_are_settings_or_stack_variables() -> None:
    known = env_settings()
    listed = env_example_names()
    for path in (COMPOSE, COMPOSE_PROD):
        for variable in interpolated(path):
            assert variable.startswith("STACK_") or variable in known, variable
            assert variable in listed, f"{variable} missing from .env.example"


def test_env_example_lists_every_setting_and_nothing_else() -> None:
    known = env_settings()
    listed = env_example_names()
    canonical = {n for n, s in known.items() if s.canonical}
    assert canonical - listed == set(), "settings missing from .env.example"
    unknown = {n for n in listed if n not in known and not n.startswith("STACK_")}
    assert unknown == set(), "not read by any settings class"
    stack_used = set().union(*(interpolated(p) for p in (COMPOSE, COMPOSE_PROD)))
    stale = {n for n in listed if n.startswith("STACK_")} - stack_used
    assert stale == set(), "STACK_ variables no compose file uses"


def test_service_ports_agree_with_settings_and_prometheus(
        compose: dict[str, Any]) -> None:
    services = compose["services"]
    scrape = {job["job_name"]: job for job in load_yaml(PROMETHEUS)["scrape_configs"]}

    stream = environment(services["stream"])
    assert stream["FLARE_WEB_BIND"] == "0.0.0.0"
    port = stream["FLARE_WEB_PORT"]
    assert with_defaults(services["stream"]["ports"][0]).endswith(f":{port}")
    assert f":{port}/health" in " ".join(services["stream"]["healthcheck"]["test"])
    assert str(scrape["stream"]["dns_sd_configs"][0]["port"]) == port
    assert scrape["stream"]["dns_sd_configs"][0]["names"] == ["stream"]

    for job, variable in (("alerting", "FLARE_ALERTING_METRICS_PORT"),
                          ("producer", "FLARE_PRODUCERS_METRICS_PORT")):
        port = environment(services[job])[variable]
        assert [str(p) for p in services[job]["expose"]] == [port]
        assert scrape[job]["static_configs"][0]["targets"] == [f"{job}:{port}"]

    mlflow = _command(services["mlflow"])
    port = mlflow[mlflow.index("--port") + 1]
    assert with_defaults(services["mlflow"]["ports"][0]).endswith(f":{port}")
    trainer = environment(services["trainer"])
    assert trainer["FLARE_TRAINER_TRACKING_URI"] == f"http://mlflow:{port}"
    # Artifacts are file URIs: every reader mounts the store at the same path.
    root = trainer["FLARE_TRAINER_ARTIFACT_ROOT"]
    for reader in ("trainer", "stream", "mlflow"):
        mounts = [with_defaults(v).split(":")[1] for v in services[reader]["volumes"]]
        assert any(root.startswith(m + "/") for m in mounts), reader


def test_every_python_service_reaches_the_compose_broker(
        compose: dict[str, Any]) -> None:
    listeners = compose["services"]["kafka"]["environment"][
        "KAFKA_ADVERTISED_LISTENERS"]
    for name, spec in python_services(compose).items():
        if name == "mlflow":
            continue
        bootstrap = environment(spec)["KAFKA_BOOTSTRAP_SERVERS"]
        assert f"PLAINTEXT://{bootstrap}" in listeners, name


def test_python_commands_are_real_command_lines(compose: dict[str, Any]) -> None:
    for name, spec in python_services(compose).items():
        argv = _command(spec)
        if argv[:2] == ["python", "-c"]:
            compile(argv[2], f"<{name} command>", "exec")
            continue
        # Asking each CLI for help proves the module and subcommand exist.
        help_argv = ([sys.executable, "-m", *argv[2:4], "--help"]
                     if argv[:2] == ["python", "-m"] else
                     [sys.executable, "-m", argv[0], argv[1], "--help"])
        done = subprocess.run(help_argv, cwd=REPO, capture_output=True, text=True,
                              timeout=120, check=False)
        assert done.returncode == 0, f"{name}: {' '.join(argv)}\n{done.stderr[-800:]}"
        options = [a for a in argv[4 if argv[0] == "python" else 2:]
                   if a.startswith("--")]
        missing = [o for o in options if o not in done.stdout]
        assert not missing, f"{name}: options {missing} unknown to {argv[:4]}"


def test_topics_command_builds_the_system_topics(compose: dict[str, Any]) -> None:
    source = _command(compose["services"]["topics"])[2]
    assert "ensure_topics(KafkaSettings(), system_topics(TopicSettings()))" in source
