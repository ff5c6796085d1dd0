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
        i, j = i1, j1
        for pi, pj in [*_pairs(old[i1:i2], new[j1:j2]), (i2 - i1, j2 - j1)]:
            rows += [DiffRow(f"{path}[{k}]", old[k], MISSING, "removed") for k in range(i, i1 + pi)]
            rows += [DiffRow(f"{path}[{k}]", MISSING, new[k], "added") for k in range(j, j1 + pj)]
            if pi < i2 - i1:
                rows += _diff_items(f"{path}[{i1 + pi}]", old[i1 + pi], new[j1 + pj])
            i, j = i1 + pi + 1, j1 + pj + 1
    return rows


# Above this many comparisons, the items of a changed stretch are paired by position.
PAIRING_LIMIT = 10_000


def _pairs(old, new) -> list[tuple[int, int]]:
    """The edited items of a changed stretch: pairs (old, new) in order, the most alike.

    An item alike in no field to any other was removed or added rather than edited.
    """
    if len(old) * len(new) > PAIRING_LIMIT:
        return list(zip(range(len(old)), range(len(new)), strict=False))
    alike = [[_alike(a, b) for b in new] for a in old]
    best = [[0] * (len(new) + 1) for _ in range(len(old) + 1)]
    for i in range(len(old)):
        for j in range(len(new)):
            paired = best[i][j] + alike[i][j] if alike[i][j] else 0
            best[i + 1][j + 1] = max(best[i][j + 1], best[i + 1][j], paired)
    pairs, i, j = [], len(old), len(new)
    while i and j:
        if alike[i - 1][j - 1] and best[i][j] == best[i - 1][j - 1] + alike[i - 1][j - 1]:
            pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif best[i][j] == best[i - 1][j]:
            i -= 1
        else:
            j -= 1
    return pairs[::-1]


def _alike(a: dict, b: dict) -> int:
    """How many fields two items share."""
    return sum(1 for key in a if key in b and _plain(a[key]) == _plain(b[key]))


def _key(item) -> str:
    """An item as text to align by; 12.0 and 12 are the same (a browser writes 12.0 as 12)."""
    return json.dumps(_plain(item), sort_keys=True)


def _plain(value):
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _diff_items(path, old: dict, new: dict) -> list[DiffRow]:
    rows = []
    for key in [*old, *(k for k in new if k not in old)]:
        before, after = old.get(key, MISSING), new.get(key, MISSING)
        if before == after:
            continue
        kind = "added" if before is MISSING else "removed" if after is MISSING else "changed"
        rows.append(DiffRow(f"{path}.{key}", before, after, kind))
    return rows
