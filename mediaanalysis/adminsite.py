"""The admin site, with every registered ModelAdmin checking what it is sent (docs/design.md, Bad input and faults).

Django's changelist turns a lookup it cannot build into "?e=1" (IncorrectLookupParameters), but
a value that only the database refuses, when the rows are read (a NUL character, a value that is
not in a PostgreSQL enum, an id beyond the column's range), escapes as a 500. Here the rows are
read while the changelist is built, in a savepoint, and such errors go the same way as Django's
own, with a message saying the filter was ignored. JSON fields of change forms take the shared
checks of mediaanalysis/validation.py (NaN, Infinity, \\u0000, depth and size), and their moments
stay a day inside the calendar's ends.

The site wraps every ModelAdmin registered with it, Django's and other apps' included, so that a
new registration is covered without remembering to.
"""

from django.contrib import admin, messages
from django.contrib.admin.apps import AdminConfig
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import ValidationError
from django.db import DatabaseError, models, router, transaction

from .validation import CheckedJSONField, check_moment

# What a hostile filter value raises when the rows are read: DataError (PostgreSQL refusing a
# value), ValueError (psycopg refusing a NUL), OverflowError (a number beyond any column).
LOOKUP_ERRORS = (DatabaseError, ValueError, OverflowError, ValidationError, TypeError)


class CheckedInputAdmin(admin.ModelAdmin):
    def get_changelist_instance(self, request):
        try:
            with transaction.atomic(using=router.db_for_read(self.model)):
                changelist = super().get_changelist_instance(request)
                len(changelist.result_list)  # read the page's rows now, inside the savepoint
        except LOOKUP_ERRORS as exc:
            self.message_user(
                request,
                "Some filter or search values could not be used, and were ignored.",
                messages.WARNING,
            )
            raise IncorrectLookupParameters(exc) from exc
        return changelist

    def response_action(self, request, queryset, **kwargs):
        try:
            with transaction.atomic(using=router.db_for_write(self.model)):
                return super().response_action(request, queryset, **kwargs)
        except (ValueError, ValidationError, OverflowError, TypeError):
            self.message_user(request, "The selected rows were not valid ids.", messages.ERROR)
            return None

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if isinstance(db_field, models.JSONField):
            kwargs.setdefault("form_class", CheckedJSONField)
        if isinstance(db_field, models.DateTimeField):
            kwargs.setdefault("validators", [check_moment])
        return super().formfield_for_dbfield(db_field, request, **kwargs)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows the app writes (logs, audit, batches): admins look, never add or change them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    """Rows shown under another row in the admin, never added, changed or deleted there."""

    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class CheckedAdminSite(admin.AdminSite):
    def register(self, model_or_iterable, admin_class=None, **options):
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, CheckedInputAdmin):
            admin_class = type(
                admin_class.__name__,
                (CheckedInputAdmin, admin_class),
                {"__module__": admin_class.__module__},
            )
        super().register(model_or_iterable, admin_class, **options)


class CheckedAdminConfig(AdminConfig):
    default_site = "mediaanalysis.adminsite.CheckedAdminSite"
