from django.contrib import admin, messages
from django.utils.html import format_html
from django.utils.translation import ngettext

from .models import AnalysisJob, AnalysisResult, ApiToken, MediaFile, ProcessingStatus, UserSession
from .pagination import EstimatedCountPaginator
from .queries import distinct_values
from .services import MediaUnavailable, probe_media

# Actions offered on both the list and a row's own page (Django 6.1).
BOTH = [admin.ActionLocation.CHANGE_LIST, admin.ActionLocation.CHANGE_FORM]
PROBE_LIMIT = 100  # files probed by one admin action: each reads its media

admin.site.site_header = "Media Analysis Dashboard — administration"
admin.site.site_title = "Media Analysis admin"
admin.site.index_title = "Pipeline data, reviews and users"


class DeletedFilter(admin.SimpleListFilter):
    """Live rows by default; deleted rows on request. Never a DISTINCT over the table."""

    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return [("no", "Live"), ("yes", "Deleted"), ("all", "All")]

    def choices(self, changelist):
        value = self.value() or "no"
        for lookup, title in self.lookup_choices:
            yield {
                "selected": value == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        value = self.value() or "no"
        if value == "yes":
            return queryset.filter(deleted_at__isnull=False)
        if value == "all":
            return queryset
        return queryset.filter(deleted_at__isnull=True)


class DistinctValuesFilter(admin.SimpleListFilter):
    """A filter on a free-text column: its choices come from `distinct_values` (the planner's
    statistics on PostgreSQL, cached), never from a SELECT DISTINCT on every page load."""

    field = ""

    def lookups(self, request, model_admin):
        return [(value, value) for value in distinct_values(model_admin.model, self.field)]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(**{self.field: self.value()})
        return queryset


def values_filter(field_name: str, label: str):
    return type(
        f"{field_name.title()}Filter",
        (DistinctValuesFilter,),
        {"field": field_name, "title": label, "parameter_name": field_name},
    )


class SoftDeleteAdmin(admin.ModelAdmin):
    """Delete means soft-delete, with its cascade; deleted rows sit behind a filter and come
    back with the restore action."""

    readonly_fields = ("created_at", "updated_at", "deleted_at")
    actions = ["soft_delete_selected", "restore_selected"]
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    list_per_page = 50

    def get_queryset(self, request):
        qs = self.model.all_objects.get_queryset()
        ordering = self.get_ordering(request)
        return qs.order_by(*ordering) if ordering else qs

    def get_list_filter(self, request):
        return [DeletedFilter, *super().get_list_filter(request)]

    def get_actions(self, request, action_location=admin.ActionLocation.CHANGE_LIST):
        actions = super().get_actions(request, action_location)
        actions.pop("delete_selected", None)
        return actions

    def delete_model(self, request, obj):
        obj.soft_delete()

    def delete_queryset(self, request, queryset):
        queryset.soft_delete()

    @admin.display(boolean=True, description="deleted", ordering="deleted_at")
    def is_deleted(self, obj):
        return obj.is_deleted

    @admin.action(description="Delete selected (soft: can be restored)", permissions=["delete"])
    def soft_delete_selected(self, request, queryset):
        count = queryset.soft_delete()
        self.message_user(
            request,
            ngettext(
                "Deleted %(count)d %(name)s, with its dependants. Restore it from the Deleted filter.",
                "Deleted %(count)d %(name)s, with their dependants. Restore them from the Deleted filter.",
                count,
            )
            % {
                "count": count,
                "name": self.model._meta.verbose_name
                if count == 1
                else self.model._meta.verbose_name_plural,
            },
            messages.SUCCESS,
        )

    @admin.action(
        description="Restore, with what was deleted with it",
        description_plural="Restore selected, with what was deleted with them",
        permissions=["change"],
        location=BOTH,
    )
    def restore_selected(self, request, queryset):
        blocked = []
        restorable = []
        for obj in queryset.filter(deleted_at__isnull=False):
            parent = obj.deleted_parent()
            if parent is not None:
                blocked.append(f"{obj} (its {parent._meta.verbose_name} “{parent}” is deleted)")
            else:
                restorable.append(obj.pk)
        count = self.model.all_objects.filter(pk__in=restorable).restore()
        if count:
            self.message_user(
                request,
                f"Restored {count} {self.model._meta.verbose_name_plural}.",
                messages.SUCCESS,
            )
        if blocked:
            self.message_user(
                request,
                "Not restored, restore the parent first: " + "; ".join(blocked),
                messages.WARNING,
            )
        if not count and not blocked:
            self.message_user(request, "None of the selected rows is deleted.", messages.INFO)


class ResultInline(admin.TabularInline):
    model = AnalysisResult
    fk_name = "job"
    fields = ("analysis_type", "model_used", "confidence_score", "created_at")
    readonly_fields = fields
    extra = 0
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(MediaFile)
class MediaFileAdmin(SoftDeleteAdmin):
    list_display = (
        "id",
        "original_filename",
        "media_type",
        "mime_type",
        "file_size",
        "duration_seconds",
        "session_id",
        "storage_backend",
        "created_at",
        "is_deleted",
    )
    list_filter = ("media_type", "storage_backend", "created_at")
    search_fields = ("=session_id", "original_filename")
    search_help_text = "Exact session id, or part of the original file name."
    readonly_fields = SoftDeleteAdmin.readonly_fields
    actions = [*SoftDeleteAdmin.actions, "probe_selected"]

    @admin.action(
        description="Probe this file's media (duration, frames, size)",
        description_plural="Probe the media of selected files (duration, frames, size)",
        permissions=["change"],
        location=BOTH,
    )
    def probe_selected(self, request, queryset):
        probed, problems = 0, []
        for media in queryset.order_by("pk")[:PROBE_LIMIT]:
            try:
                probe_media(media)
                probed += 1
            except MediaUnavailable as error:
                problems.append(f"#{media.pk}: {error}")
        if probed:
            self.message_user(request, f"Probed {probed} file(s).", messages.SUCCESS)
        if problems:
            self.message_user(request, "Not probed: " + "; ".join(problems), messages.WARNING)


@admin.register(AnalysisJob)
class AnalysisJobAdmin(SoftDeleteAdmin):
    list_display = (
        "id",
        "job_type",
        "status",
        "progress_percent",
        "session_id",
        "media_file",
        "retry_count",
        "max_retries",
        "created_at",
        "completed_at",
        "is_deleted",
    )
    list_select_related = ("media_file",)
    list_filter = ("status", values_filter("job_type", "job type"), "created_at")
    search_fields = ("=session_id", "error_message")
    search_help_text = "Exact session id, or text in the error message."
    raw_id_fields = ("media_file",)
    inlines = [ResultInline]
    actions = [*SoftDeleteAdmin.actions, "retry_failed"]

    @admin.display(description="progress", ordering="progress")
    def progress_percent(self, obj):
        return format_html("{}%", round(obj.progress * 100))

    @admin.action(
        description="Retry this failed job",
        description_plural="Retry selected failed jobs",
        permissions=["change"],
        location=BOTH,
    )
    def retry_failed(self, request, queryset):
        selected = list(queryset.values_list("pk", "status", "retry_count", "max_retries"))
        retried = AnalysisJob.objects.filter(pk__in=[pk for pk, *_ in selected]).retry()
        if retried:
            self.message_user(
                request, f"Sent {retried} failed job(s) back to pending.", messages.SUCCESS
            )
        refused = [
            f"#{pk} ({'not failed: ' + status if status != ProcessingStatus.FAILED else f'no retries left: {retries}/{maximum}'})"
            for pk, status, retries, maximum in selected
            if status != ProcessingStatus.FAILED or retries >= maximum
        ]
        if refused:
            self.message_user(request, "Not retried: " + ", ".join(refused), messages.WARNING)


@admin.register(AnalysisResult)
class AnalysisResultAdmin(SoftDeleteAdmin):
    list_display = (
        "id",
        "analysis_type",
        "model_used",
        "confidence_score",
        "job",
        "media_file_id",
        "created_at",
        "is_deleted",
    )
    list_select_related = ("job",)
    list_filter = (
        values_filter("analysis_type", "analysis type"),
        values_filter("model_used", "model"),
    )
    search_fields = ("=job__session_id",)
    search_help_text = "Exact session id of the result's job."
    raw_id_fields = ("job", "media_file")


@admin.register(UserSession)
class UserSessionAdmin(SoftDeleteAdmin):
    list_display = (
        "session_id",
        "ip_address",
        "started_at",
        "last_activity",
        "ended_at",
        "request_count",
        "media_processed_count",
        "is_deleted",
    )
    list_filter = ("last_activity", "started_at")
    search_fields = ("=session_id", "=ip_address")
    search_help_text = "Exact session id or IP address."
    ordering = ("-last_activity", "-id")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "scope", "prefix", "created_at", "last_used_at", "revoked_at")
    list_filter = ("scope",)
    search_fields = ("name", "prefix")
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("name", "scope")
        return ("name", "scope", "prefix", "created_at", "last_used_at", "revoked_at")

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return ("scope", "prefix", "created_at", "last_used_at")

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        token, raw = ApiToken.issue(obj.name, obj.scope)
        obj.pk = token.pk
        obj.refresh_from_db()
        self.message_user(
            request,
            format_html(
                "Token for {}: <code>{}</code> — copy it now, it is not shown again.", obj.name, raw
            ),
            messages.WARNING,
        )

    @admin.action(description="Revoke selected tokens", permissions=["change"])
    def revoke(self, request, queryset):
        from django.utils import timezone

        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"Revoked {count} token(s).", messages.SUCCESS)
