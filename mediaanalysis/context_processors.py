from .roles import roles_of


def roles(request):
    """The signed-in user's roles (group names), as the header shows them."""
    current = getattr(request, "roles", None)
    return {"roles": current if current is not None else roles_of(request.user)}
