"""The one Dockerfile of the Python services, and what its build context holds."""

from __future__ import annotations

import fnmatch
import re
import subprocess

from tests.unit.deploy.stack import COMPOSE, REPO, load_yaml, python_services

DOCKERFILE = REPO / "Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [(line.split()[0].upper(), line.split(maxsplit=1)[1])
            for line in lines if line and not line.startswith("#")]


def _final_stage() -> list[tuple[str, str]]:
    steps = _instructions()
    last_from = max(i for i, (op, _) in enumerate(steps) if op == "FROM")
    return steps[last_from:]


def _tracked(path: str) -> bool:
    listed = subprocess.run(["git", "ls-files", "--", path], cwd=REPO,
                            capture_output=True, text=True, check=True).stdout
    return bool(listed.strip())


def test_final_stage_is_slim_and_runs_as_an_unprivileged_user() -> None:
    final = _final_stage()
    assert "slim" in final[0][1]
    users = [arg for op, arg in final if op == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert not any(op == "RUN" and "apt-get install" in arg for op, arg in final)


def test_copied_sources_are_in_the_repository_and_the_build_context() -> None:
    ignore = (REPO / ".dockerignore").read_text().splitlines()
    allowed = [line[1:].rstrip("/") for line in ignore if line.startswith("!")]
    for op, arg in _instructions():
        if op != "COPY" or "--from=" in arg:
            continue
        sources = [a for a in arg.split()[:-1] if not a.startswith("--")]
        for source in sources:
            assert (REPO / source).exists(), f"COPY {source}: missing"
            # A fresh clone has only tracked files (git keeps no empty folder).
            assert _tracked(source), f"COPY {source}: nothing tracked by git"
            assert any(fnmatch.fnmatch(source, a) for a in allowed), \
                f"COPY {source}: excluded by .dockerignore"


def test_image_installs_from_the_pinned_constraints() -> None:
    runs = " ".join(arg for op, arg in _instructions() if op == "RUN")
    assert "-c constraints.txt" in runs


def test_every_python_service_builds_this_dockerfile() -> None:
    for name, spec in python_services(load_yaml(COMPOSE)).items():
        assert spec["build"]["dockerfile"] == "Dockerfile", name
        assert spec["build"]["context"] == ".", name
