"""Sending one event to one endpoint: the address check, the signed request, and what follows
from the answer (docs/webhooks.md).

Requests go to an address resolved and checked here, so a name that resolves to a private or
loopback address (or is changed to one between check and use) is never reached, unless
WEBHOOK_ALLOWED_HOSTS names the host. Redirects are never followed.
"""

import ipaddress
import json
import random
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import urllib3
from django.conf import settings
from standardwebhooks.webhooks import Webhook

from .models import EventEncoder

USER_AGENT = "media-analysis-dashboard-webhooks/1.0"
EXCERPT_CHARS = 1000
LONGEST_RETRY = timedelta(hours=6)


class Refused(Exception):
    """The endpoint's address may not be reached."""


@dataclass
class Answer:
    status_code: int | None = None
    latency_ms: float | None = None
    excerpt: str = ""
    error: str = ""
    retry_after: timedelta | None = None
    retryable: bool = False
    at: datetime | None = None  # when it was sent

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def body_of(envelope: dict) -> str:
    return json.dumps(envelope, cls=EventEncoder, separators=(",", ":"), ensure_ascii=False)


def signed_headers(secret: str, message_id: str, body: str, now: datetime) -> dict:
    """The Standard Webhooks headers: webhook-id, webhook-timestamp, webhook-signature."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, now.astimezone(UTC), body),
    }


def checked_address(host: str, port: int) -> str:
    """An address of `host` to connect to; Refused if any of its addresses is not public."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ConnectionError(f"{host} does not resolve: {exc.strerror}") from exc
    addresses = [info[4][0] for info in infos]
    allowed = host.lower() in {name.lower() for name in settings.WEBHOOK_ALLOWED_HOSTS}
    if not allowed:
        for address in addresses:
            ip = ipaddress.ip_address(address.split("%")[0])
            if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
                ip = ip.ipv4_mapped
            if not ip.is_global or ip.is_multicast:
                raise Refused(
                    f"{host} resolves to {ip}, a private, loopback or reserved address; "
                    "add the host to WEBHOOK_ALLOWED_HOSTS if it is meant."
                )
    return addresses[0]


def _retry_after(value: str | None) -> timedelta | None:
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
        except (TypeError, ValueError):
            return None
    return min(timedelta(seconds=max(seconds, 0)), LONGEST_RETRY)


def post(url: str, body: str, headers: dict) -> Answer:
    """POST the body once; never raises for what the network or the receiver does."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    started = time.perf_counter()
    try:
        address = checked_address(parts.hostname or "", port)
        timeout = urllib3.Timeout(
            connect=settings.WEBHOOK_CONNECT_TIMEOUT, read=settings.WEBHOOK_READ_TIMEOUT
        )
        pool = _pool(parts.scheme, address, port, parts.hostname)
        response = pool.urlopen(
            "POST",
            path,
            body=body.encode(),
            headers={
                **headers,
                "Host": parts.netloc.rsplit("@", 1)[-1],
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
            },
            redirect=False,
            assert_same_host=False,
            preload_content=False,
            timeout=timeout,
        )
        excerpt = response.read(EXCERPT_CHARS * 4, decode_content=True)
        if response.length_remaining == 0:
            response.release_conn()  # kept alive for the next delivery
        else:
            response.close()  # a long answer is not read to its end: this connection is done
    except Refused as exc:
        return Answer(error=str(exc), latency_ms=_since(started))
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        kind = "timed out" if isinstance(exc, urllib3.exceptions.TimeoutError) else "failed"
        return Answer(error=f"Connection {kind}: {exc}", retryable=True, latency_ms=_since(started))
    code = response.status
    answer = Answer(
        status_code=code,
        latency_ms=_since(started),
        excerpt=excerpt.decode("utf-8", "replace").replace("\x00", "")[:EXCERPT_CHARS],
        retryable=code == 429 or code >= 500,
    )
    if code in (429, 503):
        answer.retry_after = _retry_after(response.headers.get("Retry-After"))
    if 300 <= code < 400:
        answer.error = "Redirects are not followed; give the endpoint its final URL."
    elif not answer.delivered:
        answer.error = f"HTTP {code}" + ("" if answer.retryable else " (not retried)")
    return answer


_pools: dict = {}


def _pool(scheme: str, address: str, port: int, hostname: str):
    """A kept-alive connection to the checked address, reused by the next delivery there."""
    key = (scheme, address, port, hostname)
    if key not in _pools:
        if len(_pools) >= 100:
            for pool in _pools.values():
                pool.close()
            _pools.clear()
        options = {"retries": False, "maxsize": 1, "block": False}
        _pools[key] = (
            urllib3.HTTPSConnectionPool(
                address, port, server_hostname=hostname, assert_hostname=hostname, **options
            )
            if scheme == "https"
            else urllib3.HTTPConnectionPool(address, port, **options)
        )
    return _pools[key]


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def backoff(attempt: int) -> timedelta:
    """The wait after the `attempt`-th failure: exponential, with jitter.

    Each wait lies between half and all of base * 3^(attempt-1), so each is longer than the one
    before, and retries from many deliveries that failed together spread out.
    """
    ceiling = min(settings.WEBHOOK_RETRY_BASE_SECONDS * 3 ** (attempt - 1), 6 * 3600)
    return timedelta(seconds=ceiling / 2 + random.uniform(0, ceiling / 2))
