"""The only hard delete: destroy rows soft-deleted more than N days ago."""

from datetime import timedelta

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from mediaanalysis.pipeline.softdelete import SoftDeleteModel, dependants

BATCH = 5000


def leaves_first() -> list:
    """Soft-delete models, each after every model that depends on it."""
    models = [m for m in apps.get_models() if issubclass(m, SoftDeleteModel)]
    ordered: list = []

    def visit(model):
        if model in ordered:
            return
        for child, _ in dependants(model):
            visit(child)
        ordered.append(model)

    for model in models:
        visit(model)
    return ordered


class Command(BaseCommand):
    help = "Permanently delete rows that were soft-deleted more than --older-than DAYS ago."

    def add_arguments(self, parser):
        parser.add_argument("--older-than", type=int, required=True, metavar="DAYS")
        parser.add_argument("--dry-run", action="store_true", help="count, delete nothing")

    def handle(self, *args, older_than, dry_run, **options):
        if older_than < 0:
            raise CommandError("--older-than must be 0 or more days")
        cutoff = timezone.now() - timedelta(days=older_than)
        verb = "would purge" if dry_run else "purged"
        total = 0
        for model in leaves_first():
            doomed = model.all_objects.filter(deleted_at__lt=cutoff)
            count = 0
            if dry_run:
                count = doomed.count()
            else:
                while pks := list(doomed.values_list("pk", flat=True)[:BATCH]):
                    with transaction.atomic():
                        model.all_objects.filter(pk__in=pks).delete()
                    count += len(pks)
            total += count
            self.stdout.write(f"{model._meta.db_table}: {verb} {count}")
        self.stdout.write(
            self.style.SUCCESS(f"{verb} {total} rows deleted before {cutoff:%Y-%m-%d %H:%M} UTC")
        )
