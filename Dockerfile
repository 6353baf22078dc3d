FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 INFERSCOPE_DATA_DIR=/data
WORKDIR /app
COPY pyproject.toml README.md ./
COPY inferscope inferscope
COPY collectors collectors
COPY costs costs
COPY dashboard dashboard
COPY anomaly anomaly
COPY alerts alerts
COPY profiling profiling
COPY recommendations recommendations
COPY api api
COPY templates templates
COPY static static
COPY manage.py ./
RUN pip install --no-cache-dir ".[agent]" \
    && SECRET_KEY=build-only python manage.py collectstatic --no-input --verbosity 0
RUN useradd --system --home /app inferscope && mkdir -p /data && chown -R inferscope /data
USER inferscope
EXPOSE 8000
CMD ["inferscope", "web"]
