"""The review queue and the reviewer's page (docs/design.md, The review workflow)."""

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, HttpResponseRedirect, JsonResponse, QueryDict
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.template.defaultfilters import pluralize
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mediaanalysis.db import ByPk
from mediaanalysis.http import next_path, redirect_to
from mediaanalysis.pipeline import search
from mediaanalysis.pipeline.display import pretty_json, result_media
from mediaanalysis.pipeline.models import AnalysisResult, UserSession
from mediaanalysis.pipeline.pagination import bounded_count

from . import quality, services
from .diff import correctable, diff_corrections
from .filters import QueueFilter, ReviewedResultFilter
from .forms import DecisionForm, EnqueueForm, parse_corrections, typed_so_far
from .models import HELD, Decision, HITLReview, ReviewEvent, ReviewStatus, Round

LANE_SESSION_KEY = "review_lane"


def _lane(request, data=None) -> QueueFilter:
    """The reviewer's lane: from `data` (a query string's or form's), else the one kept in
    their session; a valid lane given is kept in the session for the next claim."""
    if data is None:
        data = QueryDict(request.session.get(LANE_SESSION_KEY, ""))
    lane = QueueFilter(data, queryset=HITLReview.objects.none())
    if lane.is_valid() and request.session.get(LANE_SESSION_KEY, "") != urlencode(lane.lane()):
        request.session[LANE_SESSION_KEY] = urlencode(lane.lane())
    return lane


def _posted_lane(request) -> QueueFilter | None:
    """A claim's lane: the `lane` field the queue's form sends (the lane shown there), the
    lane's own parameters in the query string, or else the session's. None for no lane at all
    (the whole queue), which needs no form."""
    if "lane" in request.POST:
        data = QueryDict(request.POST["lane"][:2000])
    elif any(name in request.GET for name in QueueFilter.base_filters):
        data = request.GET
    else:
        data = QueryDict(request.session.get(LANE_SESSION_KEY, ""))
    if data:
        return _lane(request, data)
    if request.session.get(LANE_SESSION_KEY):
        request.session[LANE_SESSION_KEY] = ""
    return None


def _narrowing(lane):
    """What a claim narrows the queue with: nothing for the whole queue (its statement is
    compiled once, services._WHOLE_QUEUE_SIDES)."""
    return lane.narrow if lane is not None and lane.lane() else services.whole_queue


def _go_to(request, review, marker="", lane=None):
    """To the review claimed, or back to the queue (with why) when the lane has nothing."""
    if review is None:
        if lane and lane.describe():
            text = (
                f"Nothing to claim in your lane ({lane.describe()}) right now: the queue says why."
            )
        else:
            text = "The queue is empty: there is nothing to review right now. Well done."
        messages.info(request, text)
        return redirect_to(request, reverse("review-queue") + marker)
    return redirect_to(request, review.get_absolute_url() + marker)


def _next_claim(request, decided=None):
    """Claim the head of the reviewer's lane and go to it, or back to the queue if it is empty.

    After a decision, `?decided=<pk>` tells the page's drafts.js that the server accepted it,
    so the copy of the draft kept in the browser can go.
    """
    marker = f"?decided={decided}" if decided else ""
    lane = _posted_lane(request)
    if lane is not None and not lane.is_valid():
        messages.error(request, "Your lane's filters no longer apply: choose them again.")
        return redirect_to(request, reverse("review-queue") + "?" + urlencode({"lane": "all"}))
    review = services.claim_next(request.user, lane=_narrowing(lane))
    return _go_to(request, review, marker, lane)


