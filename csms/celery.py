"""Celery application. Periodic jobs are rows of django-celery-beat (created by a data migration in
stations), so staff can change or pause them in the admin; the worker runs them with
`celery -A csms worker -B` (one beat only) or a separate `celery -A csms beat`."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csms.settings")

app = Celery("csms")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
