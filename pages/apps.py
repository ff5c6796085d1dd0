from django.apps import AppConfig


class PagesConfig(AppConfig):
    """Pages to browse jobs, results, files and sessions, with their reviews."""

    name = "pages"
