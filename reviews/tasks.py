"""The review queue's periodic work (scheduled by mediaanalysis/scheduler.py)."""

from django.tasks import task

from . import services


@task()
def release_expired_claims() -> int:
    return services.release_expired_claims()
