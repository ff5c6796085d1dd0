"""The review queue and the reviewer's page (PRODUCT.md section 3)."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect, JsonResponse, QueryDict
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from mediaanalysis.pipeline.display import pretty_json, result_media
from mediaanalysis.pipeline.models import AnalysisResult, UserSession

from . import services
from .diff import correctable, diff_corrections
from .filters import QueueFilter, ReviewedResultFilter
from .forms import DecisionForm, EnqueueForm, parse_corrections
from .models import Decision, HITLReview, ReviewStatus


def _redirect(request, url):
    """A redirect to a URL (never a view name) that also works for htmx (HX-Redirect)."""
    return HttpResponseClientRedirect(url) if request.htmx else HttpResponseRedirect(url)


def _next_claim(request, decided=None):
    """Claim the next review for the user and go to it, or back to the queue if it is empty.

    After a decision, `?decided=<pk>` tells the page's drafts.js that the server accepted it,
    so the copy of the draft kept in the browser can go.
    """
    marker = f"?decided={decided}" if decided else ""
    review = services.claim_next(request.user)
    if review is None:
        messages.info(
            request, "The queue is empty: there is nothing to review right now. Well done."
        )
        return _redirect(request, reverse("review-queue") + marker)
    return _redirect(request, review.get_absolute_url() + marker)


@require_GET
@permission_required("reviews.view_hitlreview", raise_exception=True)
def queue(request):
    now = timezone.now()
    counts = HITLReview.objects.queue_counts(request.user, now)
    queue_filter = QueueFilter(
        request.GET or None, queryset=HITLReview.objects.claimable(now).for_queue()
    )
    upcoming = list(queue_filter.qs[:25])
    context = {
        "counts": counts,
        "held": HITLReview.objects.held_by(request.user, now)
        .select_related("analysis_result")
        .first(),
        "queue_filter": queue_filter,
        "form": queue_filter.form,
        "upcoming": upcoming,
        "now": now,
        "recent": HITLReview.objects.recent_decisions(request.user)[:10],
        "can_decide": request.user.has_perm("reviews.claim_hitlreview"),
    }
    template = (
        "reviews/queue.html#upcoming"
        if request.htmx and not request.htmx.history_restore_request
        else "reviews/queue.html"
    )
    return render(request, template, context)


@require_POST
@permission_required("reviews.claim_hitlreview", raise_exception=True)
def claim_next(request):
    return _next_claim(request)


def _review_page(request, review, form=None, status=200, banner=None):
    now = timezone.now()
    result = review.analysis_result
    held = review.is_held_by(request.user, now)
    drafts = list(review.drafts.select_related("user").order_by("-saved_at"))
    mine = next((d for d in drafts if d.user_id == request.user.pk), None)
    if form is None:
        initial = {}
        if mine is not None:
            initial = {
                "approved": mine.approved or None,
                "reviewer_notes": mine.notes,
                "corrections": mine.corrections,
            }
        form = DecisionForm(initial=initial)
    corrections_text = form["corrections"].value() or ""
    try:
        typed = parse_corrections(corrections_text)
    except ValidationError:
        typed = None  # an invalid draft has no diff yet
    can_decide = request.user.has_perm("reviews.claim_hitlreview")
    context = {
        **result_media(result),
        "review": review,
        "result": result,
        "job": result.job,
        "session": UserSession.objects.filter(session_id=result.job.session_id).first(),
        "result_json": pretty_json(result.result_data),
        # Corrections on the media are made only by the claimant, who can send them.
        "editable": held and can_decide and review.status != ReviewStatus.COMPLETED,
        "held": held,
        "seconds_left": review.seconds_left(now),
        "form": form,
        "banner": banner,
        "other_drafts": [d for d in drafts if d.user_id != request.user.pk],
        "diff": diff_corrections(
            correctable(result),
            review.corrections if review.status == ReviewStatus.COMPLETED else typed,
        ),
        "events": review.events.select_related("actor").order_by("-at", "-id")[:50],
        "can_decide": can_decide,
        "claim_ttl": settings.REVIEW_CLAIM_TTL,
    }
    return render(request, "reviews/review.html", context, status=status)


def _require_review(pk) -> None:
    """404 unless the review exists (and is not deleted): an index lookup, not the page's joins."""
    if not HITLReview.objects.filter(pk=pk).exists():
        raise Http404("No such review.")


def _get_review(pk) -> HITLReview:
    return get_object_or_404(HITLReview.objects.for_page(), pk=pk)


@require_GET
@permission_required("reviews.view_hitlreview", raise_exception=True)
def review_detail(request, pk):
    return _review_page(request, _get_review(pk))


def _typed(request) -> dict:
    """What the reviewer sent, exactly as typed."""
    return {
        "notes": request.POST.get("reviewer_notes", ""),
        "corrections": request.POST.get("corrections", ""),
        "approved": request.POST.get("approved", "")[:13],
    }


def _keep_draft(request, pk, typed) -> str:
    """Keep the typed text as the reviewer's draft; a sentence to add if it had to change."""
    if not HITLReview.all_objects.filter(pk=pk).exists():
        return ""  # destroyed (purged): the page shows the text back, nothing can hold it
    changed = services.save_draft(
        pk, request.user, typed["notes"], typed["corrections"], typed["approved"]
    )
    return (
        " The draft kept on the server has the characters that cannot be stored (NUL,"
        " lone surrogates) replaced by \ufffd; the text below is as you typed it."
        if changed
        else ""
    )


