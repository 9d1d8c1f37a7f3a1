# The production image for compose.yaml: the same steps as the README's checklist.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
# Static files are part of the image; the key only signs nothing at build time.
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput
RUN useradd --system --home /app rememberly && mkdir -p /var/lib/rememberly && chown rememberly /var/lib/rememberly
USER rememberly
EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "4"]
