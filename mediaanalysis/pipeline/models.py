"""The pipeline's tables, as the original design defines them (docs/design.md, Tables).

Table, column and index names are the seed's. Where the seed gives a column only a Python-side
default (progress, retry_count, storage_backend, request_count...), the column is NOT NULL with
that default in the database: the seed's own response schemas declare those fields non-optional.
"""

import dataclasses
import hashlib
import mimetypes
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import connections, models, router
from django.db.models import Count, F, OuterRef, Q, Subquery
from django.db.models.functions import Now
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property

from mediaanalysis.db import ByPk, Compiled
from mediaanalysis.http import pk_address
from mediaanalysis.validation import StoredJSONDecoder, validate_session_id

from . import search
from .softdelete import AliveManager, SoftDeleteModel, SoftDeleteQuerySet
from .storage import MediaLocation, locate


class EnumField(models.CharField):
    """A PostgreSQL enum type of the seed (`mediatype`, `processingstatus`).

    Elsewhere it is a VARCHAR; a check constraint on the model keeps the values honest there.
    The migration creates the PostgreSQL type before the table that uses it.
    """

    def __init__(self, *args, enum_name: str, **kwargs):
        self.enum_name = enum_name
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["enum_name"] = self.enum_name
        return name, path, args, kwargs

    def db_type(self, connection):
        if connection.vendor == "postgresql":
            return self.enum_name
        return super().db_type(connection)

    def cast_db_type(self, connection):
        return self.db_type(connection)


class MediaType(models.TextChoices):
    VIDEO = "video"
    AUDIO = "audio"
    DOCUMENT = "document"
    IMAGE = "image"


class ProcessingStatus(models.TextChoices):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


# The jobs' lifecycle: which status may follow which (the API refuses anything else with 409).
JOB_TRANSITIONS = {
    ProcessingStatus.PENDING: {ProcessingStatus.PROCESSING, ProcessingStatus.FAILED},
    ProcessingStatus.PROCESSING: {
        ProcessingStatus.PROCESSING,
        ProcessingStatus.COMPLETED,
        ProcessingStatus.FAILED,
    },
    ProcessingStatus.COMPLETED: set(),
    ProcessingStatus.FAILED: {ProcessingStatus.PENDING},
}


class JobTransitionError(ValueError):
    """A change the job's lifecycle does not allow; the message says what is allowed."""


# Partial indexes of live rows: list pages never show soft-deleted ones.
LIVE = Q(deleted_at__isnull=True)


def _in_range(field: str, low=None, high=None) -> Q:
    q = Q(**{f"{field}__isnull": True})
    bounds = Q()
    if low is not None:
        bounds &= Q(**{f"{field}__gte": low})
    if high is not None:
        bounds &= Q(**{f"{field}__lte": high})
    return q | bounds


class MediaFileQuerySet(SoftDeleteQuerySet):
    def for_list(self):
        return self.only(
            "id",
            "session_id",
            "original_filename",
            "media_type",
            "mime_type",
            "file_size",
            "duration_seconds",
            "frame_count",
            "extraction_method",
            "storage_backend",
            "created_at",
        )

    def for_media(self):
        """What serving a file's media needs."""
        return self.only(
            "id",
            "original_filename",
            "media_type",
            "mime_type",
            "duration_seconds",
            "file_path",
            "storage_backend",
            "storage_path",
        )