def _why_empty(user, lane, now) -> dict:
    """Why the reviewer's lane has nothing for them: held by others, skipped by them lately,
    blind reviews they may not take, and what waits in other lanes. Bounded counts."""
    claimable = lane.narrow(HITLReview.objects.claimable(now))
    held = lane.narrow(HITLReview.objects.live_claims(now).exclude(claimed_by=user))
    mine, _ = bounded_count(claimable.for_reviewer(user), cap=1000)  # empty queue: all skipped
    anyone, _ = bounded_count(claimable, cap=1000)
    others, others_exact = bounded_count(HITLReview.objects.queue_for(user, now), cap=1000)
    return {
        "held": bounded_count(held, cap=1000)[0],
        "next_expiry": held.order_by("claim_expires_at")
        .values_list("claim_expires_at", flat=True)
        .first(),
        "skipped": mine,
        "skip_minutes": settings.REVIEW_SKIP_SECONDS // 60,
        "blind": max(0, anyone - mine),
        "other_lanes": others if lane.lane() else 0,
        "other_lanes_exact": others_exact,
    }


@require_GET
@permission_required("reviews.view_hitlreview", raise_exception=True)
def queue(request):
    now = timezone.now()
    lane_given = "lane" in request.GET or any(f in request.GET for f in QueueFilter.base_filters)
    # htmx sends a lane cleared to "any" as no parameters at all (lists.js): that clears it.
    if not lane_given and not request.htmx and request.session.get(LANE_SESSION_KEY):
        # The lane the reviewer chose last, in the URL again so the page can be shared (with
        # what else the address carried, e.g. drafts.js's ?decided=).
        kept = request.GET.copy()
        kept.update(QueryDict(request.session[LANE_SESSION_KEY]))
        return redirect_to(request, f"{request.path}?{kept.urlencode()}")
    lane = _lane(request, request.GET)
    counts = HITLReview.objects.queue_counts(request.user, now)
    queue_filter = QueueFilter(
        request.GET or None,
        queryset=HITLReview.objects.queue_for(request.user, now).for_queue(),
    )
    # A lane that does not validate shows nothing rather than the whole queue.
    upcoming = list(queue_filter.qs[:25]) if lane.is_valid() else []
    if query := lane.is_valid() and lane.form.cleaned_data.get("q"):
        # Where each result matched, as on the results list: a lane of "refund" shows why.
        search.find_hits([review.analysis_result for review in upcoming], query)
    context = {
        "counts": counts,
        "held": HITLReview.objects.held_by(request.user, now)
        .select_related("analysis_result")
        .first(),
        "queue_filter": queue_filter,
        "form": queue_filter.form,
        "lane": lane.lane(),
        "lane_query": urlencode(lane.lane()),
        "lane_words": lane.describe(),
        "upcoming": upcoming,
        "empty": _why_empty(request.user, lane, now) if not upcoming and lane.is_valid() else None,
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


@require_POST
@permission_required("reviews.claim_hitlreview", raise_exception=True)
def skip(request, pk):
    """Give this review back and take the head of the lane; it stays out of this reviewer's
    queue for a while (REVIEW_SKIP_SECONDS)."""
    _require_review(pk)
    lane = _posted_lane(request)
    if lane is not None and not lane.is_valid():
        lane = _lane(request, QueryDict())
    try:
        review = services.skip(pk, request.user, lane=_narrowing(lane))
    except services.ClaimLost as lost:
        messages.warning(request, f"Not skipped: {lost}")
        return redirect_to(request, reverse("review-detail", args=[pk]))
    messages.info(request, f"Review #{pk} skipped: it is back in the queue for others.")
    return _go_to(request, review, lane=lane)


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
    can_decide = services.may_take(request.user, review)
    # Free for this user to take ("Claim this review", "Claim again"). Without a live claim
    # of their own the decision buttons are disabled: the server would refuse them (fencing).
    claimable = (
        can_decide
        and not held
        and (review.status == ReviewStatus.PENDING or review.status in HELD)
        and not review.is_claim_live(now)
        and not (review.round > Round.FIRST and services.decided_result(review, request.user))
    )
    context = {
        "claimable": claimable,
        "decide_disabled": not held,
        "file_name": review.file_name,
        **result_media(result, reader=request.user),
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
            review.corrections
            if review.status == ReviewStatus.COMPLETED and not decision_hidden
            else typed,
        ),
        "events": _history(
            review, request.user, hidden, [d for d in drafts if d.user_id != request.user.pk]
        ),
        "decision_hidden": decision_hidden,
        "earlier": _earlier_decisions(review),
        "can_decide": can_decide,
        "can_claim_next": request.user.has_perm("reviews.claim_hitlreview"),
        "claim_ttl": settings.REVIEW_CLAIM_TTL,
    }
    return render(request, "reviews/review.html", context, status=status)


