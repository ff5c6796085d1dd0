"""Pages to browse the pipeline's data: lists with filters, details, CSV exports."""

import csv
import mimetypes
from functools import partial

from django.contrib.auth.decorators import permission_required
from django.db.models import Subquery
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRefresh, HttpResponseStopPolling

from mediaanalysis.db import use_replica
from mediaanalysis.pipeline import search
from mediaanalysis.pipeline.display import (
    contact_sheet_file,
    csv_value,
    place_segments,
    pretty_json,
)
from mediaanalysis.pipeline.filters import (
    FileFilter,
    JobFilter,
    MediaForm,
    PageForm,
    SessionFilter,
)
from mediaanalysis.pipeline.models import AnalysisJob, AnalysisResult, MediaFile, UserSession
from mediaanalysis.pipeline.pagination import count_rows, paginate
from mediaanalysis.pipeline.peaks import peaks_for, peaks_response
from mediaanalysis.pipeline.serving import content_type_for, media_response, safe_filename
from mediaanalysis.pipeline.storage import locate
from reviews import quality
from reviews.filters import ReviewedResultFilter
from reviews.models import HITLReview, ReviewStatus

EXPORT_CHUNK = 2000


def _search(filterset):
    """A search's queryset, count, sort note and way to a page's ids. Matches are ranked only
    when there are at most RANK_LIMIT of them: ranking a million matches to show 25 would read
    them all. More are shown newest first, which the list's indexes serve (docs/search.md)."""
    qs, query = filterset.qs, filterset.search
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
    if not few and filterset.newest_first():
        page_ids = partial(search.newest_matches, filterset.unsearched(), query)
    return qs, counted, note, page_ids


def _list_page(request, filterset_class, queryset, template, default_sort):
    """Validate the query string, filter, paginate, and render the page or just its table."""
    filterset = filterset_class(
        request.GET or None, queryset=queryset.order_by(*default_sort), request=request
    )
    page_form = PageForm(request.GET)
    number, per_page = page_form.values()
    qs, counted, search_note, page_ids = filterset.qs, None, "", None
    query = getattr(filterset, "search", None)
    if query is not None:
        qs, counted, search_note, page_ids = _search(filterset)
    page = paginate(
        qs, number, per_page, filtered=filterset.is_filtered(), counted=counted, page_ids=page_ids
    )
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
    }
    if request.htmx and not request.htmx.history_restore_request:
        template += "#table"
    return render(request, template, context)


@require_GET
@permission_required("mediaanalysis.view_analysisjob", raise_exception=True)
@use_replica
@vary_on_headers("HX-Request")
def job_list(request):
    return _list_page(
        request,
        JobFilter,
        AnalysisJob.objects.for_list(),
        "pages/job_list.html",
        ["-created_at", "-id"],
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
    return _list_page(
        request,
        ReviewedResultFilter,
        results,
        "pages/result_list.html",
        ["-created_at", "-id"],
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
    )


# Details


@require_GET
@permission_required("mediaanalysis.view_analysisjob", raise_exception=True)
def job_detail(request, pk):
    job = get_object_or_404(AnalysisJob.objects.select_related("media_file"), pk=pk)
    results = job.results.for_summary().order_by("id")
    return render(
        request,
        "pages/job_detail.html",
        {
            "job": job,
            "results": results,
            "parameters": pretty_json(job.parameters),
            "session": UserSession.objects.filter(session_id=job.session_id).first(),
        },
    )


@require_GET
@permission_required("mediaanalysis.view_analysisjob", raise_exception=True)
def job_progress(request, pk):
    """The live part of the job page, polled by htmx while the job runs; 286 stops the polling."""
    job = (
        AnalysisJob.objects.only(
            "id", "status", "progress", "started_at", "completed_at", "error_message", "created_at"
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
    response = render(request, "pages/job_detail.html#progress", {"job": job})
    if not job.is_running:
        response.status_code = HttpResponseStopPolling.status_code
    return response


@require_GET
@permission_required("mediaanalysis.view_analysisresult", raise_exception=True)
def result_detail(request, pk):
    result = get_object_or_404(AnalysisResult.objects.select_related("job", "media_file"), pk=pk)
    reviews = list(
        result.reviews.select_related("claimed_by", "reviewed_by")
        .prefetch_related("events__actor")
        .order_by("-created_at")
    )
    return render(
        request,
        "pages/result_detail.html",
        {
            "result": result,
            "result_json": pretty_json(result.result_data),
            "segments": place_segments(
                result.segments, result.media_file.duration_seconds if result.media_file else None
            ),
            "reviews": reviews,
            "has_open_review": any(r.status != ReviewStatus.COMPLETED for r in reviews),
            # Blind review (docs/quality.md): reviewers see no one else's decisions of it.
            "hide_decisions": quality.hides_decisions(request.user, result.pk),
        },
    )


@require_GET
@permission_required("mediaanalysis.view_mediafile", raise_exception=True)
def file_detail(request, pk):
    media = get_object_or_404(MediaFile, pk=pk)
    jobs = media.jobs.for_summary().order_by("-created_at")[:100]
    results = media.results.for_summary().order_by("-created_at")[:100]
    return render(
        request,
        "pages/file_detail.html",
        {
            "media": media,
            "jobs": jobs,
            "results": results,
            "session": UserSession.objects.filter(session_id=media.session_id).first(),
            "contact_sheet": contact_sheet_file(media) is not None,
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
    media = get_object_or_404(MediaFile.objects.for_media(), pk=pk)
    location = locate(media)
    content_type, inline = content_type_for(media.mime_type, location.key)
    return media_response(
        request,
        location,
        content_type=content_type,
        inline=inline,
        filename=safe_filename(media.original_filename, f"media-{media.pk}"),
        download=MediaForm(request.GET).wants_download(),
    )


@require_GET
@permission_required("mediaanalysis.view_mediafile", raise_exception=True)
def file_peaks(request, pk):
    """The waveform peaks of the file's audio, as JSON for wavesurfer.js (peaks.py)."""
    media = get_object_or_404(MediaFile.objects.for_media(), pk=pk)
    return peaks_response(request, peaks_for(media))


@require_GET
@permission_required("mediaanalysis.view_usersession", raise_exception=True)
def session_detail(request, session_id):
    # No stored id is longer than the column or holds NUL, which PostgreSQL refuses outright.
    if len(session_id) > 36 or "\x00" in session_id:
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
