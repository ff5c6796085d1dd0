"""What every app's form views share: where to go back to, and a redirect htmx follows too."""

from django.http import HttpResponseRedirect
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
