# syncd container image: `docker build -t syncd .`
#
# Two stages: the builder installs syncd and its dependencies into a venv, the final
# image gets only that venv on a slim Python base, and runs as an unprivileged user.
# Mount the configuration at /etc/syncd (syncd.yaml, the API key file) and keep
# /var/lib/syncd (locks, run state, write journal) on a volume.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv /opt/syncd
COPY pyproject.toml README.md constraints.txt ./
COPY syncd ./syncd
COPY syncd_emulator ./syncd_emulator
# The extras baked into the image: PostgreSQL for replicas (deploy/kubernetes/agency.yaml)
# and the faster JSON decoder. Add xlsx, sftp or s3 for those sources:
# docker build --build-arg SYNCD_EXTRAS=postgres,fast,xlsx .
ARG SYNCD_EXTRAS=postgres,fast
# Every dependency at the version the lock pins (constraints.txt), as the tests ran it.
RUN /opt/syncd/bin/pip install --no-compile -c constraints.txt ".[${SYNCD_EXTRAS}]" \
    && /opt/syncd/bin/python -m compileall -q /opt/syncd/lib

FROM ${PYTHON_IMAGE}
# A fixed uid, so volume ownership and Kubernetes' runAsUser can name it.
RUN groupadd --system --gid 10001 syncd \
    && useradd --system --uid 10001 --gid syncd --home-dir /var/lib/syncd \
       --shell /usr/sbin/nologin syncd \
    && mkdir -p /etc/syncd /var/lib/syncd \
    && chown syncd:syncd /var/lib/syncd \
    && chmod 0700 /var/lib/syncd
COPY --from=builder /opt/syncd /opt/syncd
# SYNCD_HTTP_LISTEN overrides http.listen: inside a container the endpoint must listen
# on all interfaces to be reachable through a published port or a pod IP.
ENV PATH=/opt/syncd/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SYNCD_STATE_DIR=/var/lib/syncd \
    SYNCD_HTTP_LISTEN=0.0.0.0:9108
USER 10001:10001
WORKDIR /var/lib/syncd
VOLUME ["/etc/syncd", "/var/lib/syncd"]
EXPOSE 9108
# `docker stop` sends SIGTERM: syncd lets writes in flight finish within
# shutdown_grace_seconds (20 s by default), so stop with a longer timeout:
# `docker stop -t 30` (compose: stop_grace_period: 30s).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["syncd", "healthcheck"]
ENTRYPOINT ["syncd"]
CMD ["run", "--config", "/etc/syncd/syncd.yaml"]
