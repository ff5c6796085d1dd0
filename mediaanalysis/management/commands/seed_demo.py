"""Realistic demo data and one demo user per group. Running it twice changes nothing."""

import json
import random
import shutil
import uuid
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from mediaanalysis.pipeline.models import (
    AnalysisJob,
    AnalysisResult,
    MediaFile,
    MediaType,
    ProcessingStatus,
    UserSession,
)
from mediaanalysis.roles import ADMINS, MANAGERS, REVIEWERS, ensure_groups
from reviews import services
from reviews.models import (
    Decision,
    HITLReview,
    Reason,
    ReviewEvent,
    ReviewStatus,
    Round,
    RoutingRule,
)

DEMO_MEDIA = Path(__file__).resolve().parents[2] / "demo_media"
MEDIA_SESSION = "demo-media-4000-8000-000000000001"
# Above the random demo reviews' priorities (0 to 5), video highest.
MEDIA_PRIORITY = {"video": 10, "audio": 9, "image": 8, "document": 7}

DEMO_USERS = [
    # username, password, group, staff
    ("admin", "admin-demo-pass", ADMINS, True),
    ("manager", "manager-demo-pass", MANAGERS, True),  # staff: the routing rules in the admin
    ("reviewer", "reviewer-demo-pass", REVIEWERS, False),
    ("reviewer2", "reviewer2-demo-pass", REVIEWERS, False),
]

JOB_KINDS = {
    MediaType.VIDEO: (
        "video_analysis",
        "video",
        ["gemini-1.5-pro", "llava-1.6-34b"],
        "video/mp4",
        ".mp4",
    ),
    MediaType.AUDIO: (
        "transcription",
        "audio",
        ["whisper-large-v3", "whisper-medium"],
        "audio/mpeg",
        ".mp3",
    ),
    MediaType.DOCUMENT: (
        "document_ocr",
        "document",
        ["tesseract-5", "gpt-4o-mini"],
        "application/pdf",
        ".pdf",
    ),
    MediaType.IMAGE: (
        "image_captioning",
        "image",
        ["llava-1.6-34b", "blip2-opt"],
        "image/jpeg",
        ".jpg",
    ),
}
TOPICS = [
    "quarterly earnings call",
    "product demo",
    "customer support call",
    "lecture on thermodynamics",
    "city council meeting",
    "podcast episode",
    "safety training",
    "wedding toast",
    "bird watching walk",
    "kitchen renovation",
]
ERRORS = [
    "ffmpeg exited with code 1: Invalid data found when processing input",
    "Timeout after 600s waiting for model response",
    "CUDA out of memory. Tried to allocate 2.00 GiB",
    "Unsupported codec: prores_ks",
    "Rate limited by upstream model API (429)",
]
USER_AGENTS = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0 Safari/537.36",
    "media-cli/2.3.1 python-httpx/0.27",
]


def contact_sheet_svg(title: str, frames: int, rng: random.Random) -> str:
    cells = []
    for i in range(min(frames, 12)):
        x, y = (i % 4) * 160, (i // 4) * 100
        hue = rng.randrange(360)
        cells.append(
            f'<rect x="{x + 4}" y="{y + 4}" width="152" height="92" fill="hsl({hue},45%,55%)"/>'
            f'<text x="{x + 10}" y="{y + 90}" font-size="12" fill="#fff">frame {i + 1}</text>'
        )
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="640" height="300" viewBox="0 0 640 300">'
        f'<title>Contact sheet of {title}</title><rect width="640" height="300" fill="#222"/>'
        + "".join(cells)
        + "</svg>"
    )


