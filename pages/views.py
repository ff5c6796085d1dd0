"""Pages to browse the pipeline's data: lists with filters, details, CSV exports."""

import csv
import mimetypes
from datetime import timedelta
from functools import partial
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.db import connections
from django.db.models import F, Subquery
from django.http import Http404, QueryDict, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import (
    HttpResponseClientRefresh,
    HttpResponseStopPolling,
)

from mediaanalysis.db import ByPk, use_replica
from mediaanalysis.http import next_path, redirect_to
from mediaanalysis.pipeline import search
from mediaanalysis.pipeline.display import (
    contact_sheet_file,
    csv_value,
    media_preview,
    pretty_json,
    result_media,
)
from mediaanalysis.pipeline.filters import (
    FileFilter,
    JobFilter,
    MediaForm,
    PageForm,
    SessionFilter,
)
from mediaanalysis.pipeline.models import (
    AnalysisJob,
    AnalysisResult,
    MediaFile,
    ProcessingStatus,
    UserSession,
)
from mediaanalysis.pipeline.pagination import bounded_count, count_rows, paginate
from mediaanalysis.pipeline.peaks import peaks_for, peaks_response
from mediaanalysis.pipeline.serving import file_media_response, media_response, safe_filename
from mediaanalysis.validation import text_problem
from reviews import quality
from reviews.filters import ReviewedResultFilter
from reviews.models import EnqueueBatch, HITLReview, ReviewStatus

from .forms import BulkJobsForm

EXPORT_CHUNK = 2000


def _without_empty(query) -> str:
    """The query string with its empty parameters left out (a GET form sends every field)."""
    return urlencode([(k, v) for k, values in query.lists() for v in values if v != ""])


def _search(filterset, number, per_page, after=None):
    """A search's queryset, count, sort note and way to a page's ids. Matches are ranked only
    when there are at most RANK_LIMIT of them: ranking a million matches to show 25 would read
    them all. More are shown newest first, which the list's indexes serve (docs/search.md)."""
    qs, query = filterset.qs, filterset.search
    offset, deep = (number - 1) * per_page, None
    if after is None and offset >= search.RANK_LIMIT and connections[qs.db].vendor == "postgresql":
        # A page this deep that has rows proves there are more matches than are counted: its
        # ids are read first and the count is not run (the phrase's page 200: 8 ms less).
        deep = list(qs.values_list("pk", flat=True)[offset : offset + per_page + 1])
    if deep:
        counted = (search.RANK_LIMIT, False, False)
    else:
        counted = count_rows(qs, estimate=False, cap=search.RANK_LIMIT)
    few = counted[1] and counted[0] <= search.RANK_LIMIT
    note, page_ids = "", None
    if filterset.by_relevance() and query.phrases:
        if few:
            qs, note = qs.by_relevance(query), "Best matches first."
        else:
            note = (
                f"More than {search.RANK_LIMIT:,} matches, so newest first: narrow the search"
                " (or add filters) to sort them by relevance."
            )
    if deep:

        def page_ids(offset, limit):  # paginate asks for this very page
            return deep

    elif not few and filterset.newest_first():
        page_ids = partial(search.newest_matches, filterset.unsearched(), query, after=after)
    return qs, counted, note, page_ids


