from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.contrib.auth import get_user_model
from django.utils import formats, timezone

from mediaanalysis.adminsite import ReadOnlyAdmin, ReadOnlyInline
from mediaanalysis.pipeline.admin import BOTH, AnalysisResultAdmin, SoftDeleteAdmin, one_line
from mediaanalysis.pipeline.models import AnalysisResult
from mediaanalysis.roles import ADMINS, REVIEWERS

from . import services
from .admin_quality import mark_as_gold
from .models import HELD, EnqueueBatch, HITLReview, ReviewDraft, ReviewEvent


def review_state(review, now=None) -> str:
    """A review's state as the app sees it: an expired claim is no claim (is_claim_live)."""
    if review.status in HELD:
        holder = review.claimed_by.get_username() if review.claimed_by else "nobody"
        if not review.is_claim_live(now):
            return f"Claim expired (was {holder})"
        until = formats.time_format(timezone.localtime(review.claim_expires_at))
        return f"{review.get_status_display()} by {holder} until {until}"
    if review.approved:
        return f"Decided: {review.get_approved_display().lower()}"
    return review.get_status_display()


def reviewers():
    return (
        get_user_model()
        .objects.filter(is_active=True, groups__name__in=[REVIEWERS, ADMINS])
        .distinct()
        .order_by("username")
    )


class ReviewActionForm(ActionForm):
    assignee = forms.ModelChoiceField(
        queryset=reviewers(), required=False, label="Reassign to", help_text="for “Reassign”"
    )


class EnqueueActionForm(ActionForm):
    priority = forms.IntegerField(initial=0, required=False, label="Review priority")


def bound_action_form(model_admin, request):
    """The action form bound to the POST, with the action choices the admin validated it with;
    without them its `action` field never validates and the extra fields are lost."""
    form = model_admin.action_form(request.POST)
    form.fields["action"].choices = model_admin.get_action_choices(request)
    return form


class ReviewEventInline(ReadOnlyInline):
    model = ReviewEvent
    fields = ("at", "kind", "actor", "details")
    readonly_fields = fields
    verbose_name_plural = "Audit history"


class ReviewDraftInline(ReadOnlyInline):
    model = ReviewDraft
    fields = ("user", "saved_at", "approved", "notes", "corrections")
    readonly_fields = fields
    verbose_name_plural = "Drafts (typed, not accepted)"


class ReviewInline(ReadOnlyInline):
    model = HITLReview
    fields = ("state", "priority", "reviewed_by", "reviewed_at")
    readonly_fields = fields

    @admin.display(description="status")
    def state(self, obj):
        return review_state(obj)


