from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import health, views
from .pipeline.api import api

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
    path("", include("pages.urls")),
    path("reviews/", include("reviews.urls")),
    path("dashboard/", include("dashboard.urls")),
    path("api/", api.urls),
]

handler500 = "mediaanalysis.views.server_error"
