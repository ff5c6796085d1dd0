"""How pipeline data is shown: JSON, segments, contact sheets, CSV cells."""

import json
import math
import mimetypes
import re

from django.conf import settings

from . import storage
from .signed_media import player_urls
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


# Label colours: slots of the palette in static/css/app.css (.lc0 to .lc7), the same slot for
# the same label on every page. static/js/media-edit.js computes the same hash for labels a
# reviewer types.
PALETTE_SIZE = 8
# The most frames offered as seek targets under a contact sheet.
FRAME_LIMIT = 48
_FPS = re.compile(r"(\d{1,4}(?:\.\d{1,6})?)\s*fps")
_STAMP = re.compile(r"\s*\[?((?:\d{1,3}:)?\d{1,3}:\d{2}(?:[.,]\d{1,3})?)\]?\s?(.*)", re.DOTALL)


def label_color(label) -> int:
    """The palette slot of a label: FNV-1a (32 bit) of its trimmed, lower-cased UTF-8 bytes."""
    value = 0x811C9DC5
    for byte in str(label).strip().lower().encode("utf-8", "surrogatepass"):
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value % PALETTE_SIZE


def _number(value):
    """A finite number, or None (the pipeline may write strings, NaN or nothing)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _time(value):
    """A media time in seconds (0 to about 30 years), or None."""
    number = _number(value)
    return number if number is not None and 0 <= number <= 1e9 else None


def clock(seconds) -> str:
    """0:04.0, 12:30.5, 1:02:03.0: a media time for people, to a tenth of a second."""
    tenths = round(seconds * 10)
    hours, rest = divmod(tenths, 36000)
    minutes, rest = divmod(rest, 600)
    text = f"{minutes}:{rest // 10:02d}.{rest % 10}"
    return f"{hours}:{minutes:02d}:{rest // 10:02d}.{rest % 10}" if hours else text


def _page(value):
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def place_segments(segments, duration, low_below=None):
    """Segments placed on a 0..100 timeline in lanes that do not overlap, with what they say.

    Every dict of the pipeline's list becomes a row (index = its place in the list, which the
    corrections use); whatever else a segment carries is kept as `extra`. `low_below` marks
    segments whose `confidence` is under it.
    """
    if not isinstance(segments, list):
        return None
    ends = [
        end
        for s in segments
        if isinstance(s, dict) and (end := _number(s.get("end"))) is not None and end >= 0
    ]
    total = _number(duration) or (max(ends) if ends else None)
    rows, lane_ends = [], []
    for index, segment in enumerate(segments):
        if not isinstance(segment, dict):
            continue
        start, end = _time(segment.get("start")), _time(segment.get("end"))
        label = segment.get("label")
        text = segment.get("text")
        if label in (None, ""):
            label = text or segment.get("type") or f"segment {index + 1}"
            text = None if label == text else text
        confidence = _number(segment.get("confidence"))
        ordered = start is not None and end is not None and start <= end
        placed = ordered and total is not None
        row = {
            "index": index,
            "start": segment.get("start"),
            "end": segment.get("end"),
            "seek": start,
            "stop": end if ordered else None,
            "start_text": segment.get("start") if start is None else clock(start),
            "end_text": segment.get("end") if end is None else clock(end),
            "length": (end - start) if placed else None,
            "label": str(label),
            "text": "" if text in (None, "") else str(text),
            "confidence": confidence,
            "low": confidence is not None and low_below is not None and confidence < low_below,
            "page": _page(segment.get("page")),
            "paragraph": _page(segment.get("paragraph")),
            "color": label_color(label),
            "extra": [
                (key, value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
                for key, value in segment.items()
                if key not in ("start", "end", "label", "text", "confidence", "page", "paragraph")
            ],
            "left": None,
        }
        if placed:
            # The first lane free at this segment's start; the list is usually in time order.
            lane = next((n for n, free in enumerate(lane_ends) if free <= start), len(lane_ends))
            if lane == len(lane_ends):
                lane_ends.append(end)
            lane_ends[lane] = end
            left = min(100.0, 100 * start / total)
            row |= {
                "left": round(left, 3),
                "width": round(max(0.4, min(100 - left, 100 * (end - start) / total)), 3),
                "lane": lane,
            }
        rows.append(row)
    return {
        "rows": rows,
        "total": total,
        "lanes": max(1, len(lane_ends)),
        "timed": any(row["left"] is not None for row in rows),
        "paged": any(row["page"] or row["paragraph"] for row in rows),
        "extras": any(row["extra"] for row in rows),
    }


def place_regions(result_data, low_below=None) -> list[dict]:
    """The image regions of `result_data.regions` ([{label, x, y, w, h}], relative 0..1) in %."""
    regions = result_data.get("regions") if isinstance(result_data, dict) else None
    if not isinstance(regions, list):
        return []
    placed = []
    for index, region in enumerate(regions):
        if not isinstance(region, dict):
            continue
        x, y, w, h = (_number(region.get(key)) for key in ("x", "y", "w", "h"))
        if None in (x, y, w, h) or w <= 0 or h <= 0:
            continue
        x, y = min(max(x, 0.0), 1.0), min(max(y, 0.0), 1.0)
        w, h = min(w, 1.0 - x), min(h, 1.0 - y)
        label = str(region.get("label") or f"region {index + 1}")
        confidence = _number(region.get("confidence"))
        placed.append(
            {
                "index": index,
                "label": label,
                "confidence": confidence,
                "low": confidence is not None and low_below is not None and confidence < low_below,
                "color": label_color(label),
                "left": round(100 * x, 3),
                "top": round(100 * y, 3),
                "width": round(100 * w, 3),
                "height": round(100 * h, 3),
            }
        )
    return placed


def frame_times(extraction_method, count, duration) -> list[float] | None:
    """When each extracted frame was taken: "uniform" frames sit at the middle of `count` equal
    slices of the duration, "3fps" frames every third of a second. None when unknown."""
    count = count if isinstance(count, int) and count > 0 else None
    duration = _number(duration)
    method = (extraction_method or "").strip().lower()
    if count is None:
        return None
    if method == "uniform" and duration:
        step = duration / count
        return [(n + 0.5) * step for n in range(min(count, 100_000))]
    if match := _FPS.fullmatch(method):
        fps = float(match[1])
        if fps <= 0:
            return None
        if duration:
            count = min(count, math.floor(duration * fps) + 1)
        return [n / fps for n in range(min(count, 100_000))]
    return None


def contact_sheet_frames(media, frames_extracted=None) -> list[dict]:
    """The contact sheet's frames as seek targets (at most FRAME_LIMIT, evenly chosen)."""
    times = frame_times(
        media.extraction_method, frames_extracted or media.frame_count, media.duration_seconds
    )
    if not times:
        return []
    if len(times) > FRAME_LIMIT:
        picks = [round(n * (len(times) - 1) / (FRAME_LIMIT - 1)) for n in range(FRAME_LIMIT)]
    else:
        picks = range(len(times))
    return [{"number": n + 1, "time": round(times[n], 3), "text": clock(times[n])} for n in picks]


