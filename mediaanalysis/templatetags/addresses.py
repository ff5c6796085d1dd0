"""The `{% url %}` tag of every template (a builtin: mediaanalysis.settings): Django's, except
that the address of a name given without arguments is reversed once per process, and that of a
name given a row's integer key is that address with the key put in (mediaanalysis.http).

Such addresses (the navigation's, the way back's) never change while the site runs, and
reversing them was two fifths of the base template's time on every page (docs/performance.md,
"The floor, again"). An address is remembered with what reverse() reads besides the name: the
script prefix, the URLconf (the request's or the site's) and the current application.
"""

from django import template
from django.conf import settings
from django.template import defaulttags
from django.urls import get_script_prefix, get_urlconf
from django.utils.html import conditional_escape

from mediaanalysis.http import pk_address

register = template.Library()


class URLNode(defaulttags.URLNode):
    def __init__(self, *args):
        super().__init__(*args)
        name = self.view_name  # fixed: a literal name ('home'), not a variable, and nothing else
        literal = isinstance(name.var, str) and not (self.kwargs or self.asvar or name.filters)
        self.fixed = literal and not self.args
        self.keyed = literal and len(self.args) == 1  # {% url 'job-detail' result.job_id %}
        self.known = {}

    def render(self, context):
        if self.keyed and type(pk := self.args[0].resolve(context)) is int:
            url = pk_address(self.view_name.var, pk, current_app(context))
            return conditional_escape(url) if context.autoescape else url
        if not self.fixed:
            return super().render(context)
        urlconf = get_urlconf() or settings.ROOT_URLCONF
        key = (get_script_prefix(), urlconf, current_app(context), context.autoescape)
        if (url := self.known.get(key)) is None:
            url = self.known[key] = super().render(context)
        return url


def current_app(context):
    """The application namespace Django's URLNode reverses in."""
    request = getattr(context, "request", None)
    try:
        return request.current_app
    except AttributeError:
        return getattr(getattr(request, "resolver_match", None), "namespace", None)


@register.tag
def url(parser, token):
    node = defaulttags.url(parser, token)
    return URLNode(node.view_name, node.args, node.kwargs, node.asvar)