class MediaFile(SoftDeleteModel):
    """Metadata of an uploaded or processed media file."""

    # New ids follow the rule of validate_session_id (they go into URLs); old rows may not.
    session_id = models.CharField(max_length=36, validators=[validate_session_id])
    original_filename = models.CharField(max_length=255)
    processed_filename = models.CharField(max_length=255, null=True, blank=True)
    file_path = models.CharField(max_length=512, null=True, blank=True)
    file_size = models.IntegerField(null=True, blank=True, help_text="bytes")
    media_type = EnumField(max_length=8, choices=MediaType, enum_name="mediatype")
    mime_type = models.CharField(max_length=100, null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    extraction_method = models.CharField(
        max_length=50, null=True, blank=True, help_text='e.g. "3fps", "uniform"'
    )
    frame_count = models.IntegerField(null=True, blank=True)
    contact_sheet_path = models.CharField(max_length=512, null=True, blank=True)
    storage_backend = models.CharField(
        max_length=50, default="local", db_default="local", help_text="local, r2, s3"
    )
    storage_path = models.CharField(max_length=512, null=True, blank=True)

    objects = AliveManager.from_queryset(MediaFileQuerySet)()
    all_objects = MediaFileQuerySet.as_manager()

    class Meta(SoftDeleteModel.Meta):
        db_table = "media_files"
        indexes = [
            # The seed names this index three times (index=True, idx_media_file_session,
            # idx_media_files_session): one stays.
            models.Index(fields=["session_id"], name="idx_media_files_session"),
            models.Index(fields=["media_type"], name="idx_media_file_type"),
            models.Index(fields=["created_at"], name="idx_media_file_created"),
            # The files list: live rows, newest first (see docs/performance.md).
            models.Index(
                fields=["-created_at", "-id"], name="idx_media_file_live_list", condition=LIVE
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=_in_range("file_size", 0), name="media_file_size_gte_0"
            ),
            models.CheckConstraint(
                condition=_in_range("duration_seconds", 0), name="media_file_duration_gte_0"
            ),
            models.CheckConstraint(
                condition=_in_range("frame_count", 0), name="media_file_frames_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(media_type__in=MediaType.values), name="media_file_type_valid"
            ),
        ]

    def __str__(self):
        return self.original_filename

    def get_absolute_url(self):
        return pk_address("file-detail", self.pk)

    @cached_property
    def location(self) -> MediaLocation:
        """Where the media is, and whether it can be served (storage.locate)."""
        return locate(self)

    @property
    def player_kind(self) -> str | None:
        """Which player shows this file: "video", "audio", "image", "pdf", "text" or None.

        From media_type, refined by the MIME type (the row's, else guessed from the name).
        An image that could run code (SVG) gets none: the media URL serves it as a download.
        """
        name = self.storage_path or self.file_path or self.original_filename or ""
        kind = (self.mime_type or "").split(";")[0].strip().lower()
        kind = kind or (mimetypes.guess_type(name)[0] or "")
        if self.media_type == MediaType.VIDEO:
            return "audio" if kind.startswith("audio/") else "video"
        if self.media_type == MediaType.AUDIO:
            return "audio"
        if self.media_type == MediaType.IMAGE:
            return "image" if kind != "image/svg+xml" else None
        if kind == "application/pdf":
            return "pdf"
        if kind == "text/plain":
            return "text"
        return None


class MediaPeaks(models.Model):
    """A media file's waveform peaks, computed once from its audio and stored (peaks.py).

    A table rather than files: every app server reads the same rows (docs/design.md, Beyond one machine).
    `source` is a hash of where the media was and, on local disk, its size and mtime: a
    changed file no longer matches, and its peaks are computed again. While `state` is
    computing, `started_at` is the lease of the one request or worker that computes them.
    """

    class State(models.TextChoices):
        COMPUTING = "computing"
        READY = "ready"
        NO_AUDIO = "no_audio"
        FAILED = "failed"

    media_file = models.OneToOneField(
        MediaFile, on_delete=models.CASCADE, related_name="waveform_peaks"
    )
    source = models.CharField(max_length=64)
    state = models.CharField(max_length=10, choices=State)
    started_at = models.DateTimeField()
    computed_at = models.DateTimeField(null=True, blank=True)
    compute_seconds = models.FloatField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    length = models.IntegerField(null=True, blank=True, help_text="peaks per channel")
    # The response body, gzipped JSON: served as it is to every browser that takes gzip.
    payload = models.BinaryField(null=True, blank=True)
    error = models.TextField(null=True, blank=True)

    class Meta:
        db_table = "media_peaks"
        verbose_name_plural = "media peaks"

    def __str__(self):
        return f"peaks of file #{self.media_file_id} ({self.state})"


class AnalysisJobQuerySet(SoftDeleteQuerySet):
    def for_list(self):
        return self.select_related("media_file").only(
            "id",
            "session_id",
            "job_type",
            "status",
            "progress",
            "error_message",
            "retry_count",
            "max_retries",
            "started_at",
            "completed_at",
            "created_at",
            "updated_at",
            "media_file__id",
            "media_file__original_filename",
            "media_file__media_type",
        )

    def for_summary(self):
        """A file's jobs, as the file page's short table shows them."""
        return self.only("id", "job_type", "status", "progress", "created_at", "completed_at")

    def retryable(self):
        return self.filter(status=ProcessingStatus.FAILED, retry_count__lt=F("max_retries"))

    def stalled(self, now=None):
        """Jobs processing with no update (progress or otherwise) for JOB_STALLED_AFTER seconds.

        A range of the processing jobs in an index on status, their last update read from the
        rows: no index holds updated_at, so that a progress report is a HOT update.
        """
        return self.filter(status=ProcessingStatus.PROCESSING, updated_at__lt=stalled_before(now))

    def not_stalled(self, now=None):
        return self.exclude(status=ProcessingStatus.PROCESSING, updated_at__lt=stalled_before(now))

    def retry_each(self, now=None) -> "RetryOutcome":
        """Retry these jobs where the rules allow; say why each of the others was not retried."""
        selected = list(
            self.values_list("pk", "status", "retry_count", "max_retries", "deleted_at")
        )
        live = [pk for pk, *_, deleted_at in selected if deleted_at is None]
        outcome = RetryOutcome(retried=self.model.objects.filter(pk__in=live).retry(now))
        for pk, status, retries, maximum, deleted_at in selected:
            if deleted_at is not None:
                outcome.refused.append(f"#{pk} (deleted)")
            elif status != ProcessingStatus.FAILED:
                outcome.refused.append(f"#{pk} (not failed: {status})")
            elif retries >= maximum:
                outcome.refused.append(f"#{pk} (no retries left: {retries}/{maximum})")
        return outcome

    def retry(self, now=None) -> int:
        """Send failed jobs with retries left back to pending; return how many went."""
        now = now or timezone.now()
        return self.retryable().update(
            status=ProcessingStatus.PENDING,
            retry_count=F("retry_count") + 1,
            progress=0.0,
            started_at=None,
            completed_at=None,
            updated_at=now,
        )


# A live job by its key, compiled once: what the API's reads of a job and a progress report's
# RETURNING give (mediaanalysis/db.py).
LIVE_JOB = ByPk(lambda: AnalysisJob.objects.all())


def stalled_before(now=None):
    """The moment before which a processing job's last update makes it stalled."""
    return (now or timezone.now()) - timedelta(seconds=settings.JOB_STALLED_AFTER)


@dataclasses.dataclass
class RetryOutcome:
    retried: int
    refused: list[str] = dataclasses.field(default_factory=list)  # "#12 (no retries left: 3/3)"


class AnalysisJob(SoftDeleteModel):
    """A background job of the pipeline."""

    session_id = models.CharField(max_length=36, validators=[validate_session_id])
    job_type = models.CharField(max_length=50, help_text='"video_analysis", "transcription"...')
    status = EnumField(
        max_length=10,
        choices=ProcessingStatus,
        default=ProcessingStatus.PENDING,
        db_default=ProcessingStatus.PENDING,
        enum_name="processingstatus",
    )
    progress = models.FloatField(default=0.0, db_default=0.0, help_text="0.0 to 1.0")
    parameters = models.JSONField(null=True, blank=True, decoder=StoredJSONDecoder)
    error_message = models.TextField(null=True, blank=True)
    retry_count = models.IntegerField(default=0, db_default=0)
    max_retries = models.IntegerField(default=3, db_default=3)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    media_file = models.ForeignKey(
        MediaFile,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="jobs",
        db_index=False,  # idx_job_media_file below
    )

    objects = AliveManager.from_queryset(AnalysisJobQuerySet)()
    all_objects = AnalysisJobQuerySet.as_manager()

    class Meta(SoftDeleteModel.Meta):
        db_table = "analysis_jobs"
        permissions = [
            ("view_dashboard", "Can view the manager dashboard"),
            ("retry_analysisjob", "Can retry failed jobs"),
        ]
        indexes = [
            models.Index(fields=["session_id"], name="idx_analysis_jobs_session"),
            models.Index(fields=["status"], name="idx_job_status"),
            models.Index(fields=["session_id", "job_type"], name="idx_job_session_type"),
            # idx_job_created and idx_analysis_jobs_created are one index: one stays.
            models.Index(fields=["created_at"], name="idx_job_created"),
            models.Index(fields=["session_id", "status"], name="idx_analysis_jobs_session_status"),
            models.Index(
                fields=["session_id", "-created_at"], name="idx_analysis_jobs_session_time"
            ),
            # Not in the seed: a foreign key (docs/design.md, Tables), for a file's jobs and the cascade.
            models.Index(fields=["media_file"], name="idx_job_media_file"),
            # The jobs list, newest first, whole or by status: live rows only, in the page's
            # order, so a page and its bounded count are index-only scans (docs/performance.md).
            models.Index(fields=["-created_at", "-id"], name="idx_job_live_list", condition=LIVE),
            models.Index(
                fields=["status", "-created_at", "-id"],
                name="idx_job_live_status_list",
                condition=LIVE,
            ),
            # The dashboard's throughput counts jobs by when they finished.
            models.Index(fields=["completed_at"], name="idx_job_live_completed", condition=LIVE),
            # No index holds updated_at: a worker's progress report, the most frequent write,
            # then changes no indexed column, and PostgreSQL updates the row in place (a HOT
            # update) instead of adding an entry to each of these twelve indexes. Stalled
            # jobs are found among the processing ones by an index on status, few at any
            # time (docs/performance.md, "The API's request, again").
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(progress__gte=0, progress__lte=1), name="job_progress_0_1"
            ),
            models.CheckConstraint(condition=Q(retry_count__gte=0), name="job_retry_count_gte_0"),
            models.CheckConstraint(
                condition=Q(max_retries__gte=0, max_retries__lte=10), name="job_max_retries_0_10"
            ),
            models.CheckConstraint(
                condition=Q(status__in=ProcessingStatus.values), name="job_status_valid"
            ),
        ]

    def __str__(self):
        return f"{self.job_type} #{self.pk}"

    def get_absolute_url(self):
        return pk_address("job-detail", self.pk)

    @property
    def is_running(self) -> bool:
        return self.status in (ProcessingStatus.PENDING, ProcessingStatus.PROCESSING)

    @property
    def queue_wait(self) -> timedelta | None:
        return self.started_at - self.created_at if self.started_at else None

    @property
    def duration(self) -> timedelta | None:
        if self.started_at and self.completed_at:
            return self.completed_at - self.started_at
        return None

    @property
    def is_stalled(self) -> bool:
        """The row-level twin of `AnalysisJob.objects.stalled()`."""
        return self.status == ProcessingStatus.PROCESSING and self.updated_at < stalled_before()

    @property
    def can_retry(self) -> bool:
        """The row-level twin of `AnalysisJob.objects.retryable()`."""
        return self.status == ProcessingStatus.FAILED and self.retry_count < self.max_retries

    def following_statuses(self) -> str:
        following = sorted(JOB_TRANSITIONS[ProcessingStatus(self.status)])
        return ", ".join(following) if following else "none (it is final)"

    def change(self, data: dict, now) -> None:
        """Apply a worker's update (progress, timestamps, errors, status) by the job's lifecycle.

        pending -> processing | failed; processing -> processing | completed | failed;
        failed -> pending (a retry, within max_retries); completed is final. A status change
        fills in what it implies (started_at, completed_at, progress, retry_count) unless given.
        Only the changed columns are written. Raises JobTransitionError.
        """
        data = dict(data)
        new = data.get("status")
        if new is not None and new != self.status:
            if new not in JOB_TRANSITIONS[ProcessingStatus(self.status)]:
                raise JobTransitionError(
                    f"A {self.status} job cannot become {new}; from {self.status} it may "
                    f"become: {self.following_statuses()}."
                )
            if new == ProcessingStatus.PROCESSING:
                data.setdefault("started_at", now)
            elif new in (ProcessingStatus.COMPLETED, ProcessingStatus.FAILED):
                data.setdefault("completed_at", now)
                if new == ProcessingStatus.COMPLETED:
                    data.setdefault("progress", 1.0)
            elif new == ProcessingStatus.PENDING:  # a retry
                data.setdefault("retry_count", self.retry_count + 1)
                data.setdefault("progress", 0.0)
                data.setdefault("started_at", None)
                data.setdefault("completed_at", None)
        elif self.status == ProcessingStatus.COMPLETED and data.keys() - {"status"}:
            raise JobTransitionError("A completed job is final; it cannot change.")
        if data.get("retry_count", self.retry_count) > self.max_retries:
            raise JobTransitionError(f"This job has used all its {self.max_retries} retries.")
        for field, value in data.items():
            setattr(self, field, value)
        self.save(update_fields=[*data, "updated_at"])

    @classmethod
    def report_progress(cls, pk: int, progress: float, now) -> "AnalysisJob | None":
        """A worker's progress report: set a live job's progress where its lifecycle allows
        (as change() does: only a completed job is final) and return the job as it now is;
        None if no job changed (missing, deleted, completed, or a key beyond the column).

        The pipeline's most frequent write, so it is one UPDATE that returns the row: no
        transaction, no read before or after it. A report that races a change of status is
        decided by PostgreSQL, which checks the row again once its lock is free
        (docs/performance.md, "The API's request, again")."""
        if not LIVE_JOB.fits(pk):
            return None
        db = router.db_for_write(cls)
        connection = connections[db]
        q = connection.ops.quote_name
        return LIVE_JOB.compiled.read(
            lambda columns: (
                f"UPDATE {q(cls._meta.db_table)}"
                f" SET {q('progress')} = %s, {q('updated_at')} = %s"
                f" WHERE {q('id')} = %s AND {q('deleted_at')} IS NULL"
                f" AND {q('status')} <> '{ProcessingStatus.COMPLETED}'"
                f" RETURNING {columns}"
            ),
            [progress, connection.ops.adapt_datetimefield_value(now), pk],
            db,
        )


