# syntax=docker/dockerfile:1
# The exporter in a slim Python 3.11 runtime: the build stage installs the package and its
# dependencies into a virtual environment, the final stage copies only that environment.
#   docker build -t ml-monitoring-exporter \
#     --build-arg VERSION="$(python3 -c 'import exporter; print(exporter.__version__)')" \
#     --build-arg REVISION="$(git rev-parse HEAD)" --build-arg BUILD_DATE="$(date -u +%FT%TZ)" .
#   docker run -v "$PWD/config.yaml:/etc/ml-monitoring-exporter/config.yaml:ro" -p 10135:10135 ml-monitoring-exporter
# Without a Docker engine, buildah builds the same file (docs/operations.md, "The container image").

# The base, pinned by digest: the multi-platform index of python:3.11-slim-bookworm (Python 3.11.16
# on Debian 12) as the official images' repo-info recorded it for the build of 2026-09-19; taken
# from that public record, not pulled here. Move it on deliberately (docs/operations.md); pass
# --build-arg BASE=... to build from another base, such as a locally made one.
ARG BASE=python:3.11-slim-bookworm@sha256:a36c24f9cbdf4fd0f52d67f0823eeac19c2028c637cecc392d97f980d4fec56b

FROM ${BASE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY exporter/ exporter/
# The install step (tests/test_image.py runs it into a fresh virtual environment); web-auth
# brings bcrypt, for basic auth in --web.config.file.
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir '.[web-auth]' \
    && /opt/venv/bin/pip uninstall --yes pip setuptools

FROM ${BASE}
LABEL org.opencontainers.image.title="ml-monitoring-exporter" \
      org.opencontainers.image.description="Prometheus exporter for drift, data quality and performance of ML models" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/ml-monitoring-exporter/ml-monitoring-exporter"
# A numeric, non-root user: Kubernetes can check runAsNonRoot without resolving a name.
RUN groupadd --system --gid 10135 mlmon \
    && useradd --system --uid 10135 --gid 10135 --no-create-home --shell /usr/sbin/nologin mlmon
COPY --from=build /opt/venv /opt/venv
# The package version (exporter/__init__.py), the source revision and the build date: the OCI
# labels carry them; mlmon_build_info{revision} and `--version` print the last two.
ARG VERSION=unknown
ARG REVISION=unknown
ARG BUILD_DATE=""
LABEL org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${BUILD_DATE}"
ENV MLMON_REVISION="${REVISION}" \
    MLMON_BUILD_DATE="${BUILD_DATE}"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10135:10135
EXPOSE 10135
# The Helm chart mounts its ConfigMap's config.yaml at this path.
ENTRYPOINT ["ml-monitoring-exporter", "run", "--config.file=/etc/ml-monitoring-exporter/config.yaml"]
CMD ["--web.listen-address=:10135", "--log.format=json"]
