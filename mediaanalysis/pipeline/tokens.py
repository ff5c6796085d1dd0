"""The API token of a request, looked up once however many parts of the request ask."""

from .models import ApiToken


def token_for(request, raw: str) -> ApiToken | None:
    """The live token with this secret, or None. The Idempotency-Key middleware asks before
    the API's authentication does; the second asks no query."""
    known = getattr(request, "_api_token", None)
    if known is None or known[0] != raw:
        known = request._api_token = (raw, ApiToken.objects.authenticating(raw))
    return known[1]
