"""MLflow tracking and model registry, promotion gates and model announcements.

Each fit is one MLflow run: parameters, cross-validated metrics of the model and
both baselines, the dataset record, feature list and library versions, and the
bundle directory as the artifact ``bundle``. The run's bundle is registered as a
new version of the registered model. Promotion moves the serving alias to it only
when the gates pass, then announces it on the models topic so stream workers
hot-reload it. By default the store is an embedded SQLite file: no server needed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from flarecore.errors import FlareError
from flarecore.features import FEATURE_NAMES
from flarecore.forecast import ModelAnnouncement, load_bundle, resolve_bundle
from flarecore.settings import KafkaSettings
from trainer.dataset import Dataset, build
from trainer.metrics import skill
from trainer.settings import GateSettings, TrainerSettings
from trainer.training import TrainingResult, versions

logger = logging.getLogger(__name__)

VALIDATION_ARTIFACT = "validation/oof.npz"
"""Out-of-fold P(>=M) and warnings of the candidate: what the gates compare on."""


class RegistryError(FlareError):
    """The tracking store or registry could not do what was asked."""


class GateDecision(BaseModel):
    """Whether a candidate version was promoted, and why."""

    model_config = ConfigDict(frozen=True)

    version: str
    promoted: bool
    reasons: list[str]
    candidate_tss_m: float | None
    champion_version: str | None = None
    champion_tss_m: float | None = None
    announced: bool = False


def check_gates(candidate_tss_m: float | None, champion_tss_m: float | None,
                gates: GateSettings) -> list[str]:
    """Reasons the candidate must not be promoted (empty: it may be)."""
    reasons = []
    if candidate_tss_m is None or candidate_tss_m < gates.tss_m_floor:
        reasons.append(f"TSS(>=M) {candidate_tss_m} is below the floor "
                       f"{gates.tss_m_floor}")
    if (gates.not_worse_than_champion and champion_tss_m is not None
            and (candidate_tss_m is None
                 or candidate_tss_m < champion_tss_m - gates.tolerance)):
        reasons.append(f"TSS(>=M) {candidate_tss_m} is worse than the champion's "
                       f"{champion_tss_m:.4f} on the same validation rows")
    return reasons


class Registry:
    """The MLflow store named by the settings."""

    def __init__(self, settings: TrainerSettings) -> None:
        import mlflow

        self.settings = settings
        self.tracking_uri = absolute_tracking_uri(settings.tracking_uri)
        mlflow.set_tracking_uri(self.tracking_uri)
        self.mlflow = mlflow
        self.client = mlflow.MlflowClient(self.tracking_uri)
        self.experiment_id = self._experiment()

    # -- logging ----------------------------------------------------------------

    def log(self, result: TrainingResult) -> str:
        """Log a training run and register its bundle; returns the version."""
        info = result.info
        with self.mlflow.start_run(experiment_id=self.experiment_id,
                                   run_name=f"fit-{info.version}") as run:
            self.mlflow.log_params(_params(result))
            self.mlflow.log_metrics(flat_metrics(info.metrics["cross_validated"]))
            self.mlflow.log_dict(result.dataset.record, "dataset.json")
            self.mlflow.log_dict({"feature_names": list(FEATURE_NAMES)},
                                 "features.json")
            self.mlflow.log_dict(versions(), "versions.json")
            self.mlflow.log_dict(info.metrics, "metrics.json")
            self.mlflow.log_artifacts(str(result.bundle_dir), artifact_path="bundle")
            self._log_validation(result)
            self.mlflow.set_tags({"bundle_version": info.version,
                                  "estimator_sha256": info.estimator_sha256})
            run_id = run.info.run_id
            artifact_uri = run.info.artifact_uri
        version = self._register(run_id, f"{artifact_uri}/bundle", info.version,
                                 info.estimator_sha256)
        logger.info("model registered name=%s version=%s run=%s",
                    self.settings.registered_model, version, run_id)
        return version

    def _log_validation(self, result: TrainingResult) -> None:
        cv = result.cv
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / Path(VALIDATION_ARTIFACT).name
            np.savez_compressed(path, p_ge_m=cv.proba[:, 3:].sum(axis=1)
                                .astype(np.float32), warn_m=cv.warn_m,
                                minutes=result.dataset.minutes,
                                satellites=result.dataset.satellites)
            self.mlflow.log_artifact(str(path), Path(VALIDATION_ARTIFACT).parent.name)

    def _register(self, run_id: str, source: str, bundle_version: str,
                  sha256: str) -> str:
        name = self.settings.registered_model
        from mlflow.exceptions import MlflowException

        try:
            self.client.get_registered_model(name)
        except MlflowException:
            self.client.create_registered_model(name)
        version = self.client.create_model_version(
            name, source, run_id=run_id,
            tags={"bundle_version": bundle_version, "estimator_sha256": sha256})
        return str(version.version)

    # -- promotion ----------------------------------------------------------------

    def promote(self, version: str, result: TrainingResult | None = None
                ) -> GateDecision:
        """Gate ``version`` and, if it passes, move the serving alias and announce."""
        name, alias = self.settings.registered_model, self.settings.serving_alias
        candidate = self.client.get_model_version(name, version)
        dataset, warn_m = self._validation(candidate.run_id, result)
        candidate_tss = skill(dataset.labels >= 3, warn_m).tss
        champion_version, champion_tss = self._champion_tss(dataset, version)
        reasons = check_gates(candidate_tss, champion_tss, self.settings.gates)
        decision = GateDecision(version=version, promoted=not reasons, reasons=reasons,
                                candidate_tss_m=candidate_tss,
                                champion_version=champion_version,
                                champion_tss_m=champion_tss)
        if reasons:
            logger.warning("promotion refused name=%s version=%s reasons=%s", name,
                           version, "; ".join(reasons))
            return decision
        self.client.set_registered_model_alias(name, alias, version)
        logger.info("model promoted name=%s version=%s alias=%s tss_m=%.4f", name,
                    version, alias, candidate_tss or 0.0)
        announced = self.settings.announce and self._announce(version)
        return decision.model_copy(update={"announced": announced})

    def promote_version(self, version: str) -> GateDecision:
        """``promote`` for a version logged by an earlier process."""
        return self.promote(version)

    def _validation(self, run_id: str, result: TrainingResult | None
                    ) -> tuple[Dataset, np.ndarray]:
        """The candidate's validation rows and its out-of-fold >= M warnings."""
        if result is not None:
            return result.dataset, result.cv.warn_m
        record = json.loads(Path(self.mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path="dataset.json")).read_text())
        oof = np.load(self.mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path=VALIDATION_ARTIFACT))
        dataset = build([Path(f["path"]) for f in record["files"]],
                        int(record["horizon_minutes"]))
        if len(dataset) != oof["warn_m"].size or not np.array_equal(
                dataset.minutes, oof["minutes"]):
            raise RegistryError(f"run {run_id}: the recorded files no longer give "
                                "the rows it was validated on")
        return dataset, oof["warn_m"]

    def _champion_tss(self, dataset: Dataset, candidate: str
                      ) -> tuple[str | None, float | None]:
        """The serving version and its TSS(>=M) on the candidate's rows."""
        from mlflow.exceptions import MlflowException

        name, alias = self.settings.registered_model, self.settings.serving_alias
        try:
            champion = self.client.get_model_version_by_alias(name, alias)
        except MlflowException:
            return None, None
        if str(champion.version) == candidate:
            return candidate, None
        forecaster = load_bundle(resolve_bundle(f"models:/{name}/{champion.version}",
                                                self.tracking_uri))
        p_ge_m = forecaster.p_ge_m(forecaster.predict_proba(dataset.features))
        warn = forecaster.info.thresholds.hot_m(p_ge_m, dataset.xrsb_wm2)
        return str(champion.version), skill(dataset.labels >= 3, warn).tss

    def _announce(self, version: str) -> bool:
        """Publish the promotion on the models topic; False if Kafka failed."""
        name = self.settings.registered_model
        mv = self.client.get_model_version(name, version)
        announcement = ModelAnnouncement(
            version=str(mv.tags.get("bundle_version", version)),
            uri=f"models:/{name}/{version}",
            estimator_sha256=str(mv.tags.get("estimator_sha256", "")),
            promoted_utc=datetime.now(UTC), tracking_uri=self.tracking_uri)
        try:
            asyncio.run(announce(self.settings.kafka, self.settings.topics.models,
                                 name, announcement))
        except Exception as exc:  # any Kafka failure: the promotion itself stands
            logger.error("announcement failed topic=%s version=%s error=%s",
                         self.settings.topics.models, version, exc)
            return False
        logger.info("model announced topic=%s version=%s uri=%s",
                    self.settings.topics.models, version, announcement.uri)
        return True

    def _experiment(self) -> str:
        name = self.settings.experiment
        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return str(found.experiment_id)
        root = self.settings.artifact_root.resolve()
        root.mkdir(parents=True, exist_ok=True)
        return str(self.client.create_experiment(name, artifact_location=root.as_uri()))


