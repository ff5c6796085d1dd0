"""The benchmark of docs/design.md, Performance targets.

Pages are requested in-process through Django's test client, so every middleware runs, logged
in as the role that uses them. For each: the median and p95 server time over --runs after a
warm-up, the queries and the time spent in them, and the same queries replayed directly
through psycopg (page time / raw SQL time). A stock ModelAdmin on a separate admin site is the
baseline for the jobs and results lists. Claims are measured over HTTP against gunicorn with
1, 4 and 16 concurrent reviewers as fast as they can go, then at steady rates; afterwards the
database is checked for double claims.
"""

import argparse
import html
import http.client
import json
import logging
import os
import platform
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.auth.models import Group
from django.contrib.sessions.backends.db import SessionStore
from django.core.cache import cache
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.models import Count, F, Q
from django.test import Client, RequestFactory
from django.test.utils import override_settings
from django.utils import timezone

from dashboard.stats import WINDOWS, Scope, quality_figures, recounting
from mediaanalysis import bench_webhooks
from mediaanalysis.management import vocabulary
from mediaanalysis.pipeline import search
from mediaanalysis.pipeline.decoding import make_test_audio
from mediaanalysis.pipeline.models import (
    AnalysisJob,
    AnalysisResult,
    ApiToken,
    MediaFile,
    MediaPeaks,
    ProcessingStatus,
    UserSession,
)
from mediaanalysis.pipeline.peaks import peaks_for, peaks_response
from mediaanalysis.pipeline.signed_media import signed_url
from mediaanalysis.roles import ADMINS, MANAGERS, REVIEWERS, RoleBackend, ensure_groups
from reviews import services
from reviews.models import HELD, OPEN, HITLReview, ReviewEvent

BASE_DIR = Path(settings.BASE_DIR)
REVIEW_URL = re.compile(r"^/reviews/(\d+)/(?:\?decided=\d+)?$")  # ?decided= after a decision
# Claims per client before a timed claims run (Command.warm_claims).
WARM_CLAIMS = 10


class QueryRecorder:
    """Times every query a request runs (an execute wrapper: no DEBUG needed)."""

    def __init__(self):
        self.queries = []

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.queries.append((sql, params, many, time.perf_counter() - started))


def p95(values):
    """The 95th percentile, interpolated between samples like PostgreSQL's percentile_cont."""
    return statistics.quantiles(values, n=20, method="inclusive")[-1] if len(values) > 1 else None


def ms(seconds):
    return None if seconds is None else round(seconds * 1000, 2)


