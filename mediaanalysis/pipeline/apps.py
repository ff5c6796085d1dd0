from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_search_index(using="default", **kwargs):
    from django.db import connections

    from .search import ensure_sqlite_index

    ensure_sqlite_index(connections[using])


class PipelineConfig(AppConfig):
    """The pipeline's domain. Its label stays `mediaanalysis`, so that migrations, content
    types, permissions and admin URLs are those the tables have always had."""

    name = "mediaanalysis.pipeline"
    label = "mediaanalysis"
    verbose_name = "Media analysis"

    def ready(self):
        # SQLite rebuilds a table to alter it, which drops its triggers: after every migrate,
        # the FTS5 table and its triggers are made again where they went missing.
        post_migrate.connect(_ensure_search_index, sender=self)