def _list_page(request, filterset_class, queryset, template, default_sort, extra=None):
    """Validate the query string, filter, paginate, and render the page or just its table."""
    if not request.htmx and "" in (v for _, values in request.GET.lists() for v in values):
        # A form submitted without JavaScript: the same list at its clean, shareable address.
        clean = _without_empty(request.GET)
        return redirect(request.path + (f"?{clean}" if clean else ""))
    filterset = filterset_class(
        request.GET or None, queryset=queryset.order_by(*default_sort), request=request
    )
    page_form = PageForm(request.GET)
    number, per_page = page_form.values()
    qs, counted, search_note, page_ids = filterset.qs, None, "", None
    query = getattr(filterset, "search", None)
    if query is not None:
        qs, counted, search_note, page_ids = _search(
            filterset, number, per_page, after=page_form.cursor()
        )
    page = paginate(
        qs, number, per_page, filtered=filterset.is_filtered(), counted=counted, page_ids=page_ids
    )
    if page_ids is not None and page.has_next and filterset.newest_first():
        # The next page walks on from this one's end (search.newest_matches).
        page.next_after = f"{page.number}:{page.rows[-1].pk}"
    if query is not None:
        search.find_hits(page.rows, query, using=qs.db)
    context = {
        "filter": filterset,
        "form": filterset.form,
        "page_errors": [e for errors in page_form.errors.values() for e in errors],
        # Shown inside the table, so that an htmx swap shows it too (a message would wait for
        # the next full page).
        "page_notice": (
            f"There are only {page.num_pages} pages; this is the last one."
            if page.number != number
            else ""
        ),
        "page": page,
        "rows": page.rows,
        "search": query,
        "search_note": search_note,
        "per_page_choices": [10, 25, 50, 100],
        "unknown_parameters": filterset.unknown_parameters(),
        **(extra(page, filterset) if callable(extra) else extra or {}),
    }
    if request.htmx and not request.htmx.history_restore_request:
        template += "#table"
    return render(request, template, context)


@require_GET
@permission_required("mediaanalysis.view_analysisjob", raise_exception=True)
@use_replica
@vary_on_headers("HX-Request")
def job_list(request):
    def retry_offer(page, filterset):
        """Offer retries where there are failed jobs: on this page, or asked for by the filter."""
        if not request.user.has_perm("mediaanalysis.retry_analysisjob") or not page.rows:
            return {}
        statuses = filterset.form.cleaned_data.get("status") if filterset.is_valid() else None
        return {
            "retry_offered": any(job.status == ProcessingStatus.FAILED for job in page.rows)
            or ProcessingStatus.FAILED in (statuses or [])
        }

    return _list_page(
        request,
        JobFilter,
        AnalysisJob.objects.for_list(),
        "pages/job_list.html",
        ["-created_at", "-id"],
        extra=retry_offer,
    )


@require_GET
@permission_required("mediaanalysis.view_analysisresult", raise_exception=True)
@use_replica
@vary_on_headers("HX-Request")
def result_list(request):
    latest_review = HITLReview.objects.of_outer_result()
    results = AnalysisResult.objects.for_list().annotate(
        review_id=Subquery(latest_review.values("id")[:1]),
        review_status=Subquery(latest_review.values("status")[:1]),
        review_decision=Subquery(latest_review.values("approved")[:1]),
    )
    undoable = None
    if request.user.has_perm("reviews.enqueue_hitlreview"):
        undoable = EnqueueBatch.objects.undoable_by(request.user).first()
    return _list_page(
        request,
        ReviewedResultFilter,
        results,
        "pages/result_list.html",
        ["-created_at", "-id"],
        extra={"undoable": undoable},
    )


@require_GET
@permission_required("mediaanalysis.view_mediafile", raise_exception=True)
@use_replica
@vary_on_headers("HX-Request")
def file_list(request):
    return _list_page(
        request,
        FileFilter,
        MediaFile.objects.for_list(),
        "pages/file_list.html",
        ["-created_at", "-id"],
    )


@require_GET
@permission_required("mediaanalysis.view_usersession", raise_exception=True)
@use_replica
@vary_on_headers("HX-Request")
def session_list(request):
    return _list_page(
        request,
        SessionFilter,
        UserSession.objects.for_list().with_counts(),
        "pages/session_list.html",
        ["-last_activity", "-id"],
        extra={"active_within": timedelta(seconds=settings.SESSION_ACTIVE_WITHIN)},
    )


# Details

# Each detail page reads its row with a statement compiled once: building and compiling the
# select_related() query anew was a third of a missing row's page (docs/performance.md).
JOB_PAGE = ByPk(lambda: AnalysisJob.objects.select_related("media_file"))
RESULT_PAGE = ByPk(lambda: AnalysisResult.objects.select_related("job", "media_file"))
FILE_PAGE = ByPk(lambda: MediaFile.objects.all())
FILE_MEDIA = ByPk(lambda: MediaFile.objects.for_media())  # its bytes and waveform, per range


