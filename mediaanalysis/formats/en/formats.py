"""Dates as the app writes them everywhere (2026-11-20 14:03), in the admin too.

The locale's formats win over DATETIME_FORMAT in settings, so the project's own format module
replaces the English one (FORMAT_MODULE_PATH).
"""

DATE_FORMAT = "Y-m-d"
TIME_FORMAT = "H:i"
DATETIME_FORMAT = "Y-m-d H:i"
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
