# The gleitzeit image: `gleitzeit worker` (default) and `gleitzeit serve` (REST API), non-root.
#
#   docker build -t gleitzeit .                                   # with an image registry
#   deploy/build_image.sh                                         # offline: base from debootstrap,
#                                                                 # Python packages from a host wheelhouse
#
# BASE_IMAGE: any Debian-like image with Python 3.11+ and `python3 -m venv` (a slim Python image, or
# gleitzeit-base:bookworm from deploy/build_base_image.sh where no registry is reachable).
# Wheels in deploy/wheels/deps (dependencies) and deploy/wheels/app (gleitzeit itself) are installed
# offline when present; when those folders are empty, pip installs from its index inside the build.
# The LLM-server extra and the `temporal` CLI are left out (Ollama and Temporal are their own services).
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# Dependencies first, in their own layer: a code change does not reinstall them.
COPY pyproject.toml deploy/image_requirements.py ./
COPY deploy/wheels/deps/ /wheels/deps/
RUN set -e; \
    python3 -m venv /opt/gleitzeit; \
    python3 image_requirements.py pyproject.toml > requirements.txt; \
    if ls /wheels/deps/*.whl >/dev/null 2>&1; then set -- --no-index --find-links /wheels/deps; fi; \
    /opt/gleitzeit/bin/pip install --no-compile "$@" -r requirements.txt
# pip and setuptools are not needed at run time, nor byte-code caches (PYTHONDONTWRITEBYTECODE).
COPY deploy/wheels/app/ /wheels/app/
COPY gleitzeit/ gleitzeit/
RUN set -e; \
    if ls /wheels/app/gleitzeit-*.whl >/dev/null 2>&1; then \
      /opt/gleitzeit/bin/pip install --no-compile --no-index --no-deps /wheels/app/gleitzeit-*.whl; \
    else \
      /opt/gleitzeit/bin/pip install --no-compile --no-deps /src; \
    fi; \
    /opt/gleitzeit/bin/pip uninstall -q -y pip setuptools 2>/dev/null || true; \
    find /opt/gleitzeit -depth -name __pycache__ -exec rm -rf {} +

FROM ${BASE_IMAGE}
ARG GLEITZEIT_UID=10001
LABEL org.opencontainers.image.title="gleitzeit" \
      org.opencontainers.image.description="Gleitzeit worker and REST API (durable LLM + Python pipelines on Temporal)"
# The user is written into passwd/group directly: minimal bases (debootstrap minbase) have no useradd.
RUN set -e; \
    echo "gleitzeit:x:${GLEITZEIT_UID}:${GLEITZEIT_UID}:gleitzeit:/home/gleitzeit:/usr/sbin/nologin" >> /etc/passwd; \
    echo "gleitzeit:x:${GLEITZEIT_UID}:" >> /etc/group; \
    install -d -o "$GLEITZEIT_UID" -g "$GLEITZEIT_UID" -m 0750 /home/gleitzeit /var/lib/gleitzeit
COPY --from=build /opt/gleitzeit /opt/gleitzeit
# Inside a container nothing is started on demand: Temporal and Ollama are services of their own.
ENV PATH=/opt/gleitzeit/bin:/usr/local/bin:/usr/bin:/bin \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LANG=C.UTF-8 \
    HOME=/home/gleitzeit \
    GLEITZEIT_DATA_DIR=/var/lib/gleitzeit \
    GLEITZEIT_AUTO_START_TEMPORAL=false \
    GLEITZEIT_AUTO_START_LLM=false
USER gleitzeit:gleitzeit
WORKDIR /home/gleitzeit
ENTRYPOINT ["gleitzeit"]
CMD ["worker"]
