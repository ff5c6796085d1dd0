from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard"

    def ready(self):
        from . import aggregates  # noqa: F401 - registers SQLite's PERCENTILE_CONT on each connection
