"""Settings of ``python -m trainer`` (``FLARE_TRAINER_*``, nested with ``__``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from flarecore.settings import KafkaSettings, TopicSettings
from trainer.sets import DEFAULT_DATA_ROOT

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL_DIR = REPO_ROOT / "models" / "default"


class GateSettings(BaseModel):
    """When a newly trained model may replace the serving one."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tss_m_floor: float = Field(
        default=0.05, ge=-1, le=1,
        description="minimum out-of-fold TSS(>=M) at the model's own threshold")
    not_worse_than_champion: bool = Field(
        default=True, description="the candidate's TSS(>=M) must be at least the "
        "champion's on the candidate's validation rows")
    tolerance: float = Field(default=0.0, ge=0, description="allowed TSS shortfall")


class FetchSettings(BaseModel):
    """What the scheduled run tries to download before training."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    product: str = "goesr-avg1m"
    satellite: int = 18
    days: int = Field(default=2, ge=1, description="the last N days")
    cache_dir: Path = Path("data/ncei-cache")
    timeout_s: float = Field(default=600, gt=0)


class TrainerSettings(BaseSettings):
    """Everything ``python -m trainer`` needs."""

    model_config = SettingsConfigDict(env_prefix="FLARE_TRAINER_",
                                      env_nested_delimiter="__", extra="ignore")

    data_root: Path = Field(default=DEFAULT_DATA_ROOT,
                            description="the shared real archive (../shared/data)")
    horizon_minutes: int = Field(default=30, gt=0)
    random_state: int = 0
    threads: int = Field(
        default=1, ge=1,
        description="OpenMP threads of the boosting; on a shared 2-core machine "
        "two spinning threads fit ~4x slower than one (bench/trainer.py)")
    work_dir: Path = Field(default=Path("runs/trainer"),
                           description="where fit writes bundles and reports")
    tracking_uri: str = Field(
        default="sqlite:///mlflow/mlflow.db",
        description="MLflow tracking store; embedded SQLite needs no server")
    artifact_root: Path = Field(default=Path("mlflow/artifacts"),
                                description="artifact store of a new experiment")
    experiment: str = "flare-forecaster"
    registered_model: str = "flare-forecaster"
    serving_alias: str = "champion"
    schedule_hours: float = Field(default=12.0, gt=0)
    gates: GateSettings = Field(default_factory=GateSettings)
    fetch: FetchSettings = Field(default_factory=FetchSettings)
    announce: bool = Field(default=True,
                           description="publish a ModelAnnouncement on promotion")
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    topics: TopicSettings = Field(default_factory=TopicSettings)
