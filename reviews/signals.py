"""Results are written by the pipeline (mediaanalysis); the review queue reacts here, so that
mediaanalysis never needs to know reviews exist."""

from django.db.models.signals import post_save
from django.dispatch import receiver

from mediaanalysis.pipeline.models import AnalysisResult

from .services import enqueue_if_doubtful


@receiver(post_save, sender=AnalysisResult, dispatch_uid="reviews.enqueue_doubtful_result")
def enqueue_doubtful_result(sender, instance, created=False, raw=False, **kwargs):
    if not raw:
        enqueue_if_doubtful(instance, created=created)
