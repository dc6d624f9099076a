FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY csms csms
COPY stations stations
COPY accounts accounts
COPY billing billing
COPY energy energy
COPY templates templates
COPY static static
COPY manage.py ./
RUN pip install --no-cache-dir . && DEBUG=1 python manage.py collectstatic --noinput
RUN useradd --system csms
USER csms
EXPOSE 8000
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "--websocket_timeout", "-1", "--proxy-headers", "csms.asgi:application"]
