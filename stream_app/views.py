"""HTTP views on faust's web server: health, readiness, model, predict, metrics,
and the table views (current state, active flares, recent alerts)."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from faust.web import Request, Response, View
from pydantic import ValidationError

from flarecore.classes import flare_class
from flarecore.records import minute_to_datetime
from stream_app.app import app, settings
from stream_app.predict import PredictRequest, predict
from stream_app.tables import current, engines, metrics, model, recent_alerts

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4"
MAX_PAGE = 500
PEER_TIMEOUT_S = 2.0
"""How long a table view waits for another worker's part."""

logger = logging.getLogger(__name__)


@app.page("/health")
class Health(View):
    """Liveness: the worker's event loop answers."""

    async def get(self, request: Request) -> Response:
        return self.json({"status": "ok", "app_id": settings.app_id})


@app.page("/ready")
class Ready(View):
    """Readiness: a model loaded, partitions assigned, data recently processed."""

    async def get(self, request: Request) -> Response:
        last = metrics.last_processed_s
        checks = {
            "model_loaded": model.forecaster is not None,
            "partitions_assigned": bool(app.consumer.assignment()),
            "data_fresh": last is not None
            and time.time() - last <= settings.fresh_within_s,
        }
        ready = all(checks.values())
        body = {
            "ready": ready, "checks": checks, "model_version": model.version,
            "last_processed_utc": _iso(last),
            "assigned": sorted(f"{tp.topic}[{tp.partition}]"
                               for tp in app.consumer.assignment()),
        }
        return self.json(body, status=200 if ready else 503)


@app.page("/model-info")
class ModelInfo(View):
    """The model being served."""

    async def get(self, request: Request) -> Response:
        return self.json(model.info())


@app.page("/predict")
class Predict(View):
    """Class probabilities for posted XRS histories (JSON, see the docs)."""

    async def post(self, request: Request) -> Response:
        raw = await _read_limited(request, settings.predict_max_body_bytes)
        if raw is None:
            return _problem(self, 413, f"body larger than "
                            f"{settings.predict_max_body_bytes} bytes")
        try:
            body = PredictRequest.model_validate_json(raw)
        except ValidationError as exc:
            return _problem(self, 422, "invalid request body",
                            exc.errors(include_url=False, include_context=False))
        too_large = body.too_large(settings.predict_max_histories,
                                   settings.predict_max_minutes)
        if too_large:
            return _problem(self, 413, too_large)
        forecaster = model.forecaster
        if forecaster is None:
            return _problem(self, 503, "no model loaded yet")
        return self.json({"predictions": predict(forecaster, body)})


@app.page("/metrics")
class Metrics(View):
    """Prometheus text exposition."""

    async def get(self, request: Request) -> Response:
        return self.bytes(metrics.render(), content_type=PROMETHEUS_CONTENT_TYPE)


@app.page("/state")
class State(View):
    """The latest minute of each satellite, from every worker holding some.

    Tables are partitioned: each worker holds its partitions' satellites and
    asks the others (``?scope=local`` answers with its own only).
    """

    async def get(self, request: Request) -> Response:
        local = dict(current.items())
        if request.query.get("scope") == "local":
            return self.json({"satellites": dict(sorted(local.items()))})
        gathered = await _gather("/state", "current")
        satellites = dict(local)
        for body in gathered.bodies:
            satellites.update(body.get("satellites") or {})
        return self.json({"satellites": dict(sorted(satellites.items())),
                          **gathered.sources()})


@app.page("/flares")
class Flares(View):
    """Flares in progress, per satellite, from every worker holding some."""

    async def get(self, request: Request) -> Response:
        active = []
        for _key, state in sorted(engines.items()):
            flare = (state.get("tracker") or {}).get("active")
            if flare:
                active.append(_flare_view(flare))
        if request.query.get("scope") == "local":
            return self.json({"active": active})
        gathered = await _gather("/flares", "engines")
        for body in gathered.bodies:
            active += body.get("active") or []
        active.sort(key=lambda flare: (flare["satellite"], flare["start_utc"]))
        return self.json({"active": active, **gathered.sources()})


