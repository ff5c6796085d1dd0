"""The Jinja2 environment of the templates drawn in a page's hot loop: the results list's rows,
25 to 100 of them on every results page (docs/performance.md, "The results list's rows").

The same helpers as the template language's: `{% url %}`'s addresses of rows and the list
filters of mediaanalysis.templatetags.listing.
"""

from django.template.defaultfilters import floatformat
from django.urls import reverse
from django.utils.timezone import template_localtime
from jinja2 import Environment

from mediaanalysis.http import pk_address
from mediaanalysis.templatetags.listing import clock, middle, stamp


def url(name, *args):
    return pk_address(name, args[0]) if len(args) == 1 else reverse(name, args=args)


def environment(**options):
    env = Environment(**options)
    env.globals["url"] = url
    env.filters.update(
        clock=clock,
        floatformat=floatformat,
        middle=middle,
        stamp=lambda value: stamp(template_localtime(value)),  # as the template language does
    )
    return env
