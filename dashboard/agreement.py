"""The dashboard's quality figures (docs/quality.md): agreement between first and second
reviews, overturns at adjudication, gold accuracy, and what the routing rules send.

Each figure is grouped by the database into a handful of cells; Python only adds up cells and
computes Cohen's kappa from them (reviews/quality.py). A fixed number of queries, whatever the
data size.
"""

from django.conf import settings
from django.db.models import Count, F, Q

from reviews.models import Decision, Reason, ReviewStatus, Round, RoutingRule
from reviews.quality import Rule, agreement, confusion, shown

OPEN_ADJUDICATIONS_SHOWN = 10


def _rate(part, whole):
    return part / whole if whole else None


def _model(value) -> str:
    return value or ""


def quality(reviews, results, start, now) -> dict:
    """Every quality figure over the window: `reviews` and `results` are already narrowed to
    the dashboard's job type and model."""
    decided = reviews.filter(status=ReviewStatus.COMPLETED, reviewed_at__gte=start)
    return {
        **pairs(decided),
        "overturns": overturns(decided),
        "gold": gold_accuracy(decided),
        "routing": routing(reviews, results, start),
        "adjudications": open_adjudications(reviews),
    }


def pairs(decided) -> dict:
    """First and second decisions of second reviews decided in the window: per model and
    type, per reviewer (as first or as second reviewer), and their confusion table."""
    seconds = decided.filter(
        round=Round.SECOND, gold_item__isnull=True, previous_review__isnull=False
    )
    cells = list(
        seconds.order_by()
        .values(
            model=F("analysis_result__model_used"),
            analysis_type=F("analysis_result__analysis_type"),
            first=F("previous_decision"),
            second=F("approved"),
        )
        .annotate(n=Count("pk"))
    )
    groups: dict = {}
    overall: dict = {}
    for cell in cells:
        key = (_model(cell["model"]), cell["analysis_type"])
        pair = (cell["first"], cell["second"])
        groups.setdefault(key, {})[pair] = groups.get(key, {}).get(pair, 0) + cell["n"]
        overall[pair] = overall.get(pair, 0) + cell["n"]
    by_model = [
        {"model": model, "analysis_type": analysis_type, **shown(agreement(confusion(c)))}
        for (model, analysis_type), c in sorted(groups.items())
    ]
    # Per reviewer: their decision against the other reviewer's, whichever round was theirs.
    people: dict = {}
    for mine, other, user in (
        ("previous_decision", "approved", "previous_review__reviewed_by__username"),
        ("approved", "previous_decision", "reviewed_by__username"),
    ):
        for row in (
            seconds.order_by()
            .values(user=F(user), mine=F(mine), other=F(other))
            .annotate(n=Count("pk"))
        ):
            if row["user"] is None:
                continue
            cell = people.setdefault(row["user"], {})
            cell[(row["mine"], row["other"])] = cell.get((row["mine"], row["other"]), 0) + row["n"]
    by_reviewer = [
        {"reviewer": user, **shown(agreement(confusion(c)))} for user, c in sorted(people.items())
    ]
    table = confusion(overall)
    return {
        "agreement": shown(agreement(table)),
        "by_model": by_model,
        "by_reviewer": by_reviewer,
        "confusion": [
            {"first": first, "label": label, "cells": list(zip(Decision.values, row, strict=True))}
            for (first, label), row in zip(Decision.choices, table, strict=True)
        ],
    }


def overturns(decided) -> list[dict]:
    """Of each reviewer's decisions that went to adjudication in the window, the share the
    adjudicator decided otherwise."""
    first = "previous_review__previous_review__"
    rows = (
        decided.filter(round=Round.ADJUDICATION, previous_review__isnull=False)
        .order_by()
        .values(
            first_user=F(f"{first}reviewed_by__username"),
            second_user=F("previous_review__reviewed_by__username"),
        )
        .annotate(
            n=Count("pk"),
            first_overturned=Count("pk", filter=~Q(approved=F(f"{first}approved"))),
            second_overturned=Count("pk", filter=~Q(approved=F("previous_review__approved"))),
        )
    )
    people: dict = {}
    for row in rows:
        for who in ("first", "second"):
            user = row[f"{who}_user"]
            if user is None:
                continue
            person = people.setdefault(user, {"reviewer": user, "n": 0, "overturned": 0})
            person["n"] += row["n"]
            person["overturned"] += row[f"{who}_overturned"]
    for person in people.values():
        person["rate"] = _rate(person["overturned"], person["n"])
    return sorted(people.values(), key=lambda p: p["reviewer"])


def gold_accuracy(decided) -> list[dict]:
    """Each reviewer's gold checks decided in the window, and the share they got right."""
    rows = (
        decided.filter(gold_item__isnull=False, reviewed_by__isnull=False)
        .order_by()
        .values(reviewer=F("reviewed_by__username"))
        .annotate(
            n=Count("pk"),
            correct=Count("pk", filter=Q(approved=F("gold_item__expected_decision"))),
        )
        .order_by("reviewer")
    )
    return [{**row, "accuracy": _rate(row["correct"], row["n"])} for row in rows]


