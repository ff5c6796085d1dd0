"""The review queue and the reviewer's page (PRODUCT.md section 3)."""

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, JsonResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from mediaanalysis.pipeline.display import contact_sheet_file, place_segments, pretty_json
from mediaanalysis.pipeline.models import AnalysisResult, UserSession

from . import quality, services
from .diff import diff_corrections
from .filters import QueueFilter, ReviewedResultFilter
from .forms import DecisionForm, EnqueueForm, parse_corrections
from .models import Decision, HITLReview, ReviewStatus, Round


def _redirect(request, url):
    """A redirect that also works for htmx requests (HX-Redirect)."""
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _next_claim(request):
    """Claim the next review for the user and go to it, or back to the queue if it is empty."""
    review = services.claim_next(request.user)
    if review is None:
        messages.info(
            request, "The queue is empty: there is nothing to review right now. Well done."
        )
        return _redirect(request, reverse("review-queue"))
    return _redirect(request, review.get_absolute_url())


@require_GET
@permission_required("reviews.view_hitlreview", raise_exception=True)
def queue(request):
    now = timezone.now()
    counts = HITLReview.objects.queue_counts(request.user, now)
    queue_filter = QueueFilter(
        request.GET or None,
        queryset=HITLReview.objects.claimable(now).for_reviewer(request.user).for_queue(),
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


def deciders_only(view):
    """Reviewers on any review; managers (who may adjudicate) on adjudications only."""

    @wraps(view)
    def check(request, pk, *args, **kwargs):
        user = request.user
        if not user.has_perm("reviews.claim_hitlreview") and not (
            user.has_perm("reviews.adjudicate_hitlreview")
            and HITLReview.objects.filter(pk=pk, round=Round.ADJUDICATION).exists()
        ):
            raise PermissionDenied
        return view(request, pk, *args, **kwargs)

    return check


def _review_page(request, review, form=None, status=200, banner=None):
    now = timezone.now()
    result = review.analysis_result
    held = review.is_held_by(request.user, now)
    # Blind review (docs/quality.md): a reviewer sees nothing of other people's decisions of a
    # result under second review or of a gold item, here or anywhere else.
    hidden = quality.hides_decisions(request.user, result.pk)
    decision_hidden = (
        hidden
        and review.status == ReviewStatus.COMPLETED
        and review.reviewed_by_id != request.user.pk
    )
    drafts = [] if hidden else list(review.drafts.select_related("user").order_by("-saved_at"))
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
    context = {
        "review": review,
        "result": result,
        "job": result.job,
        "media": result.media_file,
        "session": UserSession.objects.filter(session_id=result.job.session_id).first(),
        "result_json": pretty_json(result.result_data),
        "segments": place_segments(
            result.segments, result.media_file.duration_seconds if result.media_file else None
        ),
        "contact_sheet": result.media_file is not None
        and contact_sheet_file(result.media_file) is not None,
        "held": held,
        "seconds_left": review.seconds_left(now),
        "form": form,
        "banner": banner,
        "other_drafts": [d for d in drafts if d.user_id != request.user.pk],
        "diff": diff_corrections(
            result.result_data,
            review.corrections
            if review.status == ReviewStatus.COMPLETED and not decision_hidden
            else typed,
        ),
        "events": _history(review, request.user, hidden),
        "decision_hidden": decision_hidden,
        "earlier": _earlier_decisions(review),
        "can_decide": services.may_take(request.user, review),
        "can_claim_next": request.user.has_perm("reviews.claim_hitlreview"),
        "claim_ttl": settings.REVIEW_CLAIM_TTL,
    }
    return render(request, "reviews/review.html", context, status=status)


def _history(review, user, hidden) -> list:
    """The review's audit trail; under blind review without other people's decisions."""
    events = list(review.events.select_related("actor").order_by("-at", "-id")[:50])
    if hidden:
        for event in events:
            if event.actor_id != user.pk:
                event.details = {}  # shown only, never saved
    return events


def _earlier_decisions(review) -> list:
    """For an adjudication, the two decisions that disagreed (second, then first), with their
    corrections against the result's data."""
    if review.round != Round.ADJUDICATION or review.previous_review_id is None:
        return []
    second = (
        HITLReview.all_objects.select_related("previous_review")
        .filter(pk=review.previous_review_id)
        .first()
    )
    earlier = [r for r in (second, second and second.previous_review) if r is not None]
    data = review.analysis_result.result_data
    return [
        {"review": r, "label": r.get_round_display(), "diff": diff_corrections(data, r.corrections)}
        for r in reversed(earlier)
    ]


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


@require_POST
@deciders_only
def decide(request, pk):
    _require_review(pk)  # the whole review is loaded only when the page must be shown again
    form = DecisionForm(request.POST)
    if not form.is_valid():
        # Keep what they typed, as a draft too, and show it back with the errors.
        services.save_draft(
            pk,
            request.user,
            request.POST.get("reviewer_notes", ""),
            request.POST.get("corrections", ""),
            request.POST.get("approved", "")[:13],
        )
        return _review_page(request, _get_review(pk), form=form, status=422)
    try:
        services.decide(
            pk,
            request.user,
            form.cleaned_data["approved"],
            form.cleaned_data["reviewer_notes"],
            form.cleaned_data["corrections"],
            corrections_text=request.POST.get("corrections", ""),
        )
    except services.ClaimLost as lost:
        banner = f"Your decision was not saved: {lost} Your notes and corrections are kept as your draft below."
        return _review_page(request, _get_review(pk), form=form, status=409, banner=banner)
    decision = Decision(form.cleaned_data["approved"]).label.lower()
    messages.success(request, f"Review #{pk} saved: {decision}.")
    if not request.user.has_perm("reviews.claim_hitlreview"):
        return _redirect(request, reverse("review-detail", args=[pk]))  # an adjudicating manager
    return _next_claim(request)


@require_POST
@deciders_only
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
@deciders_only
def claim(request, pk):
    _require_review(pk)
    try:
        services.claim(pk, request.user)
    except services.ClaimLost as lost:
        messages.warning(request, str(lost))
    return _redirect(request, reverse("review-detail", args=[pk]))


@require_POST
@deciders_only
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
            "diff": diff_corrections(review.analysis_result.result_data, corrections),
            "diff_error": error,
        },
    )


@require_POST
@permission_required("reviews.enqueue_hitlreview", raise_exception=True)
def enqueue(request):
    """Send results to review with a priority: ticked ones, or all of a results-list filter."""
    form = EnqueueForm(request.POST)
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
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
            request=request,  # the same filters as the list the user saw (a manager's too)
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
