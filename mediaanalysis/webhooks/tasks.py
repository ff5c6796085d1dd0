"""The webhooks' background tasks (django.tasks: any backend runs them)."""

from django.tasks import task

from . import services

# Deliveries go before the periodic work when both wait.
DELIVERY_PRIORITY = 10


@task(priority=DELIVERY_PRIORITY)
def dispatch(event_ids: list[int]) -> int:
    return services.dispatch(event_ids)


@task(priority=DELIVERY_PRIORITY)
def deliver(delivery_id: int, manual: bool = False) -> str:
    return services.attempt(delivery_id, manual=manual)


@task()
def sweep() -> dict:
    return services.sweep()
