"""Settings shared by every process: how to reach Kafka, and the topic names.

Each process has its own settings class (in its package) that nests these. Kafka
settings read ``KAFKA_*`` variables so that one environment serves every service;
secrets are ``SecretStr`` and never logged.
"""

from __future__ import annotations

import ssl
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class KafkaSettings(BaseSettings):
    """Connection to the Kafka cluster, including TLS and SASL for secured ones."""

    model_config = SettingsConfigDict(env_prefix="KAFKA_", extra="ignore")

    bootstrap_servers: str = Field(
        default="127.0.0.1:9092", description="comma-separated host:port list"
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = (
        "PLAINTEXT"
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    client_id_prefix: str = "flare"

    def ssl_context(self) -> ssl.SSLContext | None:
        """A TLS context for the SSL protocols, else None."""
        if "SSL" not in self.security_protocol:
            return None
        context = ssl.create_default_context(cafile=self.ssl_cafile)
        if self.ssl_certfile:
            context.load_cert_chain(self.ssl_certfile, self.ssl_keyfile)
        return context

    def aiokafka_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for any aiokafka client."""
        kwargs: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.security_protocol,
        }
        context = self.ssl_context()
        if context is not None:
            kwargs["ssl_context"] = context
        if self.sasl_mechanism:
            kwargs["sasl_mechanism"] = self.sasl_mechanism
            kwargs["sasl_plain_username"] = self.sasl_username
            kwargs["sasl_plain_password"] = (
                self.sasl_password.get_secret_value() if self.sasl_password else None
            )
        return kwargs

    def faust_broker_url(self) -> str:
        """The broker URL in faust's ``kafka://host:port;host:port`` form."""
        hosts = [h.strip() for h in self.bootstrap_servers.split(",") if h.strip()]
        return ";".join(f"kafka://{h}" for h in hosts)

    def faust_credentials(self) -> Any:
        """faust ``broker_credentials`` for SASL or TLS, or None for PLAINTEXT."""
        import faust

        context = self.ssl_context()
        if self.sasl_mechanism:
            password = (self.sasl_password.get_secret_value()
                        if self.sasl_password else "")
            return faust.SASLCredentials(
                username=self.sasl_username or "", password=password,
                ssl_context=context, mechanism=self.sasl_mechanism,
            )
        if context is not None:
            return faust.SSLCredentials(context)
        return None


class TopicSettings(BaseSettings):
    """Topic names and partition counts (``FLARE_TOPIC_*``)."""

    model_config = SettingsConfigDict(env_prefix="FLARE_TOPIC_", extra="ignore")

    records: str = "goes.xrs.1m"
    records_partitions: int = Field(default=4, ge=1)
    quarantine: str = "goes.xrs.quarantine"
    alerts: str = "flare.alerts"
    alerts_partitions: int = Field(default=1, ge=1)
    alerts_deadletter: str = "flare.alerts.deadletter"
    models: str = "flare.models"
