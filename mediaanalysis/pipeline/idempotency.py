"""Idempotent API writes: a POST that carries an `Idempotency-Key` header runs once.

A retry with the same key and the same request (method, path, body) within 24 hours gets the
first response again, with `Idempotent-Replayed: true`, and writes nothing; the same key with
another request is refused (409). Keys belong to the API token that sent them.

The key's row is inserted before the view runs, in one transaction with everything the view
writes, and completed with the response before the commit. A concurrent request with the same
key therefore waits on the unique index until the first commits (then replays its response) or
rolls back (then runs itself). A response other than 2xx wrote nothing, so it is not kept: a
retry runs again.
"""

import hashlib
import re
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from ninja import NinjaAPI

from .models import IdempotencyKey
from .tokens import token_for

HEADER = "Idempotency-Key"
WINDOW = timedelta(hours=24)
VALID_KEY = re.compile(r"[\x21-\x7e]{1,255}")  # visible ASCII, as in a UUID or ULID
BATCH = 5000
DESCRIPTION = (
    "Send an `Idempotency-Key` header (up to 255 visible ASCII characters, e.g. a UUID) with any "
    "POST to make a retry safe: the same key and the same request within 24 hours returns the "
    "first response (header `Idempotent-Replayed: true`) without writing again; the same key "
    "with a different request is refused with 409. Only successful (2xx) responses are kept."
)


def _token_id(request) -> int | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    api_token = token_for(request, token.strip())
    return None if api_token is None else api_token.pk


def _fingerprint(request) -> str:
    digest = hashlib.sha256(f"{request.method} {request.get_full_path()}\n".encode())
    digest.update(request.body)
    return digest.hexdigest()


def _replay(first: IdempotencyKey, fingerprint: str):
    if first.fingerprint != fingerprint:
        return JsonResponse(
            {
                "detail": f"This {HEADER} was already used for a different request (method, "
                "path or body) in the last 24 hours; send a new key with a new request."
            },
            status=409,
        )
    response = HttpResponse(
        bytes(first.response_body), status=first.status_code, content_type=first.content_type
    )
    response["Idempotent-Replayed"] = "true"
    return response


class IdempotencyMiddleware:
    """Applies to POSTs under /api/ that carry the header; everything else passes by."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        key = request.headers.get(HEADER)
        if key is None or request.method != "POST" or not request.path_info.startswith("/api/"):
            return self.get_response(request)
        if not VALID_KEY.fullmatch(key):
            return JsonResponse(
                {"detail": f"{HEADER} must be 1 to 255 visible ASCII characters (a UUID will do)."},
                status=400,
            )
        token_id = _token_id(request)
        if token_id is None:
            return self.get_response(request)  # the API answers 401 itself
        fingerprint = _fingerprint(request)
        for _attempt in range(3):
            now = timezone.now()
            with transaction.atomic():
                IdempotencyKey.objects.filter(
                    token_id=token_id, key=key, created_at__lte=now - WINDOW
                ).delete()
                try:
                    with transaction.atomic():
                        record = IdempotencyKey.objects.create(
                            token_id=token_id, key=key, fingerprint=fingerprint, created_at=now
                        )
                except IntegrityError:
                    first = IdempotencyKey.objects.filter(token_id=token_id, key=key).first()
                    if first is None:
                        continue  # the first request rolled back meanwhile: run this one
                    return _replay(first, fingerprint)
                response = self.get_response(request)
                if 200 <= response.status_code < 300 and not response.streaming:
                    IdempotencyKey.objects.filter(pk=record.pk).update(
                        status_code=response.status_code,
                        response_body=response.content,
                        content_type=response.get("Content-Type", ""),
                    )
                else:
                    transaction.set_rollback(True)
                return response
        return JsonResponse(
            {"detail": f"Requests with this {HEADER} keep failing; try again."}, status=409
        )


def purge_expired(now=None) -> int:
    """Delete keys older than 24 hours (the periodic work); return how many."""
    cutoff = (now or timezone.now()) - WINDOW
    purged = 0
    while pks := list(
        IdempotencyKey.objects.filter(created_at__lte=cutoff).values_list("pk", flat=True)[:BATCH]
    ):
        purged += IdempotencyKey.objects.filter(pk__in=pks).delete()[0]
    return purged


class DocumentedIdempotencyAPI(NinjaAPI):
    """The API, with the Idempotency-Key header described on every POST operation."""

    def get_openapi_schema(self, **kwargs):
        schema = super().get_openapi_schema(**kwargs)
        schema["info"]["description"] = f"{schema['info']['description']}\n\n{DESCRIPTION}"
        for operations in schema["paths"].values():
            if "post" in operations:
                operations["post"].setdefault("parameters", []).append(
                    {
                        "in": "header",
                        "name": HEADER,
                        "required": False,
                        "schema": {"type": "string", "pattern": f"^{VALID_KEY.pattern}$"},
                        "description": DESCRIPTION,
                    }
                )
        return schema