@require_GET
@permission_required("mediaanalysis.view_analysisjob", raise_exception=True)
def job_detail(request, pk):
    job = JOB_PAGE.get_or_404(pk)
    results = job.results.for_summary().order_by("id")
    return render(
        request,
        "pages/job_detail.html",
        {
            "job": job,
            "results": results,
            "parameters": pretty_json(job.parameters),
            "session": UserSession.objects.filter(session_id=job.session_id).first(),
            **_stall_context(),
        },
    )


def _stall_context() -> dict:
    return {"stalled_after": timedelta(seconds=settings.JOB_STALLED_AFTER)}


# Retrying failed jobs: the rules are the model's (AnalysisJob.objects.retryable()), the same as
# the admin's action.
RETRY_LIMIT = 10_000


@require_POST
@permission_required("mediaanalysis.retry_analysisjob", raise_exception=True)
def job_retry(request):
    """Retry failed jobs: the ticked ones (or the one of a job page), or every retryable job of
    a jobs-list filter once its count has been confirmed."""
    form = BulkJobsForm(request.POST)
    back = next_path(request, reverse("job-list"))
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return redirect_to(request, back)
    if form.cleaned_data["scope"] == "filter":
        jobs = JobFilter(
            QueryDict(form.cleaned_data["query"]),
            queryset=AnalysisJob.objects.order_by("-created_at", "-id"),
            request=request,
        )
        if problems := jobs.problems():
            messages.error(
                request, "Fix the filter first; no job was retried. " + " ".join(problems)
            )
            return redirect_to(request, back)
        retryable = jobs.qs.retryable()
        if not form.cleaned_data["confirm"]:
            return _confirm_retry(request, jobs, retryable, form, back)
        selected = AnalysisJob.objects.filter(
            pk__in=list(retryable.values_list("pk", flat=True)[:RETRY_LIMIT])
        )
    else:
        selected = AnalysisJob.all_objects.filter(pk__in=form.cleaned_data["job_ids"])
    outcome = selected.retry_each()
    if outcome.retried:
        messages.success(
            request,
            f"Sent {outcome.retried:,} failed job{pluralize(outcome.retried)} back to pending.",
        )
    if outcome.refused:
        messages.warning(request, "Not retried: " + ", ".join(outcome.refused[:50]))
    if not outcome.retried and not outcome.refused:
        messages.info(request, "No job was retried: none of them is failed with retries left.")
    return redirect_to(request, back)


def _confirm_retry(request, jobs, retryable, form, back):
    count, exact = bounded_count(retryable, cap=RETRY_LIMIT)
    amount = (
        f"{count:,} failed job{pluralize(count)}" if exact else f"more than {count:,} failed jobs"
    )
    notes = ["Only failed jobs with retries left are retried; each goes back to pending."]
    if not exact:
        notes.insert(
            0, f"Only the first {count:,} (newest first) are retried; send again for the rest."
        )
    confirm = {
        "title": "Retry failed jobs?",
        "question": f"Retry {amount}?"
        if count
        else "No job of this filter is failed with retries left: there is nothing to retry.",
        "filters": jobs.in_force(),
        "notes": notes if count else [],
        "count": count,
        "submit": f"Retry {count:,} job{pluralize(count)}",
        "action": reverse("job-retry"),
        "fields": [("scope", "filter"), ("query", form.cleaned_data["query"]), ("next", back)],
        "back": back,
    }
    template = "confirm_bulk.html#confirm" if request.htmx else "confirm_bulk.html"
    return render(request, template, {"confirm": confirm})


@require_GET
@permission_required("mediaanalysis.view_analysisjob", raise_exception=True)
def job_progress(request, pk):
    """The live part of the job page, polled by htmx while the job runs; 286 stops the polling."""
    job = (
        AnalysisJob.objects.only(
            "id",
            "status",
            "progress",
            "started_at",
            "completed_at",
            "error_message",
            "created_at",
            "updated_at",
        )
        .filter(pk=pk)
        .first()
    )
    if job is None:
        if not request.htmx:
            raise Http404("No such job.")
        # Deleted while watched: a 404, as for any deleted row, that also reloads the page (to
        # its plain 404), since htmx would otherwise keep polling a fragment that never comes.
        response = HttpResponseClientRefresh()
        response.status_code = 404
        response.content = render_to_string("404.html", request=request)
        return response
    if not job.is_running and request.htmx:
        # Finished while watched: the whole page changes (its results, retries, details), so
        # reload it rather than the progress card alone; 286 stops the polling either way.
        response = HttpResponseClientRefresh()
        response.status_code = HttpResponseStopPolling.status_code
        return response
    return render(request, "pages/job_detail.html#progress", {"job": job, **_stall_context()})


