"""The Celery application.

Without ``CELERY_BROKER_URL`` the settings switch Celery to eager mode, so the
demo and the test suite run every task in-process.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prm.settings")

app = Celery("prm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