CLAIM_KINDS = {ReviewEvent.Kind.CLAIMED, ReviewEvent.Kind.TAKEN_OVER, ReviewEvent.Kind.REASSIGNED}


def _history(review, user, hidden, drafts) -> list:
    """The review's audit trail, newest first, in words: renewals folded into the claim they
    kept alive, decisions named ("approved", not "yes"), drafts left by others shown where they
    were last saved. Under blind review, other people's decisions are left out."""
    events = list(
        review.events.exclude(kind=ReviewEvent.Kind.RENEWED)
        .select_related("actor")
        .order_by("-at", "-id")[:50]
    )
    renewals = list(
        review.events.filter(kind=ReviewEvent.Kind.RENEWED)
        .order_by("at")
        .values_list("actor_id", "at")[:5000]
    )
    rows = []
    for event in events:
        details = {} if hidden and event.actor_id != user.pk else event.details
        row = {"at": event.at, "kind": event.kind, "label": event.get_kind_display()}
        row["who"] = event.actor.get_username() if event.actor else ""
        if details.get("approved") in Decision.values:
            row["value"] = Decision(details["approved"]).label.lower()
        if event.kind == ReviewEvent.Kind.REFUSED and details.get("reason"):
            row["note"] = details["reason"]
        if event.kind in CLAIM_KINDS:
            holder = details.get("assignee", event.actor_id)
            mine = [at for actor, at in renewals if actor == holder and at >= event.at]
            ends = next((r["at"] for r in reversed(rows) if r["at"] > event.at), None)
            mine = [at for at in mine if ends is None or at < ends]
            if mine:
                row["note"] = (
                    f"kept alive {len(mine)} time{pluralize(len(mine))}, last at "
                    f"{timezone.localtime(mine[-1]):%H:%M:%S}"
                )
        rows.append(row)
    for draft in drafts:
        rows.append(
            {
                "at": draft.saved_at,
                "kind": "draft",
                "label": "Draft left (not sent)",
                "who": draft.user.get_username(),
                "value": draft.get_approved_display().lower() if draft.approved else "",
                "note": "shown under “Drafts by others”",
            }
        )
    return sorted(rows, key=lambda row: row["at"], reverse=True)


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
    data = correctable(review.analysis_result)
    return [
        {"review": r, "label": r.get_round_display(), "diff": diff_corrections(data, r.corrections)}
        for r in reversed(earlier)
    ]


def _require_review(pk) -> None:
    """404 unless the review exists (and is not deleted): an index lookup, not the page's joins."""
    if not HITLReview.objects.filter(pk=pk).exists():
        raise Http404("No such review.")


# The review page's row, read with a statement compiled once (mediaanalysis.db.ByPk).
REVIEW_PAGE = ByPk(lambda: HITLReview.objects.for_page())


def _get_review(pk) -> HITLReview:
    return REVIEW_PAGE.get_or_404(pk)


@require_GET
@permission_required("reviews.view_hitlreview", raise_exception=True)
def review_detail(request, pk):
    review = REVIEW_PAGE.get(pk)
    if review is None:
        return _review_deleted(request, pk)
    return _review_page(request, review)


