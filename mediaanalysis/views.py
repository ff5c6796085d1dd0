"""The project's own views: where each role starts, and the error handler."""

import sys

from django.db import OperationalError
from django.shortcuts import redirect, render

from .middleware import database_unavailable


def home(request):
    """Each role starts where its work is: reviewers at the queue, managers at the dashboard."""
    if request.user.has_perm("mediaanalysis.view_dashboard"):
        return redirect("dashboard")
    if request.user.has_perm("reviews.claim_hitlreview"):
        return redirect("review-queue")
    return redirect("job-list")


def server_error(request):
    """handler500: an unreachable database is a 503 with a plain message, not an error page."""
    if isinstance(sys.exception(), OperationalError):
        return database_unavailable(request)
    return render(request, "500.html", status=500)
