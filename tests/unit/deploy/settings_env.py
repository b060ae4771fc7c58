"""The environment variables the services really read, from their settings classes.

Every process has one pydantic-settings class (``<package>/settings.py``); its
``env_prefix`` and ``env_nested_delimiter`` decide the variable names. Fields
typed with another settings class (Kafka, topics) read that class's own prefix
through their default factory, and can also be given in the nested form.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

REPO = Path(__file__).resolve().parents[3]
SERVICE_PACKAGES = ("producers", "stream_app", "alerting", "trainer")


@dataclass(frozen=True)
class EnvSetting:
    """One environment variable and the settings field behind it."""

    name: str
    owner: str
    field: FieldInfo
    canonical: bool = True
    """False for the nested spelling of a shared class (``FLARE_KAFKA__...``)."""


def settings_classes() -> list[type[BaseSettings]]:
    """The settings classes of flarecore and of every service package."""
    found: list[type[BaseSettings]] = []
    for package in ("flarecore", *SERVICE_PACKAGES):
        if not (REPO / package / "settings.py").exists():
            continue
        module = importlib.import_module(f"{package}.settings")
        found += [c for _, c in inspect.getmembers(module, inspect.isclass)
                  if issubclass(c, BaseSettings) and c.__module__ == module.__name__]
    return found


def env_settings() -> dict[str, EnvSetting]:
    """Every variable name any settings class reads, upper case."""
    names: dict[str, EnvSetting] = {}
    for cls in settings_classes():
        for setting in _walk(cls, cls.model_config.get("env_prefix", ""),
                             cls.model_config.get("env_nested_delimiter") or "",
                             cls.__name__, canonical=True):
            if setting.canonical or setting.name not in names:
                names[setting.name] = setting
    return names


def _walk(model: type[BaseModel], prefix: str, delimiter: str, owner: str,
          canonical: bool) -> list[EnvSetting]:
    found: list[EnvSetting] = []
    for field_name, field in model.model_fields.items():
        name = f"{prefix}{field_name}".upper()
        nested = _model_of(field.annotation)
        if nested is None:
            found.append(EnvSetting(name, owner, field, canonical))
            continue
        shared = issubclass(nested, BaseSettings)
        if shared:
            found += _walk(nested, nested.model_config.get("env_prefix", ""),
                           nested.model_config.get("env_nested_delimiter") or "",
                           nested.__name__, canonical)
        if delimiter:
            found += _walk(nested, f"{name}{delimiter}", delimiter, owner,
                           canonical and not shared)
    return found


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if get_origin(annotation) in (Union, UnionType):
        models = [_model_of(arg) for arg in get_args(annotation)]
        return next((m for m in models if m is not None), None)
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return annotation
    return None