def _review_deleted(request, pk):
    """A 404 that says what happened to a deleted review: which of its rows went, and when."""
    review = (
        HITLReview.all_objects.select_related(
            "analysis_result__media_file", "analysis_result__job__media_file"
        )
        .filter(pk=pk, deleted_at__isnull=False)
        .first()
    )
    gone = ""
    if review is not None:
        result = review.analysis_result
        when = timezone.localtime(review.deleted_at).strftime("%Y-%m-%d %H:%M")
        media = result.media_file or result.job.media_file
        # The soft delete stamps a row and its dependants with one moment: the highest row
        # carrying the review's moment is the one that was deleted.
        if media is not None and media.deleted_at == review.deleted_at:
            gone = f"This review's media file “{media}” was deleted on {when}."
        elif result.job.deleted_at == review.deleted_at:
            gone = f"This review's job #{result.job_id} was deleted on {when}."
        elif result.deleted_at == review.deleted_at:
            gone = f"This review's result #{result.pk} was deleted on {when}."
        elif review.events.filter(kind=ReviewEvent.Kind.WITHDRAWN).exists():
            gone = f"This review was withdrawn on {when}: its send to review was undone."
        else:
            gone = f"This review was deleted on {when}."
    return render(request, "404.html", {"gone": gone}, status=404)


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


@require_http_methods(["GET", "POST"])
@deciders_only
def decide(request, pk):
    if request.method == "GET":
        # The address a refused decision left in the bar, reopened: the review itself.
        return HttpResponseRedirect(reverse("review-detail", args=[pk]))
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
    if not request.user.has_perm("reviews.claim_hitlreview"):
        # An adjudicating manager stays on the review they decided.
        return redirect_to(request, reverse("review-detail", args=[pk]) + f"?decided={pk}")
    return _next_claim(request, decided=pk)


@require_POST
@deciders_only
def release(request, pk):
    _require_review(pk)
    try:
        services.release(pk, request.user)
    except services.ClaimLost as lost:
        messages.warning(request, str(lost))
        return redirect_to(request, reverse("review-detail", args=[pk]))
    messages.info(request, f"Review #{pk} is back in the queue.")
    return redirect_to(request, reverse("review-queue"))


@require_POST
@deciders_only
def claim(request, pk):
    _require_review(pk)
    try:
        services.claim(pk, request.user)
    except services.ClaimLost as lost:
        messages.warning(request, str(lost))
    return redirect_to(request, reverse("review-detail", args=[pk]))


@require_POST
@deciders_only
def heartbeat(request, pk):
    """Renew the claim while the reviewer works; keep their typing as a draft either way."""
    if not HITLReview.objects.filter(pk=pk).exists():
        return JsonResponse({"ok": False, "error": "This review no longer exists."}, status=404)
    try:
        review = services.heartbeat(pk, request.user, *typed_so_far(request.POST))
    except services.ClaimLost as lost:
        claimable = (
            HITLReview.objects.claimable(timezone.now())
            .for_reviewer(request.user)
            .filter(pk=pk)
            .exists()
        )
        return JsonResponse({"ok": False, "error": str(lost), "claimable": claimable}, status=409)
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
        corrections = parse_corrections(typed_so_far(request.POST)[1])
        error = None
    except ValidationError as exc:
        corrections, error = None, " ".join(exc.messages)
    # The error goes under the corrections box (out of band), replacing the one the page was
    # sent with: fixed JSON leaves no stale error behind.
    context = {
        "diff": diff_corrections(correctable(review.analysis_result), corrections),
        "diff_error": error,
        "oob": True,
    }
    diff = render_to_string("reviews/review.html#diff", context, request)
    errors = render_to_string("reviews/review.html#corrections_error", context, request)
    return HttpResponse(diff + errors)


def _confirm_filter(request, results, form, back):
    """Before a whole filter goes to review: how many results, which filter, at what priority."""
    count, exact = bounded_count(results.qs, cap=services.ENQUEUE_LIMIT)
    priority = form.cleaned_data.get("priority") or 0
    amount = f"{count:,} result{pluralize(count)}" if exact else f"more than {count:,} results"
    notes = ["Results that already have an open review keep it; they are not sent twice."]
    if not exact:
        notes.insert(
            0,
            f"Only the first {count:,} (newest first) are sent; narrow the filter, or send "
            "again afterwards for the rest.",
        )
    confirm = {
        "title": "Send to review?",
        "question": f"Send {amount} to review with priority {priority}?"
        if count
        else "No result matches this filter: there is nothing to send.",
        "filters": results.in_force(),
        "notes": notes if count else [],
        "count": count,
        "submit": f"Send {count:,} result{pluralize(count)}",
        "action": reverse("review-enqueue"),
        "fields": [
            ("scope", "filter"),
            ("query", form.cleaned_data["query"]),
            ("priority", priority),
            ("next", back),
        ],
        "back": back,
    }
    template = "confirm_bulk.html#confirm" if request.htmx else "confirm_bulk.html"
    return render(request, template, {"confirm": confirm})


