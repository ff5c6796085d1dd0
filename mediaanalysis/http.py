"""What every app's views share: where to go back to, a redirect htmx follows too, and the
address of a row."""

from django.conf import settings
from django.http import HttpResponseRedirect
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.http import HttpResponseClientRedirect


def redirect_to(request, url: str):
    """A redirect to a URL (never a view name) that also works for htmx (HX-Redirect)."""
    return HttpResponseClientRedirect(url) if request.htmx else HttpResponseRedirect(url)


def next_path(request, default: str) -> str:
    """Where the form came from (its `next` field): a path of this site, else `default`."""
    back = request.POST.get("next", "")
    if back.startswith("/") and url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return back
    return default


# A key no address holds otherwise: reverse() writes it where a row's key goes.
_MARK = 9_876_543_210
_around_key = {}


def pk_address(name: str, pk, current_app=None) -> str:
    """reverse(name, args=[pk]) for a row's address (`<int:pk>`): for a key that is an int, what
    is around it is reversed once per process (and per script prefix, URLconf and current app),
    then the key is put in. A list page links to a hundred rows, at 20 µs a reverse()
    (docs/performance.md, "Addresses of rows")."""
    if type(pk) is not int or pk < 0:
        return reverse(name, args=[pk], current_app=current_app)
    key = (name, get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF, current_app)
    if (around := _around_key.get(key)) is None:
        try:
            around = reverse(name, args=[_MARK], current_app=current_app).split(str(_MARK))
        except NoReverseMatch:  # an address that takes no such key: reverse() says so below
            around = []
        _around_key[key] = around
    if len(around) != 2:
        return reverse(name, args=[pk], current_app=current_app)
    return f"{around[0]}{pk}{around[1]}"
