from django.core.management.base import BaseCommand

from reviews.services import release_expired_claims


class Command(BaseCommand):
    help = (
        "Set expired claims back to pending. Only tidies the status column: an expired claim "
        "is claimable at once without it. Safe to run while reviewers claim."
    )

    def handle(self, *args, **options):
        count = release_expired_claims()
        self.stdout.write(f"Released {count} expired claim(s).")
