# The outpack server image: serves the outpack root mounted at /outpack on
# port 8000, like the reference server's image (mrcide/outpack_server).
#
#   docker build -t outpack-server .
#   docker run --name outpack_server -v /full/path/to/root:/outpack -p 8000:8000 -d outpack-server
#
# Arguments after the image name are passed to `outpack start-server`, e.g.
# `... outpack-server --workers 4`. As the reference image does, it waits
# (up to 30 s) for /outpack/.outpack/config.json to appear, for set-ups where
# another container creates the root. `docker stop` sends SIGTERM, on which
# the server stops promptly. See docs/server.md.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /build
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install . && rm -rf /build

WORKDIR /
EXPOSE 8000
VOLUME /outpack
STOPSIGNAL SIGTERM

# `exec` hands the process over to the server, so signals reach it directly.
ENTRYPOINT ["/bin/sh", "-c", "for attempt in 1 2 3 4 5 6 7 8 9 10; do [ -f /outpack/.outpack/config.json ] && break; echo \"Waiting for an outpack root at /outpack ($attempt/10)\"; sleep 3; done; exec outpack start-server --root /outpack --listen 0.0.0.0:8000 \"$@\"", "outpack"]