def _undo_message(request, batch, back) -> str:
    return format_html(
        "Sent {} result{} to review with priority {}. "
        '<form method="post" action="{}" class="inline">'
        '<input type="hidden" name="csrfmiddlewaretoken" value="{}">'
        '<input type="hidden" name="next" value="{}">'
        '<button type="submit" class="link">Undo</button></form> '
        '<span class="muted small">(until {})</span>',
        batch.opened,
        pluralize(batch.opened),
        batch.priority,
        reverse("review-enqueue-undo", args=[batch.pk]),
        get_token(request),
        back,
        timezone.localtime(batch.undo_until()).strftime("%H:%M"),
    )


@require_POST
@permission_required("reviews.enqueue_hitlreview", raise_exception=True)
def enqueue(request):
    """Send results to review with a priority: ticked ones, or all of a results-list filter
    once its count has been confirmed. The send can be undone for a few minutes."""
    form = EnqueueForm(request.POST)
    back = next_path(request, reverse("result-list"))
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return redirect_to(request, back)
    priority = form.cleaned_data.get("priority") or 0
    if form.cleaned_data["scope"] == "filter":
        results = ReviewedResultFilter(
            QueryDict(form.cleaned_data["query"]),
            queryset=AnalysisResult.objects.order_by("-created_at", "-id"),
            request=request,  # the same filters as the list the user saw (a manager's too)
        )
        # django-filter drops a field that does not validate: that would send far more.
        if problems := results.problems():
            messages.error(
                request,
                "Fix the filter first; nothing was sent to review. " + " ".join(problems),
            )
            return redirect_to(request, back)
        if not form.cleaned_data["confirm"]:
            return _confirm_filter(request, results, form, back)
        ids = list(results.qs.values_list("pk", flat=True)[: services.ENQUEUE_LIMIT + 1])
    else:
        ids = list(
            AnalysisResult.objects.filter(pk__in=form.cleaned_data["result_ids"]).values_list(
                "pk", flat=True
            )
        )
    if not ids:
        messages.warning(request, "No results matched; nothing was sent to review.")
        return redirect_to(request, back)
    capped = len(ids) > services.ENQUEUE_LIMIT
    batch = services.send_to_review(ids, priority, actor=request.user)
    skipped = min(len(ids), services.ENQUEUE_LIMIT) - batch.opened
    if batch.opened:
        messages.success(request, _undo_message(request, batch, back))
    else:
        messages.info(request, "Nothing was sent to review.")
    if skipped:
        messages.info(
            request,
            f"{skipped:,} result{pluralize(skipped)} already had an open review and kept it.",
        )
    if capped:
        messages.warning(
            request,
            f"Only the first {services.ENQUEUE_LIMIT:,} of this filter were taken; narrow it, "
            "or send again.",
        )
    return redirect_to(request, back)


@require_POST
@permission_required("reviews.enqueue_hitlreview", raise_exception=True)
def undo_enqueue(request, pk):
    """Withdraw what a send to review opened, where no reviewer has taken it up yet."""
    back = next_path(request, reverse("result-list"))
    try:
        outcome = services.undo_enqueue(pk, request.user)
    except services.UndoRefused as refused:
        messages.warning(request, str(refused))
        return redirect_to(request, back)
    text = f"Undone: {outcome.withdrawn:,} review{pluralize(outcome.withdrawn)} withdrawn from the queue."
    if outcome.kept:
        text += (
            f" {outcome.kept:,} {'was' if outcome.kept == 1 else 'were'} kept: a reviewer has "
            "claimed or decided them since (or they were deleted)."
        )
    messages.success(request, text)
    return redirect_to(request, back)