def frame_rate(media) -> float:
    """Frames per second for frame stepping: the file's own when it is plausible, else 25."""
    duration, frames = _number(media.duration_seconds), media.frame_count
    if duration and isinstance(frames, int) and 10 <= frames / duration <= 120:
        return round(frames / duration, 3)
    return 25.0


def transcript_lines(transcript) -> list[dict] | None:
    """A transcript's lines with the time they start at, when its lines carry timestamps
    ("[00:04.6] Host: ...", "01:02:03 ..."); None for a transcript without any."""
    if not isinstance(transcript, str) or not transcript:
        return None
    lines, timed = [], False
    for line in transcript.splitlines():
        match = _STAMP.fullmatch(line)
        time = None
        if match:
            parts = match[1].replace(",", ".").split(":")
            time = sum(float(part) * 60**power for power, part in enumerate(reversed(parts)))
            timed = True
        lines.append(
            {"time": time, "stamp": match[1] if match else "", "text": match[2] if match else line}
        )
    return lines if timed else None


def text_pages(text) -> list[str]:
    """Extracted text page by page, where form feeds separate its pages (as pdftotext writes)."""
    if not isinstance(text, str) or "\f" not in text:
        return []
    return text.rstrip("\f").split("\f")


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


def media_preview(media, frames_extracted=None, reader=None) -> dict | None:
    """What the player needs: the kind of player, where the media is (or why it is not),
    its URLs (signed for the reader: signed_media.py), contact-sheet frames with their times,
    and the frame rate for frame stepping."""
    if media is None:
        return None
    kind = media.player_kind
    return {
        "kind": kind,
        "location": storage.locate(media),
        "contact_sheet": contact_sheet_file(media) is not None,
        "frames": contact_sheet_frames(media, frames_extracted) if kind == "video" else [],
        "fps": frame_rate(media),
        **player_urls(media, reader),
    }


def result_media(result, reader=None) -> dict:
    """The context of a result's media, segments, regions and timed transcript (_media.html)."""
    media = result.media_file
    low_below = settings.REVIEW_CONFIDENCE_THRESHOLD
    preview = media_preview(media, result.frames_extracted, reader)
    segments = place_segments(result.segments, media.duration_seconds if media else None, low_below)
    return {
        "media": media,
        "preview": preview,
        "segments": segments,
        # An image has no segments to show or add, unless the model wrote some.
        "segments_wanted": bool(segments and segments["rows"])
        or not preview
        or preview["kind"] != "image",
        "regions": place_regions(result.result_data, low_below),
        "text_pages": text_pages(result.extracted_text),
        "transcript_lines": transcript_lines(result.transcript),
        # A PDF or text document shows its extracted text beside the pages.
        "extracted_text_shown": bool(
            preview and preview["location"].available and preview["kind"] in ("pdf", "text")
        ),
        "low_below": low_below,
    }
