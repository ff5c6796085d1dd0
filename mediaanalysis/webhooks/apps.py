from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    """Outgoing webhooks: the bottom layer, which the pipeline and reviews emit events into
    and which imports neither (docs/architecture.md)."""

    name = "mediaanalysis.webhooks"
    label = "webhooks"
    verbose_name = "Webhooks"