@require_GET
@permission_required("mediaanalysis.view_analysisresult", raise_exception=True)
def result_detail(request, pk):
    result = RESULT_PAGE.get_or_404(pk)
    reviews = list(
        result.reviews.select_related("claimed_by", "reviewed_by")
        .prefetch_related("events__actor")
        .order_by("-created_at")
    )
    return render(
        request,
        "pages/result_detail.html",
        {
            **result_media(result, reader=request.user),
            "result": result,
            "result_json": pretty_json(result.result_data),
            "reviews": reviews,
            "has_open_review": any(r.status != ReviewStatus.COMPLETED for r in reviews),
            # Blind review (docs/quality.md): reviewers see no one else's decisions of it.
            "hide_decisions": quality.hides_decisions(request.user, result.pk),
        },
    )


@require_GET
@permission_required("mediaanalysis.view_mediafile", raise_exception=True)
def file_detail(request, pk):
    media = FILE_PAGE.get_or_404(pk)
    jobs = media.jobs.for_summary().order_by("-created_at")[:100]
    # The contact sheet's frames are those that the latest result counting them extracted.
    results = list(
        media.results.for_summary()
        .annotate(sheet_frames=F("frames_extracted"))
        .order_by("-created_at")[:100]
    )
    frames = next((r.sheet_frames for r in results if r.sheet_frames), None)
    return render(
        request,
        "pages/file_detail.html",
        {
            "media": media,
            "preview": media_preview(media, frames, reader=request.user),
            "jobs": jobs,
            "results": results,
            "session": UserSession.objects.filter(session_id=media.session_id).first(),
        },
    )


@require_http_methods(["GET", "HEAD"])
@permission_required("mediaanalysis.view_mediafile", raise_exception=True)
def contact_sheet(request, pk):
    media = get_object_or_404(
        MediaFile.objects.only("id", "storage_backend", "contact_sheet_path"), pk=pk
    )
    location = contact_sheet_file(media)
    if location is None:
        raise Http404("This file has no contact sheet that can be served.")
    return media_response(
        request,
        location,
        content_type=mimetypes.guess_type(location.key)[0],
        inline=True,
        filename=safe_filename(location.key, f"contact-sheet-{media.pk}"),
        download=False,
    )


@require_http_methods(["GET", "HEAD"])
@permission_required("mediaanalysis.view_mediafile", raise_exception=True)
def file_media(request, pk):
    """The file's media: local bytes with Range, or a redirect to a presigned URL."""
    media = FILE_MEDIA.get_or_404(pk)
    return file_media_response(request, media, download=MediaForm(request.GET).wants_download())


@require_GET
@permission_required("mediaanalysis.view_mediafile", raise_exception=True)
def file_peaks(request, pk):
    """The waveform peaks of the file's audio, as JSON for wavesurfer.js (peaks.py)."""
    media = FILE_MEDIA.get_or_404(pk)
    return peaks_response(request, peaks_for(media))


@require_GET
@permission_required("mediaanalysis.view_usersession", raise_exception=True)
def session_detail(request, session_id):
    # No stored id is longer than the column or holds what the database cannot store.
    if len(session_id) > 36 or text_problem(session_id):
        raise Http404("No session, file or job has this session id.")
    session = UserSession.objects.filter(session_id=session_id).first()
    files = (
        MediaFile.objects.for_list()
        .filter(session_id=session_id)
        .order_by("-created_at", "-id")[:200]
    )
    jobs = (
        AnalysisJob.objects.for_list()
        .filter(session_id=session_id)
        .order_by("-created_at", "-id")[:200]
    )
    results = (
        AnalysisResult.objects.for_list()
        .filter(job__session_id=session_id)
        .order_by("-created_at", "-id")[:200]
    )
    files, jobs, results = list(files), list(jobs), list(results)
    if session is None and not files and not jobs:
        raise Http404("No session, file or job has this session id.")
    return render(
        request,
        "pages/session_detail.html",
        {
            "session": session,
            "session_id": session_id,
            "active_within": timedelta(seconds=settings.SESSION_ACTIVE_WITHIN),
            "files": files,
            "jobs": jobs,
            "results": results,
        },
    )


