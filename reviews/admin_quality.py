"""The admin of review quality (docs/quality.md): routing rules (managers and admins) and gold
items (admins mark them; managers may look)."""

from django.contrib import admin, messages

from mediaanalysis.pipeline.admin import BOTH

from . import services
from .models import GoldItem, RoutingRule


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    list_display = (
        "analysis_type",
        "model_used",
        "confidence_threshold",
        "spot_check_rate",
        "second_review_rate",
        "updated_at",
    )
    list_editable = ("confidence_threshold", "spot_check_rate", "second_review_rate")
    list_display_links = ("analysis_type", "model_used")
    search_fields = ("analysis_type", "model_used")
    fields = (
        "analysis_type",
        "model_used",
        "confidence_threshold",
        "spot_check_rate",
        "second_review_rate",
    )


@admin.register(GoldItem)
class GoldItemAdmin(admin.ModelAdmin):
    list_display = (
        "analysis_result",
        "expected_decision",
        "active",
        "created_by",
        "created_at",
        "last_mixed_at",
    )
    list_select_related = ("analysis_result", "created_by")
    list_filter = ("active", "expected_decision")
    search_fields = ("=analysis_result__id",)
    raw_id_fields = ("analysis_result",)
    readonly_fields = ("created_by", "created_at", "last_mixed_at")
    actions = ["retire"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    @admin.action(description="Retire selected gold items (no more gold checks)")
    def retire(self, request, queryset):
        count = queryset.update(active=False)
        self.message_user(request, f"Retired {count} gold item(s).", messages.SUCCESS)


@admin.action(
    description="Mark as gold (its latest decision is the known answer)",
    description_plural="Mark selected as gold (their latest decisions are the known answers)",
    permissions=["change"],
    location=BOTH,
)
def mark_as_gold(model_admin, request, queryset):
    """An action of the results' admin (reviews/admin.py)."""
    if not request.user.has_perm("reviews.add_golditem"):
        model_admin.message_user(request, "Only admins mark gold items.", messages.ERROR)
        return
    outcome = services.mark_gold(list(queryset.values_list("pk", flat=True)), request.user)
    if outcome.marked:
        model_admin.message_user(
            request, f"Marked {outcome.marked} result(s) as gold.", messages.SUCCESS
        )
    if outcome.undecided:
        model_admin.message_user(
            request,
            "Not marked, never decided (a gold item needs a known answer): "
            + ", ".join(f"#{pk}" for pk in outcome.undecided[:20]),
            messages.WARNING,
        )
