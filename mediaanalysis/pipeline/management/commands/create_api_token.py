from django.core.management.base import BaseCommand

from mediaanalysis.pipeline.models import ApiToken


class Command(BaseCommand):
    help = (
        "Create an API token for a pipeline worker. The token is shown once; only its hash is kept."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="who uses it, e.g. transcoder-1")
        parser.add_argument("--scope", choices=ApiToken.Scope.values, default=ApiToken.Scope.READ)

    def handle(self, *args, name, scope, **options):
        token, raw = ApiToken.issue(name[:100], scope)
        self.stderr.write(
            f"Token #{token.pk} for {token.name!r} with scope {scope!r}. It is not shown again:"
        )
        self.stdout.write(raw)
