"""A bare faust agent over the records topic: the faust ceiling for the worker.

Same topic, batches and group settings as the stream worker, but the agent only
counts the events of each batch (no decode, no engine, no tables, no sends).
``GET /count`` answers ``{"events": n}``. Run by ``bench/throughput.py``::

    BARE_APP_ID=... BARE_TOPIC=... BARE_WEB_PORT=... python bench/faust_bare.py worker
"""

from __future__ import annotations

import os

import faust
from faust.web import Request, Response, View

app = faust.App(
    os.environ["BARE_APP_ID"],
    broker=f"kafka://{os.environ.get('KAFKA_BOOTSTRAP_SERVERS', '127.0.0.1:9092')}",
    store="memory://",
    datadir=os.environ.get("BARE_DATA_DIR", "/tmp/faust-bare"),
    web_bind="127.0.0.1",
    web_host="127.0.0.1",
    web_port=int(os.environ["BARE_WEB_PORT"]),
    topic_partitions=int(os.environ.get("BARE_PARTITIONS", "4")),
    broker_session_timeout=6.0,
    broker_heartbeat_interval=1.0,
    broker_rebalance_timeout=10.0,
    consumer_auto_offset_reset="earliest",
)
records = app.topic(os.environ["BARE_TOPIC"], key_serializer="raw",
                    value_serializer="raw",
                    partitions=int(os.environ.get("BARE_PARTITIONS", "4")))
BATCH_SIZE = int(os.environ.get("BARE_BATCH_SIZE", "500"))
seen = {"events": 0}


@app.agent(records)
async def count(stream: faust.StreamT[bytes]) -> None:
    """Count the events of each batch, as the worker's agent batches them."""
    async for events in stream.take_events(BATCH_SIZE, within=0.5):
        seen["events"] += len(events)


@app.page("/count")
class Count(View):
    """How many events the agent has seen."""

    async def get(self, request: Request) -> Response:
        return self.json(seen)


if __name__ == "__main__":
    app.main()
