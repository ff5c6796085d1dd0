"""Corrections shown as a diff against what the result says.

Corrections are a JSON object (docs/corrections.md): each key replaces that key of the result's
`result_data` (null removes it, a nested object corrects key by key), and `segments` replaces the
result's segments column. Lists of objects, such as `segments` and `regions`, are compared item
by item, so that a moved end shows as `segments[2].end`, not as two copies of the whole list.
"""

import json
from dataclasses import dataclass
from difflib import SequenceMatcher

MISSING = object()
# A cell shows at most this much of a value: a whole transcript or list is not a diff.
CELL_LIMIT = 400


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
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= CELL_LIMIT else text[: CELL_LIMIT - 1] + "…"


def correctable(result) -> dict:
    """What corrections apply to: the result's `result_data` with its segments as `segments`."""
    data = dict(result.result_data) if isinstance(result.result_data, dict) else {}
    if result.segments is not None:
        data["segments"] = result.segments
    return data


def diff_corrections(result_data, corrections, prefix: str = "") -> list[DiffRow]:
    """One row per key the corrections touch; nested objects are followed key by key, lists
    of objects item by item.

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
        elif _records(old) and _records(new) and old != new:
            rows += _diff_lists(path, old, new)
        else:
            rows.append(DiffRow(path, old, new, "same" if old == new else "changed"))
    return rows


def _records(value) -> bool:
    return isinstance(value, list) and all(isinstance(item, dict) for item in value)


def _diff_lists(path, old, new) -> list[DiffRow]:
    """Items aligned as a text diff aligns lines; an edited item shows field by field.

    Removed and edited items are named by their place in the result, added ones by their place
    in the corrected list.
    """
    matcher = SequenceMatcher(a=[_key(i) for i in old], b=[_key(i) for i in new], autojunk=False)
    rows = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        paired = min(i2 - i1, j2 - j1) if tag == "replace" else 0
        for k in range(paired):
            rows += _diff_items(f"{path}[{i1 + k}]", old[i1 + k], new[j1 + k])
        rows += [
            DiffRow(f"{path}[{i}]", old[i], MISSING, "removed") for i in range(i1 + paired, i2)
        ]
        rows += [DiffRow(f"{path}[{j}]", MISSING, new[j], "added") for j in range(j1 + paired, j2)]
    return rows


def _key(item) -> str:
    return json.dumps(item, sort_keys=True)


def _diff_items(path, old: dict, new: dict) -> list[DiffRow]:
    rows = []
    for key in [*old, *(k for k in new if k not in old)]:
        before, after = old.get(key, MISSING), new.get(key, MISSING)
        if before == after:
            continue
        kind = "added" if before is MISSING else "removed" if after is MISSING else "changed"
        rows.append(DiffRow(f"{path}.{key}", before, after, kind))
    return rows
