from urllib.parse import quote, unquote

from django.urls import path, register_converter

from . import views


class SessionIdConverter:
    """Any stored session id, whatever it holds, makes a link that leads back to it.

    New ids need no quoting (mediaanalysis/validation.py), but old rows may hold "/", "?", "#",
    "%", spaces or other text: `to_url` percent-encodes those itself (Django's reverse() would
    leave "/" as it is), and so does an id that a path would mistake for something else ("." and
    "..", which browsers fold away, and "export", the list's CSV). The result is quoted once more
    by reverse() and decoded once by the server, so `to_python` decodes the rest.
    """

    regex = "[^/]+"
    RESERVED = {".", "..", "export"}

    def to_python(self, value: str) -> str:
        return unquote(value, errors="surrogateescape")

    def to_url(self, value: str) -> str:
        url = quote(value, safe=":@-._~", errors="surrogateescape")
        if url in self.RESERVED:
            url = f"%{ord(url[0]):02X}{url[1:]}"
        return url


register_converter(SessionIdConverter, "session_id")

urlpatterns = [
    path("jobs/", views.job_list, name="job-list"),
    path("jobs/export/", views.job_export, name="job-export"),
    path("jobs/retry/", views.job_retry, name="job-retry"),
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
    path("sessions/<session_id:session_id>/", views.session_detail, name="session-detail"),
]
