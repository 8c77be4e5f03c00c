# The reviewer HTTP service.
#   docker build -t reviewer .
#   docker run -p 8080:8080 -e REVIEWER_API_KEYS=key1,key2 reviewer
# Keys come from the environment only. Without REVIEWER_API_KEYS the server refuses
# to listen on 0.0.0.0 and the container exits (code 2) instead of serving open.
# A model is optional: -e REVIEWER_MODEL=... -e REVIEWER_API_BASE=... (else the rules engine).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY reviewer ./reviewer
COPY prompts ./prompts
RUN pip install . && rm -rf /src

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin reviewer
USER reviewer
WORKDIR /home/reviewer

EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
CMD ["reviewer", "serve", "--host", "0.0.0.0", "--port", "8080"]
