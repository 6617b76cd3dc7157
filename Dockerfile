# Tickwire game server image.
#   docker build -t tickwire .
#   docker run --rm -p 8765:8765 tickwire                 # extra flags go after the image name
# Configuration: flags or TICKWIRE_* environment variables (docs/operations.md).
# tests/ops/test_dockerfile.py replays the install and entrypoint below without Docker.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --gid 10001 tickwire \
    && useradd --create-home --uid 10001 --gid 10001 --shell /usr/sbin/nologin tickwire

# Dependencies first, from pyproject.toml alone: this layer is rebuilt only when they change.
WORKDIR /src
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > requirements.txt \
    && pip install -r requirements.txt

# Then the code: the server package (with its browser page) is installed into site-packages.
COPY server ./server
COPY client_sim ./client_sim
COPY benchmarks ./benchmarks
RUN pip install --no-deps . && rm -rf build ./*.egg-info

# The working directory holds the game definitions: the default --game is
# data/games/arena.toml under it. Mount another definition and pass --game to change it.
WORKDIR /app
COPY data ./data

USER 10001:10001
EXPOSE 8765
# No curl in the slim image: ask /healthz with Python (TICKWIRE_PORT if the port was changed).
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('TICKWIRE_PORT', '8765'), timeout=2)"]
# SIGTERM (docker stop) drains: matches play on for --drain-grace-s (10 s), so give
# `docker stop` more than that, e.g. --time 15 (compose: stop_grace_period).
STOPSIGNAL SIGTERM
ENTRYPOINT ["python", "-m", "server", "--host", "0.0.0.0"]
