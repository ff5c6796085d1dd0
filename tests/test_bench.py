"""`seed_bulk` and `bench` (docs/design.md, Performance targets): the data they load and the figures they report.

Both run for real, at a small size: the bench starts gunicorn and claims over HTTP, so it needs
committed rows (`transaction=True`) and PostgreSQL.
"""

import json
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection
from django.db.models import Count, F, Max, Min

from mediaanalysis.management.commands import seed_bulk as seed_bulk_command
from mediaanalysis.pipeline.models import AnalysisJob, AnalysisResult, MediaFile, UserSession
from reviews.models import HITLReview, ReviewStatus

RESTORE = seed_bulk_command.SCHEMA_TO_RESTORE
SIZES = {"sessions": 20, "files": 60, "jobs": 400, "results": 400, "reviews": 80}


def seed_bulk(**sizes):
    args = [f"--{name}={count}" for name, count in (SIZES | sizes).items()]
    call_command("seed_bulk", *args, "--seed=7", stdout=StringIO(), stderr=StringIO())


@pytest.mark.django_db(transaction=True)
def test_seed_bulk_loads_the_sizes_asked_for_in_a_realistic_spread():
    seed_bulk()

    assert UserSession.all_objects.count() == SIZES["sessions"]
    assert MediaFile.all_objects.count() == SIZES["files"]
    assert AnalysisJob.all_objects.count() == SIZES["jobs"]
    assert AnalysisResult.all_objects.count() == SIZES["results"]
    assert HITLReview.all_objects.filter(round=1).count() == SIZES["reviews"]
    # ...and a fifth as many blind second reviews, with adjudications of their disagreements.
    seconds = HITLReview.all_objects.filter(round=2, gold_item__isnull=True)
    assert seconds.count() == SIZES["reviews"] // 5
    assert not seconds.filter(reviewed_by=F("previous_review__reviewed_by")).exists()
    assert HITLReview.all_objects.filter(round=3).count() == (
        seconds.filter(status="completed").exclude(approved=F("previous_review__approved")).count()
    )
    assert set(HITLReview.objects.values_list("status", flat=True)) == set(ReviewStatus.values)
    assert AnalysisJob.objects.values("status").distinct().count() >= 4
    assert AnalysisResult.objects.values("model_used").distinct().count() >= 3
    assert AnalysisJob.objects.values("session_id").distinct().count() <= SIZES["sessions"]
    assert AnalysisJob.all_objects.filter(deleted_at__isnull=False).exists()
    assert AnalysisJob.objects.count() < SIZES["jobs"]  # the soft-deleted ones are hidden


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_seed_bulk_on_postgresql_rebuilds_every_index_and_leaves_the_tables_all_visible():
    seed_bulk(sessions=3000)

    with connection.cursor() as cursor:
        found = set()
        for model in apps.get_models():
            found |= set(connection.introspection.get_constraints(cursor, model._meta.db_table))
        wanted = {
            index.name
            for model in apps.get_models()
            if model._meta.app_label in {"mediaanalysis", "reviews"}
            for index in model._meta.indexes
        }
        assert wanted <= found
        # Index-only scans of the list pages need no heap visits only if VACUUM could mark
        # every page all-visible, which it cannot after an unflushed (asynchronous) commit.
        # (The soft deletes leave a few pages of the other tables with dead rows.)
        cursor.execute(
            "SELECT relname, relpages, relallvisible FROM pg_class"
            " WHERE relname IN ('user_sessions', 'hitl_review_events')"
        )
        for table, pages, visible in cursor.fetchall():
            assert pages > 0 and visible == pages, table


FOREIGN_KEYS = """SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), convalidated
                  FROM pg_constraint WHERE contype = 'f' ORDER BY 1, 2"""


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_seed_bulk_checks_foreign_keys_once_per_table_and_keeps_every_one():
    with connection.cursor() as cursor:
        cursor.execute(FOREIGN_KEYS)
        before = cursor.fetchall()
    seed_bulk()

    with connection.cursor() as cursor:
        cursor.execute(FOREIGN_KEYS)
        assert cursor.fetchall() == before  # the same keys, deferrable as before, validated
        # A foreign key checked row by row locks each row referred to (FOR KEY SHARE), which
        # leaves its mark on the row; checked once over the table, it locks none.
        cursor.execute(
            "SELECT (SELECT count(*) FROM media_files WHERE xmax::text <> '0'),"
            " (SELECT count(*) FROM analysis_jobs WHERE xmax::text <> '0')"
        )
        assert cursor.fetchone() == (0, 0)


