from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import health, views
from .api import api

urlpatterns = [
    path("", views.home, name="home"),
    path("health/", health.health, name="health"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("jobs/", views.job_list, name="job-list"),
    path("jobs/export/", views.job_export, name="job-export"),
    path("jobs/<int:pk>/", views.job_detail, name="job-detail"),
    path("jobs/<int:pk>/progress/", views.job_progress, name="job-progress"),
    path("results/", views.result_list, name="result-list"),
    path("results/export/", views.result_export, name="result-export"),
    path("results/<int:pk>/", views.result_detail, name="result-detail"),
    path("files/", views.file_list, name="file-list"),
    path("files/export/", views.file_export, name="file-export"),
    path("files/<int:pk>/", views.file_detail, name="file-detail"),
    path("files/<int:pk>/contact-sheet/", views.contact_sheet, name="file-contact-sheet"),
    path("sessions/", views.session_list, name="session-list"),
    path("sessions/export/", views.session_export, name="session-export"),
    path("sessions/<str:session_id>/", views.session_detail, name="session-detail"),
    path("reviews/", include("reviews.urls")),
    path("dashboard/", include("dashboard.urls")),
    path("api/", api.urls),
]

handler500 = "mediaanalysis.views.server_error"
