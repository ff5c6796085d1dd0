from .roles import ADMINS, MANAGERS, REVIEWERS


def roles(request):
    """What the navigation needs to know about the signed-in user's roles."""
    current = getattr(request, "roles", frozenset())
    return {
        "roles": current,
        "is_reviewer": REVIEWERS in current or ADMINS in current,
        "is_manager": MANAGERS in current or ADMINS in current,
        "is_admin": ADMINS in current,
    }