SCHEMA = """SELECT c.relname, i.indexrelid::regclass::text FROM pg_index i
             JOIN pg_class c ON c.oid = i.indrelid WHERE c.relname = ANY(%s)
             UNION ALL SELECT conrelid::regclass::text, conname FROM pg_constraint
             WHERE contype = 'f' ORDER BY 1, 2"""


def schema():
    with connection.cursor() as cursor:
        cursor.execute(SCHEMA, [seed_bulk_command.TABLES])
        return cursor.fetchall()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_seed_bulk_writes_the_results_over_two_connections_with_ids_in_a_row():
    seed_bulk(results=seed_bulk_command.CHUNK + 10)  # two chunks: one per connection

    ids = AnalysisResult.all_objects.aggregate(first=Min("id"), last=Max("id"), n=Count("id"))
    assert ids["last"] - ids["first"] + 1 == ids["n"] == seed_bulk_command.CHUNK + 10
    job = AnalysisJob.all_objects.first()
    assert AnalysisResult.objects.create(job=job, analysis_type="audio").pk == ids["last"] + 1
    with connection.cursor() as cursor:
        # Written by two transactions (the soft deletes' UPDATE gave a few rows a third).
        cursor.execute(
            "SELECT count(DISTINCT xmin::text) FROM analysis_results"
            " WHERE deleted_at IS NULL AND id <= %s",
            [ids["last"]],
        )
        assert cursor.fetchone()[0] == 2
        cursor.execute("SELECT to_regclass('bulk_texts'), to_regclass(%s)", [RESTORE])
        assert cursor.fetchone() == (None, None)  # the pools and the schema's list are gone


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_failed_seed_bulk_builds_its_indexes_and_keys_again_at_once(monkeypatch):
    before = schema()

    def fail(*args):
        raise RuntimeError("the results could not be written")

    monkeypatch.setattr(seed_bulk_command.PostgresLoader, "results", fail)
    with pytest.raises(RuntimeError):
        seed_bulk()

    assert schema() == before


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_killed_seed_bulk_leaves_its_indexes_and_keys_to_the_next_load(monkeypatch):
    before = schema()
    # A load killed while writing rows: nothing of it runs after the failure.
    with monkeypatch.context() as killed:
        killed.setattr(seed_bulk_command.PostgresLoader, "restore_schema", lambda self: None)
        killed.setattr(seed_bulk_command.PostgresLoader, "results", _killed)
        with pytest.raises(SystemExit):
            seed_bulk()
    assert schema() != before  # its indexes and keys are dropped...

    seed_bulk()

    assert schema() == before  # ...and the next load built them again first


