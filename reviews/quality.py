"""Review quality (docs/quality.md): deterministic sampling, the routing rule that applies to a
result, what a decision sets off (a second review, an adjudication), and agreement arithmetic.

Nothing here writes: the state changes are in services.py.
"""

import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce

from mediaanalysis.db import ByPk, Compiled, Kept
from mediaanalysis.pipeline.models import AnalysisResult

from .models import Decision, HITLReview, Reason, Round, RoutingRule

DECISIONS = list(Decision.values)  # the confusion table's order: yes, no, needs_changes


def sample_point(key, purpose: str) -> float:
    """A point in [0, 1) fixed by (key, purpose, SAMPLING_SEED): the same seed, the same point."""
    text = f"{settings.SAMPLING_SEED}:{purpose}:{key}".encode()
    digest = hashlib.blake2b(text, digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def sampled(key, purpose: str, rate: float) -> bool:
    """Whether `key` falls in the sample of `rate` (0..1) for `purpose`. Deterministic: a
    result is in the second-review sample or not, however often its first review is decided."""
    return rate > 0 and sample_point(key, purpose) < rate


@dataclass(frozen=True)
class Rule:
    """The routing that applies to one type and model: a RoutingRule's, or the settings'."""

    threshold: float
    spot_check_rate: float
    second_review_rate: float
    rule_id: int | None = None


# Every result the API creates asks for its rule: the statement is compiled once.
_RULE = Compiled(
    lambda analysis_type, model_used: RoutingRule.objects.matching(
        analysis_type, model_used
    ).values_list("confidence_threshold", "spot_check_rate", "second_review_rate", "pk")[:1],
    "\0analysis_type",
    "\0model_used",
)


# Every result the API creates asks for its rule, and rules change seldom: each process keeps
# an answer for REVIEW_RULE_SECONDS.
RULES = Kept("REVIEW_RULE_SECONDS")


def rule_for(analysis_type: str, model_used: str | None) -> Rule:
    """The most specific routing rule of this type and model (one query of a small table,
    or none when this process read it less than REVIEW_RULE_SECONDS ago)."""
    key = (analysis_type or "", model_used or "")
    return RULES.get(key, lambda: _read_rule(*key))


def forget_rules(**kwargs) -> None:
    """Forget the kept rules: a rule saved or deleted here, a setting changed (the tests)."""
    RULES.forget()


def _read_rule(analysis_type: str, model_used: str) -> Rule:
    row = _RULE.first_row(analysis_type, model_used)
    if row is None:
        return Rule(
            settings.REVIEW_CONFIDENCE_THRESHOLD,
            settings.REVIEW_SPOT_CHECK_RATE,
            settings.REVIEW_SECOND_REVIEW_RATE,
        )
    threshold, spot_check_rate, second_review_rate, pk = row
    if threshold is None:
        threshold = settings.REVIEW_CONFIDENCE_THRESHOLD
    return Rule(threshold, spot_check_rate, second_review_rate, pk)


def _applying_rule(field: str):
    """The applying rule's `field` for the outer review's result, as a subquery."""
    rules = RoutingRule.objects.matching(
        OuterRef("analysis_result__analysis_type"),
        Coalesce(OuterRef("analysis_result__model_used"), Value("")),
    )
    return Subquery(rules.values(field)[:1])


# Read by every decision: compiled once.
_DECISION_CONTEXT = Compiled(
    lambda pk: (
        HITLReview.all_objects.filter(pk=pk)
        .annotate(
            second_review_rate=_applying_rule("second_review_rate"), rule_id=_applying_rule("pk")
        )
        .values_list(
            "round",
            "priority",
            "gold_item_id",
            "analysis_result_id",
            "analysis_result__job_id",
            "analysis_result__updated_at",
            "previous_decision",
            "second_review_rate",
            "rule_id",
        )
    ),
    ByPk.MARKER,
)


def decision_context(review_id) -> dict:
    """What a decision needs to know besides the claim, in one read before its transaction: the
    result as the webhook names it, and what the decision may set off (its round, gold, the
    earlier decision, the second-review rate of its rule)."""
    row = _DECISION_CONTEXT.first_row(review_id)
    if row is None:
        row = (Round.FIRST, 0, None, None, None, None, None, None, None)
    round_, priority, gold, result_id, job_id, version, previous, rate, rule_id = row
    return {
        "subject": {"result_id": result_id, "job_id": job_id, "result_version": version},
        "round": round_,
        "priority": priority,
        "gold": gold is not None,
        "previous_decision": previous,
        "second_review_rate": settings.REVIEW_SECOND_REVIEW_RATE if rule_id is None else rate,
        "rule_id": rule_id,
    }


@dataclass(frozen=True)
class FollowUp:
    round: int
    reason: str
    details: dict
    previous_decision: str  # the decision that set it off


def follow_up(review_id, context: dict, approved: str) -> FollowUp | None:
    """What a decision sets off: a sampled first review gets a blind second review; a second
    review that disagrees with the first, an adjudication. A gold check sets off nothing."""
    if context["gold"] or context["subject"]["result_id"] is None:
        return None
    if context["round"] == Round.FIRST:
        rate = context["second_review_rate"]
        if sampled(context["subject"]["result_id"], "round-2", rate):
            return FollowUp(
                Round.SECOND,
                Reason.SECOND_REVIEW,
                {"of_review": review_id, "rate": rate, "rule": context["rule_id"]},
                approved,
            )
    elif context["round"] == Round.SECOND and context["previous_decision"] not in (None, approved):
        return FollowUp(Round.ADJUDICATION, Reason.ADJUDICATION, {"of_review": review_id}, approved)
    return None


# Agreement arithmetic, on counts the database has grouped.


def confusion(cells) -> list[list[int]]:
    """A 3x3 table [first][second] in DECISIONS order from {(first, second): n}."""
    return [[cells.get((a, b), 0) for b in DECISIONS] for a in DECISIONS]


def agreement(table) -> dict:
    """n, how many disagreed, the share of agreement and Cohen's kappa of a square confusion
    table of counts.

    kappa = (p_o - p_e) / (1 - p_e), with p_o the observed agreement (the diagonal's share) and
    p_e the agreement expected by chance from each rater's own shares (Cohen 1960). When both
    raters always give one and the same answer, p_e is 1 and kappa is undefined (None).
    """
    n = sum(sum(row) for row in table)
    if not n:
        return {"n": 0, "disagreed": 0, "agreement": None, "kappa": None}
    agreed = sum(table[i][i] for i in range(len(table)))
    observed = agreed / n
    rows = [sum(row) / n for row in table]
    cols = [sum(row[j] for row in table) / n for j in range(len(table))]
    expected = sum(r * c for r, c in zip(rows, cols, strict=True))
    kappa = None if expected >= 1 else (observed - expected) / (1 - expected)
    return {"n": n, "disagreed": n - agreed, "agreement": observed, "kappa": kappa}


def shown(figures: dict, min_n: int | None = None) -> dict:
    """The figures, with the rates blanked below QUALITY_MIN_PAIRS pairs (n still shown)."""
    min_n = settings.QUALITY_MIN_PAIRS if min_n is None else min_n
    if figures["n"] >= min_n:
        return {**figures, "enough": True}
    return {**figures, "agreement": None, "kappa": None, "enough": False}


# Blindness (docs/quality.md): what a reviewer may not see.


def sees_blind(user) -> bool:
    """Managers and admins see every decision; reviewers not those under blind review."""
    return user.has_perm("reviews.view_blind_hitlreview")


def under_blind_review(result_id) -> bool:
    """Whether the result's decisions are hidden from reviewers: it has an open second review,
    or it is a gold item (whose answer must never show). One query."""
    return (
        AnalysisResult.objects.filter(pk=result_id)
        .filter(
            Exists(
                HITLReview.objects.open().filter(analysis_result=OuterRef("pk"), round=Round.SECOND)
            )
            | Q(gold_item__active=True)
        )
        .exists()
    )


def hides_decisions(user, result_id) -> bool:
    """Whether `user` must not see other people's decisions, notes and corrections of this
    result (their own they always see)."""
    return not sees_blind(user) and under_blind_review(result_id)