class Command(BaseCommand):
    help = (
        "Benchmark the pages, the admin against a stock ModelAdmin, raw SQL, and claims over HTTP."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--runs", type=int, default=30, help="timed runs per page, after the warm-up"
        )
        parser.add_argument("--warmup", type=int, default=3)
        parser.add_argument("--claims", type=int, default=2000, help="claims per concurrency level")
        parser.add_argument("--concurrency", default="1,4,16")
        parser.add_argument(
            "--rate",
            default="400,200",
            help="also claim at these steady rates (claims/s) with the most clients; 0: don't",
        )
        parser.add_argument(
            "--plain",
            action=argparse.BooleanOptionalAction,
            default=True,
            help="claim next alone, a fresh reviewer for each claim",
        )
        parser.add_argument(
            "--cycle",
            action=argparse.BooleanOptionalAction,
            default=True,
            help="also run the reviewer cycle (decide + claim next)",
        )
        parser.add_argument("--skip-claims", action="store_true", help="no gunicorn run")
        parser.add_argument(
            "--webhooks",
            action=argparse.BooleanOptionalAction,
            default=True,
            help="webhook delivery: throughput of one worker, delay at 1 and 16 reviewers",
        )
        parser.add_argument("--deliveries", type=int, default=1000)
        parser.add_argument("--decisions", type=int, default=400, help="per reviewer count")
        parser.add_argument("--skip-pages", action="store_true", help="only the claims over HTTP")
        parser.add_argument(
            "--only",
            choices=["pages", "quality", "search", "claims", "webhooks", "media", "api"],
            help="run only this part: the pages, the dashboard and quality rows (a part of the"
            " pages), the full-text search rows, the claims, the webhooks, the media, or the API"
            " over HTTP with the signed-in floor",
        )
        parser.add_argument(
            "--api-requests", type=int, default=2000, help="API requests per operation and level"
        )
        parser.add_argument("--skip-api", action="store_true", help="no API rows over HTTP")
        parser.add_argument(
            "--port", type=int, default=0, help="gunicorn's port (default: any free one)"
        )
        parser.add_argument(
            "--write-rows", type=int, default=2000, help="results inserted to measure write cost"
        )
        parser.add_argument(
            "--skip-media", action="store_true", help="no media Range or waveform peaks rows"
        )
        parser.add_argument(
            "--media-mb", type=int, default=256, help="size of the file served in 1 MB ranges"
        )
        parser.add_argument(
            "--media-rounds",
            type=int,
            default=3,
            help="rounds of 1 MB ranges per side (whitenoise, signed URL, signed in); medians count",
        )
        parser.add_argument(
            "--audio-minutes",
            type=int,
            default=60,
            help="length of the audio whose peaks are timed",
        )
        parser.add_argument("--json", dest="json_path", help="write the results here as JSON")

    def handle(
        self,
        *args,
        runs,
        warmup,
        claims,
        concurrency,
        rate,
        plain,
        cycle,
        skip_claims,
        skip_pages,
        only,
        write_rows,
        skip_media,
        media_mb,
        media_rounds,
        audio_minutes,
        json_path,
        webhooks,
        api_requests,
        skip_api,
        port,
        deliveries,
        decisions,
        **options,
    ):
        if connection.vendor != "postgresql":
            raise CommandError(
                "The benchmark needs PostgreSQL (set DATABASE_URL); run seed_bulk first."
            )
        if not AnalysisJob.objects.exists():
            raise CommandError("No data: run `manage.py seed_bulk` first.")
        self.runs, self.warmup, self.only, self.port = runs, warmup, only, port
        ensure_groups()
        self.users = self.bench_users()
        if settings.DEBUG:
            self.stderr.write(
                "DEBUG is on: templates are parsed on every request. `make bench` runs with DEBUG=false."
            )
        report = {"machine": self.machine(), "sizes": self.sizes(), "pages": [], "claims": []}
        if only:
            skip_pages, skip_claims = only not in ("pages", "quality"), only != "claims"
            skip_media, skip_api = only != "media", only != "api"
            webhooks = webhooks and only == "webhooks"
        if only in (None, "search"):
            with override_settings(ROOT_URLCONF="mediaanalysis.bench_urls", ALLOWED_HOSTS=["*"]):
                report["search"] = self.search(write_rows)
        if not skip_pages:
            with override_settings(ROOT_URLCONF="mediaanalysis.bench_urls", ALLOWED_HOSTS=["*"]):
                for row in self.dashboard() if only == "quality" else self.pages():
                    report["pages"].append(row)
                    self.print_row(row)
            if only != "quality":
                report["ratios"] = self.ratios(report["pages"])
                self.print_ratios(report["ratios"])
        if not skip_media:
            report["media"] = self.media(media_mb, audio_minutes, media_rounds)
        if not skip_claims:
            levels = [int(n) for n in concurrency.split(",") if n.strip()]
            runs = [(level, False, None) for level in levels] if plain else []
            runs += [(max(levels), False, float(r)) for r in rate.split(",") if float(r) > 0]
            runs += [(level, True, None) for level in levels] if cycle else []
            for level, in_cycle, at_rate in runs:
                row = self.claim_run(level, claims, cycle=in_cycle, rate=at_rate)
                report["claims"].append(row)
                cpu = ", ".join(f"{k} {v}" for k, v in row["cpu_ms_per_claim"].items())
                self.stdout.write(
                    f"{row['mode']:<24} x{level:>2}: {row['claims']:,} claims in {row['seconds']:.1f} s"
                    f" = {row['claims_per_second']:.0f}/s, p50 {row['p50_ms']} ms, p95 {row['p95_ms']} ms,"
                    f" double claims: {row['double_claims']}, errors: {len(row['errors'])};"
                    f" CPU ms per claim: {cpu}"
                )
        if not skip_api:
            levels = [int(n) for n in concurrency.split(",") if n.strip()]
            report["api"] = []
            for row in self.api(levels, api_requests):
                report["api"].append(row)
                self.print_api_row(row)
            if only == "api":  # the floor of every signed-in page, in-process
                with override_settings(
                    ROOT_URLCONF="mediaanalysis.bench_urls", ALLOWED_HOSTS=["*"]
                ):
                    report["pages"].append(self.floor())
                self.print_row(report["pages"][-1])
        if webhooks:
            report["webhooks"] = bench_webhooks.run(self.enqueue_fresh, deliveries, decisions)
            self.print_webhooks(report["webhooks"])
        if json_path:
            Path(json_path).write_text(json.dumps(report, indent=2, default=str))
            self.stdout.write(f"Wrote {json_path}")

    # Setup

    def bench_users(self):
        User = get_user_model()
        users = {}
        for name, group, staff in (
            ("bench-manager", MANAGERS, False),
            ("bench-reviewer", REVIEWERS, False),
            ("bench-admin", ADMINS, True),
        ):
            user, _ = User.objects.get_or_create(
                username=name, defaults={"is_staff": staff, "is_superuser": staff}
            )
            user.groups.add(Group.objects.get(name=group))
            users[group] = user
        return users

    def machine(self):
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            version = cursor.fetchone()[0]
        return {
            "cores": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "postgresql": version,
            "when": timezone.now().isoformat(),
        }

    def sizes(self):
        return {
            "jobs": AnalysisJob.all_objects.count(),
            "results": AnalysisResult.all_objects.count(),
            "files": MediaFile.all_objects.count(),
            "sessions": UserSession.all_objects.count(),
            "reviews": HITLReview.all_objects.count(),
            "second_reviews": HITLReview.all_objects.filter(
                round=2, gold_item__isnull=True
            ).count(),
            "adjudications": HITLReview.all_objects.filter(round=3).count(),
            "gold_checks": HITLReview.all_objects.filter(gold_item__isnull=False).count(),
        }

    # Pages

    def pages(self):
        manager, reviewer, admin = self.users[MANAGERS], self.users[REVIEWERS], self.users[ADMINS]
        job = AnalysisJob.objects.order_by("-id").first()
        result = AnalysisResult.objects.exclude(transcript=None).order_by("-id").first()
        session_id = job.session_id
        model = AnalysisResult.objects.order_by("-id").values_list("model_used", flat=True).first()
        now = timezone.now()
        since, until = (
            (now - timedelta(days=30)).strftime("%Y-%m-%d"),
            (now - timedelta(days=23)).strftime("%Y-%m-%d"),
        )
        pages = [
            ("jobs list, first page", manager, "/jobs/"),
            ("jobs list, per_page=100", manager, "/jobs/?per_page=100"),
            ("jobs list, page 2,000", manager, "/jobs/?page=2000"),
            ("jobs list, status=failed", manager, "/jobs/?status=failed"),
            ("jobs list, session filter", manager, f"/jobs/?session_id={session_id}"),
            (
                "jobs list, date range",
                manager,
                f"/jobs/?created_after={since}&created_before={until}",
            ),
            ("results list, first page", manager, "/results/"),
            ("results list, page 2,000", manager, "/results/?page=2000"),
            (
                "results list, model + confidence",
                manager,
                f"/results/?model={model}&confidence_min=0.2&confidence_max=0.4",
            ),
            ("files list", manager, "/files/"),
            ("sessions list", manager, "/sessions/"),
            ("job detail", manager, f"/jobs/{job.pk}/"),
            ("result detail", manager, f"/results/{result.pk}/"),
            ("review queue", reviewer, "/reviews/"),
            ("admin jobs changelist (ours)", admin, "/admin/mediaanalysis/analysisjob/"),
            ("admin results changelist (ours)", admin, "/admin/mediaanalysis/analysisresult/"),
            ("stock admin jobs changelist", admin, "/stock-admin/mediaanalysis/analysisjob/"),
            ("stock admin results changelist", admin, "/stock-admin/mediaanalysis/analysisresult/"),
        ]
        for name, user, url in pages:
            yield self.measure(name, user, url)
        # The fixed cost of any signed-in page: the request cycle, the user and their roles,
        # one lookup, and the base template. No page can take less.
        yield self.floor()
        yield from self.dashboard()
        yield self.measure_claims_in_process(reviewer)

    def dashboard(self):
        """The dashboard, cold and warm, the quality figures' share of its recount per window
        (docs/quality.md), and the results lists a quality figure links to: `--only quality`."""
        manager = self.users[MANAGERS]
        if self.only == "quality":  # the floor of this run (see pages())
            yield self.floor()
        yield self.measure("dashboard, cold (24 h)", manager, "/dashboard/?window=24h", cold=True)
        yield self.measure(
            "dashboard, cold (30 days)", manager, "/dashboard/?window=30d", cold=True
        )
        yield self.measure("dashboard, warm (24 h)", manager, "/dashboard/?window=24h")
        yield self.measure("dashboard, warm (30 days)", manager, "/dashboard/?window=30d")
        for window in WINDOWS:
            yield self.measure_quality(window)
        since = (timezone.now() - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M")
        yield self.measure(
            "results list, quality=disagreed (30 days)",
            manager,
            f"/results/?quality=disagreed&quality_since={since}",
        )
        yield self.measure(
            "results list, second reviews of one reviewer",
            manager,
            f"/results/?quality=second_reviewed&reviewer=bulk-reviewer-01&quality_since={since}",
        )

    def floor(self):
        """The fixed cost of any signed-in page: the request cycle, the user and their roles,
        one lookup, and the base template. No page can take less."""
        request_log = logging.getLogger("django.request")
        level, _ = request_log.level, request_log.setLevel(logging.ERROR)  # no "Not Found" lines
        try:
            return self.measure(
                "a missing job (404 page)", self.users[MANAGERS], "/jobs/0/", codes=(404,)
            )
        finally:
            request_log.setLevel(level)

    def measure(self, name, user, url, cold=False, codes=(200,), headers=None):
        client = Client(headers=headers)
        if user is not None:  # None: no session at all (a signed media URL)
            client.force_login(user)
        runs, warmup = (max(3, self.runs // 5), 1) if cold else (self.runs, self.warmup)
        for _ in range(warmup):
            self.expect_ok(client.get(url), name, codes)
        timings, recorders, cpu = [], [], []
        for _ in range(runs):
            if cold:
                cache.clear()
                client.force_login(user)  # the session lived in the cache
            recorder = QueryRecorder()
            with connection.execute_wrapper(recorder):
                started, cpu_started = time.perf_counter(), time.process_time()
                self.expect_ok(client.get(url), name, codes)
                timings.append(time.perf_counter() - started)
                cpu.append(time.process_time() - cpu_started)
            recorders.append(recorder)
        row = self.summarise(name, url, timings, recorders)
        # This process's CPU time: on a loaded machine, what the page itself costs in Python.
        return {**row, "cpu_median_ms": ms(statistics.median(cpu))}

    def measure_quality(self, window):
        """The quality figures of a dashboard recount (agreement, overturns, gold, routing,
        open adjudications) and the reviewer analytics, timed without the rest of the page."""
        scope = Scope(window=window)
        timings, recorders = [], []
        for n in range(max(3, self.runs // 5) + 1):
            now = timezone.now()
            start = now - scope.span
            recorder = QueryRecorder()
            with connection.execute_wrapper(recorder):
                started = time.perf_counter()
                with recounting():  # as the dashboard's recount runs them
                    quality_figures(scope, start, now)
                elapsed = time.perf_counter() - started
            if n:  # the first run warms the connection and the plans
                timings.append(elapsed)
                recorders.append(recorder)
        return self.summarise(
            f"quality figures alone, cold ({WINDOWS[window][0]})",
            "dashboard.stats.quality_figures()",
            timings,
            recorders,
        )

    def measure_claims_in_process(self, reviewer):
        """Claim next in-process; each claimed review is decided (untimed) before the next."""
        pending = HITLReview.objects.claimable(timezone.now()).count()
        if pending < self.runs + self.warmup:
            self.enqueue_fresh(self.runs + self.warmup)
        client = Client()
        client.force_login(reviewer)
        timings, recorders = [], []
        for n in range(self.warmup + self.runs):
            recorder = QueryRecorder()
            with connection.execute_wrapper(recorder):
                started = time.perf_counter()
                response = client.post("/reviews/claim-next/")
                elapsed = time.perf_counter() - started
            self.expect_ok(response, "claim next", codes=(302,))
            review_id = int(response["Location"].rstrip("/").rsplit("/", 1)[1])
            services.decide(review_id, reviewer, "yes", "bench", None)
            if n >= self.warmup:
                timings.append(elapsed)
                recorders.append(recorder)
        return self.summarise(
            "claim next (POST, in-process)", "/reviews/claim-next/", timings, recorders
        )

    def expect_ok(self, response, name, codes=(200,)):
        if response.status_code not in codes:
            raise CommandError(f"{name}: HTTP {response.status_code}")
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)

    def summarise(self, name, url, timings, recorders):
        sql_times = [sum(q[3] for q in r.queries) for r in recorders]
        counts = {len(r.queries) for r in recorders}
        raw = self.replay(recorders[len(recorders) // 2].queries)
        median = statistics.median(timings)
        return {
            "page": name,
            "url": url,
            "runs": len(timings),
            "median_ms": ms(median),
            "p95_ms": ms(p95(timings)),
            "queries": max(counts),
            "sql_median_ms": ms(statistics.median(sql_times)),
            "raw_sql_ms": ms(raw),
            "page_over_raw_sql": round(median / raw, 2) if raw else None,
        }

    def replay(self, queries):
        """The same statements straight through psycopg (client-side binding, like Django):
        the median over five replays of their summed time."""
        import psycopg

        params = connection.get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("context", None)
        params.pop("prepare_threshold", None)
        totals = []
        with psycopg.connect(**params, autocommit=True) as conn:
            for _ in range(6):
                total = 0.0
                with psycopg.ClientCursor(conn) as cursor:
                    for sql, args, _many, _ in queries:
                        if (
                            sql.lstrip()
                            .upper()
                            .startswith(
                                ("SAVEPOINT", "RELEASE", "ROLLBACK", "UPDATE", "INSERT", "DELETE")
                            )
                        ):
                            continue  # replay reads only: writes would change what is measured
                        started = time.perf_counter()
                        cursor.execute(sql, args)
                        if cursor.description:
                            cursor.fetchall()
                        total += time.perf_counter() - started
                totals.append(total)
        return statistics.median(totals[1:])

    def ratios(self, pages):
        by_name = {p["page"]: p for p in pages}

        def ratio(stock, ours):
            return round(by_name[stock]["median_ms"] / by_name[ours]["median_ms"], 1)

        return {
            "stock_admin_jobs / our jobs list": ratio(
                "stock admin jobs changelist", "jobs list, first page"
            ),
            "stock_admin_results / our results list": ratio(
                "stock admin results changelist", "results list, first page"
            ),
            "stock_admin_jobs / our admin jobs": ratio(
                "stock admin jobs changelist", "admin jobs changelist (ours)"
            ),
            "stock_admin_results / our admin results": ratio(
                "stock admin results changelist", "admin results changelist (ours)"
            ),
        }

    def print_row(self, row):
        if not hasattr(self, "_header"):
            self._header = True
            self.stdout.write(
                f"{'page':<38} {'median':>8} {'p95':>8} {'queries':>7} {'sql':>8} {'raw sql':>8} {'page/raw':>8}"
            )
        self.stdout.write(
            f"{row['page']:<38} {row['median_ms']:>8} {row['p95_ms']:>8} {row['queries']:>7} {row['sql_median_ms']:>8} {row['raw_sql_ms']:>8} {row['page_over_raw_sql'] or '':>8}"
        )

    def print_ratios(self, ratios):
        for name, value in ratios.items():
            self.stdout.write(f"{name:<45} {value}x")

    # Media

    def media(self, media_mb, audio_minutes, rounds=3):
        rows = {"ranges": [], "peaks": None, "review_page": None}
        for clients in (1, 4):
            row = self.media_ranges(media_mb, clients, rounds)
            rows["ranges"].append(row)
            speed, latency = row["mb_per_s"], row["one_byte_median_ms"]
            self.stdout.write(
                f"media ranges, 1 MB x {row['requests']:,}, {clients} client(s), median of"
                f" {rounds} rounds: signed URL {speed['signed']} MB/s, signed in"
                f" {speed['signed_in']} MB/s, whitenoise {speed['whitenoise']} MB/s;"
                f" signed / whitenoise {row['ratio']} (rounds {row['ratios']}), signed in /"
                f" whitenoise {row['ratio_signed_in']}; a one-byte range: signed"
                f" {latency['signed']} ms, signed in {latency['signed_in']} ms, whitenoise"
                f" {latency['whitenoise']} ms; gunicorn's peak RSS {row['gunicorn_rss_mb']} MB"
            )
        rows["peaks"] = self.media_peaks(audio_minutes)
        peaks = rows["peaks"]
        self.stdout.write(
            f"peaks of {audio_minutes} min of audio: computed in {peaks['compute_s']} s"
            f" ({peaks['compute_cpu_s']} s of CPU)"
            f" ({peaks['length']} peaks, {peaks['gzip_kb']} KB gzipped); served signed in: median"
            f" {peaks['serve']['median_ms']} ms, p95 {peaks['serve']['p95_ms']} ms,"
            f" {peaks['serve']['queries']} queries; by signed URL: median"
            f" {peaks['signed']['median_ms']} ms, p95 {peaks['signed']['p95_ms']} ms,"
            f" {peaks['signed']['queries']} queries (the peaks' own part"
            f" {peaks['peaks_only_median_ms']} ms; a signed-in 404 page {peaks['floor_median_ms']} ms)"
        )
        rows["review_page"] = self.media_review_page()
        for row in rows["review_page"]:
            self.print_row(row)
        return rows

    def media_ranges(self, media_mb, clients, rounds):
        """The same file in 1 MB Range requests from whitenoise (STATIC_ROOT), by the player's
        signed URL and through the signed-in GET /files/<id>/media/, over HTTP against
        gunicorn: `rounds` rounds, each side two laps of the file per round, in turns."""
        size = media_mb * 2**20
        name = "bench-media.bin"
        media_path = Path(settings.MEDIA_ROOT) / "bench" / name
        static_path = BASE_DIR / "staticfiles" / name
        for path in (media_path, static_path):
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "wb") as f:
                for _ in range(media_mb):
                    f.write(os.urandom(2**20))
        media = MediaFile.objects.create(
            session_id="bench-media",
            original_filename=name,
            media_type="video",
            mime_type="video/webm",
            storage_backend="local",
            storage_path=f"bench/{name}",
            file_size=size,
        )
        reviewer = self.users[REVIEWERS]
        cookie = self.http_reviewers(1)[0]
        port = self.port or free_port()
        sides = [
            ("whitenoise", f"/static/{name}", {}),
            ("signed", signed_url("media", media.pk, reviewer.pk), {}),
            ("signed_in", f"/files/{media.pk}/media/", {"Cookie": cookie}),
        ]
        speeds = {label: [] for label, _, _ in sides}
        try:
            with gunicorn(port) as server:
                for _, url, headers in sides:
                    self.range_sweep(port, url, headers, 2**20, size, clients)  # warm-up
                for turn in range(rounds):
                    for label, url, headers in sides[turn % 3 :] + sides[: turn % 3]:
                        started = time.perf_counter()
                        requests = self.range_sweep(
                            port, url, headers, 2**20, size, clients, laps=2
                        )
                        seconds = time.perf_counter() - started
                        speeds[label].append(round(2 * media_mb * clients / seconds, 1))
                # What a request costs before its bytes: one-byte ranges, one client.
                overhead = {
                    label: self.one_byte_latency(port, url, headers)
                    for label, url, headers in sides
                }
                rss = self.peak_rss_mb(server.pid)
        finally:
            MediaFile.all_objects.filter(pk=media.pk).delete()
            media_path.unlink()
            static_path.unlink()
        ratios = [
            round(a / b, 2) for a, b in zip(speeds["signed"], speeds["whitenoise"], strict=True)
        ]
        signed_in = [a / b for a, b in zip(speeds["signed_in"], speeds["whitenoise"], strict=True)]
        return {
            "clients": clients,
            "file_mb": media_mb,
            "rounds": rounds,
            "requests": requests,
            "mb_per_s": {label: statistics.median(values) for label, values in speeds.items()},
            "rounds_mb_per_s": speeds,
            "ratio": statistics.median(ratios),
            "ratios": ratios,
            "ratio_signed_in": round(statistics.median(signed_in), 2),
            "one_byte_median_ms": {label: ms(value) for label, value in overhead.items()},
            "gunicorn_rss_mb": rss,
        }

    def media_review_page(self):
        """The review page of a video with its media on local disk, held by the reviewer, and
        the same review's page with the media not found, in turns (the rest of the page is the
        same)."""
        # A reviewer of its own: the pages' rows leave bench-reviewer holding a claim.
        reviewer, _ = get_user_model().objects.get_or_create(username="bench-media-reviewer")
        reviewer.groups.add(Group.objects.get(name=REVIEWERS))
        for held in HITLReview.objects.held_by(reviewer, timezone.now()):
            services.release(held.pk, reviewer)  # left by an interrupted run
        path = Path(settings.MEDIA_ROOT) / "bench" / "bench-review.webm"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(2**20))
        source = (
            AnalysisResult.objects.exclude(segments__isnull=True)
            .exclude(transcript__isnull=True)
            .order_by("-id")
            .first()
        )
        media = MediaFile.objects.create(
            session_id="bench-media",
            original_filename=path.name,
            media_type="video",
            mime_type="video/webm",
            duration_seconds=60,
            frame_count=1500,
            extraction_method="uniform",
            storage_backend="local",
            storage_path=f"bench/{path.name}",
        )
        job = AnalysisJob.objects.create(
            session_id=source.job.session_id,
            media_file=media,
            job_type="video_analysis",
            status="completed",
        )
        result = AnalysisResult.objects.create(
            job=job,
            media_file=media,
            analysis_type="video",
            model_used=source.model_used,
            result_data=source.result_data,
            confidence_score=source.confidence_score,
            segments=source.segments,
            transcript=source.transcript,
            summary=source.summary,
            frames_extracted=12,
        )
        # The routing may have opened its review already (the source's confidence was low).
        review, _ = HITLReview.objects.get_or_create(analysis_result=result)
        services.claim(review.pk, reviewer)
        try:
            rows = [
                self.measure(
                    "review page, video on disk (held)", reviewer, review.get_absolute_url()
                )
            ]
            media.storage_path = "bench/not-there.webm"
            media.save(update_fields=["storage_path"])
            rows.append(
                self.measure(
                    "review page, media missing (held)", reviewer, review.get_absolute_url()
                )
            )
        finally:
            HITLReview.all_objects.filter(pk=review.pk).delete()
            AnalysisResult.all_objects.filter(pk=result.pk).delete()
            AnalysisJob.all_objects.filter(pk=job.pk).delete()
            MediaFile.all_objects.filter(pk=media.pk).delete()
            path.unlink()
        return rows

    @staticmethod
    def one_byte_latency(port, url, headers, runs=200):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        timings = []
        try:
            for _ in range(runs):
                started = time.perf_counter()
                conn.request("GET", url, headers={**headers, "Range": "bytes=0-0"})
                response = conn.getresponse()
                response.read()
                timings.append(time.perf_counter() - started)
        finally:
            conn.close()
        return statistics.median(timings)

    @staticmethod
    def range_sweep(port, url, headers, chunk, size, clients, laps=1):
        """Each client reads the whole file in `chunk` ranges, `laps` times; checks each answer."""
        errors, counts = [], [0] * clients

        def work(index):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            try:
                for _ in range(laps):
                    for first in range(0, size, chunk):
                        last = min(size, first + chunk) - 1
                        conn.request(
                            "GET", url, headers={**headers, "Range": f"bytes={first}-{last}"}
                        )
                        response = conn.getresponse()
                        body = response.read()
                        if response.status != 206 or len(body) != last - first + 1:
                            errors.append((url, response.status, len(body)))
                            return
                        counts[index] += 1
            finally:
                conn.close()

        threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise CommandError(f"media ranges: {errors[:3]}")
        return sum(counts)

    @staticmethod
    def peak_rss_mb(server_pid) -> dict:
        """The peak resident memory (VmHWM) of each gunicorn worker, in MB."""
        peaks = []
        for status in Path("/proc").glob("[0-9]*/status"):
            try:
                text = status.read_text()
            except OSError:
                continue
            if f"\nPPid:\t{server_pid}\n" in text:
                line = next(x for x in text.splitlines() if x.startswith("VmHWM"))
                peaks.append(round(int(line.split()[1]) / 1024, 1))
        return max(peaks) if peaks else None

    def media_peaks(self, minutes):
        """A long audio's peaks: computed once (timed), then served from media_peaks."""
        path = Path(settings.MEDIA_ROOT) / "bench" / f"bench-{minutes}-min.ogg"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            make_test_audio(path, minutes)  # not timed
        media = MediaFile.objects.create(
            session_id="bench-media",
            original_filename=path.name,
            media_type="audio",
            mime_type="audio/ogg",
            storage_backend="local",
            storage_path=f"bench/{path.name}",
            duration_seconds=minutes * 60,
        )
        try:
            started, cpu = time.perf_counter(), time.process_time()
            answer = peaks_for(media, background=False)
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
            if answer.status != 200:
                raise CommandError(f"peaks: {answer.status} {answer.message}")
            row = MediaPeaks.objects.get(media_file=media)
            reviewer = self.users[REVIEWERS]
            # As a browser asks: it takes gzip, so the stored body goes out as it is.
            gzip = {"Accept-Encoding": "gzip"}
            serve = self.measure(
                "peaks, stored", reviewer, f"/files/{media.pk}/peaks/", headers=gzip
            )
            signed = self.measure(
                "peaks, stored, by signed URL",
                None,
                signed_url("peaks", media.pk, reviewer.pk),
                headers=gzip,
            )
            # The same minus Django's request cycle: what the peaks themselves cost.
            request = RequestFactory().get("/", HTTP_ACCEPT_ENCODING="gzip")
            own = []
            for _ in range(self.runs):
                started = time.perf_counter()
                peaks_response(request, peaks_for(media))
                own.append(time.perf_counter() - started)
            log = logging.getLogger("django.request")
            level, _ = log.level, log.setLevel(logging.ERROR)
            floor = self.measure("a missing job (404 page)", reviewer, "/jobs/0/", codes=(404,))
            log.setLevel(level)
        finally:
            MediaFile.all_objects.filter(pk=media.pk).delete()
        return {
            "audio_minutes": minutes,
            "compute_s": round(seconds, 2),
            # CPU time: what the computation costs on a core of its own, however busy the
            # machine is with other work.
            "compute_cpu_s": round(cpu, 2),
            "length": row.length,
            "gzip_kb": round(len(row.payload) / 1024, 1),
            "serve": serve,
            "signed": signed,
            "peaks_only_median_ms": ms(statistics.median(own)),
            "floor_median_ms": floor["median_ms"],
        }

    def print_webhooks(self, rows):
        put = rows["throughput"]
        self.stdout.write(
            f"webhook delivery, one worker: {put['deliveries']:,} in {put['seconds']} s"
            f" = {put['per_second']}/s"
        )
        for row in rows["delay"]:
            self.stdout.write(
                f"decision commit -> delivery x{row['reviewers']:>2}, {row['workers']} worker(s): p50 {row['p50_ms']} ms,"
                f" p95 {row['p95_ms']} ms, max {row['max_ms']} ms"
                f" ({row['delivered']}/{row['decisions']} delivered,"
                f" {row['decisions_per_second']} decisions/s)"
            )
        cost = rows["decision_cost"]
        self.stdout.write(
            f"a decision's event: {cost['webhook_inserts_in_transaction']} INSERT of"
            f" {cost['statements_in_transaction']} statements in its transaction,"
            f" {cost['reads_before_transaction']} read(s) before it"
        )

    # Full-text search (docs/search.md)

    def search(self, write_rows):
        """Search rows at page 1 and 200, the index's size, the write cost, the slowest plan."""
        manager = self.users[MANAGERS]
        model = AnalysisResult.objects.order_by("-id").values_list("model_used", flat=True)[0]
        rare = self.rare_word()
        queries = [
            ("rare word", rare, {}),
            ("common word", "the", {}),
            ("phrase", f'"{vocabulary.PHRASES[1]}"', {}),
            ("common word + filter", "the", {"model_used": model}),
        ]
        # The same run's floor and the results list without a search, to read the rows against.
        request_log = logging.getLogger("django.request")
        level, _ = request_log.level, request_log.setLevel(logging.ERROR)
        baseline = [
            self.measure("a missing job (404 page)", manager, "/jobs/0/", codes=(404,)),
            self.measure("results list, first page (no search)", manager, "/results/"),
        ]
        request_log.setLevel(level)
        for row in baseline:
            self.print_row(row)
        rows = []
        for label, q, filters in queries:
            matches = AnalysisResult.objects.search(q).filter(**filters).count()
            for page in (1, 200, "200 by Next"):
                params = {"q": q, "page": page} | ({"model": model} if filters else {})
                if page == "200 by Next":  # the pager's link on page 199 (its bookmark)
                    url = self.next_link(manager, {**params, "page": 199})
                    if url is None:  # fewer pages: page 200 above was the last one
                        continue
                else:
                    url = "/results/?" + urlencode(params)
                row = self.measure(f"search: {label}, page {page}", manager, url)
                row["matches"] = matches
                rows.append(row)
                self.print_row(row)
        slowest = max(rows, key=lambda r: r["median_ms"])
        report = {
            "baseline": baseline,
            "rows": rows,
            "sizes": self.search_sizes(),
            "write_cost": self.write_cost(write_rows),
            "slowest": {"page": slowest["page"], "url": slowest["url"]},
            "plan": self.slowest_plan(slowest),
        }
        sizes, cost = report["sizes"], report["write_cost"]
        self.stdout.write(
            f"search index {sizes['index_mb']} MB; table {sizes['table_mb']} MB"
            f" ({sizes['index_over_table']} of it)"
        )
        for way in ("single", "bulk"):
            self.stdout.write(
                f"insert ({way}): {cost[way]['with_us_per_row']} us/row with the search column"
                f" and its index, {cost[way]['without_us_per_row']} without"
                f" (+{cost[way]['added_us_per_row']} us, x{cost[way]['ratio']})"
            )
        self.stdout.write(f"slowest search row: {slowest['page']}\n{report['plan']}")
        return report

    def next_link(self, user, params) -> str | None:
        """The address of the "Next" link on the results page of `params`, if it has one."""
        client = Client()
        client.force_login(user)
        found = re.search(
            r'href="([^"]+)" rel="next"', client.get("/results/?" + urlencode(params)).text
        )
        return "/results/" + html.unescape(found[1]) if found else None

    def rare_word(self) -> str:
        """The rarest word of the vocabulary's last 200 (the long tail) that some result holds."""
        counts = {word: search_bound(word) for word in vocabulary.WORDS[-200:]}
        held = {word: count for word, count in counts.items() if count}
        return min(held, key=held.get) if held else vocabulary.WORDS[-1]

    def search_sizes(self):
        with connection.cursor() as cursor:
            cursor.execute(
                """SELECT pg_relation_size('idx_result_search'), pg_table_size('analysis_results'),
                          pg_total_relation_size('analysis_results'),
                          (SELECT avg(pg_column_size(search_vector)) FROM
                             (SELECT search_vector FROM analysis_results TABLESAMPLE SYSTEM (1)) s)"""
            )
            index, table, total, column = cursor.fetchone()
        mb = 1024 * 1024
        return {
            "index_mb": round(index / mb, 1),
            "table_mb": round(table / mb, 1),
            "table_with_indexes_mb": round(total / mb, 1),
            "index_over_table": round(index / table, 2),
            "search_vector_avg_bytes": round(float(column or 0)),
        }

    def write_cost(self, rows):
        """What the search column and its index add to writing a result. Two scratch copies of
        analysis_results with its indexes: one with the generated column and its GIN index,
        one where the column is plain (NULL) and has no index. The same `rows` results (with
        texts) go into each, one INSERT at a time as the API writes them, and in one
        INSERT ... SELECT (the database's own cost, without the round trips); the two tables
        take turns, three rounds, and the median round counts. Microseconds per row."""
        columns = (
            "job_id, media_file_id, analysis_type, model_used, result_data, confidence_score,"
            " transcript, summary, extracted_text, frames_extracted, segments, created_at, updated_at"
        )
        names = ("without", "with")
        single, bulk = {n: [] for n in names}, {n: [] for n in names}
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id FROM analysis_results WHERE transcript IS NOT NULL"
                " OR extracted_text IS NOT NULL ORDER BY id DESC LIMIT %s",
                [rows],
            )
            ids = [pk for (pk,) in cursor.fetchall()]
            cursor.execute(f"SELECT {columns} FROM analysis_results WHERE id = ANY(%s)", [ids])
            sample = cursor.fetchall()
            for name in names:
                generated = "INCLUDING" if name == "with" else "EXCLUDING"
                cursor.execute(f"DROP TABLE IF EXISTS bench_write_{name}")
                cursor.execute(
                    f"CREATE UNLOGGED TABLE bench_write_{name} (LIKE analysis_results"
                    f" INCLUDING ALL {generated} GENERATED)"
                )
            cursor.execute(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'bench_write_without'"
                " AND indexdef LIKE '%%gin (search_vector)%%'"
            )
            for (index,) in cursor.fetchall():
                cursor.execute(f'DROP INDEX "{index}"')
            insert = f"INSERT INTO bench_write_{{}} ({columns}) VALUES ({', '.join(['%s'] * 13)})"
            for _ in range(3):
                for name in names:
                    cursor.execute(f"TRUNCATE bench_write_{name}")
                    started = time.perf_counter()
                    for values in sample:  # JSON comes back as text: fine to insert again
                        cursor.execute(insert.format(name), values)
                    single[name].append(time.perf_counter() - started)
                    cursor.execute(f"TRUNCATE bench_write_{name}")
                    started = time.perf_counter()
                    cursor.execute(
                        f"INSERT INTO bench_write_{name} ({columns}) SELECT {columns}"
                        " FROM analysis_results WHERE id = ANY(%s)",
                        [ids],
                    )
                    bulk[name].append(time.perf_counter() - started)
            for name in names:
                cursor.execute(f"DROP TABLE bench_write_{name}")

        def per_row(timings):
            return round(statistics.median(timings) / max(len(sample), 1) * 1e6, 1)

        report = {"rows": len(sample)}
        for way, timings in (("single", single), ("bulk", bulk)):
            with_, without = per_row(timings["with"]), per_row(timings["without"])
            report[way] = {
                "with_us_per_row": with_,
                "without_us_per_row": without,
                "added_us_per_row": round(with_ - without, 1),
                "ratio": round(with_ / without, 2) if without else None,
            }
        return report

    def slowest_plan(self, row) -> str:
        """EXPLAIN ANALYZE of each statement the slowest row's page runs (but the sign-in's)."""
        client = Client()
        client.force_login(self.users[MANAGERS])
        recorder = QueryRecorder()
        with connection.execute_wrapper(recorder):
            self.expect_ok(client.get(row["url"]), row["page"])
        plans = []
        with connection.cursor() as cursor:
            for sql, params, _many, _ in recorder.queries:
                if "analysis_results" not in sql:
                    continue
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
                plans.append("\n".join(line for (line,) in cursor.fetchall()))
        return "\n\n".join(plans)

    # The API over HTTP

    def api(self, levels, requests):
        """The pipeline's hottest API operations over HTTP against gunicorn, as a worker fleet
        sends them: each at every concurrency level, `requests` requests per row."""
        api_token, raw = ApiToken.issue("bench-api", ApiToken.Scope.WRITE)
        jobs = list(
            AnalysisJob.objects.filter(status=ProcessingStatus.PROCESSING)
            .order_by("-id")
            .values_list("pk", flat=True)[:500]
        )
        if len(jobs) < 500:  # progress goes to jobs that are processing
            jobs += [
                job.pk
                for job in AnalysisJob.objects.bulk_create(
                    AnalysisJob(
                        session_id="bench-api",
                        job_type="transcription",
                        status=ProcessingStatus.PROCESSING,
                        started_at=timezone.now(),
                    )
                    for _ in range(500 - len(jobs))
                )
            ]
        pages = max(1, min(50, AnalysisJob.objects.count() // 20))
        result = {
            "analysis_type": "transcription",
            "model_used": "bench",
            "confidence_score": 0.95,  # above the threshold: no review to open
            "result_data": {"text": "bench", "language": "en"},
        }

        def job(n):
            return jobs[n % len(jobs)]

        operations = [
            ("GET /api/jobs/{id}", lambda n: ("GET", f"/api/jobs/{job(n)}", None)),
            (
                "PATCH /api/jobs/{id}",
                lambda n: ("PATCH", f"/api/jobs/{job(n)}", {"progress": n % 100 / 100}),
            ),
            (
                "POST /api/results/",
                lambda n: ("POST", "/api/results/", {**result, "job_id": job(n)}),
            ),
            (
                "GET /api/jobs/{id}/progress",
                lambda n: ("GET", f"/api/jobs/{job(n)}/progress", None),
            ),
            ("GET /api/jobs/?page=N", lambda n: ("GET", f"/api/jobs/?page={1 + n % pages}", None)),
        ]
        headers = {"Authorization": f"Bearer {raw}", "Content-Type": "application/json"}
        try:
            with gunicorn(self.port or free_port()) as server:
                for name, request in operations:
                    # Warm every worker (imports, the pool's connections, prepared statements).
                    self.api_load(server, request, headers, 4, max(8, min(200, requests // 10)))
                    for level in levels:
                        yield {
                            "operation": name,
                            **self.api_load(server, request, headers, level, requests),
                        }
        finally:
            api_token.delete()

    def api_load(self, server, request, headers, clients, requests):
        """`clients` keep-alive connections send `requests` requests in all, each as soon as
        its last one is answered."""
        port = server.port
        latencies, errors = [], []
        per_client = -(-requests // clients)
        barrier = threading.Barrier(clients + 1)

        def work(index):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            barrier.wait()
            try:
                for n in range(index * per_client, (index + 1) * per_client):
                    method, path, body = request(n)
                    sent = time.perf_counter()
                    conn.request(
                        method,
                        path,
                        body=None if body is None else json.dumps(body),
                        headers=headers,
                    )
                    response = conn.getresponse()
                    response.read()
                    latencies.append(time.perf_counter() - sent)
                    if response.status not in (200, 201):
                        errors.append((response.status, path))
            except Exception as exc:  # reported with the results, not hidden
                errors.append(repr(exc))
            finally:
                conn.close()

        threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
        for thread in threads:
            thread.start()
        cpu_before = self.cpu_seconds(server.pid)
        began = time.perf_counter()
        barrier.wait()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - began
        cpu_after = self.cpu_seconds(server.pid)
        done = len(latencies)
        return {
            "clients": clients,
            "requests": done,
            "requests_per_second": round(done / seconds, 1),
            "p50_ms": ms(statistics.median(latencies)) if latencies else None,
            "p95_ms": ms(p95(latencies)),
            "cpu_ms_per_request": {
                part: round((cpu_after[part] - cpu_before[part]) / max(done, 1) * 1000, 2)
                for part in cpu_before
            },
            "errors": errors[:5],
        }

    def print_api_row(self, row):
        cpu = ", ".join(f"{k} {v}" for k, v in row["cpu_ms_per_request"].items())
        self.stdout.write(
            f"{row['operation']:<30} x{row['clients']:>2}: {row['requests_per_second']:>6.0f}/s,"
            f" p50 {row['p50_ms']} ms, p95 {row['p95_ms']} ms, errors: {len(row['errors'])};"
            f" CPU ms per request: {cpu}"
        )

    # Claims over HTTP

    def enqueue_fresh(self, count):
        """Open `count` pending reviews on results that have none open (in batches: one
        enqueue opens at most ENQUEUE_LIMIT)."""
        ids = list(
            AnalysisResult.objects.exclude(reviews__status__in=OPEN)
            .order_by("-id")
            .values_list("pk", flat=True)[: count * 2]
        )
        opened = 0
        while opened < count and ids:
            batch = ids[: min(services.ENQUEUE_LIMIT, count - opened)]
            ids = ids[len(batch) :]
            opened += services.enqueue(batch, priority=100)

    def claim_run(self, concurrency, claims, cycle=False, rate=None):
        """`concurrency` clients POST claim-next at once, `claims` times in all.

        Plain: every request claims for a reviewer of its own (a signed-in bench user), so each
        request is one claim and nothing else. Cycle: each client is one reviewer who decides
        every review it gets, and the decision takes them to their next claim (decide + claim
        next in one request), as a reviewer works.

        Without `rate`, each client sends its next request as soon as the last one is answered:
        the most the server can do. With `rate` (claims/s in all), each client sends on a fixed
        schedule, and a request's time is counted from when it was due, so a server that falls
        behind shows it in the p95 (no coordinated omission).
        """
        warm = concurrency * WARM_CLAIMS
        self.enqueue_fresh(claims + concurrency * 2 + warm)
        # Claims left by an earlier run would be handed back instead of new ones: decide them.
        now = timezone.now()
        HITLReview.objects.filter(
            claimed_by__username__startswith="bench-http-", status__in=HELD
        ).update(
            status="completed",
            approved="yes",
            reviewed_by=F("claimed_by"),
            reviewed_at=now,
            updated_at=now,
        )
        # As the scheduler does every minute on a running site: lapsed claims back to pending.
        services.release_expired_claims()
        per_client = -(-claims // concurrency)
        cookies = self.http_reviewers(concurrency if cycle else per_client * concurrency)
        warm_cookies = self.http_reviewers(warm, prefix="bench-http-warm-")
        queues = [cookies[i::concurrency] for i in range(concurrency)]
        interval = concurrency / rate if rate else 0  # between one client's requests
        port = self.port or free_port()
        started_at = timezone.now()
        latencies, errors = [], []
        counts = [0] * concurrency
        with gunicorn(port) as server:
            barrier = threading.Barrier(concurrency + 1)

            def work(index):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                mine = queues[index]
                path, body = "/reviews/claim-next/", ""
                barrier.wait()
                try:
                    while counts[index] < per_client:
                        cookie = mine[0] if cycle else mine[counts[index]]
                        headers = claim_headers(cookie)
                        due = began + (counts[index] + index / concurrency) * interval
                        if (wait := due - time.perf_counter()) > 0:
                            time.sleep(wait)
                        sent = time.perf_counter()
                        conn.request("POST", path, body=body, headers=headers)
                        response = conn.getresponse()
                        response.read()
                        latencies.append(time.perf_counter() - (due if rate else sent))
                        location = response.getheader("Location", "")
                        # Only a redirect to a review page is a claim (not the queue, when it
                        # is empty, nor the login page).
                        if response.status != 302 or not (claimed := REVIEW_URL.match(location)):
                            errors.append((response.status, location))
                            return
                        counts[index] += 1
                        if cycle:
                            path, body = (
                                f"/reviews/{claimed[1]}/decide/",
                                "approved=yes&reviewer_notes=bench",
                            )
                except Exception as exc:  # reported with the results, not hidden
                    errors.append(repr(exc))
                finally:
                    conn.close()

            self.warm_claims(port, warm_cookies, concurrency)
            threads = [threading.Thread(target=work, args=(i,)) for i in range(concurrency)]
            for thread in threads:
                thread.start()
            cpu_before = self.cpu_seconds(server.pid)
            began = time.perf_counter()
            barrier.wait()
            for thread in threads:
                thread.join()
            seconds = time.perf_counter() - began
            cpu_after = self.cpu_seconds(server.pid)
        done = sum(counts)
        return {
            "mode": ("decide + claim next" if cycle else "claim next")
            + (f" at {rate:g}/s" if rate else ""),
            "reviewers": concurrency,
            "claims": done,
            "seconds": round(seconds, 2),
            "claims_per_second": round(done / seconds, 1),
            "p50_ms": ms(statistics.median(latencies)) if latencies else None,
            "p95_ms": ms(p95(latencies)),
            # Where the machine's time goes, per claim: gunicorn, PostgreSQL, and this client.
            "cpu_ms_per_claim": {
                part: round((cpu_after[part] - cpu_before[part]) / max(done, 1) * 1000, 2)
                for part in cpu_before
            },
            "errors": errors[:5],
            "double_claims": self.double_claims(started_at),
        }

    @staticmethod
    def warm_claims(port, cookies, clients):
        """Claims for reviewers of their own, untimed, from `clients` connections at once: every
        worker thread has its database connection, prepared statements and templates before
        the timed run, as on a server that has been up a while."""

        def work(mine):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                for cookie in mine:
                    conn.request(
                        "POST", "/reviews/claim-next/", body="", headers=claim_headers(cookie)
                    )
                    conn.getresponse().read()
            finally:
                conn.close()

        threads = [
            threading.Thread(target=work, args=(cookies[i::clients],)) for i in range(clients)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    @staticmethod
    def postmaster_pid() -> int | None:
        """The pid of this database's PostgreSQL server, when it runs on this machine: the
        parent of this connection's backend."""
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backend = cursor.fetchone()[0]
        try:
            return int(Path(f"/proc/{backend}/stat").read_text().rsplit(") ", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):  # another machine's, or another namespace's
            return None

    @classmethod
    def cpu_seconds(cls, server_pid) -> dict:
        """CPU time (user + system) so far of gunicorn (master and workers), of this database's
        PostgreSQL server (its processes; every PostgreSQL on this machine if it cannot be
        told apart), and of this process. Linux (/proc) only."""
        postmaster = cls.postmaster_pid()
        tick = os.sysconf("SC_CLK_TCK")
        cpu = {"gunicorn": 0.0, "postgresql": 0.0}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                pid, rest = stat.read_text().split(" (", 1)
            except OSError:  # the process has gone
                continue
            name, fields = rest.rsplit(") ", 1)
            fields = fields.split()
            used = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
            # ... and of the children it has reaped: recycled gunicorn workers, and PostgreSQL
            # backends whose connections the pool has closed.
            reaped = (int(fields[13]) + int(fields[14])) / tick  # cutime + cstime
            if int(pid) == server_pid:
                cpu["gunicorn"] += used + reaped
            elif int(fields[1]) == server_pid:
                cpu["gunicorn"] += used
            elif postmaster and postmaster in (int(pid), int(fields[1])):
                cpu["postgresql"] += used + (reaped if int(pid) == postmaster else 0)
            elif name == "postgres" and not postmaster:
                cpu["postgresql"] += used + reaped
        cpu["bench client"] = time.process_time()
        return cpu

    def double_claims(self, since) -> int:
        """Reviews claimed more than once, or decided by someone other than their claimant."""
        claimed_twice = (
            ReviewEvent.objects.filter(at__gte=since, kind__in=["claimed", "taken_over"])
            .values("review")
            .annotate(n=Count("pk"))
            .filter(n__gt=1)
            .count()
        )
        wrong_decider = (
            HITLReview.objects.filter(reviewed_at__gte=since)
            .exclude(Q(claimed_by=None) | Q(claimed_by=F("reviewed_by")))
            .count()
        )
        return claimed_twice + wrong_decider

    def http_reviewers(self, count, prefix="bench-http-"):
        """Signed-in sessions (cookie + CSRF token) for `count` bench reviewers."""
        User = get_user_model()
        names = [f"{prefix}{n:05d}" for n in range(count)]
        User.objects.bulk_create([User(username=name) for name in names], ignore_conflicts=True)
        users = list(User.objects.filter(username__in=names).order_by("username"))
        group = Group.objects.get(name=REVIEWERS)
        User.groups.through.objects.bulk_create(
            [User.groups.through(user_id=user.pk, group_id=group.pk) for user in users],
            ignore_conflicts=True,
        )
        cookies = []
        for user in users:
            session = SessionStore()
            session[SESSION_KEY] = str(user.pk)
            # The backend that reads users back (django-axes' comes first, and only counts logins).
            session[BACKEND_SESSION_KEY] = f"{RoleBackend.__module__}.{RoleBackend.__name__}"
            session[HASH_SESSION_KEY] = user.get_session_auth_hash()
            session.create()
            csrf = secrets.token_hex(16)
            cookies.append(
                f"{settings.SESSION_COOKIE_NAME}={session.session_key}; csrftoken={csrf}"
            )
        return cookies


def claim_headers(cookie) -> dict:
    """A claim's form POST from the signed-in session `cookie` (with its CSRF token)."""
    return {
        "Cookie": cookie,
        "X-CSRFToken": cookie.split("csrftoken=")[1],
        "Content-Type": "application/x-www-form-urlencoded",
    }


def search_bound(q) -> int:
    """How many live results match (counted up to RANK_LIMIT + 1, as the page counts)."""
    return AnalysisResult.objects.search(q).values("pk")[: search.RANK_LIMIT + 1].count()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn(port):
    """gunicorn with the committed config, production settings, on a local port."""
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": settings.SECRET_KEY,  # it signs the sessions made here
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "SECURE_HSTS_SECONDS": "0",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_ACCESS_LOG": "",
    }
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=BASE_DIR,
        env=env,
        check=True,
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            str(BASE_DIR / "gunicorn.conf.py"),
            "mediaanalysis.wsgi",
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        # Generous: workers import the whole site at once, slowly on a busy machine.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/health/")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            raise CommandError("gunicorn did not start: " + process.stderr.read1().decode())
        process.port = port
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
