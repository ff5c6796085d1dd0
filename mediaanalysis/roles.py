"""The three groups (roles) and the permissions that are what each may do."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.db.models import CharField, OuterRef, StringAgg, Subquery, Value
from django.db.models.functions import Cast

from .db import ByPk

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
        "mediaanalysis.retry_analysisjob",
        # Quality (docs/quality.md): managers adjudicate disagreements, see what reviewers
        # may not (blind decisions, gold items) and set the routing rules in the admin.
        "reviews.adjudicate_hitlreview",
        "reviews.view_blind_hitlreview",
        "reviews.view_golditem",
        "reviews.view_routingrule",
        "reviews.add_routingrule",
        "reviews.change_routingrule",
        "reviews.delete_routingrule",
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


def _permission_ids(through, owner: str) -> Subquery:
    """The ids of the permissions `through` grants the outer user, as lines."""
    return Subquery(
        through.objects.filter(**{owner: OuterRef("pk")})
        .order_by()
        .values(owner)
        .annotate(ids=StringAgg(Cast("permission", CharField()), Value("\n")))
        .values("ids")
    )


class _PermissionNames:
    """Every permission's "app_label.codename" by its id, per database.

    A permission's id and name never change once created. They are read again after each
    migrate or flush (post_migrate: migrations create permissions), and whenever an id is not
    known yet, so a permission created some other way is found too.
    """

    def __init__(self):
        self.by_db = {}

    def of(self, ids_text, using) -> set[str]:
        ids = [int(i) for i in _lines(ids_text)]
        names = self.by_db.get(using, {})
        if any(i not in names for i in ids):
            names = self.read(using=using)
        return {names[i] for i in ids if i in names}

    def read(self, using="default", **kwargs) -> dict[int, str]:
        rows = Permission.objects.using(using).values_list(
            "pk", "content_type__app_label", "codename"
        )
        names = self.by_db[using] = {pk: f"{app}.{codename}" for pk, app, codename in rows}
        return names


permission_names = _PermissionNames()


def _lines(text) -> set[str]:
    return set(filter(None, (text or "").split("\n")))


class RoleBackend(ModelBackend):
    """Django's ModelBackend, except that the signed-in user of each request comes with their
    group names (the roles) and their permissions from the same query.

    Every rule is a permission check (`permission_required`, `user.has_perm`, `perms` in
    templates); ModelBackend reads the permissions from the caches filled here, so checking
    them costs no query. Roles are only shown, never checked.
    """

    def get_user(self, user_id):
        User = get_user_model()
        try:
            user = _user_with_roles.get(User._meta.pk.to_python(user_id))
        except ValidationError:  # a session with an id that is no user's
            return None
        if user is None:
            return None
        # The attributes ModelBackend caches a user's permissions in.
        user._group_perm_cache = permission_names.of(user.group_permission_ids, user._state.db)
        user._user_perm_cache = permission_names.of(user.user_permission_ids, user._state.db)
        return user if self.user_can_authenticate(user) else None


# Read on every signed-in request: compiled once (mediaanalysis/db.py). The permissions come as
# ids, named in Python (permission_names): naming them in SQL joined five tables, and planning
# that cost PostgreSQL 0.75 ms on every request (docs/performance.md, "Claims past the live
# claims, and the signed-in user planned in less").
_user_with_roles = ByPk(
    lambda: get_user_model()._default_manager.annotate(
        group_names=StringAgg("groups__name", Value("\n"), default=Value("")),
        group_permission_ids=_permission_ids(Group.permissions.through, "group__user"),
        user_permission_ids=_permission_ids(get_user_model().user_permissions.through, "user"),
    )
)


def login_username(request, credentials=None):
    """The username django-axes counts a failed login under (AXES_USERNAME_CALLABLE): as typed,
    cut to its column's 255 characters. Django's login forms check no length before they
    authenticate, and a longer one was a 500 on PostgreSQL."""
    fields = credentials or getattr(request, "data", request.POST)
    username = fields.get(settings.AXES_USERNAME_FORM_FIELD)
    return username[:255] if isinstance(username, str) else username


def roles_of(user) -> frozenset[str]:
    """The user's roles, to show: their groups, and Admins for a superuser."""
    if not user.is_authenticated:
        return frozenset()
    if hasattr(user, "group_names"):  # read with the user by RoleBackend
        roles = _lines(user.group_names)
    else:
        roles = set(user.groups.values_list("name", flat=True))
    if user.is_superuser:
        roles.add(ADMINS)
    return frozenset(roles)


def has_access(user) -> bool:
    """Whether the user may open anything at all (any permission); else "ask an admin"."""
    return user.is_superuser or bool(user.get_all_permissions())
