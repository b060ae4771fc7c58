# One image for every Python service of flare warning: producers, stream_app,
# alerting, trainer, and the MLflow server (so that server and clients run the
# same mlflow). Each compose service picks its command. Built from the pinned
# constraints.txt, as `make install` does; runs as an unprivileged user.
ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml constraints.txt README.md LICENSE ./
COPY flarecore ./flarecore
COPY producers ./producers
COPY stream_app ./stream_app
COPY alerting ./alerting
COPY trainer ./trainer
COPY devstack ./devstack
# Every dependency has a binary wheel for this Python (or is pure Python), so
# the image needs no compiler.
RUN /opt/venv/bin/pip install -c constraints.txt .

FROM python:${PYTHON_VERSION}-slim
ARG UID=10001
RUN groupadd --system --gid "${UID}" flare \
 && useradd --system --uid "${UID}" --gid flare --home-dir /app \
      --shell /usr/sbin/nologin flare \
 && mkdir -p /data/stream /data/mlflow /data/trainer \
 && chown -R flare:flare /data
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# The default model bundle and the bundled demo day are read from the working
# directory (FLARE_MODEL_DIR=models/default, demo/data for the replay profile).
COPY models ./models
COPY demo ./demo
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    OMP_NUM_THREADS=1 \
    HOME=/data
USER flare
# stream_app HTTP views, producers and alerting metrics, MLflow.
EXPOSE 6066 9107 9108 5000
CMD ["python", "-m", "stream_app", "worker"]