async def announce(kafka: KafkaSettings, topic: str, key: str,
                   announcement: ModelAnnouncement) -> None:
    """Send one announcement, keyed by the model name (the topic is compacted)."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(**kafka.aiokafka_kwargs(), acks="all",
                                request_timeout_ms=15000)
    await asyncio.wait_for(producer.start(), timeout=20)
    try:
        await producer.send_and_wait(topic, announcement.to_bytes(), key=key.encode())
    finally:
        await producer.stop()


def absolute_tracking_uri(uri: str) -> str:
    """A SQLite tracking URI with an absolute path (its directory created), so
    stream workers in other directories find the same store."""
    prefix = "sqlite:///"
    if not uri.startswith(prefix) or uri.startswith(prefix + "/"):
        return uri
    path = Path(uri[len(prefix):]).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"{prefix}{path}"


def flat_metrics(report: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Numeric leaves of a nested report as MLflow metric names (``a.b.c``)."""
    flat: dict[str, float] = {}
    for key, value in report.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flat_metrics(value, f"{name}."))
        elif isinstance(value, bool):
            continue
        elif isinstance(value, int | float) and np.isfinite(value):
            flat[name] = float(value)
    return flat


def _params(result: TrainingResult) -> dict[str, Any]:
    info = result.info
    params = {f"model.{k}": v for k, v in info.training["params"].items()}
    params.update({"horizon_minutes": info.horizon_minutes,
                   "threshold_m": info.thresholds.p_ge_m,
                   "threshold_x": info.thresholds.p_ge_x,
                   "floor_m_wm2": info.thresholds.floor_m_wm2,
                   "floor_x_wm2": info.thresholds.floor_x_wm2,
                   "dataset.labelled_minutes": result.dataset.record[
                       "labelled_minutes"],
                   "dataset.files": len(result.dataset.record["files"])})
    return params
