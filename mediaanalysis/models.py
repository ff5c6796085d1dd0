from django.db import models


class PeriodicRun(models.Model):
    """When each piece of periodic work is next due. Every worker's scheduler reads it; the
    one whose conditional UPDATE moves `next_run_at` on enqueues the run (mediaanalysis/scheduler.py)."""

    name = models.CharField(max_length=100, primary_key=True)
    next_run_at = models.DateTimeField()
    last_run_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "periodic_runs"

    def __str__(self):
        return self.name
