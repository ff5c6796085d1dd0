"""Corrections shown as a diff against the result's result_data."""

import json
from dataclasses import dataclass

MISSING = object()


@dataclass
class DiffRow:
    path: str
    before: object
    after: object
    kind: str  # added, removed, changed, same

    @property
    def before_text(self):
        return "" if self.before is MISSING else _show(self.before)

    @property
    def after_text(self):
        return "" if self.after is MISSING else _show(self.after)


def _show(value) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def diff_corrections(result_data, corrections, prefix: str = "") -> list[DiffRow]:
    """One row per key the corrections touch; nested objects are followed key by key.

    A correction of null removes the key.
    """
    if not isinstance(corrections, dict):
        return []
    original = result_data if isinstance(result_data, dict) else {}
    rows = []
    for key, new in corrections.items():
        path = f"{prefix}{key}"
        old = original.get(key, MISSING)
        if isinstance(new, dict) and isinstance(old, dict):
            rows += diff_corrections(old, new, prefix=f"{path}.")
        elif new is None:
            rows.append(DiffRow(path, old, MISSING, "removed" if old is not MISSING else "same"))
        elif old is MISSING:
            rows.append(DiffRow(path, MISSING, new, "added"))
        else:
            rows.append(DiffRow(path, old, new, "same" if old == new else "changed"))
    return rows