@admin.register(HITLReview)
class HITLReviewAdmin(SoftDeleteAdmin):
    list_display = (
        "id",
        "result",
        "state",
        "priority",
        "reviewed_by",
        "reviewed_at",
        "round",
        "reason",
        "created_at",
        "is_deleted",
    )
    list_select_related = ("analysis_result", "claimed_by", "reviewed_by")
    list_filter = ("status", "approved", "round", "reason", "priority", "reviewed_at")
    search_fields = ("=analysis_result__id", "=claimed_by__username", "=reviewed_by__username")
    search_help_text = "Exact result id, or the username of the claimant or the reviewer."
    raw_id_fields = ("analysis_result",)
    # The workflow's fields change only through the workflow (the reviewer's page, and the
    # actions here: force-release, reassign, reopen), which keeps the audit history; the
    # priority stays editable and its change is recorded too (services.set_priority).
    readonly_fields = (
        *SoftDeleteAdmin.readonly_fields,
        "state",
        "status",
        "claimed_by",
        "claimed_at",
        "claim_expires_at",
        "approved",
        "reviewer_notes",
        "corrections",
        "reviewed_at",
        "reviewed_by",
        "round",
        "reason",
        "reason_details",
        "previous_review",
        "gold_item",
    )
    fields = (
        "analysis_result",
        "priority",
        "state",  # the status as the app reads it: an expired claim is no claim
        "claimed_by",
        "claimed_at",
        "claim_expires_at",
        "approved",
        "reviewer_notes",
        "corrections",
        "reviewed_by",
        "reviewed_at",
        "round",
        "reason",
        "reason_details",
        "previous_review",
        "gold_item",
        "created_at",
        "updated_at",
        "deleted_at",
    )
    inlines = [ReviewEventInline, ReviewDraftInline]
    action_form = ReviewActionForm
    actions = [*SoftDeleteAdmin.actions, "force_release", "reassign", "reopen"]

    @admin.display(description="status", ordering="status")
    def state(self, obj):
        """As the app shows it: an expired claim is no longer a claim."""
        text = review_state(obj)
        return one_line(
            text, "nowrap claim-expired" if text.startswith("Claim expired") else "nowrap"
        )

    @admin.display(description="result", ordering="analysis_result")
    def result(self, obj):
        return one_line(obj.analysis_result, "nowrap")

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return self.readonly_fields
        return (*self.readonly_fields, "analysis_result")

    def get_fields(self, request, obj=None):
        if obj is None:  # a new review: only what sends a result to review
            return ("analysis_result", "priority")
        return self.fields

    def save_model(self, request, obj, form, change):
        if change:
            # Only the priority is editable: a conditional update of that column alone, audited,
            # never a save() that would write back a claim that changed meanwhile.
            if "priority" in form.changed_data and services.set_priority(
                obj.pk, request.user, obj.priority or 0
            ):
                self.message_user(request, f"Priority set to {obj.priority}.", messages.SUCCESS)
            return None
        opened = services.enqueue([obj.analysis_result_id], obj.priority or 0, actor=request.user)
        if opened:
            obj.pk = HITLReview.objects.open().get(analysis_result_id=obj.analysis_result_id).pk
        else:
            obj.pk = None
            self.message_user(request, "That result already has an open review.", messages.WARNING)

    def response_add(self, request, obj, post_url_continue=None):
        if obj.pk is None:
            return self.response_post_save_add(request, obj)
        return super().response_add(request, obj, post_url_continue)

    @admin.action(
        description="Force-release the claim",
        description_plural="Force-release selected claims",
        permissions=["change"],
        location=BOTH,
    )
    def force_release(self, request, queryset):
        count = services.force_release(list(queryset.values_list("pk", flat=True)), request.user)
        self.message_user(
            request, f"Released {count} claim(s) back to the queue.", messages.SUCCESS
        )

    @admin.action(description="Reassign selected open reviews", permissions=["change"])
    def reassign(self, request, queryset):
        form = bound_action_form(self, request)
        assignee = form.cleaned_data.get("assignee") if form.is_valid() else None
        if assignee is None:
            self.message_user(request, "Choose a reviewer in “Reassign to” first.", messages.ERROR)
            return
        count = services.reassign(
            list(queryset.values_list("pk", flat=True)), request.user, assignee
        )
        self.message_user(request, f"Reassigned {count} review(s) to {assignee}.", messages.SUCCESS)

    @admin.action(
        description="Reopen this decided review",
        description_plural="Reopen selected decided reviews",
        permissions=["change"],
        location=BOTH,
    )
    def reopen(self, request, queryset):
        outcome = services.reopen(list(queryset.values_list("pk", flat=True)), request.user)
        if outcome.reopened:
            self.message_user(request, f"Reopened {outcome.reopened} review(s).", messages.SUCCESS)
        if outcome.refused:
            self.message_user(
                request,
                "Not reopened, their result already has an open review: "
                + ", ".join(f"#{pk}" for pk in outcome.refused),
                messages.WARNING,
            )


class AuditAdmin(ReadOnlyAdmin):
    """What the workflow recorded: not even an admin deletes it."""

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(EnqueueBatch)
class EnqueueBatchAdmin(AuditAdmin):
    """Sends to review by people: who, how many, and whether they were undone."""

    list_display = ("id", "actor", "opened", "priority", "created_at", "undone_at")
    list_select_related = ("actor",)
    list_filter = ("created_at",)
    search_fields = ("=actor__username",)
    show_full_result_count = False


@admin.register(ReviewEvent)
class ReviewEventAdmin(AuditAdmin):
    list_display = ("at", "kind", "review", "actor", "details")
    list_select_related = ("actor", "review")
    list_filter = ("kind", "at")
    search_fields = ("=review__id", "=actor__username")
    raw_id_fields = ("review",)
    show_full_result_count = False


# The result admin gains the review inline and the "send to review" action here, so that
# mediaanalysis never imports reviews.
admin.site.unregister(AnalysisResult)


@admin.register(AnalysisResult)
class ReviewedResultAdmin(AnalysisResultAdmin):
    inlines = [*AnalysisResultAdmin.inlines, ReviewInline]
    action_form = EnqueueActionForm
    actions = [*AnalysisResultAdmin.actions, "send_to_review", mark_as_gold]

    @admin.action(
        description="Send to review",
        description_plural="Send selected to review (with the priority above)",
        permissions=["change"],
        location=BOTH,
    )
    def send_to_review(self, request, queryset):
        form = bound_action_form(self, request)
        priority = (form.cleaned_data.get("priority") if form.is_valid() else None) or 0
        ids = list(queryset.filter(deleted_at__isnull=True).values_list("pk", flat=True))
        opened = services.send_to_review(ids, priority, actor=request.user).opened
        skipped = len(ids) - opened
        self.message_user(
            request,
            f"Sent {opened} result(s) to review with priority {priority}."
            + (f" {skipped} already had an open review." if skipped else ""),
            messages.SUCCESS,
        )