def _rule_of(rules: list[RoutingRule], analysis_type: str, model: str) -> RoutingRule | None:
    """The most specific rule for the type and model, as RoutingRule.objects.matching() picks."""
    fitting = [
        r for r in rules if r.analysis_type in ("", analysis_type) and r.model_used in ("", model)
    ]
    return max(
        fitting,
        key=lambda r: 2 * bool(r.analysis_type) + bool(r.model_used),
        default=None,
    )


def routing(reviews, results, start) -> list[dict]:
    """For results created in the window, per type and model: how many there were, what share
    the rule sent to review for low confidence and as spot checks, and what the decided spot
    checks found (their approval rate, beside that of the low-confidence ones)."""
    created = {
        (row["analysis_type"], _model(row["model_used"])): row["n"]
        for row in results.filter(created_at__gte=start)
        .order_by()
        .values("analysis_type", "model_used")
        .annotate(n=Count("pk"))
    }
    # Of the live results only, as `created` counts them: then the window is a range of the
    # results' live index (idx_result_live_list), not a scan of every result.
    sent_rows = (
        reviews.filter(
            round=Round.FIRST,
            analysis_result__deleted_at__isnull=True,
            analysis_result__created_at__gte=start,
            reason__in=[Reason.LOW_CONFIDENCE, Reason.SPOT_CHECK],
        )
        .order_by()
        .values(
            analysis_type=F("analysis_result__analysis_type"),
            model=F("analysis_result__model_used"),
        )
        .annotate(
            low=Count("pk", filter=Q(reason=Reason.LOW_CONFIDENCE)),
            spot=Count("pk", filter=Q(reason=Reason.SPOT_CHECK)),
            low_decided=Count(
                "pk", filter=Q(reason=Reason.LOW_CONFIDENCE, status=ReviewStatus.COMPLETED)
            ),
            low_yes=Count("pk", filter=Q(reason=Reason.LOW_CONFIDENCE, approved=Decision.YES)),
            spot_decided=Count(
                "pk", filter=Q(reason=Reason.SPOT_CHECK, status=ReviewStatus.COMPLETED)
            ),
            spot_yes=Count("pk", filter=Q(reason=Reason.SPOT_CHECK, approved=Decision.YES)),
        )
    )
    sent = {(row["analysis_type"], _model(row["model"])): row for row in sent_rows}
    rules = list(RoutingRule.objects.all())
    rows = []
    for key in sorted(set(created) | set(sent)):
        analysis_type, model = key
        rule = _rule_of(rules, analysis_type, model)
        effective = Rule(
            settings.REVIEW_CONFIDENCE_THRESHOLD
            if rule is None or rule.confidence_threshold is None
            else rule.confidence_threshold,
            settings.REVIEW_SPOT_CHECK_RATE if rule is None else rule.spot_check_rate,
            settings.REVIEW_SECOND_REVIEW_RATE if rule is None else rule.second_review_rate,
            rule.pk if rule else None,
        )
        n = created.get(key, 0)
        s = sent.get(key, {})
        rows.append(
            {
                "analysis_type": analysis_type,
                "model": model,
                "rule": str(rule) if rule else "",
                "rule_id": rule.pk if rule else None,
                "threshold": effective.threshold,
                "spot_check_rate": effective.spot_check_rate,
                "second_review_rate": effective.second_review_rate,
                "results": n,
                "low": s.get("low", 0),
                "spot": s.get("spot", 0),
                "low_share": _rate(s.get("low", 0), n),
                "spot_share": _rate(s.get("spot", 0), n),
                "sent_share": _rate(s.get("low", 0) + s.get("spot", 0), n),
                "low_decided": s.get("low_decided", 0),
                "low_approval": _rate(s.get("low_yes", 0), s.get("low_decided", 0)),
                "spot_decided": s.get("spot_decided", 0),
                "spot_approval": _rate(s.get("spot_yes", 0), s.get("spot_decided", 0)),
            }
        )
    return rows


def open_adjudications(reviews) -> dict:
    """Disagreements waiting for a third reviewer or a manager: the oldest few, and how many."""
    waiting = reviews.open().filter(round=Round.ADJUDICATION)
    oldest = list(
        waiting.order_by("created_at", "id").values(
            "id",
            "created_at",
            "analysis_result_id",
            analysis_type=F("analysis_result__analysis_type"),
            model=F("analysis_result__model_used"),
        )[: OPEN_ADJUDICATIONS_SHOWN + 1]
    )
    return {
        "oldest": oldest[:OPEN_ADJUDICATIONS_SHOWN],
        "more": len(oldest) > OPEN_ADJUDICATIONS_SHOWN,
        "n": waiting.count() if len(oldest) > OPEN_ADJUDICATIONS_SHOWN else len(oldest),
    }