class AnalysisResultQuerySet(SoftDeleteQuerySet):
    def for_list(self):
        return self.select_related("job").only(
            "id",
            "job_id",
            "media_file_id",
            "analysis_type",
            "model_used",
            "confidence_score",
            "frames_extracted",
            "created_at",
            "job__id",
            "job__session_id",
            "job__job_type",
        )

    def for_summary(self):
        """A job's or a file's results, as the short results table of their pages shows them."""
        return self.only("id", "analysis_type", "model_used", "confidence_score", "created_at")

    def search(self, query):
        """Results that match `query`: web-search syntax (text) or a parsed search.WebSearch.
        Raises search.InvalidSearch for text that cannot be searched for."""
        return search.filter_matching(self, query)

    def by_relevance(self, query):
        """Best match first. Ranks every row: only for a bounded set (docs/search.md)."""
        return search.order_by_relevance(self, query)


class ResultManager(AliveManager.from_queryset(AnalysisResultQuerySet)):
    def get_queryset(self):
        # The search document is as big as the texts and only the database reads it.
        return super().get_queryset().defer("search_vector")


class AllResultsManager(models.Manager.from_queryset(AnalysisResultQuerySet)):
    def get_queryset(self):
        return super().get_queryset().defer("search_vector")


class AnalysisResult(SoftDeleteModel):
    """What a model made of a job's media: JSON, text outputs and segments."""

    job = models.ForeignKey(
        AnalysisJob, on_delete=models.CASCADE, related_name="results", db_index=False
    )
    media_file = models.ForeignKey(
        MediaFile,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="results",
        db_index=False,
    )
    analysis_type = models.CharField(max_length=50, help_text='"video", "audio", "document"')
    model_used = models.CharField(max_length=100, null=True, blank=True)
    result_data = models.JSONField(null=True, blank=True, decoder=StoredJSONDecoder)
    confidence_score = models.FloatField(null=True, blank=True)
    transcript = models.TextField(null=True, blank=True)
    summary = models.TextField(null=True, blank=True)
    extracted_text = models.TextField(null=True, blank=True)
    frames_extracted = models.IntegerField(null=True, blank=True)
    segments = models.JSONField(
        null=True, blank=True, help_text="timestamps of key segments", decoder=StoredJSONDecoder
    )
    # Full-text search (docs/search.md): on PostgreSQL a stored tsvector of the texts, with a
    # GIN index (idx_result_search, made by migration 0005 on PostgreSQL only: an index USING
    # gin cannot be declared here, as SQLite would be asked to build it too). On SQLite the
    # column is NULL and the FTS5 table analysis_results_fts does the work.
    search_vector = search.SearchVectorColumn(
        expression=search.SearchDocument(), output_field=search.TsVectorField(), db_persist=True
    )

    objects = ResultManager()
    all_objects = AllResultsManager()

    class Meta(SoftDeleteModel.Meta):
        db_table = "analysis_results"
        indexes = [
            models.Index(fields=["analysis_type"], name="idx_result_type"),
            models.Index(fields=["model_used"], name="idx_result_model"),
            # idx_result_job and idx_analysis_results_job are one index: one stays.
            models.Index(fields=["job"], name="idx_result_job"),
            models.Index(
                fields=["analysis_type", "model_used"], name="idx_analysis_results_type_model"
            ),
            models.Index(
                fields=["analysis_type", "-confidence_score"],
                name="idx_analysis_results_type_confidence",
            ),
            # Not in the seed: a foreign key (docs/design.md, Tables), for a file's results.
            models.Index(fields=["media_file"], name="idx_result_media_file"),
            # The results list: newest first, by model (with confidence for its range filter),
            # sorted by confidence, and the bounded count of a model + confidence range filter
            # (docs/performance.md).
            models.Index(
                fields=["-created_at", "-id"], name="idx_result_live_list", condition=LIVE
            ),
            models.Index(
                fields=["model_used", "-created_at", "-id"],
                include=["confidence_score"],
                name="idx_result_live_model_list",
                condition=LIVE,
            ),
            models.Index(
                fields=["-confidence_score", "-id"],
                name="idx_result_live_confidence",
                condition=LIVE,
            ),
            models.Index(
                fields=["model_used", "confidence_score"],
                name="idx_result_live_model_confidence",
                condition=LIVE,
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=_in_range("confidence_score", 0, 1), name="result_confidence_0_1"
            ),
            models.CheckConstraint(
                condition=_in_range("frames_extracted", 0), name="result_frames_gte_0"
            ),
        ]

    def __str__(self):
        return f"{self.analysis_type} result #{self.pk}"

    def get_absolute_url(self):
        return pk_address("result-detail", self.pk)


