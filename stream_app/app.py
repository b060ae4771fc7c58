"""The faust app of the stream worker (and nothing else)."""

from __future__ import annotations

import faust

from stream_app.settings import StreamSettings

settings = StreamSettings()

app = faust.App(
    settings.app_id,
    broker=settings.kafka.faust_broker_url(),
    broker_credentials=settings.kafka.faust_credentials(),
    # Tables are small (a lookback per satellite); the changelog restores them.
    store="memory://",
    datadir=str(settings.data_dir),
    web_bind=settings.web_bind,
    web_host=settings.web_bind,
    web_port=settings.web_port,
    # Where the partition assignor tells the other workers this one answers.
    canonical_url=settings.advertised_url,
    topic_partitions=settings.topics.records_partitions,
    broker_session_timeout=settings.broker_session_timeout_s,
    broker_heartbeat_interval=settings.broker_heartbeat_interval_s,
    broker_rebalance_timeout=settings.broker_rebalance_timeout_s,
    consumer_auto_offset_reset="earliest",
    autodiscover=["stream_app.tables", "stream_app.agents", "stream_app.views"],
    origin="stream_app",
)
