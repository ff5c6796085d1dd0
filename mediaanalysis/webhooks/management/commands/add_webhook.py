from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from mediaanalysis.webhooks.models import SUBSCRIBABLE, Endpoint


class Command(BaseCommand):
    help = (
        "Register a webhook endpoint. Deliveries are signed with the Standard Webhooks scheme "
        f"using SECRET (whsec_ + base64). Events: {', '.join(SUBSCRIBABLE)}."
    )

    def add_arguments(self, parser):
        parser.add_argument("url")
        parser.add_argument(
            "--events", required=True, help="comma-separated, e.g. review.decided,job.failed"
        )
        parser.add_argument("--secret", required=True, help="whsec_ followed by base64")
        parser.add_argument("--description", default="")

    def handle(self, *args, url, events, secret, description, **options):
        endpoint = Endpoint(
            url=url,
            events=[name.strip() for name in events.split(",") if name.strip()],
            secret=secret,
            description=description,
        )
        try:
            endpoint.full_clean()
        except ValidationError as exc:
            raise CommandError(
                "; ".join(
                    f"{field}: {' '.join(errors)}" for field, errors in exc.message_dict.items()
                )
            ) from None
        endpoint.save()
        self.stdout.write(
            f"Webhook endpoint #{endpoint.pk}: {endpoint.url} receives {', '.join(endpoint.events)}."
        )
