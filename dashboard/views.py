"""The manager dashboard: pipeline health, review backlog, reviewers and model calibration."""

from datetime import timedelta
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.cache import cache
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from mediaanalysis.db import use_replica
from mediaanalysis.pipeline.models import AnalysisJob, AnalysisResult
from mediaanalysis.pipeline.queries import distinct_values
from reviews.models import Decision

from .charts import Series, bar_chart, calibration_chart, hbar_chart, sparkline
from .stats import WINDOWS, Scope, figures

# The scopes someone looked at lately, with when: the periodic recount keeps them warm.
WATCHED_KEY, WATCHED_SECONDS, WATCHED_MOST = "dashboard:watched:v2", 600, 50


class DashboardForm(forms.Form):
    window = forms.ChoiceField(
        choices=[(key, label) for key, (label, _, _) in WINDOWS.items()], required=False
    )
    job_type = forms.CharField(max_length=50, required=False, strip=True)
    model = forms.CharField(max_length=100, required=False, strip=True)
    refresh = forms.BooleanField(required=False)


def _minute(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def _url(name, **params) -> str:
    query = urlencode([(k, v) for k, v in params.items() if v not in (None, "")], doseq=True)
    return reverse(name) + (f"?{query}" if query else "")


@require_GET
@permission_required("mediaanalysis.view_dashboard", raise_exception=True)
@use_replica
@vary_on_headers("HX-Request")
def dashboard(request):
    form = DashboardForm(request.GET)
    form.is_valid()
    for field, errors in form.errors.items():
        messages.warning(
            request,
            f"{form.fields[field].label or field}: {' '.join(errors)} The default is shown.",
        )
    cleaned = {k: v for k, v in form.cleaned_data.items() if k not in form.errors}
    scope = Scope(
        window=cleaned.get("window") or "24h",
        job_type=cleaned.get("job_type") or "",
        model=cleaned.get("model") or "",
    )
    data = _figures(scope, refresh=cleaned.get("refresh", False))
    context = {
        "form": form,
        "scope": scope,
        "windows": [(key, label) for key, (label, _, _) in WINDOWS.items()],
        "data": data,
        "age": timezone.now() - data["computed_at"],
        "sections": data["sections"],
        "job_types": distinct_values(AnalysisJob, "job_type"),
        "models": distinct_values(AnalysisResult, "model_used"),
        "cache_seconds": settings.DASHBOARD_CACHE_SECONDS,
    }
    template = "dashboard/dashboard.html"
    if request.htmx and not request.htmx.history_restore_request:
        template += "#body"
    return render(request, template, context)


def _figures(scope: Scope, refresh: bool) -> dict:
    """The cached figures, recounted by a background worker once they are half their lifetime
    old (and kept warm while managers watch, dashboard/tasks.py).

    Readers never wait for a recount unless nothing is cached (or they ask to refresh), and
    what they see is never older than DASHBOARD_CACHE_SECONDS.
    """
    from .tasks import recount

    watch(scope)
    data = None if refresh else cache.get(scope.cache_key())
    if data is None:
        return compute(scope)
    age = (timezone.now() - data["computed_at"]).total_seconds()
    if age > settings.DASHBOARD_CACHE_SECONDS / 2 and cache.add(
        scope.refresh_lock(), True, settings.DASHBOARD_CACHE_SECONDS
    ):
        recount.enqueue(scope.window, scope.job_type, scope.model)
    return data


def watched_scopes() -> dict[Scope, float]:
    """The scopes looked at in the last WATCHED_SECONDS, with when, the latest first."""
    now = timezone.now().timestamp()
    seen = sorted((cache.get(WATCHED_KEY) or {}).items(), key=lambda item: item[1], reverse=True)
    return {scope: at for scope, at in seen[:WATCHED_MOST] if now - at < WATCHED_SECONDS}


def watch(scope: Scope) -> None:
    """Note that someone looks at `scope`, at most once a minute per scope (a lost update
    between two readers costs one period of warmth, no more)."""
    now = timezone.now().timestamp()
    watched = watched_scopes()
    if now - watched.get(scope, 0) > 60:
        cache.set(WATCHED_KEY, {scope: now} | watched, WATCHED_SECONDS)


def compute(scope: Scope) -> dict:
    """Count the figures of `scope` and cache them for DASHBOARD_CACHE_SECONDS."""
    data = figures(scope)
    data["sections"] = render_to_string(
        "dashboard/_sections.html",
        {
            "data": data,
            "scope": scope,
            "charts": _charts(scope, data),
            "links": _links(scope, data),
            "decision_choices": Decision.choices,
            "min_pairs": settings.QUALITY_MIN_PAIRS,
            "idle_seconds": settings.REVIEW_IDLE_SECONDS,
        },
    )
    cache.set(scope.cache_key(), data, settings.DASHBOARD_CACHE_SECONDS)
    return data


def _links(scope: Scope, data) -> dict:
    """Where each figure leads: the list page filtered to the rows behind it, in the same
    window (jobs by when they were created or finished, results by when they were reviewed)."""
    since = _minute(data["start"])
    job_type = scope.job_type
    pipeline = data["pipeline"]
    return {
        "created": _url("job-list", created_after=since, job_type=job_type),
        "failed": _url("job-list", status="failed", finished_after=since, job_type=job_type),
        "completed": _url("job-list", status="completed", finished_after=since, job_type=job_type),
        "oldest_pending": _url("job-list", status="pending", sort="created", job_type=job_type),
        "stalled": _url("job-list", stalled="true", job_type=job_type),
        "queue": reverse("review-queue"),
        "status_rows": [
            {
                "value": value,
                "label": label,
                "n": n,
                "url": _url("job-list", status=value, job_type=job_type),
            }
            for value, label, n in pipeline["by_status"]
        ],
        "duration_rows": [
            {
                **row,
                "url": _url(
                    "job-list", status="completed", job_type=row["job_type"], finished_after=since
                ),
            }
            for row in pipeline["durations"]
        ],
        "error_rows": [
            {
                **row,
                "url": _url(
                    "job-list",
                    status="failed",
                    error=row["error_message"][:200],
                    finished_after=since,
                    job_type=job_type,
                ),
            }
            for row in pipeline["errors"]
        ],
        "approval_rows": [
            {
                **row,
                "url": _url(
                    "result-list",
                    model=row["model"],
                    analysis_type=row["analysis_type"],
                    reviewed_after=since,
                ),
                "approved_url": _url(
                    "result-list",
                    model=row["model"],
                    analysis_type=row["analysis_type"],
                    review_state="approved",
                    reviewed_after=since,
                ),
            }
            for row in data["models"]["approval"]
        ],
        "quality": _quality_links(scope, data),
    }


def _quality_links(scope: Scope, data) -> dict:
    """Where each quality figure leads: the results list, filtered to the reviews behind it
    by its manager-only quality filters (reviews/filters.py)."""
    since = _minute(data["start"])
    quality = data["quality"]

    def results(**params):
        return _url("result-list", quality_since=since, **params)

    def kinds(**params):
        return {
            "all_url": results(quality="second_reviewed", **params),
            "agreed_url": results(quality="agreed", **params),
            "disagreed_url": results(quality="disagreed", **params),
        }

    scope_model = {"model": scope.model} if scope.model else {}
    return {
        **kinds(**scope_model),
        "by_model": [
            {
                **row,
                **kinds(model=row["model"], analysis_type=row["analysis_type"]),
            }
            for row in quality["by_model"]
        ],
        "by_reviewer": [
            {
                **row,
                **kinds(reviewer=row["reviewer"], **scope_model),
                "overturn": next(
                    (o for o in quality["overturns"] if o["reviewer"] == row["reviewer"]), None
                ),
                "overturned_url": results(
                    quality="overturned", reviewer=row["reviewer"], **scope_model
                ),
            }
            for row in quality["by_reviewer"]
        ],
        "overturns": [
            {
                **row,
                "url": results(quality="adjudicated", reviewer=row["reviewer"], **scope_model),
                "overturned_url": results(
                    quality="overturned", reviewer=row["reviewer"], **scope_model
                ),
            }
            for row in quality["overturns"]
        ],
        "confusion": [
            {
                **row,
                "cells": [
                    (value, n, results(pair=f"{row['first']}:{value}", **scope_model))
                    for value, n in row["cells"]
                ],
            }
            for row in quality["confusion"]
        ],
        "gold": [
            {
                **row,
                "url": results(quality="gold_checked", reviewer=row["reviewer"], **scope_model),
                "missed_url": results(
                    quality="gold_missed", reviewer=row["reviewer"], **scope_model
                ),
            }
            for row in quality["gold"]
        ],
        "routing": [
            {
                **row,
                **{
                    f"{kind}_url": _url(
                        "result-list",
                        quality=reason,
                        model=row["model"],
                        analysis_type=row["analysis_type"],
                        created_after=since,
                        **extra,
                    )
                    for kind, reason, extra in (
                        ("results", "", {}),
                        ("low", "low_confidence", {}),
                        ("spot", "spot_check", {}),
                        ("spot_approved", "spot_check", {"review_state": "approved"}),
                    )
                },
            }
            for row in quality["routing"]
        ],
        "work": [
            {**person, "url": results(reviewer=person["reviewer"], **scope_model)}
            for person in data["work"]["people"]
        ],
    }


def _charts(scope: Scope, data) -> dict:
    pipeline, models = data["pipeline"], data["models"]
    since = _minute(data["start"])
    step = timedelta(hours=1) if scope.step == "hour" else timedelta(days=1)
    label = "%H:%M" if scope.step == "hour" else "%b %d"
    buckets = [row["bucket"] for row in pipeline["series"]]
    labels = [timezone.localtime(b).strftime(label) for b in buckets]

    def bucket_links(field, **params):
        return [
            _url(
                "job-list",
                **{f"{field}_after": _minute(b), f"{field}_before": _minute(b + step)},
                job_type=scope.job_type,
                **params,
            )
            for b in buckets
        ]

    throughput = bar_chart(
        labels,
        [
            Series("created", [r["created"] for r in pipeline["series"]], bucket_links("created")),
            Series(
                "completed",
                [r["completed"] for r in pipeline["series"]],
                bucket_links("finished", status="completed"),
            ),
            Series(
                "failed",
                [r["failed"] for r in pipeline["series"]],
                bucket_links("finished", status="failed"),
            ),
        ],
        title=f"Jobs created per {scope.step}, and jobs completed and failed per {scope.step} "
        "by when they finished",
        x_label=f"{scope.step} (created, or finished)",
        y_label="jobs",
    )
    status = hbar_chart(
        [
            (text, n, _url("job-list", status=value, job_type=scope.job_type), f"s-{value}")
            for value, text, n in pipeline["by_status"]
        ],
        title="Jobs by status now",
        x_label="jobs",
    )
    calibration = []
    for row in models["calibration"]:
        buckets_ = [
            {
                **b,
                "url": _url(
                    "result-list",
                    model=row["model"],
                    confidence_min=f"{b['low']:.1f}",
                    confidence_max=f"{b['high']:.1f}",
                    review_state="approved",
                    reviewed_after=since,
                ),
            }
            for b in row["buckets"]
        ]
        calibration.append(
            {
                **row,
                "chart": calibration_chart(row["model"], buckets_, models["min_calibration_n"]),
            }
        )
    reviewer_buckets = data["reviewers"]["buckets"]
    per = "%H:%M" if scope.step == "hour" else "%a %b %d"
    step_labels = [timezone.localtime(b).strftime(per) for b in reviewer_buckets]
    sparklines = {
        person["reviewed_by__username"]: sparkline(
            person["per_step"],
            step_labels,
            title=f"Decisions by {person['reviewed_by__username']} per {scope.step}",
        )
        for person in data["reviewers"]["people"]
    }
    return {
        "throughput": throughput,
        "status": status,
        "calibration": calibration,
        "sparklines": sparklines,
    }
