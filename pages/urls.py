from django.urls import path

from . import views

urlpatterns = [
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
    path("files/<int:pk>/media/", views.file_media, name="file-media"),
    path("files/<int:pk>/peaks/", views.file_peaks, name="file-peaks"),
    path("sessions/", views.session_list, name="session-list"),
    path("sessions/export/", views.session_export, name="session-export"),
    path("sessions/<str:session_id>/", views.session_detail, name="session-detail"),
]
