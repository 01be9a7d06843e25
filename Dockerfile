# cait worker image: `docker compose up` runs PostgreSQL, a one-shot `cait init`, and workers.
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 CAIT_DATA_DIR=/data
COPY pyproject.toml README.md alembic.ini config.py pipeline.py worker.py ./
COPY alembic ./alembic
COPY cli ./cli
COPY common ./common
COPY collectors ./collectors
COPY classify ./classify
COPY db ./db
COPY reports ./reports
COPY web ./web
# `cait demo` serves the hand-labelled dev set (bench/data) as its snapshot's feed
COPY bench/data/dev.jsonl ./bench/data/dev.jsonl
RUN pip install --no-cache-dir -e '.[postgres]'
VOLUME /data
CMD ["cait", "run"]
