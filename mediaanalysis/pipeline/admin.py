from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.utils import formats, timezone
from django.utils.html import format_html

from mediaanalysis.adminsite import ReadOnlyInline
from mediaanalysis.templatetags.listing import duration, middle

from . import events
from .models import AnalysisJob, AnalysisResult, ApiToken, MediaFile, UserSession
from .pagination import EstimatedCountPaginator
from .queries import distinct_values
from .services import MediaUnavailable, probe_media
from .softdelete import cascade_counts, describe_cascade

# Actions offered on both the list and a row's own page (Django 6.1).
BOTH = [admin.ActionLocation.CHANGE_LIST, admin.ActionLocation.CHANGE_FORM]
PROBE_LIMIT = 100  # files probed by one admin action: each reads its media

admin.site.site_header = "Media Analysis Dashboard — administration"
admin.site.site_title = "Media Analysis admin"
admin.site.index_title = "Pipeline data, reviews and users"
# The lists need the width (1440 px holds a jobs or reviews list whole); the breadcrumbs and the
# index page lead to every table.
admin.site.enable_nav_sidebar = False


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

    def get_deleted_objects(self, objs, request):
        """The delete page's preview: what goes with these rows, counted by the cascade itself
        (soft delete: nothing else, and no permission beyond this model's, is involved)."""
        queryset = self.model.all_objects.filter(pk__in=[obj.pk for obj in objs])
        counts = cascade_counts(queryset)
        deleted = [
            format_html("{} “{}”", self.opts.verbose_name, obj)
            for obj in objs
            if obj.deleted_at is None
        ]
        with_them = [
            f"{n:,} {m._meta.verbose_name if n == 1 else m._meta.verbose_name_plural}"
            for m, n in counts.items()
            if m is not self.model
        ]
        model_count = {m._meta.verbose_name_plural: n for m, n in counts.items()}
        return [*deleted, with_them] if with_them else deleted, model_count, set(), []

    def response_delete(self, request, obj_display, obj_id):
        response = super().response_delete(request, obj_display, obj_id)
        obj = self.model.all_objects.filter(pk=obj_id).first()
        if obj is not None:
            self.message_user(
                request,
                f"It can be restored from the Deleted filter, with what went with it: "
                f"{describe_cascade(_deleted_with(obj), self.model)}.",
                messages.INFO,
            )
        return response

    @admin.display(boolean=True, description="deleted", ordering="deleted_at")
    def is_deleted(self, obj):
        return obj.is_deleted

    @admin.action(description="Delete selected (soft: can be restored)", permissions=["delete"])
    def soft_delete_selected(self, request, queryset):
        """Show what would go with the selected rows; soft-delete them once confirmed."""
        counts = cascade_counts(queryset)
        if request.POST.get("post"):
            queryset.soft_delete()
            self.message_user(
                request,
                f"Deleted {describe_cascade(counts, self.model)}. "
                "Restore them from the Deleted filter.",
                messages.SUCCESS,
            )
            return None
        return TemplateResponse(
            request,
            "admin/soft_delete_selected_confirmation.html",
            {
                **self.admin_site.each_context(request),
                "title": "Delete (soft) the selected rows?",
                "opts": self.opts,
                "queryset": queryset,
                "summary": describe_cascade(counts, self.model),
                "model_count": {m._meta.verbose_name_plural: n for m, n in counts.items()}.items(),
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "media": self.media,
            },
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
        rows = self.model.all_objects.filter(pk__in=restorable)
        counts = cascade_counts(rows, restoring=True)
        if rows.restore():
            self.message_user(
                request, f"Restored {describe_cascade(counts, self.model)}.", messages.SUCCESS
            )
        if blocked:
            self.message_user(
                request,
                "Not restored, restore the parent first: " + "; ".join(blocked),
                messages.WARNING,
            )
        if not restorable and not blocked:
            self.message_user(request, "None of the selected rows is deleted.", messages.INFO)


def _deleted_with(obj):
    return cascade_counts(type(obj).all_objects.filter(pk=obj.pk), restoring=True)


def one_line(value, css="nowrap"):
    """A value on one line."""
    return format_html('<span class="{}">{}</span>', css, value)


def session_cell(session_id):
    """A session id on one line, cut in the middle where ids share a prefix; whole on hover,
    in the search box (exact match) and on the row's page."""
    return format_html(
        '<span class="nowrap mono" title="{}">{}</span>', session_id, middle(session_id, 20)
    )


class ResultInline(ReadOnlyInline):
    model = AnalysisResult
    fk_name = "job"
    fields = ("analysis_type", "model_used", "confidence_score", "created_at")
    readonly_fields = fields


@admin.register(MediaFile)
class MediaFileAdmin(SoftDeleteAdmin):
    list_display = (
        "id",
        "original_filename",
        "media_type",
        "mime_type",
        "size",
        "length",
        "session",
        "storage",
        "created_at",
        "is_deleted",
    )
    list_filter = ("media_type", "storage_backend", "created_at")

    @admin.display(description="storage", ordering="storage_backend")
    def storage(self, obj):
        return obj.storage_backend

    @admin.display(description="size", ordering="file_size")
    def size(self, obj):
        return (
            one_line(filesizeformat(obj.file_size), "nowrap") if obj.file_size is not None else "—"
        )

    @admin.display(description="duration", ordering="duration_seconds")
    def length(self, obj):
        return one_line(duration(obj.duration_seconds))

    @admin.display(description="session id", ordering="session_id")
    def session(self, obj):
        return session_cell(obj.session_id)

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
        "state",
        "progress_percent",
        "session",
        "media_file",
        "retries",
        "created_at",
        "ran",
        "is_deleted",
    )
    list_select_related = ("media_file",)
    list_filter = ("status", values_filter("job_type", "job type"), "created_at")
    search_fields = ("=session_id", "error_message")
    search_help_text = "Exact session id, or text in the error message."
    raw_id_fields = ("media_file",)
    inlines = [ResultInline]
    actions = [*SoftDeleteAdmin.actions, "retry_failed"]

    @admin.display(description="status", ordering="status")
    def state(self, obj):
        """The status as the app shows it: a processing job without updates is stalled."""
        if obj.is_stalled:
            return one_line(f"{obj.get_status_display()} · stalled", "nowrap stalled")
        return obj.get_status_display()

    @admin.display(description="progress", ordering="progress")
    def progress_percent(self, obj):
        return format_html("{}%", round(obj.progress * 100))

    @admin.display(description="session id", ordering="session_id")
    def session(self, obj):
        return session_cell(obj.session_id)

    @admin.display(description="retries", ordering="retry_count")
    def retries(self, obj):
        return f"{obj.retry_count}/{obj.max_retries}"

    @admin.display(description="ran", ordering="completed_at")
    def ran(self, obj):
        """From start to finish, as the jobs list shows it."""
        return one_line(duration(obj.duration))

    def save_model(self, request, obj, form, change):
        """An admin who finishes a job by hand tells the pipeline as the API does: job.completed
        or job.failed, in the same transaction."""
        super().save_model(request, obj, form, change)
        events.job_changed(form.initial.get("status", ""), obj)

    def has_retry_permission(self, request):
        return request.user.has_perm("mediaanalysis.retry_analysisjob")

    @admin.action(
        description="Retry this failed job",
        description_plural="Retry selected failed jobs",
        permissions=["retry"],
        location=BOTH,
    )
    def retry_failed(self, request, queryset):
        outcome = queryset.retry_each()
        if outcome.retried:
            self.message_user(
                request, f"Sent {outcome.retried} failed job(s) back to pending.", messages.SUCCESS
            )
        if outcome.refused:
            self.message_user(
                request, "Not retried: " + ", ".join(outcome.refused), messages.WARNING
            )


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
        "session",
        "ip_address",
        "started_at",
        "last_activity",
        "state",
        "requests",
        "media_count",
        "is_deleted",
    )
    list_filter = ("last_activity", "started_at")
    search_fields = ("=session_id", "=ip_address")
    search_help_text = "Exact session id or IP address."
    ordering = ("-last_activity", "-id")

    @admin.display(description="session id", ordering="session_id")
    def session(self, obj):
        return session_cell(obj.session_id)

    @admin.display(description="requests", ordering="request_count")
    def requests(self, obj):
        return obj.request_count

    @admin.display(description="media", ordering="media_processed_count")
    def media_count(self, obj):
        return obj.media_processed_count

    @admin.display(description="state", ordering="ended_at")
    def state(self, obj):
        """Active, idle or ended, as the sessions list defines them (SESSION_ACTIVE_WITHIN)."""
        if obj.ended_at:
            return f"ended {formats.localize(timezone.localtime(obj.ended_at))}"
        return obj.state.label


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
