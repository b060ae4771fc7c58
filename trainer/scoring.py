"""Scoring a saved model (and both baselines) on archive files it did not train on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flarecore.forecast import load_bundle, resolve_bundle
from trainer.baselines import RiseRateRule
from trainer.dataset import build
from trainer.evaluation import compare


def evaluate_bundle(model: str, paths: list[Path], horizon_minutes: int,
                    tracking_uri: str | None = None) -> dict[str, Any]:
    """Minute and event metrics (minute-level warning simulation) of a bundle.

    The rise-rate rule is the one tuned with the model on its training data.
    Brier skill is against the base rate of the files scored.
    """
    forecaster = load_bundle(resolve_bundle(model, tracking_uri))
    dataset = build(paths, horizon_minutes)
    proba = forecaster.predict_proba(dataset.features)
    thresholds = forecaster.info.thresholds
    warn_m = forecaster.p_ge_m(proba) >= thresholds.p_ge_m
    warn_x = forecaster.p_ge_x(proba) >= thresholds.p_ge_x
    rule = RiseRateRule(**forecaster.info.training.get("rise_rate_rule", {}))
    report = compare(dataset, proba, warn_m, warn_x, rule.warn(dataset))
    report["model_version"] = forecaster.version
    report["dataset"] = dataset.record
    return report
