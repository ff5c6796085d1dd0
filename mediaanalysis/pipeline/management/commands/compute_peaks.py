"""Compute the waveform peaks of audio and video files ahead of their first view."""

from django.core.management.base import BaseCommand

from mediaanalysis.pipeline.models import MediaFile
from mediaanalysis.pipeline.peaks import AUDIBLE, peaks_for


class Command(BaseCommand):
    help = (
        "Compute and store the waveform peaks of audio and video files that have none, or "
        "whose media changed since. Files whose peaks are current are skipped."
    )

    def add_arguments(self, parser):
        parser.add_argument("ids", nargs="*", type=int, help="only these media files")

    def handle(self, *args, ids, **options):
        files = MediaFile.objects.for_media().filter(media_type__in=AUDIBLE).order_by("pk")
        if ids:
            files = files.filter(pk__in=ids)
        counts = {}
        for media in files.iterator(chunk_size=500):
            answer = peaks_for(media, background=False)
            counts[answer.status] = counts.get(answer.status, 0) + 1
            if answer.status != 200 and answer.status != 404:
                self.stderr.write(f"File #{media.pk}: {answer.message}")
        ready, other = counts.pop(200, 0), sum(counts.values())
        self.stdout.write(
            f"{ready} files have their peaks; {other} have none (no media or no audio)."
        )
