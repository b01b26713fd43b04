# dropsync: one image for the API, the worker and the one-shot migration.
FROM python:3.12-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY core ./core
COPY schema ./schema
COPY clients ./clients
COPY service ./service
COPY workers ./workers
COPY simulator ./simulator
RUN pip install . && useradd --create-home --uid 10001 dropsync && mkdir /data && chown dropsync /data

USER dropsync
ENV DROPSYNC_HOST=0.0.0.0 \
    DROPSYNC_DATA_DIR=/data \
    DROPSYNC_LOG_FORMAT=json
EXPOSE 8000
CMD ["dropsync", "serve"]
