from django.contrib.auth import middleware as auth_middleware
from django.contrib.auth.views import redirect_to_login
from django.db import OperationalError
from django.shortcuts import render
from django.utils.functional import SimpleLazyObject
from django_htmx.http import HttpResponseClientRedirect

from .roles import has_access, roles_of


def database_unavailable(request):
    response = render(request, "503.html", status=503)
    response["Retry-After"] = "5"
    return response


class DatabaseUnavailableMiddleware:
    """An unreachable database answers 503 with a plain page, not a 500 with a traceback.

    Errors raised outside a view (loading the session, the user) reach `handler500`, which
    answers the same way.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, OperationalError):
            return database_unavailable(request)
        return None


class LoginRequiredMiddleware(auth_middleware.LoginRequiredMiddleware):
    """Every page needs a login; the token-authenticated API is outside it.

    A session that expired during an htmx request sends the whole browser to the login page
    instead of swapping the login form into a table cell.
    """

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path_info.startswith("/api/"):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)

    def handle_no_permission(self, request, view_func):
        if request.htmx:
            page = request.htmx.current_url or request.get_full_path()
            login = redirect_to_login(
                page, self.get_login_url(view_func), self.get_redirect_field_name(view_func)
            )
            return HttpResponseClientRedirect(login.url)
        return super().handle_no_permission(request, view_func)


class RoleMiddleware:
    """`request.roles` (group names, read with the user, shown in the header); a signed-in
    user without any permission sees the "ask an admin for access" page instead of any page."""

    OPEN_PATHS = ("/accounts/", "/health/", "/api/", "/static/")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.roles = SimpleLazyObject(lambda: roles_of(request.user))
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path_info.startswith(self.OPEN_PATHS) or not request.user.is_authenticated:
            return None
        if not has_access(request.user):
            return render(request, "no_access.html", status=403)
        return None
