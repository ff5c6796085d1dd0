"""How pipeline data is shown: JSON, segments, contact sheets, CSV cells."""

import json
import mimetypes

from .storage import MediaLocation, locate_contact_sheet


def pretty_json(value) -> str:
    return "" if value is None else json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


def csv_value(value):
    if hasattr(value, "isoformat"):
        return value.isoformat()
    # Keep spreadsheet programs from running a cell as a formula.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def place_segments(segments, duration):
    """Segments placed on a 0..100 timeline, with whatever keys the pipeline wrote."""
    if not isinstance(segments, list):
        return None
    rows = []
    ends = [
        s.get("end")
        for s in segments
        if isinstance(s, dict) and isinstance(s.get("end"), int | float)
    ]
    total = duration or (max(ends) if ends else None)
    for index, segment in enumerate(segments):
        if not isinstance(segment, dict):
            continue
        start, end = segment.get("start"), segment.get("end")
        label = (
            segment.get("label")
            or segment.get("text")
            or segment.get("type")
            or f"segment {index + 1}"
        )
        placed = (
            isinstance(start, int | float)
            and isinstance(end, int | float)
            and total
            and end >= start
        )
        rows.append(
            {
                "start": start,
                "end": end,
                "length": (end - start) if placed else None,
                "label": str(label),
                "left": round(100 * start / total, 2) if placed else None,
                "width": max(0.4, round(100 * (end - start) / total, 2)) if placed else None,
                "color": index % 6,
                "extra": {k: v for k, v in segment.items() if k not in ("start", "end", "label")},
            }
        )
    return {"rows": rows, "total": total}


def contact_sheet_file(media) -> MediaLocation | None:
    """Where the file's contact sheet is, if it is an image in the file's storage that can be
    served (on local storage: one that exists inside MEDIA_ROOT).

    Only images: a path the pipeline wrote must not make the site serve other files of
    MEDIA_ROOT (an HTML page, a config file) from its own origin.
    """
    if not media.contact_sheet_path:
        return None
    location = locate_contact_sheet(media)
    if not location.available:
        return None
    if not (mimetypes.guess_type(location.key)[0] or "").startswith("image/"):
        return None
    return location
