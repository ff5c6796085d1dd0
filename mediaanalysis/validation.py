"""What the database can store and the pages can show, checked once at the edge.

Every text and JSON value that reaches the database passes here first: the pages' forms and
filters, the API's schemas and the admin's forms all call these functions (docs/design.md, Bad
input and faults). A refusal is a ValueError (the API's schemas turn it into a 422 naming the field) or a Django
ValidationError (a form error under the field: CheckedJSONField, validate_session_id).

The limits: no NUL character (PostgreSQL refuses it in text and in jsonb), valid Unicode (a lone
surrogate cannot be encoded for the database), finite numbers (jsonb has no NaN or Infinity),
integers that fit their column, JSON no deeper than MAX_JSON_DEPTH and no larger than
MAX_JSON_BYTES. `session_id` goes into URLs: new ones follow SESSION_ID_RULE.
"""

import json
import math
import re
from datetime import UTC, datetime

from django import forms
from django.core.exceptions import ValidationError
from django.forms.fields import InvalidJSONInput, JSONString

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
MAX_JSON_DEPTH = 64
MAX_JSON_BYTES = 1_000_000
# A number in JSON longer than this could be stored (jsonb keeps any precision) but not read
# back: Python refuses to convert more digits (it raises a bare ValueError), so no page could
# show the row. It is refused before conversion.
MAX_NUMBER_LITERAL = 4300
# The first and last moments kept: a day inside the calendar's ends, so that every page can
# show them in any time zone (a moment at its very end was a 500 in a zone east of UTC).
EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, 23, 59, 59, 999999, tzinfo=UTC)

SESSION_ID_RULE = "1 to 36 letters, digits and - _ . : (no spaces, slashes or other signs)"
SESSION_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,36}$"
_SESSION_ID = re.compile(SESSION_ID_PATTERN, re.ASCII)
_SURROGATE = re.compile("[\ud800-\udfff]")


class _OversizedNumber(float):
    """Stands in for a number literal too long to convert, so the field that holds it is named."""

    def __new__(cls):
        return super().__new__(cls, math.inf)


def text_problem(value: str) -> str | None:
    """Why the database cannot store this text ("must not contain ..."), or None."""
    if "\x00" in value:
        return "must not contain a NUL character (\\u0000)"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must not contain a lone surrogate (such as \\ud800): it is not valid Unicode"
    return None


def check_text(value: str) -> str:
    """The text, or ValueError saying why it cannot be stored."""
    if isinstance(value, str) and (problem := text_problem(value)):
        raise ValueError(problem)
    return value


def check_int32(value: int) -> int:
    if not INT32_MIN <= value <= INT32_MAX:
        raise ValueError(f"must be between {INT32_MIN} and {INT32_MAX}")
    return value


def check_session_id(value: str) -> str:
    """A new session id: it goes into URLs, so it holds only characters that need no quoting."""
    if not _SESSION_ID.match(value):
        raise ValueError(f"a session id is {SESSION_ID_RULE}")
    return value


def json_problem(value) -> str | None:
    """Why this JSON value cannot be stored, or None. Walks the value without recursion."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return f"must not nest deeper than {MAX_JSON_DEPTH} levels"
        if isinstance(item, str):
            if problem := text_problem(item):
                return problem
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, _OversizedNumber):
            return f"numbers must have at most {MAX_NUMBER_LITERAL:,} digits"
        elif isinstance(item, float):
            if not math.isfinite(item):
                return "numbers must be finite (no NaN or Infinity)"
        elif isinstance(item, int):
            continue
        elif isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str):
                    return "object keys must be text"
                if problem := text_problem(key):
                    return problem
                stack.append((child, depth + 1))
        elif isinstance(item, list | tuple):
            stack.extend((child, depth + 1) for child in item)
        else:
            return f"holds a {type(item).__name__}, which is not JSON"
    return None


def check_json(value):
    """The JSON value, or ValueError saying why it cannot be stored."""
    if problem := json_problem(value):
        raise ValueError(problem)
    if len(json.dumps(value, ensure_ascii=False, allow_nan=False).encode()) > MAX_JSON_BYTES:
        raise ValueError(f"must be at most {MAX_JSON_BYTES:,} bytes of JSON")
    return value


def _parse_int(literal: str):
    return _OversizedNumber() if len(literal) > MAX_NUMBER_LITERAL else int(literal)


def _parse_float(literal: str):
    return _OversizedNumber() if len(literal) > MAX_NUMBER_LITERAL else float(literal)


def loads_json(text: str | bytes):
    """Parse JSON text for checking: never raises anything but ValueError, with a clear message.

    NaN, Infinity and overlong numbers are parsed (so that `check_json` can name the field that
    holds them); nesting deeper than Python can parse is refused here.
    """
    if len(text) > MAX_JSON_BYTES * 3:  # a request body may hold several fields
        raise ValueError(f"is too large (at most {MAX_JSON_BYTES:,} bytes of JSON)")
    try:
        return json.loads(text, parse_int=_parse_int, parse_float=_parse_float)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None
    except RecursionError:
        raise ValueError(f"must not nest deeper than {MAX_JSON_DEPTH} levels") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"is not valid JSON ({exc})") from None


def sanitize_text(value: str) -> str:
    """Text the database can store, for keeping what someone typed (a draft) when the text as
    typed cannot be: NUL characters and lone surrogates become U+FFFD."""
    return _SURROGATE.sub("\ufffd", value.replace("\x00", "\ufffd"))


# A Django validator (model fields, so forms and the admin), and a form field with the checks.


def validate_session_id(value):
    """New session ids only: old rows may break the rule and must still show."""
    if not _SESSION_ID.match(value or ""):
        raise ValidationError(f"A session id is {SESSION_ID_RULE}.", code="session_id")


class CheckedJSONField(forms.JSONField):
    """A form's JSON field with the shared checks; what was typed is shown back as typed."""

    def to_python(self, value):
        if self.disabled or value in self.empty_values:
            return super().to_python(value)
        if isinstance(value, list | dict | int | float | JSONString):
            return value
        try:
            converted = check_json(loads_json(value))
        except ValueError as exc:
            raise ValidationError(f"This {exc}.", code="invalid") from None
        return JSONString(converted) if isinstance(converted, str) else converted

    def bound_data(self, data, initial):
        if self.disabled or data is None:
            return super().bound_data(data, initial)
        try:
            return check_json(loads_json(data))
        except ValueError:
            return InvalidJSONInput(data)


class StoredJSONDecoder(json.JSONDecoder):
    """Reads back any JSON the database holds. What Python cannot parse (nested deeper than its
    recursion limit, a number of thousands of digits: old rows, or rows written by SQL) reads as
    a note saying so, so that the pages and the API still show the row."""

    def decode(self, s, *args, **kwargs):
        try:
            return super().decode(s, *args, **kwargs)
        except json.JSONDecodeError:
            raise  # not JSON at all: Django's JSONField shows the raw text
        except (RecursionError, ValueError) as exc:
            return {
                "unreadable": f"This stored JSON cannot be read here ({exc.__class__.__name__})."
            }


def check_moment(value) -> None:
    """A moment a page can show in any time zone: between EARLIEST and LATEST."""
    if isinstance(value, datetime) and value.tzinfo and not EARLIEST <= value <= LATEST:
        raise ValidationError(
            "Must be between 0001-01-02 and 9999-12-30 (UTC).", code="calendar_edge"
        )
