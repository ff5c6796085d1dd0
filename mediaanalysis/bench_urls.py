"""URLs for `manage.py bench` only: the site's own, plus a stock ModelAdmin baseline.

The stock admin site registers the jobs and results tables with a plain ModelAdmin and no
tuning at all, so that the benchmark can compare our pages with what Django gives by default.
"""

from django.contrib import admin
from django.urls import path

from mediaanalysis.pipeline.models import AnalysisJob, AnalysisResult
from mediaanalysis.urls import handler500
from mediaanalysis.urls import urlpatterns as site_urlpatterns

stock_admin = admin.AdminSite(name="stock_admin")
stock_admin.register(AnalysisJob)
stock_admin.register(AnalysisResult)

urlpatterns = [*site_urlpatterns, path("stock-admin/", stock_admin.urls)]

__all__ = ["handler500", "urlpatterns"]
