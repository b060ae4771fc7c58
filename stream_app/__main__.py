"""``python -m stream_app worker``: the faust command line for this app."""

from __future__ import annotations

import logging
import os

# Model inference runs one batch at a time; OpenMP threads spinning on a shared
# machine cost more than they give (measured: 70 ms vs 1 ms per small batch).
os.environ.setdefault("OMP_NUM_THREADS", "1")

from flarecore import logs
from stream_app.app import app, settings

logger = logging.getLogger("stream_app")


def main() -> None:
    """Configure logging once, then hand over to faust's CLI."""
    logs.configure(settings.log_level)
    # SecretStr fields dump as "**********".
    logger.info("stream worker settings=%s", settings.model_dump_json())
    # faust creates its data directory, but not the parents of it.
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app.main()


if __name__ == "__main__":
    main()
