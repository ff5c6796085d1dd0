"""Results are written by the pipeline (mediaanalysis); the review queue reacts here, so that
mediaanalysis never needs to know reviews exist."""

from django.core.signals import setting_changed
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from mediaanalysis.pipeline.models import AnalysisResult

from .models import RoutingRule
from .quality import forget_rules
from .services import enqueue_if_doubtful

# A rule edited in this process applies here at once; other processes read it again within
# REVIEW_RULE_SECONDS (quality.rule_for).
post_save.connect(forget_rules, sender=RoutingRule, dispatch_uid="reviews.forget_rules_saved")
post_delete.connect(forget_rules, sender=RoutingRule, dispatch_uid="reviews.forget_rules_deleted")
setting_changed.connect(forget_rules, dispatch_uid="reviews.forget_rules_settings")


@receiver(post_save, sender=AnalysisResult, dispatch_uid="reviews.enqueue_doubtful_result")
def enqueue_doubtful_result(sender, instance, created=False, raw=False, **kwargs):
    if not raw:
        enqueue_if_doubtful(instance, created=created)