def active_since(now=None):
    """A session seen after this moment, and not ended, is active (SESSION_ACTIVE_WITHIN)."""
    return (now or timezone.now()) - timedelta(seconds=settings.SESSION_ACTIVE_WITHIN)


class SessionState(models.TextChoices):
    ACTIVE = "active"
    IDLE = "idle"
    ENDED = "ended"


class UserSessionQuerySet(SoftDeleteQuerySet):
    def in_state(self, state: str, now=None):
        """Active: not ended and seen within SESSION_ACTIVE_WITHIN; idle: not ended, not seen
        since; ended: has an end. A range of idx_session_activity for the first two."""
        if state == SessionState.ENDED:
            return self.filter(ended_at__isnull=False)
        recent = Q(last_activity__gte=active_since(now))
        return self.filter(
            Q(ended_at__isnull=True) & (recent if state == SessionState.ACTIVE else ~recent)
        )

    def for_list(self):
        return self.only(
            "id",
            "session_id",
            "user_agent",
            "ip_address",
            "started_at",
            "last_activity",
            "ended_at",
            "request_count",
            "media_processed_count",
        )

    def with_counts(self):
        """Each session with the number of its live jobs and files (correlated by session_id)."""
        jobs = AnalysisJob.objects.filter(session_id=OuterRef("session_id")).order_by()
        files = MediaFile.objects.filter(session_id=OuterRef("session_id")).order_by()
        return self.annotate(
            job_count=Subquery(jobs.values("session_id").annotate(n=Count("pk")).values("n")[:1]),
            file_count=Subquery(files.values("session_id").annotate(n=Count("pk")).values("n")[:1]),
        )


