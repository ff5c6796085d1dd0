"""Pathological values for the fuzz suites (tests/test_fuzz_*.py), and how to send them.

Not the values the code was written for: NUL, its JSON escape, lone surrogates, NaN and
Infinity, 20- and 5,000-digit numbers, JSON nested 10,000 deep, a 1 MB string, URL and path
signs, right-to-left and combining characters, and mixtures of them with ordinary text.
"""

import json
from html.parser import HTMLParser
from urllib.parse import urlencode

from django.utils.html import escape
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

DEEP = 10_000
MEGABYTE = "x" * 1_000_000

SPECIAL_TEXT = [
    "\x00",
    "a\x00b",
    "\\u0000",
    "\ud800",
    "a\udfffb",
    "NaN",
    "Infinity",
    "-Infinity",
    "1e400",
    "9" * 20,
    "-" + "9" * 20,
    "9" * 5000,
    "[" * DEEP + "]" * DEEP,
    '{"a":' * DEEP + "1" + "}" * DEEP,
    MEGABYTE,
    "/",
    "?",
    "#",
    "%",
    "%00",
    "%zz",
    "..",
    "../../etc/passwd",
    "\u202eevil\u202c",
    "\u05e9\u05dc\u05d5\u05dd",
    "e\u0301\u0301\u0301",
    "\ufeff",
    " ",
    "",
    "0",
    "-1",
    "2147483648",
    "1.5",
    "true",
    "null",
    "[]",
    "{}",
    '{"a": NaN}',
    '{"a": Infinity}',
    '{"a": "\\u0000"}',
    '{"a": "\\ud800"}',
    '{"a": ' + "9" * 5000 + "}",
    '{"a": 1e999}',
    "2026-13-45",
    "0001-01-01",
    "9999-12-31T23:59:59",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
]

# Any text, surrogates included (hypothesis leaves them out unless asked).
any_text = st.text(st.characters(exclude_categories=()), max_size=30)
pathological_text = st.one_of(
    st.sampled_from(SPECIAL_TEXT),
    st.tuples(st.sampled_from(SPECIAL_TEXT), any_text).map("".join),
    any_text,
)

SPECIAL_JSON = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1e400",
    "9" * 20,
    "-" + "9" * 20,
    "9" * 5000,
    "[" * DEEP + "]" * DEEP,
    '{"a":' * 1000 + "1" + "}" * 1000,
    '{"a":' * 70 + "1" + "}" * 70,
    '"\\u0000"',
    '"a\\u0000b"',
    '"\\ud800"',
    '{"\\u0000": 1}',
    '"' + MEGABYTE + '"',
    "null",
    "true",
    "0",
    "-1",
    "1.5",
    '""',
    "[]",
    "{}",
    '"/?#%.."',
    '"\u202eevil"',
    '[{"start": 0, "end": NaN}]',
    '{"regions": [{"x": Infinity}]}',
]
# A JSON fragment (text, to hold what json.dumps cannot write: 5,000 digits, 10,000 levels).
pathological_json = st.one_of(
    st.sampled_from(SPECIAL_JSON),
    st.sampled_from(SPECIAL_TEXT[:5] + SPECIAL_TEXT[15:28]).map(lambda text: json.dumps(text)),
    any_text.map(json.dumps),
)


def fuzz_settings(examples: int):
    """Moderate, reproducible runs: the same cases every time (CI), no deadline (PostgreSQL)."""
    return settings(
        max_examples=examples,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


def form_body(data: dict) -> str:
    """An urlencoded body, as a browser would send what was typed (lone surrogates as the bytes
    a broken client would send)."""
    return urlencode(data, doseq=True, encoding="utf-8", errors="surrogatepass")


def received(value: str) -> str:
    """The text as the server decodes it from such a body."""
    return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def shown_back(value: str, html: str) -> bool:
    return escape(received(value)) in html


class Forms(HTMLParser):
    """The forms of a page: their method, action and named fields (with each field's kind)."""

    def __init__(self):
        super().__init__()
        self.forms = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append(
                {
                    "method": (attrs.get("method") or "get").lower(),
                    "action": attrs.get("action"),
                    "fields": {},
                }
            )
        elif tag in ("input", "select", "textarea", "button") and self.forms and attrs.get("name"):
            kind = attrs.get("type", tag) if tag == "input" else tag
            self.forms[-1]["fields"].setdefault(attrs["name"], kind)

    @classmethod
    def of(cls, html: str) -> list[dict]:
        parser = cls()
        parser.feed(html)
        return parser.forms
