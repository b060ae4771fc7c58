"""A minimal faust app for the broker-chain test: an agent counting into a table."""

from __future__ import annotations

import json
import os

import faust

app = faust.App(
    os.environ.get("PROBE_APP_ID", "probe"),
    broker=f"kafka://{os.environ.get('KAFKA_BOOTSTRAP_SERVERS', '127.0.0.1:9092')}",
    store="memory://",
    datadir=os.environ.get("PROBE_DATA_DIR", "/tmp/faust-probe"),
    web_bind="127.0.0.1",
    web_port=int(os.environ.get("PROBE_WEB_PORT", "6066")),
    topic_partitions=1,
    # Short group timings: the defaults make a restarted worker wait minutes.
    broker_session_timeout=6.0,
    broker_heartbeat_interval=1.0,
    broker_rebalance_timeout=10.0,
    consumer_auto_offset_reset="earliest",
)
source = app.topic(os.environ.get("PROBE_SOURCE", "words"), value_serializer="raw")
sink = app.topic(os.environ.get("PROBE_SINK", "counts"), value_serializer="raw")
counts = app.Table("counts", default=int, partitions=1)


@app.agent(source)
async def count(words: faust.StreamT[bytes]) -> None:
    """Count each word and publish the running count."""
    async for word in words:
        text = word.decode()
        counts[text] += 1
        await sink.send(value=json.dumps({"word": text, "count": counts[text]}))