def _review_gone(request, pk, typed, kept: str):
    """The review was deleted while the reviewer worked: what they typed, shown back to copy."""
    return render(
        request,
        "reviews/review_gone.html",
        {"pk": pk, "typed": typed, "kept": kept},
        status=404,
    )


@require_POST
@permission_required("reviews.claim_hitlreview", raise_exception=True)
def decide(request, pk):
    typed = _typed(request)
    if not HITLReview.objects.filter(pk=pk).exists():
        # Deleted meanwhile (or never there): nothing to decide, but nothing typed is lost.
        return _review_gone(request, pk, typed, _keep_draft(request, pk, typed))
    form = DecisionForm(request.POST)
    if not form.is_valid():
        # Keep what they typed, as a draft too, and show it back with the errors.
        note = _keep_draft(request, pk, typed)
        banner = ("Your decision was not saved: fix what is marked below." + note) if note else None
        return _review_page(request, _get_review(pk), form=form, status=422, banner=banner)
    try:
        services.decide(
            pk,
            request.user,
            form.cleaned_data["approved"],
            form.cleaned_data["reviewer_notes"],
            form.cleaned_data["corrections"],
            corrections_text=typed["corrections"],
        )
    except services.ClaimLost as lost:
        banner = f"Your decision was not saved: {lost} Your notes and corrections are kept as your draft below."
        return _review_page(request, _get_review(pk), form=form, status=409, banner=banner)
    decision = Decision(form.cleaned_data["approved"]).label.lower()
    messages.success(request, f"Review #{pk} saved: {decision}.")
    return _next_claim(request, decided=pk)


@require_POST
@permission_required("reviews.claim_hitlreview", raise_exception=True)
def release(request, pk):
    _require_review(pk)
    try:
        services.release(pk, request.user)
    except services.ClaimLost as lost:
        messages.warning(request, str(lost))
        return _redirect(request, reverse("review-detail", args=[pk]))
    messages.info(request, f"Review #{pk} is back in the queue.")
    return _redirect(request, reverse("review-queue"))


@require_POST
@permission_required("reviews.claim_hitlreview", raise_exception=True)
def claim(request, pk):
    _require_review(pk)
    try:
        services.claim(pk, request.user)
    except services.ClaimLost as lost:
        messages.warning(request, str(lost))
    return _redirect(request, reverse("review-detail", args=[pk]))


@require_POST
@permission_required("reviews.claim_hitlreview", raise_exception=True)
def heartbeat(request, pk):
    """Renew the claim while the reviewer works; keep their typing as a draft either way."""
    if not HITLReview.objects.filter(pk=pk).exists():
        return JsonResponse({"ok": False, "error": "This review no longer exists."}, status=404)
    notes = request.POST.get("reviewer_notes", "")[:20_000]
    corrections = request.POST.get("corrections", "")[:200_000]
    try:
        review = services.heartbeat(pk, request.user, notes, corrections)
    except services.ClaimLost as lost:
        return JsonResponse({"ok": False, "error": str(lost)}, status=409)
    return JsonResponse(
        {
            "ok": True,
            "status": review.status,
            "expires_at": review.claim_expires_at.isoformat(),
            "seconds_left": review.seconds_left(),
        }
    )


@require_POST
@permission_required("reviews.view_hitlreview", raise_exception=True)
def corrections_diff(request, pk):
    """The live preview of typed corrections against result_data (htmx)."""
    review = _get_review(pk)
    try:
        corrections = parse_corrections(request.POST.get("corrections", "")[:200_000])
        error = None
    except ValidationError as exc:
        corrections, error = None, " ".join(exc.messages)
    return render(
        request,
        "reviews/review.html#diff",
        {
            "diff": diff_corrections(correctable(review.analysis_result), corrections),
            "diff_error": error,
        },
    )


@require_POST
@permission_required("reviews.enqueue_hitlreview", raise_exception=True)
def enqueue(request):
    """Send results to review with a priority: ticked ones, or all of a results-list filter."""
    form = EnqueueForm(request.POST)
    back = request.POST.get("next", "")
    # Only a path of this site: anything else (a view's name, another host) goes to the list.
    if not back.startswith("/") or not url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        back = reverse("result-list")
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return _redirect(request, back)
    priority = form.cleaned_data.get("priority") or 0
    if form.cleaned_data["scope"] == "filter":
        results = ReviewedResultFilter(
            QueryDict(form.cleaned_data["query"]),
            queryset=AnalysisResult.objects.order_by("-created_at", "-id"),
        )
        # django-filter drops a field that does not validate: that would send far more.
        if not results.is_valid():
            messages.error(request, "Fix the filter first; nothing was sent to review.")
            return _redirect(request, back)
        ids = list(results.qs.values_list("pk", flat=True)[: services.ENQUEUE_LIMIT + 1])
    else:
        ids = list(
            AnalysisResult.objects.filter(pk__in=form.cleaned_data["result_ids"]).values_list(
                "pk", flat=True
            )
        )
    if not ids:
        messages.warning(request, "No results matched; nothing was sent to review.")
        return _redirect(request, back)
    capped = len(ids) > services.ENQUEUE_LIMIT
    opened = services.enqueue(ids, priority, actor=request.user)
    skipped = min(len(ids), services.ENQUEUE_LIMIT) - opened
    text = f"Sent {opened} result(s) to review with priority {priority}."
    if skipped:
        text += f" {skipped} already had an open review."
    if capped:
        text += f" Only the first {services.ENQUEUE_LIMIT:,} of this filter were taken; narrow it, or send again."
    messages.success(request, text)
    return _redirect(request, back)
