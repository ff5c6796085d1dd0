from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ProjectConfig(AppConfig):
    """The project package as an app: its commands (seeding, bench) and template tags.

    Its label is not `mediaanalysis`: the pipeline app keeps that one (docs/architecture.md).
    """

    name = "mediaanalysis"
    label = "project"
    verbose_name = "Media Analysis Dashboard"

    def ready(self):
        from .roles import ensure_groups, permission_names

        # Permissions exist only after each app's post_migrate, so the groups are (re)made
        # then, on every migrate and every test database flush.
        post_migrate.connect(ensure_groups, dispatch_uid="mediaanalysis.ensure_groups")
        post_migrate.connect(permission_names.read, dispatch_uid="mediaanalysis.permission_names")