class Command(BaseCommand):
    help = "Load realistic demo data and the demo users (one per group). Safe to run twice."

    def add_arguments(self, parser):
        parser.add_argument("--sessions", type=int, default=60)
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args, sessions, seed, **options):
        ensure_groups()
        self.users = self.make_users()
        copied = self.copy_demo_media()
        if MediaFile.all_objects.filter(session_id__startswith="demo-").exists():
            self.stdout.write("Demo data is already loaded; nothing to add.")
        else:
            with transaction.atomic():
                self.make_data(sessions, random.Random(seed))
        # The playable media, at the head of the queue (a data set loaded before it gets it too).
        if not MediaFile.all_objects.filter(session_id=MEDIA_SESSION).exists():
            with transaction.atomic():
                self.make_media_demo(copied)
        call_command("compute_peaks", *self.media_ids(), stdout=self.stdout)
        self.make_routing_rules()
        self.print_logins()

    def make_routing_rules(self):
        """Review by exception (docs/quality.md), set last: the demo's own reviews are placed
        by hand, and a rule would send some of its results to review by itself."""
        RoutingRule.objects.update_or_create(
            analysis_type="audio",
            model_used="whisper-large-v3",
            defaults={
                "confidence_threshold": 0.75,
                "spot_check_rate": 0.1,
                "second_review_rate": 0.2,
            },
        )
        RoutingRule.objects.update_or_create(
            analysis_type="",
            model_used="",
            defaults={"spot_check_rate": 0.05, "second_review_rate": 0.1},
        )

    # Playable media: mediaanalysis/demo_media/ (manifest.json), copied under MEDIA_ROOT/demo/.

    def copy_demo_media(self) -> dict:
        """Copy the committed demo files into MEDIA_ROOT; return the manifest's entries."""
        manifest = json.loads((DEMO_MEDIA / "manifest.json").read_text())
        target = Path(settings.MEDIA_ROOT) / "demo"
        target.mkdir(parents=True, exist_ok=True)
        for entry in manifest["files"] + manifest["contact_sheets"]:
            destination = target / entry["filename"]
            if not destination.is_file() or destination.stat().st_size != entry["file_size"]:
                shutil.copyfile(DEMO_MEDIA / entry["filename"], destination)
        return manifest

    def media_ids(self) -> list[str]:
        files = MediaFile.objects.filter(
            session_id=MEDIA_SESSION, media_type__in=["audio", "video"]
        )
        return [str(pk) for pk in files.values_list("pk", flat=True)]

    def make_media_demo(self, manifest: dict):
        now = timezone.now()
        UserSession.objects.create(
            session_id=MEDIA_SESSION,
            user_agent="media-cli/2.3.1 python-httpx/0.27",
            ip_address="10.0.0.42",
            started_at=now - timedelta(hours=1),
            last_activity=now - timedelta(minutes=5),
            request_count=len(manifest["files"]) * 3,
            media_processed_count=len(manifest["files"]),
        )
        for n, entry in enumerate(manifest["files"]):
            created = now - timedelta(minutes=50 - n)
            media = MediaFile.objects.create(
                session_id=MEDIA_SESSION,
                original_filename=entry["filename"],
                file_path=f"uploads/{MEDIA_SESSION}/{entry['filename']}",
                file_size=entry["file_size"],
                media_type=entry["media_type"],
                mime_type=entry["mime_type"],
                duration_seconds=entry["duration_seconds"],
                extraction_method=entry["extraction_method"],
                frame_count=entry["frame_count"],
                contact_sheet_path=f"demo/{entry['contact_sheet']}"
                if entry["contact_sheet"]
                else None,
                storage_backend="local",
                storage_path=f"demo/{entry['filename']}",
                created_at=created,
            )
            job = AnalysisJob.objects.create(
                session_id=MEDIA_SESSION,
                job_type=entry["job_type"],
                status=ProcessingStatus.COMPLETED,
                progress=1.0,
                media_file=media,
                parameters={"model": entry["model_used"], "source": "demo_media"},
                started_at=created + timedelta(seconds=5),
                completed_at=created + timedelta(seconds=40),
                created_at=created,
            )
            result = AnalysisResult.objects.create(
                job=job,
                media_file=media,
                analysis_type=entry["analysis_type"],
                model_used=entry["model_used"],
                confidence_score=entry["confidence_score"],
                result_data=entry.get("result_data"),
                transcript=entry.get("transcript"),
                summary=entry.get("summary"),
                extracted_text=entry.get("extracted_text"),
                frames_extracted=entry.get("frames_extracted"),
                segments=entry.get("segments"),
                created_at=job.completed_at,
            )
            # Video first: a demo reviewer's first "Claim next" gets the video.
            manager = self.users["manager"]
            review = HITLReview.objects.create(
                analysis_result=result,
                priority=MEDIA_PRIORITY.get(entry["media_type"], 6),
                reason=Reason.MANUAL,
                reason_details={"by": manager.get_username(), "by_id": manager.pk},
                created_at=job.completed_at + timedelta(seconds=n),
            )
            ReviewEvent.objects.create(
                review=review, kind=ReviewEvent.Kind.ENQUEUED, actor=manager, at=now
            )
        self.stdout.write(
            f"{len(manifest['files'])} files of playable media under {settings.MEDIA_ROOT}/demo/."
        )

    def make_users(self):
        User = get_user_model()
        users = {}
        for username, password, group, staff in DEMO_USERS:
            user, created = User.objects.get_or_create(
                username=username, defaults={"is_staff": staff}
            )
            if created:
                user.set_password(password)
                user.save()
            user.groups.add(Group.objects.get(name=group))
            users[username] = user
        return users

    def make_data(self, session_count: int, rng: random.Random):
        now = timezone.now()
        sheets = settings.MEDIA_ROOT / "contact_sheets"
        sheets.mkdir(parents=True, exist_ok=True)
        self.stdout.write(f"Sessions, files and jobs for {session_count} sessions...")
        results = []
        for n in range(session_count):
            started = now - timedelta(days=rng.uniform(0, 29), hours=rng.uniform(0, 23))
            session_id = f"demo-{uuid.UUID(int=rng.getrandbits(128))}"[:36]
            if n % 8 != 7:  # a few jobs carry a session id that has no session row
                UserSession.objects.create(
                    session_id=session_id,
                    user_agent=rng.choice(USER_AGENTS),
                    ip_address=f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
                    started_at=started,
                    last_activity=started + timedelta(minutes=rng.uniform(5, 240)),
                    ended_at=started + timedelta(hours=4) if rng.random() < 0.5 else None,
                    request_count=rng.randrange(5, 400),
                    media_processed_count=rng.randrange(1, 8),
                    created_at=started,
                )
            for _ in range(rng.randrange(2, 6)):
                results += self.make_file_and_jobs(session_id, started, now, rng, sheets)
            self.stdout.write(f"  {n + 1}/{session_count}", ending="\r")
        self.stdout.write("")
        AnalysisResult.objects.bulk_create(results)
        self.stdout.write(f"{len(results)} results. Reviews in every state...")
        self.make_reviews(now, rng)

    def make_file_and_jobs(self, session_id, started, now, rng, sheets):
        media_type = rng.choice(list(MediaType))
        job_type, analysis_type, models, mime, ext = JOB_KINDS[media_type]
        topic = rng.choice(TOPICS)
        created = min(now, started + timedelta(minutes=rng.uniform(0, 60)))
        duration = (
            rng.uniform(20, 3600) if media_type in (MediaType.VIDEO, MediaType.AUDIO) else None
        )
        frames = rng.randrange(24, 400) if media_type == MediaType.VIDEO else None
        media = MediaFile.objects.create(
            session_id=session_id,
            original_filename=f"{topic.replace(' ', '_')}_{rng.randrange(1000)}{ext}",
            processed_filename=f"processed/{uuid.UUID(int=rng.getrandbits(128))}{ext}",
            file_path=f"uploads/{session_id}/{topic.replace(' ', '_')}{ext}",
            file_size=rng.randrange(20_000, 1_900_000_000),
            media_type=media_type,
            mime_type=mime,
            duration_seconds=duration,
            extraction_method=rng.choice(["3fps", "uniform", "scene-change"]) if frames else None,
            frame_count=frames,
            storage_backend=rng.choice(["local", "local", "s3", "r2"]),
            storage_path=f"media/{session_id}/",
            created_at=created,
        )
        if frames:
            name = f"contact_sheets/{media.pk}.svg"
            (sheets / f"{media.pk}.svg").write_text(
                contact_sheet_svg(media.original_filename, frames, rng)
            )
            MediaFile.objects.filter(pk=media.pk).update(contact_sheet_path=name)
        results = []
        for attempt in range(rng.choice([1, 1, 1, 2])):
            job_created = created + timedelta(minutes=attempt * 7)
            status = rng.choices(
                list(ProcessingStatus), weights=[12, 13, 62, 13] if attempt == 0 else [0, 0, 1, 0]
            )[0]
            if job_created > now - timedelta(minutes=30) and status == ProcessingStatus.COMPLETED:
                status = ProcessingStatus.PROCESSING
            job = AnalysisJob(
                session_id=session_id,
                job_type=job_type,
                status=status,
                media_file=media,
                parameters={
                    "language": rng.choice(["en", "es", "de"]),
                    "model": rng.choice(models),
                    "fps": 3 if frames else None,
                    "max_tokens": 4096,
                },
                max_retries=3,
                created_at=job_created,
            )
            if status != ProcessingStatus.PENDING:
                job.started_at = job_created + timedelta(seconds=rng.uniform(2, 90))
            if status == ProcessingStatus.PROCESSING:
                job.progress = round(rng.uniform(0.05, 0.95), 2)
            if status == ProcessingStatus.COMPLETED:
                job.progress = 1.0
                job.completed_at = job.started_at + timedelta(seconds=rng.lognormvariate(4.5, 0.8))
            if status == ProcessingStatus.FAILED:
                job.progress = round(rng.uniform(0, 0.8), 2)
                job.completed_at = job.started_at + timedelta(seconds=rng.uniform(5, 600))
                job.error_message = rng.choice(ERRORS)
                job.retry_count = rng.randrange(0, 4)
            job.save()
            if status == ProcessingStatus.COMPLETED:
                results.append(
                    self.result_for(job, media, analysis_type, rng.choice(models), topic, rng)
                )
        return results

    def result_for(self, job, media, analysis_type, model, topic, rng):
        spoken = analysis_type in ("audio", "video")
        length = media.duration_seconds or 60
        bounds = sorted(rng.uniform(0, length) for _ in range(rng.randrange(3, 8)))
        segments = [
            {
                "start": round(a, 1),
                "end": round(b, 1),
                "label": rng.choice(["intro", "speech", "music", "q&a", "silence", "demo"]),
            }
            for a, b in zip([0.0, *bounds], [*bounds, length], strict=False)
        ]
        confidence = round(min(1.0, max(0.0, rng.betavariate(5, 2))), 3)
        return AnalysisResult(
            job=job,
            media_file=media,
            analysis_type=analysis_type,
            model_used=model,
            confidence_score=confidence,
            result_data={
                "topic": topic,
                "language": job.parameters["language"],
                "labels": rng.sample(
                    ["people", "indoor", "speech", "chart", "logo", "outdoor", "music"], 3
                ),
                "sentiment": rng.choice(["positive", "neutral", "negative"]),
                "entities": [
                    {"text": "ACME Corp", "type": "ORG"},
                    {"text": "Berlin", "type": "LOC"},
                ][: rng.randrange(0, 3)],
            },
            transcript=(
                f"Speaker 1: Welcome to the {topic}. Today we will go through the agenda.\n"
                "Speaker 2: Thanks. Let's start with the numbers from last week.\n"
                "Speaker 1: Revenue grew, and the new pipeline is live."
                if spoken
                else None
            ),
            summary=f"A {topic}: {rng.choice(['three speakers', 'one presenter', 'a short clip', 'several scenes'])}, mostly on schedule.",
            extracted_text=f"{topic.upper()}\nPage 1 of {rng.randrange(1, 30)}"
            if analysis_type == "document"
            else None,
            frames_extracted=media.frame_count,
            segments=segments if spoken else None,
            created_at=job.completed_at,
        )

    def make_reviews(self, now, rng):
        reviewer, reviewer2, manager = (
            self.users["reviewer"],
            self.users["reviewer2"],
            self.users["manager"],
        )
        ttl = timedelta(seconds=settings.REVIEW_CLAIM_TTL)
        results = list(AnalysisResult.objects.order_by("created_at"))
        events = []
        for i, result in enumerate(results):
            low = result.confidence_score < settings.REVIEW_CONFIDENCE_THRESHOLD
            if not low and i % 3:
                continue
            enqueued = result.created_at + timedelta(minutes=rng.uniform(1, 30))
            # Of the confident ones, half were spot checks and half sent by the manager.
            spot_or_sent = Reason.SPOT_CHECK if i % 2 else Reason.MANUAL
            review = HITLReview(
                analysis_result=result,
                priority=rng.choice([0, 0, 0, 1, 5]),
                created_at=enqueued,
                reason=Reason.LOW_CONFIDENCE if low else spot_or_sent,
                reason_details={
                    "confidence": result.confidence_score,
                    "threshold": settings.REVIEW_CONFIDENCE_THRESHOLD,
                    "rule": None,
                }
                if low or spot_or_sent == Reason.SPOT_CHECK
                else {"by": manager.username, "by_id": manager.pk},
            )
            kind = rng.choices(["pending", "decided", "decided", "decided"], k=1)[0]
            if enqueued > now - timedelta(hours=2):
                kind = "pending"
            elif i % 17 == 0:
                kind = "expired"
            history = [
                (
                    ReviewEvent.Kind.ENQUEUED,
                    manager if spot_or_sent == Reason.MANUAL and not low else None,
                    enqueued,
                    {},
                )
            ]
            if kind in ("decided", "expired"):
                who = rng.choice([reviewer, reviewer2])
                claimed = enqueued + timedelta(minutes=rng.uniform(2, 600))
                review.claimed_by, review.claimed_at = who, claimed
                review.claim_expires_at = claimed + ttl
                review.status = ReviewStatus.CLAIMED
                history.append((ReviewEvent.Kind.CLAIMED, who, claimed, {}))
                if kind == "decided":
                    decided = claimed + timedelta(seconds=rng.lognormvariate(4.8, 0.6))
                    history += renewals(who, claimed, decided, rng)
                    review.status = ReviewStatus.COMPLETED
                    review.approved = rng.choices(
                        list(Decision), weights=[6 if not low else 3, 1 if not low else 3, 2]
                    )[0]
                    review.reviewer_notes = rng.choice(
                        [
                            "Looks right.",
                            "Transcript misses the second speaker.",
                            "Wrong language detected.",
                            "",
                        ]
                    )
                    if review.approved == Decision.NEEDS_CHANGES:
                        review.corrections = {"language": "de", "sentiment": "neutral"}
                    review.reviewed_at, review.reviewed_by = decided, who
                    history.append(
                        (ReviewEvent.Kind.DECIDED, who, decided, {"approved": review.approved})
                    )
            review.save()
            events += [
                ReviewEvent(review=review, kind=k, actor=a, at=t, details=d)
                for k, a, t, d in history
            ]
        # One live claim and one reviewing, so the queue shows claims in flight.
        for who, status in (
            (reviewer2, ReviewStatus.CLAIMED),
            (self.users["admin"], ReviewStatus.REVIEWING),
        ):
            review = (
                HITLReview.objects.filter(status=ReviewStatus.PENDING)
                .order_by("-priority", "created_at")
                .first()
            )
            if review:
                HITLReview.objects.filter(pk=review.pk).update(
                    status=status, claimed_by=who, claimed_at=now, claim_expires_at=now + ttl
                )
                events.append(
                    ReviewEvent(review=review, kind=ReviewEvent.Kind.CLAIMED, actor=who, at=now)
                )
        ReviewEvent.objects.bulk_create(events)
        self.make_quality(now, rng)
        self.stdout.write(f"{HITLReview.objects.count()} reviews.")

    def make_quality(self, now, rng):
        """Routing rules, blind second reviews (most agreeing), adjudications decided and
        waiting, and gold items with their checks (docs/quality.md)."""
        reviewer, reviewer2, manager = (
            self.users["reviewer"],
            self.users["reviewer2"],
            self.users["manager"],
        )
        firsts = list(
            HITLReview.objects.filter(status=ReviewStatus.COMPLETED, round=Round.FIRST)
            .select_related("reviewed_by")
            .order_by("reviewed_at")
        )
        events, waiting = [], 0
        for n, first in enumerate(firsts):
            if n % 3:
                continue
            other = reviewer2 if first.reviewed_by == reviewer else reviewer
            opened = first.reviewed_at + timedelta(minutes=1)
            second = HITLReview(
                analysis_result=first.analysis_result,
                round=Round.SECOND,
                reason=Reason.SECOND_REVIEW,
                reason_details={"of_review": first.pk, "rate": 0.2, "rule": None},
                previous_review=first,
                priority=first.priority,
                created_at=opened,
            )
            history = [(ReviewEvent.Kind.ENQUEUED, None, opened, {"reason": Reason.SECOND_REVIEW})]
            if opened < now - timedelta(hours=3) and n % 15:
                claimed = opened + timedelta(minutes=rng.uniform(5, 120))
                decided = claimed + timedelta(seconds=rng.lognormvariate(4.6, 0.5))
                agrees = rng.random() < 0.8
                second.status = ReviewStatus.COMPLETED
                second.approved = (
                    first.approved
                    if agrees
                    else rng.choice([d for d in Decision.values if d != first.approved])
                )
                second.claimed_by = second.reviewed_by = other
                second.claimed_at, second.claim_expires_at = (
                    claimed,
                    claimed + timedelta(minutes=15),
                )
                second.reviewed_at = decided
                history += [(ReviewEvent.Kind.CLAIMED, other, claimed, {})]
                history += renewals(other, claimed, decided, rng)
                history += [
                    (ReviewEvent.Kind.DECIDED, other, decided, {"approved": second.approved})
                ]
            second.save()
            events += [
                ReviewEvent(review=second, kind=k, actor=a, at=t, details=d)
                for k, a, t, d in history
            ]
            if second.status == ReviewStatus.COMPLETED and second.approved != first.approved:
                adjudication = HITLReview.objects.create(
                    analysis_result=first.analysis_result,
                    round=Round.ADJUDICATION,
                    reason=Reason.ADJUDICATION,
                    reason_details={"of_review": second.pk},
                    previous_review=second,
                    priority=first.priority,
                    created_at=second.reviewed_at,
                )
                events.append(
                    ReviewEvent(
                        review=adjudication, kind=ReviewEvent.Kind.ENQUEUED, at=second.reviewed_at
                    )
                )
                waiting += 1
                if waiting % 3:  # the manager adjudicated most; the rest wait
                    at = second.reviewed_at + timedelta(hours=1)
                    HITLReview.objects.filter(pk=adjudication.pk).update(
                        status=ReviewStatus.COMPLETED,
                        approved=rng.choice([first.approved, second.approved]),
                        claimed_by=manager,
                        claimed_at=at,
                        claim_expires_at=at + timedelta(minutes=15),
                        reviewed_by=manager,
                        reviewed_at=at + timedelta(minutes=2),
                    )
        ReviewEvent.objects.bulk_create(events)
        # Gold: a few approved and rejected results, each checked by the other reviewer.
        golden = [r for r in firsts if r.approved in (Decision.YES, Decision.NO)][-40::4]
        services.mark_gold([r.analysis_result_id for r in golden], self.users["admin"])
        for n, first in enumerate(golden):
            other = reviewer2 if first.reviewed_by == reviewer else reviewer
            check = {
                "analysis_result_id": first.analysis_result_id,
                "round": Round.SECOND,
                "reason": Reason.GOLD,
                "gold_item": first.analysis_result.gold_item,
                "created_at": now - timedelta(hours=rng.uniform(1, 20)),
            }
            if (
                HITLReview.objects.open()
                .filter(analysis_result_id=first.analysis_result_id)
                .exists()
            ):
                continue
            if n % 5 == 4:  # one waits in the queue, looking like any second review
                pending = HITLReview.objects.create(**check)
                ReviewEvent.objects.create(
                    review=pending, kind=ReviewEvent.Kind.ENQUEUED, at=check["created_at"]
                )
                continue
            decided = check["created_at"] + timedelta(minutes=rng.uniform(2, 50))
            right = rng.random() < (0.9 if other == reviewer else 0.7)
            HITLReview.objects.create(
                **check,
                status=ReviewStatus.COMPLETED,
                approved=first.approved if right else Decision.NEEDS_CHANGES,
                claimed_by=other,
                claimed_at=decided - timedelta(minutes=1),
                claim_expires_at=decided + timedelta(minutes=14),
                reviewed_by=other,
                reviewed_at=decided,
            )

    def print_logins(self):
        self.stdout.write(self.style.SUCCESS("Demo logins (username / password):"))
        for username, password, group, _ in DEMO_USERS:
            self.stdout.write(f"  {username:<10} {password:<22} {group}")


def renewals(who, claimed, decided, rng) -> list:
    """The heartbeats of a reviewer at work from claim to decision: every 30 s, and now and
    then a pause (idle: no beats) as people have."""
    beats, moment = [], claimed
    while (moment := moment + timedelta(seconds=30 if rng.random() < 0.95 else 300)) < decided:
        beats.append((ReviewEvent.Kind.RENEWED, who, moment, {}))
    return beats
