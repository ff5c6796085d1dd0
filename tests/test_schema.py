"""The migrated schema against the seed document's own names (sections 3 and 5).

Written from the seed, not from the models: a renamed column or a lost index fails here.
"""

import re

import pytest
from django.core.management import call_command
from django.db import DataError, IntegrityError, connection, transaction

from tests.conftest import make_file, make_job, make_result

# column: (PostgreSQL type, length, nullable). Timestamps are aware (docs/design.md, Tables);
# columns the seed gives only a default are NOT NULL with that default (its response schemas
# require them); `approved` is 13 long because the seed's own "needs_changes" is.
TS = "timestamp with time zone"
BASE = {
    "id": ("integer", None, False),
    "created_at": (TS, None, False),
    "updated_at": (TS, None, False),
    "deleted_at": (TS, None, True),
}
SEED_COLUMNS = {
    "media_files": {
        **BASE,
        "session_id": ("character varying", 36, False),
        "original_filename": ("character varying", 255, False),
        "processed_filename": ("character varying", 255, True),
        "file_path": ("character varying", 512, True),
        "file_size": ("integer", None, True),
        "media_type": ("mediatype", None, False),
        "mime_type": ("character varying", 100, True),
        "duration_seconds": ("double precision", None, True),
        "extraction_method": ("character varying", 50, True),
        "frame_count": ("integer", None, True),
        "contact_sheet_path": ("character varying", 512, True),
        "storage_backend": ("character varying", 50, False),
        "storage_path": ("character varying", 512, True),
    },
    "analysis_jobs": {
        **BASE,
        "session_id": ("character varying", 36, False),
        "job_type": ("character varying", 50, False),
        "status": ("processingstatus", None, False),
        "progress": ("double precision", None, False),
        "parameters": ("jsonb", None, True),
        "error_message": ("text", None, True),
        "retry_count": ("integer", None, False),
        "max_retries": ("integer", None, False),
        "started_at": (TS, None, True),
        "completed_at": (TS, None, True),
        "media_file_id": ("integer", None, True),
    },
    "analysis_results": {
        **BASE,
        "job_id": ("integer", None, False),
        "media_file_id": ("integer", None, True),
        "analysis_type": ("character varying", 50, False),
        "model_used": ("character varying", 100, True),
        "result_data": ("jsonb", None, True),
        "confidence_score": ("double precision", None, True),
        "transcript": ("text", None, True),
        "summary": ("text", None, True),
        "extracted_text": ("text", None, True),
        "frames_extracted": ("integer", None, True),
        "segments": ("jsonb", None, True),
    },
    "user_sessions": {
        **BASE,
        "session_id": ("character varying", 36, False),
        "user_agent": ("character varying", 512, True),
        "ip_address": ("character varying", 45, True),
        "started_at": (TS, None, False),
        "last_activity": (TS, None, False),
        "ended_at": (TS, None, True),
        "request_count": ("integer", None, False),
        "media_processed_count": ("integer", None, False),
    },
    "hitl_reviews": {
        **BASE,
        "analysis_result_id": ("integer", None, False),
        "status": ("character varying", 50, False),
        "priority": ("integer", None, False),
        "claimed_by": ("integer", None, True),
        "claimed_at": (TS, None, True),
        "claim_expires_at": (TS, None, True),
        "reviewer_notes": ("text", None, True),
        "corrections": ("jsonb", None, True),
        "approved": ("character varying", 13, True),
        "reviewed_at": (TS, None, True),
        "reviewed_by": ("integer", None, True),
    },
}

# Every index the seed names, with its columns. Several are named twice; one index serves both.
SEED_INDEXES = [
    ("media_files", "session_id"),  # session_id index=True
    ("media_files", "session_id"),  # idx_media_file_session
    ("media_files", "media_type"),  # idx_media_file_type
    ("media_files", "created_at"),  # idx_media_file_created
    ("media_files", "session_id"),  # idx_media_files_session
    ("analysis_jobs", "session_id"),  # session_id index=True
    ("analysis_jobs", "status"),  # idx_job_status
    ("analysis_jobs", "session_id, job_type"),  # idx_job_session_type
    ("analysis_jobs", "created_at"),  # idx_job_created
    ("analysis_jobs", "session_id, status"),  # idx_analysis_jobs_session_status
    ("analysis_jobs", "created_at"),  # idx_analysis_jobs_created
    ("analysis_jobs", "session_id, created_at DESC"),  # idx_analysis_jobs_session_time
    ("analysis_results", "analysis_type"),  # idx_result_type
    ("analysis_results", "model_used"),  # idx_result_model
    ("analysis_results", "job_id"),  # idx_result_job
    ("analysis_results", "job_id"),  # idx_analysis_results_job
    ("analysis_results", "analysis_type, model_used"),  # idx_analysis_results_type_model
    (
        "analysis_results",
        "analysis_type, confidence_score DESC",
    ),  # idx_analysis_results_type_confidence
    ("user_sessions", "session_id"),  # unique=True, index=True
    ("user_sessions", "last_activity"),  # idx_session_activity
    ("user_sessions", "started_at"),  # idx_session_started
    ("user_sessions", "last_activity"),  # idx_user_sessions_activity
    ("hitl_reviews", "status"),  # idx_hitl_status
    ("hitl_reviews", "analysis_result_id"),  # idx_hitl_result
    ("hitl_reviews", "claimed_by, claim_expires_at"),  # idx_hitl_claim
]


def pg_indexes(tables):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s)",
            [list(tables)],
        )
        rows = cursor.fetchall()
    parsed = []
    for table, name, definition in rows:
        match = re.search(r"USING \w+ \((.*?)\)(?: WHERE (.*))?$", definition)
        parsed.append((table, name, match.group(1), match.group(2), "UNIQUE" in definition))
    return parsed


