"""Development stack: a local Apache Kafka broker and the one-command local run."""