class UserSession(SoftDeleteModel):
    """A pipeline user's session. Files and jobs correlate with it by `session_id` alone."""

    session_id = models.CharField(max_length=36, unique=True, validators=[validate_session_id])
    user_agent = models.CharField(max_length=512, null=True, blank=True)
    ip_address = models.CharField(max_length=45, null=True, blank=True, help_text="IPv4 or IPv6")
    started_at = models.DateTimeField(default=timezone.now, db_default=Now())
    last_activity = models.DateTimeField(default=timezone.now, db_default=Now())
    ended_at = models.DateTimeField(null=True, blank=True)
    request_count = models.IntegerField(default=0, db_default=0)
    media_processed_count = models.IntegerField(default=0, db_default=0)

    objects = AliveManager.from_queryset(UserSessionQuerySet)()
    all_objects = UserSessionQuerySet.as_manager()

    class Meta(SoftDeleteModel.Meta):
        db_table = "user_sessions"
        indexes = [
            # idx_session_activity and idx_user_sessions_activity are one index: one stays.
            models.Index(fields=["last_activity"], name="idx_session_activity"),
            models.Index(fields=["started_at"], name="idx_session_started"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(request_count__gte=0), name="session_request_count_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(media_processed_count__gte=0), name="session_media_count_gte_0"
            ),
        ]

    def __str__(self):
        return self.session_id

    def get_absolute_url(self):
        return reverse("session-detail", args=[self.session_id])

    @property
    def state(self) -> SessionState:
        """The row-level twin of `UserSession.objects.in_state()`."""
        if self.ended_at is not None:
            return SessionState.ENDED
        if self.last_activity >= active_since():
            return SessionState.ACTIVE
        return SessionState.IDLE


class ApiTokenQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True)

    def authenticating(self, raw: str) -> "ApiToken | None":
        """The live token with this secret, or None; what every API call asks first.

        One statement on the unique index, compiled once (mediaanalysis/db.py): building it
        with the ORM took a third of a small API call's time (docs/performance.md, "The API's
        request"). Not cached, so that a token revoked or deleted is refused at once, by every
        process.
        """
        return _LIVE_TOKEN.instance(ApiToken.hash(raw), using=self.db)


class ApiToken(models.Model):
    """A pipeline worker's bearer token. Only its SHA-256 is stored; the token is shown once."""

    class Scope(models.TextChoices):
        READ = "read"
        WRITE = "write"
        ADMIN = "admin"

    name = models.CharField(max_length=100)
    scope = models.CharField(max_length=10, choices=Scope, default=Scope.READ)
    prefix = models.CharField(max_length=12, editable=False, help_text="to recognise a token")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        db_table = "api_tokens"
        constraints = [
            models.CheckConstraint(
                condition=Q(scope__in=["read", "write", "admin"]), name="token_scope_valid"
            )
        ]

    def __str__(self):
        return f"{self.name} ({self.scope})"

    @staticmethod
    def hash(raw: str) -> str:
        return hashlib.sha256(raw.encode()).hexdigest()

    @classmethod
    def issue(cls, name: str, scope: str) -> tuple["ApiToken", str]:
        """Create a token; return it with the raw secret, which is never stored."""
        raw = "mad_" + secrets.token_urlsafe(32)
        token = cls.objects.create(
            name=name, scope=scope, prefix=raw[:12], token_hash=cls.hash(raw)
        )
        return token, raw


# Read on every API call: compiled once (mediaanalysis/db.py). Only the columns a call uses;
# the rest loads if read.
_LIVE_TOKEN = Compiled(
    lambda token_hash: ApiToken._base_manager.filter(
        token_hash=token_hash, revoked_at__isnull=True
    ).only("id", "scope", "last_used_at"),
    "\0token hash",
)


class IdempotencyKey(models.Model):
    """An API POST's Idempotency-Key, and the first answer to it (pipeline/idempotency.py).

    Written in the same transaction as the POST's own changes, so a key exists exactly when
    they do; unique per token, so concurrent retries with one key wait for the first.
    """

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and body")
    status_code = models.PositiveSmallIntegerField(null=True)
    response_body = models.BinaryField(default=b"")
    content_type = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "api_idempotency_keys"
        constraints = [
            models.UniqueConstraint(fields=["token", "key"], name="one_idempotency_key_per_token")
        ]
        indexes = [models.Index(fields=["created_at"], name="idx_idempotency_created")]

    def __str__(self):
        return self.key
