"""The forecast model as the trainer saves it and the stream app serves it.

A model bundle is a directory with two files:

``estimator.joblib``
    A fitted classifier over :data:`flarecore.features.FEATURE_NAMES` whose
    classes are class indices (0=A ... 4=X) of the peak XRS-B flux within the
    horizon: a :class:`flarecore.growth.GrowthForecast` (what the trainer makes)
    or any scikit-learn classifier.
``bundle.json``
    :class:`BundleInfo`: version, horizon, feature names, warning thresholds,
    the estimator's SHA-256, and the training record.

Loading checks the checksum and the feature list, so a corrupted file or a model
built for other features is refused with a clear error instead of serving nonsense.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from flarecore.classes import CLASS_LETTERS
from flarecore.errors import FlareError
from flarecore.features import FEATURE_NAMES, LOOKBACK_MINUTES
from flarecore.growth import GrowthForecast
from flarecore.trees import CompiledTrees

ESTIMATOR_FILE = "estimator.joblib"
INFO_FILE = "bundle.json"
M_INDEX = CLASS_LETTERS.index("M")
X_INDEX = CLASS_LETTERS.index("X")


class ModelError(FlareError):
    """A model bundle is missing, corrupted or incompatible."""


class Thresholds(BaseModel):
    """When a forecast becomes an early warning.

    A minute is *hot* for M (X) when P(>= M) (P(>= X)) is at or above its
    threshold while XRS-B is at or above the floor: a flux far below the level
    is rarely a flare about to cross it, and the floors keep the warnings to the
    rises that might.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    p_ge_m: float = Field(ge=0, le=1, description="warn of >= M at or above this")
    p_ge_x: float = Field(ge=0, le=1, description="warn of >= X at or above this")
    floor_m_wm2: float = Field(default=0.0, ge=0,
                               description="warn of >= M only from this XRS-B up")
    floor_x_wm2: float = Field(default=0.0, ge=0,
                               description="warn of >= X only from this XRS-B up")

    def hot_m(self, p_ge_m: Any, xrsb_wm2: Any) -> Any:
        """Whether the forecast warns of >= M: per minute (floats) or per row
        (arrays); a missing flux (NaN) never does."""
        return (p_ge_m >= self.p_ge_m) & (xrsb_wm2 >= self.floor_m_wm2)

    def hot_x(self, p_ge_x: Any, xrsb_wm2: Any) -> Any:
        """Whether the forecast warns of >= X, as :meth:`hot_m`."""
        return (p_ge_x >= self.p_ge_x) & (xrsb_wm2 >= self.floor_x_wm2)


class BundleInfo(BaseModel):
    """What ``bundle.json`` records about a model."""

    model_config = ConfigDict(extra="forbid")

    name: str = "flare-forecaster"
    version: str
    created_utc: datetime
    horizon_minutes: int = Field(gt=0)
    lookback_minutes: int = LOOKBACK_MINUTES
    feature_names: list[str]
    classes: list[str] = Field(default_factory=lambda: list(CLASS_LETTERS))
    thresholds: Thresholds
    estimator_sha256: str
    training: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, Any] = Field(default_factory=dict)


class Forecaster:
    """A loaded model: features in, peak-class probabilities out."""

    def __init__(self, estimator: Any, info: BundleInfo) -> None:
        self.estimator = estimator
        self.info = info
        self._columns = _class_columns(estimator)
        self._growth = estimator if isinstance(estimator, GrowthForecast) else None
        # The same probabilities, bit for bit, in about half the time.
        self._trees = CompiledTrees.of(self._growth.bins_estimator if self._growth
                                       else estimator)

    @property
    def version(self) -> str:
        return self.info.version

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Probabilities of each peak class A..X, shape ``(n, 5)``.

        Classes the estimator never saw in training get probability 0.
        """
        if self._growth is not None:
            raw = (self._trees.predict_proba(features) if self._trees is not None
                   else self._growth.bins_estimator.predict_proba(features))
            return self._growth.class_proba(raw, features)
        raw = (self._trees.predict_proba(features) if self._trees is not None
               else self.estimator.predict_proba(features))
        proba = np.zeros((features.shape[0], len(CLASS_LETTERS)))
        proba[:, self._columns] = raw
        return proba

    @staticmethod
    def p_ge_m(proba: np.ndarray) -> np.ndarray:
        """P(peak >= M1) from :meth:`predict_proba`'s result."""
        return np.asarray(proba[:, M_INDEX:].sum(axis=1))

    @staticmethod
    def p_ge_x(proba: np.ndarray) -> np.ndarray:
        """P(peak >= X1) from :meth:`predict_proba`'s result."""
        return np.asarray(proba[:, X_INDEX])


def save_bundle(directory: Path, estimator: Any, info: BundleInfo) -> BundleInfo:
    """Write a bundle; the checksum in ``info`` is replaced by the file's own."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / ESTIMATOR_FILE
    joblib.dump(estimator, path, compress=3)
    info = info.model_copy(update={"estimator_sha256": _sha256(path)})
    (directory / INFO_FILE).write_text(info.model_dump_json(indent=2) + "\n")
    return info


def load_bundle(directory: Path) -> Forecaster:
    """Load and verify a bundle written by :func:`save_bundle`."""
    info_path = directory / INFO_FILE
    path = directory / ESTIMATOR_FILE
    if not info_path.exists() or not path.exists():
        raise ModelError(f"{directory}: not a model bundle (needs {INFO_FILE} and "
                         f"{ESTIMATOR_FILE})")
    info = BundleInfo.model_validate(json.loads(info_path.read_text()))

    actual = _sha256(path)
    if actual != info.estimator_sha256:
        raise ModelError(f"{path}: checksum {actual[:12]}... does not match "
                         f"{info.estimator_sha256[:12]}... in {INFO_FILE}; "
                         "the file is corrupted or was replaced")
    if tuple(info.feature_names) != FEATURE_NAMES:
        raise ModelError(f"{directory}: model {info.version} was trained on other "
                         "features than this code computes; retrain it")
    return Forecaster(joblib.load(path), info)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _class_columns(estimator: Any) -> list[int]:
    classes = getattr(estimator, "classes_", None)
    if classes is None:
        raise ModelError("estimator is not fitted: it has no classes_")
    columns = [int(c) for c in classes]
    if any(c < 0 or c >= len(CLASS_LETTERS) for c in columns):
        raise ModelError(f"estimator classes {columns} are not class indices 0..4")
    return columns


class ModelAnnouncement(BaseModel):
    """Published on the models topic when a model is promoted; workers hot-reload it.

    ``uri`` is a bundle directory path, or an MLflow URI (``models:/name@alias``,
    ``runs:/...``) whose artifact is a bundle directory.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str
    uri: str
    estimator_sha256: str
    promoted_utc: datetime
    tracking_uri: str | None = None

    def to_bytes(self) -> bytes:
        """The Kafka value (keyed by the model name on a compacted topic)."""
        return self.model_dump_json().encode()


def resolve_bundle(uri: str, tracking_uri: str | None = None) -> Path:
    """A local directory holding the bundle that ``uri`` names."""
    if "://" not in uri and not uri.startswith(("models:/", "runs:/")):
        return Path(uri)
    import mlflow

    if tracking_uri:
        mlflow.set_tracking_uri(tracking_uri)
    return Path(mlflow.artifacts.download_artifacts(artifact_uri=uri))