@app.page("/alerts")
class Alerts(View):
    """Recent published alerts, newest first: ``?offset=0&limit=50``.

    They live in the one-partition ``dedup`` table: a worker without it
    forwards the request to the worker holding it.
    """

    async def get(self, request: Request) -> Response:
        try:
            offset = int(request.query.get("offset", "0"))
            limit = int(request.query.get("limit", "50"))
        except ValueError:
            return _problem(self, 400, "offset and limit must be integers")
        if offset < 0 or not 1 <= limit <= MAX_PAGE:
            return _problem(self, 400, f"need offset >= 0 and 1 <= limit <= {MAX_PAGE}")
        owner = _owner("dedup")
        if owner is not None and request.query.get("scope") != "local":
            return await _forwarded(self, owner, "/alerts",
                                    {"offset": offset, "limit": limit})
        recent = recent_alerts()
        return self.json({"total": len(recent), "offset": offset, "limit": limit,
                          "alerts": recent[offset:offset + limit]})


def _owner(table: str) -> str | None:
    """The other worker holding ``table``'s partitions, None if it is this one."""
    own = settings.advertised_url
    for url, topics in app.router.table_metadata(table).items():
        if any(topics.values()) and url.rstrip("/") != own:
            return url.rstrip("/")
    return None


async def _forwarded(view: View, owner: str, path: str,
                     params: dict[str, Any]) -> Response:
    try:
        async with httpx.AsyncClient(timeout=PEER_TIMEOUT_S) as client:
            reply = await client.get(f"{owner}{path}",
                                     params={**params, "scope": "local"})
    except httpx.HTTPError as exc:
        logger.warning("worker view unreachable peer=%s path=%s error=%r", owner,
                       path, exc)
        return _problem(view, 502, f"the worker holding this view ({owner}) does "
                        "not answer")
    return view.json(reply.json(), status=reply.status_code)


@dataclass
class _Gathered:
    """The other workers' local answers to one view."""

    bodies: list[dict[str, Any]] = field(default_factory=list)
    answered: list[str] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)

    def sources(self) -> dict[str, list[str]]:
        return {"workers": sorted([settings.advertised_url, *self.answered]),
                "unreachable": sorted(self.unreachable)}


async def _gather(path: str, table: str) -> _Gathered:
    """``path?scope=local`` from every other worker holding ``table`` partitions.

    A worker that does not answer within ``PEER_TIMEOUT_S`` is named under
    ``unreachable``: the view says what it could not see.
    """
    own = settings.advertised_url
    peers = sorted(url.rstrip("/") for url in app.router.table_metadata(table)
                   if url.rstrip("/") != own)
    gathered = _Gathered()
    if not peers:
        return gathered
    async with httpx.AsyncClient(timeout=PEER_TIMEOUT_S) as client:
        replies = await asyncio.gather(
            *(client.get(f"{peer}{path}", params={"scope": "local"})
              for peer in peers), return_exceptions=True)
    for peer, reply in zip(peers, replies, strict=True):
        if isinstance(reply, httpx.Response) and reply.status_code == 200:
            gathered.bodies.append(reply.json())
            gathered.answered.append(peer)
        else:
            logger.warning("worker view unreachable peer=%s path=%s error=%r", peer,
                           path, reply)
            gathered.unreachable.append(peer)
    return gathered


async def _read_limited(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it exceeds ``limit`` bytes."""
    declared = request.headers.get("Content-Length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    while chunk := await request.content.read(65536):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _problem(view: View, status: int, detail: str,
             errors: list[Any] | None = None) -> Response:
    body: dict[str, Any] = {"status": status, "detail": detail}
    if errors is not None:
        body["errors"] = errors
    return view.json(body, status=status)


def _flare_view(flare: dict[str, Any]) -> dict[str, Any]:
    return {
        "flare_id": flare["flare_id"], "satellite": flare["satellite"],
        "start_utc": minute_to_datetime(flare["start_minute"]).isoformat(),
        "start_flux_wm2": flare["start_flux_wm2"],
        "peak_utc": minute_to_datetime(flare["peak_minute"]).isoformat(),
        "peak_flux_wm2": flare["peak_flux_wm2"],
        "peak_class": flare_class(flare["peak_flux_wm2"]),
        "peak_confirmed": flare["peak_confirmed"],
        "how_started": flare["how_started"],
    }


def _iso(seconds: float | None) -> str | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC).isoformat()
