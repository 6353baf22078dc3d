# Two stages: the first builds Inferscope's wheel from the tree (.dockerignore keeps
# out what is not the project's); the second installs the locked dependencies and that
# wheel, the same package `pip install` gives a user, so no file list can drift.
FROM python:3.12-slim AS build
WORKDIR /src
COPY . .
RUN pip install --no-cache-dir --require-hashes --no-deps -r requirements/agent.txt \
    && pip wheel --no-deps --no-build-isolation --wheel-dir /dist .

FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 INFERSCOPE_DATA_DIR=/data
COPY --from=build /src/requirements/agent.txt /tmp/agent.txt
COPY --from=build /dist /tmp/dist
RUN pip install --no-cache-dir --require-hashes --no-deps -r /tmp/agent.txt \
    && pip install --no-cache-dir --no-deps /tmp/dist/*.whl \
    && pip check \
    && rm -rf /tmp/agent.txt /tmp/dist \
    && SECRET_KEY=build-only DJANGO_SETTINGS_MODULE=inferscope.settings \
        python -m django collectstatic --no-input --verbosity 0
RUN useradd --system --home /app inferscope && mkdir -p /data && chown -R inferscope /data
USER inferscope
WORKDIR /app
EXPOSE 8000
CMD ["inferscope", "web"]
