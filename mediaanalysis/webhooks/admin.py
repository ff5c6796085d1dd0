from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from mediaanalysis.adminsite import ReadOnlyAdmin, ReadOnlyInline

from . import services
from .models import SUBSCRIBABLE, Delivery, DeliveryAttempt, Endpoint, Event, new_secret


class EndpointForm(forms.ModelForm):
    events = forms.MultipleChoiceField(
        choices=[(value, value) for value in SUBSCRIBABLE], widget=forms.CheckboxSelectMultiple
    )
    secret = forms.CharField(
        required=False,
        max_length=120,
        help_text="whsec_... (Standard Webhooks); leave empty to have one made. "
        "Give it to the receiver to verify signatures.",
        widget=forms.TextInput(attrs={"size": 70}),
    )

    class Meta:
        model = Endpoint
        fields = ["url", "description", "events", "secret", "active"]

    def clean_secret(self):
        return self.cleaned_data["secret"].strip() or new_secret()


class AttemptInline(ReadOnlyInline):
    model = DeliveryAttempt
    fields = (
        "at",
        "attempt",
        "manual",
        "outcome",
        "status_code",
        "latency_ms",
        "error",
        "response_excerpt",
        "next_retry_at",
    )
    readonly_fields = fields
    show_change_link = False


class DeliveryInline(ReadOnlyInline):
    model = Delivery
    fields = ("endpoint", "status", "attempts", "next_attempt_at", "last_status_code", "last_error")
    readonly_fields = fields


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    form = EndpointForm
    list_display = ("url", "description", "event_list", "active", "state", "created_at")
    list_filter = ("active",)
    search_fields = ("url", "description")
    readonly_fields = ("failing_since", "disabled_at", "disabled_reason", "created_at")
    actions = ["send_test_event", "enable"]

    @admin.display(description="events")
    def event_list(self, obj):
        return ", ".join(obj.events)

    @admin.display(description="state")
    def state(self, obj):
        if not obj.active and obj.disabled_at:
            return format_html(
                '<strong class="errornote">Disabled</strong> {}', obj.disabled_reason
            )
        if not obj.active:
            return "Inactive"
        if obj.failing_since:
            return format_html(
                "<strong>Failing</strong> since {:%Y-%m-%d %H:%M}", obj.failing_since
            )
        return "Healthy"

    @admin.action(description="Send a test event to the selected endpoints", permissions=["change"])
    def send_test_event(self, request, queryset):
        for endpoint in queryset:
            services.send_test_event(endpoint, request.user.get_username())
        url = reverse("admin:webhooks_delivery_changelist") + "?event__type__exact=webhook.test"
        self.message_user(
            request,
            format_html(
                'Queued a test event to {} endpoint(s); <a href="{}">see the deliveries</a>.',
                queryset.count(),
                url,
            ),
            messages.SUCCESS,
        )

    @admin.action(description="Enable the selected endpoints again", permissions=["change"])
    def enable(self, request, queryset):
        count = services.enable(queryset)
        self.message_user(request, f"Enabled {count} endpoint(s).", messages.SUCCESS)

    def save_model(self, request, obj, form, change):
        if change and "active" in form.changed_data and obj.active:
            obj.disabled_at, obj.disabled_reason, obj.failing_since = None, "", None
        super().save_model(request, obj, form, change)


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ("id", "type", "created_at", "dispatched_at", "webhook_id")
    list_filter = ("type", "created_at")
    search_fields = ("=id",)
    fields = ("id", "type", "webhook_id", "created_at", "dispatched_at", "endpoint", "data")
    readonly_fields = fields
    inlines = [DeliveryInline]
    actions = ["redeliver"]
    show_full_result_count = False

    @admin.action(description="Redeliver to every endpoint it went to", permissions=["view"])
    def redeliver(self, request, queryset):
        count = services.redeliver(Delivery.objects.filter(event__in=queryset))
        self.message_user(request, f"Queued {count} delivery(ies) again.", messages.SUCCESS)


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "event",
        "endpoint",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "updated_at",
    )
    list_filter = ("status", "event__type", "endpoint")
    list_select_related = ("event", "endpoint")
    fields = (*list_display[1:], "last_error", "created_at")
    readonly_fields = fields
    inlines = [AttemptInline]
    actions = ["redeliver"]
    show_full_result_count = False

    @admin.action(description="Redeliver now (a fresh round of retries)", permissions=["view"])
    def redeliver(self, request, queryset):
        count = services.redeliver(queryset)
        skipped = queryset.count() - count
        self.message_user(request, f"Queued {count} delivery(ies) again.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request,
                f"{skipped} went to a disabled endpoint: enable it first.",
                messages.WARNING,
            )


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(ReadOnlyAdmin):
    list_display = (
        "at",
        "delivery",
        "attempt",
        "outcome",
        "status_code",
        "latency_ms",
        "error",
        "next_retry_at",
    )
    list_filter = ("outcome", "at")
    list_select_related = ("delivery__event", "delivery__endpoint")
    show_full_result_count = False
