"""The three groups of PRODUCT.md section 5 and what each may do."""

from functools import wraps

from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied

REVIEWERS, MANAGERS, ADMINS = "Reviewers", "Managers", "Admins"

PIPELINE_VIEW = [
    "mediaanalysis.view_mediafile",
    "mediaanalysis.view_analysisjob",
    "mediaanalysis.view_analysisresult",
    "mediaanalysis.view_usersession",
]
ROLE_PERMISSIONS = {
    REVIEWERS: [*PIPELINE_VIEW, "reviews.view_hitlreview", "reviews.claim_hitlreview"],
    MANAGERS: [
        *PIPELINE_VIEW,
        "reviews.view_hitlreview",
        "reviews.view_reviewevent",
        "reviews.enqueue_hitlreview",
        "mediaanalysis.view_dashboard",
    ],
}


def ensure_groups(**kwargs) -> None:
    """Create the groups and grant their permissions; safe to run any number of times."""
    using = kwargs.get("using", "default")
    for name, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.using(using).get_or_create(name=name)
        wanted = [tuple(perm.split(".")) for perm in perms]
        found = Permission.objects.using(using).filter(
            content_type__app_label__in={app for app, _ in wanted},
            codename__in={codename for _, codename in wanted},
        )
        group.permissions.add(
            *[
                p
                for p in found.select_related("content_type")
                if (p.content_type.app_label, p.codename) in wanted
            ]
        )
    # Admins may do everything in the admin site; their users are staff.
    admins, _ = Group.objects.using(using).get_or_create(name=ADMINS)
    admins.permissions.add(*Permission.objects.using(using).all())


# Who may do what on the pages. Checked on the server for every request (`role_required`).
READERS = frozenset({REVIEWERS, MANAGERS, ADMINS})
DECIDERS = frozenset({REVIEWERS, ADMINS})
ENQUEUERS = frozenset({MANAGERS, ADMINS})
DASHBOARD_VIEWERS = frozenset({MANAGERS, ADMINS})


def role_required(allowed: frozenset):
    """Let only users in one of `allowed` groups through; others get 403.

    Reads `request.roles` (one query per request, shared with the navigation), rather than
    Django's per-permission lookups, which cost two more.
    """

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if allowed.isdisjoint(request.roles):
                raise PermissionDenied(
                    f"This needs one of these roles: {', '.join(sorted(allowed))}."
                )
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
