"""The periodic jobs: offline detection and journal retention, and their schedule in the database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from stations.models import Frame
from stations.tasks import frames_prune_task, station_mark_offline_overdue_task
from tests.factories import StationFactory

pytestmark = pytest.mark.django_db


def test_chargers_silent_past_interval_plus_grace_are_marked_offline(settings):
    settings.CSMS_HEARTBEAT_INTERVAL_S, settings.CSMS_HEARTBEAT_GRACE_S = 300, 120
    now = timezone.now()
    silent = StationFactory(is_online=True, last_seen_at=now - timedelta(seconds=421))
    within_grace = StationFactory(is_online=True, last_seen_at=now - timedelta(seconds=419))
    own_interval = StationFactory(
        is_online=True, heartbeat_interval_s=900, last_seen_at=now - timedelta(seconds=600)
    )
    assert station_mark_offline_overdue_task.delay().get() == 1
    silent.refresh_from_db(), within_grace.refresh_from_db(), own_interval.refresh_from_db()
    assert (silent.is_online, within_grace.is_online, own_interval.is_online) == (False, True, True)


def test_frames_past_retention_are_pruned_and_newer_ones_kept(settings):
    settings.CSMS_JOURNAL_RETENTION_DAYS = 7
    now = timezone.now()
    Frame.objects.bulk_create(
        Frame(identity="CP", direction="in", text="[]", created_at=now - timedelta(days=days))
        for days in (1, 6, 8, 30)
    )
    assert frames_prune_task.delay().get() == 2
    assert Frame.objects.count() == 2


@pytest.mark.usefixtures("periodic_jobs")
def test_the_jobs_are_scheduled_in_the_database_where_staff_can_edit_them():
    tasks = dict(PeriodicTask.objects.values_list("task", "interval__every"))
    assert tasks["stations.tasks.station_mark_offline_overdue_task"] == 60
    assert tasks["stations.tasks.frames_prune_task"] == 3600
