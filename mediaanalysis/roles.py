"""The three groups of PRODUCT.md section 5 and what each may do."""

from functools import wraps

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied
from django.db.models import StringAgg, Value

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


class RoleBackend(ModelBackend):
    """Django's ModelBackend, except that the signed-in user of each request comes with their
    group names (the roles) from the same query: one query fewer on every page."""

    def get_user(self, user_id):
        User = get_user_model()
        try:
            user = User._default_manager.annotate(
                group_names=StringAgg("groups__name", Value("\n"), default=Value(""))
            ).get(pk=user_id)
        except User.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None


def roles_of(user) -> frozenset[str]:
    """The user's roles: their groups, and Admins for a superuser."""
    if not user.is_authenticated:
        return frozenset()
    if hasattr(user, "group_names"):  # read with the user by RoleBackend
        roles = set(filter(None, user.group_names.split("\n")))
    else:
        roles = set(user.groups.values_list("name", flat=True))
    if user.is_superuser:
        roles.add(ADMINS)
    return frozenset(roles)


# Who may do what on the pages. Checked on the server for every request (`role_required`).
READERS = frozenset({REVIEWERS, MANAGERS, ADMINS})
DECIDERS = frozenset({REVIEWERS, ADMINS})
ENQUEUERS = frozenset({MANAGERS, ADMINS})
DASHBOARD_VIEWERS = frozenset({MANAGERS, ADMINS})


def role_required(allowed: frozenset):
    """Let only users in one of `allowed` groups through; others get 403.

    Reads `request.roles` (read with the user, shared with the navigation), rather than
    Django's per-permission lookups, which cost two more queries.
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