def _killed(*args):
    raise SystemExit("killed")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_bench_measures_every_page_and_claims_over_http_with_no_double_claim(
    tmp_path, monkeypatch, settings
):
    seed_bulk()
    settings.MEDIA_ROOT = tmp_path / "media"
    monkeypatch.setenv("MEDIA_ROOT", str(settings.MEDIA_ROOT))  # gunicorn's too
    db = connection.settings_dict
    # gunicorn, started by the bench, must use this test's database.
    monkeypatch.setenv(
        "DATABASE_URL", f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    )
    report_path = tmp_path / "bench.json"
    out = StringIO()

    call_command(
        "bench",
        "--runs=3",
        "--warmup=1",
        "--claims=12",
        "--concurrency=1,3",
        "--rate=30",
        "--media-mb=4",
        "--audio-minutes=1",
        "--deliveries=30",
        "--decisions=16",
        "--api-requests=12",
        f"--json={report_path}",
        stdout=out,
    )

    report = json.loads(report_path.read_text())
    assert report["machine"]["cores"] >= 1 and report["machine"]["postgresql"]
    assert report["sizes"]["jobs"] == SIZES["jobs"]
    pages = {row["page"]: row for row in report["pages"]}
    for name in [
        "jobs list, first page",
        "jobs list, page 2,000",
        "jobs list, status=failed",
        "jobs list, session filter",
        "jobs list, date range",
        "results list, model + confidence",
        "job detail",
        "result detail",
        "review queue",
        "claim next (POST, in-process)",
        "dashboard, warm (30 days)",
        "stock admin jobs changelist",
        "stock admin results changelist",
        "a missing job (404 page)",
    ]:
        row = pages[name]
        assert row["runs"] >= 3 and row["median_ms"] > 0 and row["p95_ms"] >= row["median_ms"]
        assert 0 < row["queries"] <= 30
        assert row["raw_sql_ms"] > 0 and row["page_over_raw_sql"] > 0
    assert pages["jobs list, first page"]["queries"] <= 8
    assert set(report["ratios"]) >= {
        "stock_admin_jobs / our jobs list",
        "stock_admin_results / our results list",
    }
    sides = {"whitenoise", "signed", "signed_in"}
    for row in report["media"]["ranges"]:
        assert row["requests"] == 2 * 4 * row["clients"] and row["ratio"] > 0
        assert set(row["mb_per_s"]) == sides and min(row["mb_per_s"].values()) > 0
        assert [len(speeds) for speeds in row["rounds_mb_per_s"].values()] == [3, 3, 3]
        assert len(row["ratios"]) == 3 and row["ratio_signed_in"] > 0
        assert set(row["one_byte_median_ms"]) == sides
    peaks = report["media"]["peaks"]
    assert peaks["length"] == 2000 and peaks["compute_s"] > 0
    assert peaks["serve"]["median_ms"] > 0 and peaks["serve"]["queries"] <= 4
    # The signed URL reads the stored peaks (and the file's row, kept for a few seconds), and
    # no session or user.
    assert peaks["signed"]["median_ms"] > 0 and 1 <= peaks["signed"]["queries"] <= 2
    assert peaks["peaks_only_median_ms"] > 0 and peaks["floor_median_ms"] > 0
    held, missing = report["media"]["review_page"]
    assert held["page"] == "review page, video on disk (held)" and 0 < held["queries"] <= 8
    assert missing["median_ms"] > 0 and missing["queries"] <= 8
    modes = [(run["mode"], run["reviewers"]) for run in report["claims"]]
    assert modes == [
        ("claim next", 1),
        ("claim next", 3),
        ("claim next at 30/s", 3),
        ("decide + claim next", 1),
        ("decide + claim next", 3),
    ]
    for run in report["claims"]:
        assert run["claims"] == 12 and run["errors"] == [] and run["double_claims"] == 0, str(run)
        assert run["claims_per_second"] > 0 and run["p95_ms"] >= run["p50_ms"] > 0
        # Counted in clock ticks (10 ms): a dozen claims show in gunicorn, maybe not elsewhere.
        assert run["cpu_ms_per_claim"]["gunicorn"] > 0
        assert set(run["cpu_ms_per_claim"]) == {"gunicorn", "postgresql", "bench client"}
    assert "double claims: 0" in out.getvalue()
    hooks = report["webhooks"]
    assert hooks["throughput"]["deliveries"] == 30 and hooks["throughput"]["per_second"] > 0
    assert [(row["reviewers"], row["workers"]) for row in hooks["delay"]] == [
        (1, 1),
        (16, 1),
        (1, 2),
        (16, 2),
    ]
    for row in hooks["delay"]:
        assert row["delivered"] == row["decisions"] >= 16 and row["p95_ms"] >= row["p50_ms"] > 0
    assert hooks["decision_cost"]["webhook_inserts_in_transaction"] == 1
    api = [(row["operation"], row["clients"]) for row in report["api"]]
    assert api == [
        (operation, clients)
        for operation in (
            "GET /api/jobs/{id}",
            "PATCH /api/jobs/{id}",
            "POST /api/results/",
            "GET /api/jobs/{id}/progress",
            "GET /api/jobs/?page=N",
        )
        for clients in (1, 3)
    ]
    for row in report["api"]:
        assert row["requests"] == 12 and row["errors"] == [], str(row)
        assert row["requests_per_second"] > 0 and row["p95_ms"] >= row["p50_ms"] > 0
        assert set(row["cpu_ms_per_request"]) == {"gunicorn", "postgresql", "bench client"}
