# incidentbot image: one process serving /slack/events, /healthz, /metrics and the webhooks on :3000.
#   docker build -t incidentbot .
#   docker run -d -p 3000:3000 -v incidentbot-data:/data --env-file .env incidentbot
# Config: mount your incidentbot.yml at /app/incidentbot.yml (or set INCIDENTBOT_CONFIG); without one the
# built-in defaults apply. Templates ship inside the wheel (bot/_templates); set templates_dir in the
# config to a mounted directory to override them. The schema is migrated at start
# (INCIDENTBOT_AUTO_MIGRATE). For PostgreSQL set INCIDENTBOT_DATABASE_URL=postgresql+asyncpg://...

# ---- build: the project's wheel, installed with its dependencies into a self-contained venv ------
FROM python:3.11-slim AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
# hatchling reads README.md (the `readme` field); templates/ is force-included as bot/_templates.
# The check runs isolated (-I) so it imports the installed package, not ./bot.
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY commands ./commands
COPY templates ./templates
RUN pip wheel --wheel-dir /wheels . \
    && python -m venv /opt/incidentbot \
    && /opt/incidentbot/bin/pip install --no-index --find-links /wheels incidentbot \
    && /opt/incidentbot/bin/python -I -c "import pathlib, bot; assert any((pathlib.Path(bot.__file__).parent / '_templates').glob('*.j2')), 'templates missing from the wheel'"

# ---- runtime: python + the venv, nothing else ----------------------------------------------------
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/incidentbot/bin:$PATH

# Same base image, so the venv's interpreter links (/usr/local/bin/python3.11) stay valid.
COPY --from=builder /opt/incidentbot /opt/incidentbot

# tini as PID 1 reaps the orphans a runbook command may leave behind, and forwards SIGTERM to the bot.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 incidentbot \
    && useradd --system --uid 10001 --gid incidentbot --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin incidentbot \
    && mkdir -p /app /data \
    && chown incidentbot:incidentbot /app /data

WORKDIR /app
# INCIDENTBOT_SANDBOX=off: without SLACK_BOT_TOKEN `serve` stops with the variables to set, instead of
# starting the local sandbox (loopback only, so unreachable here, yet its /healthz would say healthy).
ENV INCIDENTBOT_DATABASE_URL=sqlite+aiosqlite:////data/incidentbot.db \
    INCIDENTBOT_AUTO_MIGRATE=true \
    INCIDENTBOT_SANDBOX=off
# Declared after the chown, so a fresh named volume starts out owned by incidentbot.
VOLUME /data
USER incidentbot
EXPOSE 3000

# No curl in slim: python's urllib. urlopen raises on 4xx/5xx (503 = unhealthy), so those exit non-zero.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; r = urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('INCIDENTBOT_PORT', '3000'), timeout=4); sys.exit(0 if 200 <= r.status < 300 else 1)"]

ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["incidentbot", "serve"]
