from django.contrib.auth import middleware as auth_middleware
from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.views import redirect_to_login
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.functional import SimpleLazyObject
from django_htmx.http import HttpResponseClientRedirect

from .roles import has_access, roles_of

DATABASE_ERRORS = (OperationalError, InterfaceError)


def is_token_api_call(request) -> bool:
    """An API call that carries a bearer token: it is authenticated by its token alone, so a
    session, messages and the signed-in user have nothing to do for it. (Nor has CSRF: the
    API's views are exempt, and Django's CSRF middleware passes them by itself.)"""
    scheme = request.META.get("HTTP_AUTHORIZATION", "")[:7].lower()
    return request.path_info.startswith("/api/") and scheme in ("bearer ", "bearer")


class PassTokenAPICalls:
    """Mixin for a middleware that a token-authenticated API call passes by (per-request work
    the call does not need: docs/performance.md, "The API's request")."""

    def __call__(self, request):
        if is_token_api_call(request):
            return self.get_response(request)
        return super().__call__(request)


class APISessionMiddleware(PassTokenAPICalls, SessionMiddleware):
    """Django's SessionMiddleware; a token API call has no session."""


class APIAuthenticationMiddleware(PassTokenAPICalls, auth_middleware.AuthenticationMiddleware):
    """Django's AuthenticationMiddleware; a token API call is nobody signed in (its token says
    who it is), and no session or user row is read for it."""

    def __call__(self, request):
        if is_token_api_call(request):
            request.user = AnonymousUser()
        return super().__call__(request)


class APIMessageMiddleware(PassTokenAPICalls, MessageMiddleware):
    """Django's MessageMiddleware; a JSON answer shows no messages."""


UNAVAILABLE = "The database is unavailable; try again shortly."


def database_unavailable(request=None):
    """The plain 503 page, or the API's JSON under /api/ (its schema and docs too). Rendered
    without the request, so that no context processor (the user, their roles, messages) goes
    back to the database that just failed."""
    if request is not None and request.path_info.startswith("/api/"):
        response = JsonResponse({"detail": UNAVAILABLE}, status=503)
    else:
        response = HttpResponse(render_to_string("503.html"), status=503)
    response["Retry-After"] = "5"
    return response


class DatabaseUnavailableMiddleware:
    """An unreachable database answers 503 with a plain page, within the pool's timeout.

    The signed-in user is read here, first of all the views' middleware, so that a database
    that cannot be reached is met once, and answered at once; the middleware after this one
    then finds the user loaded (or the session untouched) and does not wait for the database
    again. Errors raised elsewhere outside a view reach `handler500`, which answers the same.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    # These answer a database outage themselves, in JSON.
    OWN_ANSWER = ("/api/", "/health/")

    def process_view(self, request, view_func, view_args, view_kwargs):
        user = getattr(request, "user", None)
        if user is None or request.path_info.startswith(self.OWN_ANSWER):
            return None
        try:
            user.is_authenticated  # noqa: B018 (loads the lazy user: session, then user row)
        except DATABASE_ERRORS:
            return database_unavailable(request)
        return None

    def process_exception(self, request, exception):
        if isinstance(exception, DATABASE_ERRORS):
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
