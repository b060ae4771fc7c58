"""The deployment files of the repository, loaded for the tests."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[3]
COMPOSE = REPO / "docker-compose.yml"
COMPOSE_PROD = REPO / "docker-compose.prod.yml"
ENV_EXAMPLE = REPO / ".env.example"
PROMETHEUS = REPO / "deploy" / "prometheus" / "prometheus.yml"
RULES = REPO / "deploy" / "prometheus" / "alerts.yml"
DASHBOARDS = REPO / "deploy" / "grafana" / "dashboards"
PROVISIONING = REPO / "deploy" / "grafana" / "provisioning"

_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-?+]([^}]*))?\}")


def load_yaml(path: Path) -> Any:
    """A YAML file, parsed safely."""
    return yaml.safe_load(path.read_text())


def interpolated(path: Path) -> set[str]:
    """The ``${NAME}`` variables a compose file interpolates."""
    return {m.group(1) for m in _INTERPOLATION.finditer(path.read_text())}


def with_defaults(value: str) -> str:
    """A compose value with each ``${NAME:-default}`` replaced by its default."""
    return _INTERPOLATION.sub(lambda m: m.group(2) or "", value)


def python_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services that run this repository's image."""
    return {name: spec for name, spec in compose["services"].items()
            if "build" in spec}


def environment(spec: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a mapping, defaults interpolated."""
    env = spec.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: with_defaults(str(v)) for k, v in env.items()}


def env_example_names() -> set[str]:
    """The variables .env.example lists (set or commented out)."""
    pattern = re.compile(r"^#?\s?([A-Z][A-Z0-9_]*)=", re.MULTILINE)
    return set(pattern.findall(ENV_EXAMPLE.read_text()))


def dashboards() -> dict[str, dict[str, Any]]:
    """Every provisioned Grafana dashboard by file name."""
    return {p.name: json.loads(p.read_text())
            for p in sorted(DASHBOARDS.glob("*.json"))}


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those inside rows."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def queried_expressions() -> dict[str, str]:
    """Every PromQL expression of the dashboards and alert rules, by where it is."""
    found: dict[str, str] = {}
    for name, board in dashboards().items():
        for panel in panels(board):
            for target in panel.get("targets", []):
                if "expr" in target:
                    found[f"{name}: {panel['title']} ({target['refId']})"] = \
                        target["expr"]
    for group in load_yaml(RULES)["groups"]:
        for rule in group["rules"]:
            found[f"alerts.yml: {rule.get('alert') or rule.get('record')}"] = \
                rule["expr"]
    return found