@pytest.mark.postgres
@pytest.mark.django_db
def test_every_seed_column_exists_with_its_type_length_and_nullability():
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT table_name, column_name, data_type, udt_name, character_maximum_length, is_nullable
               FROM information_schema.columns WHERE table_name = ANY(%s)""",
            [list(SEED_COLUMNS)],
        )
        found = {
            (table, column): (
                udt if data_type == "USER-DEFINED" else data_type,
                length,
                nullable == "YES",
            )
            for table, column, data_type, udt, length, nullable in cursor.fetchall()
        }
    for table, columns in SEED_COLUMNS.items():
        for column, expected in columns.items():
            assert found.get((table, column)) == expected, f"{table}.{column}"


@pytest.mark.postgres
@pytest.mark.django_db
def test_seed_enum_types_hold_the_seed_values():
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT t.typname, array_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_type t
               JOIN pg_enum e ON e.enumtypid = t.oid GROUP BY t.typname"""
        )
        enums = dict(cursor.fetchall())
    assert enums["mediatype"] == ["video", "audio", "document", "image"]
    assert enums["processingstatus"] == ["pending", "processing", "completed", "failed"]


@pytest.mark.postgres
@pytest.mark.django_db
def test_every_seed_index_exists_once_with_its_column_order_and_direction():
    indexes = pg_indexes(SEED_COLUMNS)
    full = {(table, columns) for table, _, columns, where, _ in indexes if where is None}
    for table, columns in SEED_INDEXES:
        assert (table, columns) in full, f"no index on {table} ({columns})"
    definitions = [(table, columns, where) for table, _, columns, where, _ in indexes]
    duplicates = {d for d in definitions if definitions.count(d) > 1}
    assert not duplicates, f"duplicate indexes: {duplicates}"


@pytest.mark.postgres
@pytest.mark.django_db
def test_review_queue_has_its_partial_indexes():
    indexes = {
        name: (columns, where, unique)
        for _, name, columns, where, unique in pg_indexes(["hitl_reviews"])
    }
    columns, where, unique = indexes["one_open_review_per_result_and_round"]
    assert (columns, unique) == ("analysis_result_id, round", True)
    assert "deleted_at IS NULL" in where and "completed" not in where
    columns, where, unique = indexes["idx_hitl_queue"]
    assert columns == "priority DESC, created_at, id"
    assert "deleted_at IS NULL" in where


@pytest.mark.django_db
def test_every_seed_table_and_column_exists_on_this_backend():
    with connection.cursor() as cursor:
        tables = set(connection.introspection.table_names(cursor))
        for table, columns in SEED_COLUMNS.items():
            assert table in tables
            described = {
                c.name: c for c in connection.introspection.get_table_description(cursor, table)
            }
            for column, (_, _, nullable) in columns.items():
                assert column in described, f"{table}.{column}"
                assert bool(described[column].null_ok) == nullable, f"{table}.{column} nullability"


def violates(update):
    # A check constraint says IntegrityError; a PostgreSQL enum refuses a value as DataError.
    with pytest.raises((IntegrityError, DataError)), transaction.atomic():
        update()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("progress", 1.5),
        ("progress", -0.1),
        ("max_retries", 11),
        ("max_retries", -1),
        ("retry_count", -1),
        ("status", "bogus"),
    ],
)
def test_database_refuses_out_of_range_job_values(field, value):
    from mediaanalysis.pipeline.models import AnalysisJob

    job = make_job()
    violates(lambda: AnalysisJob.objects.filter(pk=job.pk).update(**{field: value}))


@pytest.mark.django_db
@pytest.mark.parametrize("value", [1.01, -0.5])
def test_database_refuses_out_of_range_confidence(value):
    from mediaanalysis.pipeline.models import AnalysisResult

    result = make_result()
    violates(lambda: AnalysisResult.objects.filter(pk=result.pk).update(confidence_score=value))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value"), [("file_size", -1), ("duration_seconds", -3.0), ("media_type", "hologram")]
)
def test_database_refuses_bad_media_file_values(field, value):
    from mediaanalysis.pipeline.models import MediaFile

    media = make_file()
    violates(lambda: MediaFile.objects.filter(pk=media.pk).update(**{field: value}))


@pytest.mark.django_db
def test_database_accepts_the_bounds_themselves():
    from mediaanalysis.pipeline.models import AnalysisJob

    job = make_job()
    AnalysisJob.objects.filter(pk=job.pk).update(progress=1.0, max_retries=10)
    AnalysisJob.objects.filter(pk=job.pk).update(progress=0.0, max_retries=0)
    make_result(confidence_score=0.0)
    make_result(confidence_score=1.0)
    make_file(file_size=0, duration_seconds=0.0)


@pytest.mark.django_db(transaction=True)
def test_migrations_go_to_zero_and_back():
    call_command("migrate", "reviews", "zero", verbosity=0)
    call_command("migrate", "mediaanalysis", "zero", verbosity=0)
    with connection.cursor() as cursor:
        tables = set(connection.introspection.table_names(cursor))
    assert not tables & set(SEED_COLUMNS)
    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        tables = set(connection.introspection.table_names(cursor))
    assert set(SEED_COLUMNS) <= tables
    if connection.vendor == "postgresql":
        # The pool's connections keep prepared statements that name the enum types just dropped;
        # a deploy restarts its workers after such a migration (docs/performance.md), and so the
        # test starts a new pool, or a later test on this connection would fail.
        connection.close()
        connection.close_pool()
    make_result()  # and the tables work again


@pytest.mark.django_db
def test_migrations_match_the_models():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
