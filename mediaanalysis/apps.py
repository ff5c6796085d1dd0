from django.apps import AppConfig
from django.db.models.signals import post_migrate


class MediaAnalysisConfig(AppConfig):
    name = "mediaanalysis"
    verbose_name = "Media analysis"

    def ready(self):
        from .roles import ensure_groups

        # Permissions exist only after each app's post_migrate, so the groups are (re)made
        # then, on every migrate and every test database flush.
        post_migrate.connect(ensure_groups, dispatch_uid="mediaanalysis.ensure_groups")