# CSV exports: exactly the list's filter, streamed in chunks so no export holds its rows in memory.


class _Echo:
    def write(self, value):
        return value


def _export(request, filterset_class, queryset, default_sort, columns, name):
    filterset = filterset_class(
        request.GET or None, queryset=queryset.order_by(*default_sort), request=request
    )
    if problems := filterset.problems():
        # django-filter would leave such a filter out and export far more than was asked for.
        list_url = request.path.removesuffix("export/")
        return render(
            request,
            "pages/export_refused.html",
            {
                "problems": problems,
                "noun": name,
                "back": list_url + (f"?{request.GET.urlencode()}" if request.GET else ""),
            },
            status=400,
        )
    qs = filterset.qs
    # Pin the database now: the rows are read after the view returns, outside use_replica.
    qs = qs.using(qs.db)
    writer = csv.writer(_Echo())
    header = [label for label, _ in columns]
    fields = [field for _, field in columns]

    def rows():
        yield writer.writerow(header)
        for values in qs.values_list(*fields).iterator(chunk_size=EXPORT_CHUNK):
            yield writer.writerow([csv_value(v) for v in values])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.csv"'
    return response


@require_GET
@permission_required("mediaanalysis.view_analysisjob", raise_exception=True)
@use_replica
def job_export(request):
    columns = [
        ("id", "id"),
        ("session_id", "session_id"),
        ("job_type", "job_type"),
        ("status", "status"),
        ("progress", "progress"),
        ("media_file_id", "media_file_id"),
        ("media_type", "media_file__media_type"),
        ("retry_count", "retry_count"),
        ("max_retries", "max_retries"),
        ("error_message", "error_message"),
        ("created_at", "created_at"),
        ("started_at", "started_at"),
        ("completed_at", "completed_at"),
    ]
    return _export(
        request, JobFilter, AnalysisJob.objects.all(), ["-created_at", "-id"], columns, "jobs"
    )


@require_GET
@permission_required("mediaanalysis.view_analysisresult", raise_exception=True)
@use_replica
def result_export(request):
    columns = [
        ("id", "id"),
        ("job_id", "job_id"),
        ("session_id", "job__session_id"),
        ("media_file_id", "media_file_id"),
        ("analysis_type", "analysis_type"),
        ("model_used", "model_used"),
        ("confidence_score", "confidence_score"),
        ("frames_extracted", "frames_extracted"),
        ("created_at", "created_at"),
    ]
    return _export(
        request,
        ReviewedResultFilter,
        AnalysisResult.objects.all(),
        ["-created_at", "-id"],
        columns,
        "results",
    )


@require_GET
@permission_required("mediaanalysis.view_mediafile", raise_exception=True)
@use_replica
def file_export(request):
    columns = [
        ("id", "id"),
        ("session_id", "session_id"),
        ("original_filename", "original_filename"),
        ("media_type", "media_type"),
        ("mime_type", "mime_type"),
        ("file_size", "file_size"),
        ("duration_seconds", "duration_seconds"),
        ("frame_count", "frame_count"),
        ("extraction_method", "extraction_method"),
        ("storage_backend", "storage_backend"),
        ("storage_path", "storage_path"),
        ("created_at", "created_at"),
    ]
    return _export(
        request, FileFilter, MediaFile.objects.all(), ["-created_at", "-id"], columns, "files"
    )


@require_GET
@permission_required("mediaanalysis.view_usersession", raise_exception=True)
@use_replica
def session_export(request):
    columns = [
        ("session_id", "session_id"),
        ("ip_address", "ip_address"),
        ("user_agent", "user_agent"),
        ("started_at", "started_at"),
        ("last_activity", "last_activity"),
        ("ended_at", "ended_at"),
        ("request_count", "request_count"),
        ("media_processed_count", "media_processed_count"),
    ]
    return _export(
        request,
        SessionFilter,
        UserSession.objects.all(),
        ["-last_activity", "-id"],
        columns,
        "sessions",
    )
