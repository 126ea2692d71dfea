# A minimal production image for `dashboard serve`. Not built in the development
# environment (no container runtime there): see docs/production.md.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

COPY pyproject.toml README.md ./
COPY requirements/ requirements/
COPY dashboard/ dashboard/
COPY alembic/ alembic/
COPY alembic.ini ./
COPY templates/ templates/
COPY static/ static/

# The package finds templates, static files and migrations beside itself, so
# install it in place (editable) rather than copying it into site-packages.
RUN pip install -c requirements/constraints.txt -e . \
    && useradd --create-home --uid 10001 dashboard

USER dashboard

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD python -c "import urllib.request, sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"

CMD ["dashboard", "serve", "--host", "0.0.0.0", "--port", "8000"]
