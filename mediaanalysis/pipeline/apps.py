from django.apps import AppConfig


class PipelineConfig(AppConfig):
    """The pipeline's domain. Its label stays `mediaanalysis`, so that migrations, content
    types, permissions and admin URLs are those the tables have always had."""

    name = "mediaanalysis.pipeline"
    label = "mediaanalysis"
    verbose_name = "Media analysis"
