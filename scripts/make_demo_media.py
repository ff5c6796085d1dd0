"""Generate the demo media in mediaanalysis/demo_media/ and its manifest.json.

Every file is drawn or synthesised here, so the "model output" in the manifest
(segments, transcripts, regions, page text) lines up exactly with the content:

    demo_video.webm          25 s, 640x360, 25 fps, VP9 + Opus. Five coloured scenes, the
                             scene name, a big "00:07.40" timestamp, the frame number and
                             burned-in captions on every frame; speech in four scenes.
    demo_video_contact_sheet.jpg
                             12 frames taken uniformly from the encoded video, labelled.
    support_call.ogg         ~40 s Ogg/Opus: a customer-support call (two synthetic voices)
                             in which the customer is promised a refund.
    street_scene.png         1280x720: car, person, street sign, traffic light.
    office_desk.jpg          1280x720: laptop, coffee mug, phone, sticky note.
    invoice.pdf              3-page invoice from "ACME Corporation" with real text.
    meeting_notes.txt        a few paragraphs of plain text.
    manifest.json            what each file is, plus the model output that matches it.

Requirements (a dev machine, not the project's venv):
    - Python 3.10+ with: av (PyAV; its wheels bundle FFmpeg with libvpx-vp9 and libopus),
      pillow, numpy, fpdf2. For example:
          python -m venv /tmp/mediavenv
          /tmp/mediavenv/bin/pip install av pillow numpy fpdf2
    - espeak-ng on PATH for the speech (Debian: apt-get install espeak-ng).
    - Optional: DejaVu fonts (Debian: fonts-dejavu-core); without them Pillow's built-in
      font is used and the pictures differ slightly.

Run from the repository root:
    /tmp/mediavenv/bin/python scripts/make_demo_media.py [--out DIR]

The output is deterministic for the same tool versions (espeak-ng, PyAV/FFmpeg, Pillow,
fpdf2): containers and encoders run in bit-exact mode, single-threaded, with fixed dates.
"""

import argparse
import datetime
import hashlib
import json
import math
import subprocess
import tempfile
import wave
from pathlib import Path

import av
import numpy as np
from fpdf import FPDF
from PIL import Image, ImageDraw, ImageFont

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "mediaanalysis" / "demo_media"

SAMPLE_RATE = 48000  # Opus works at 48 kHz
FPS = 25
VIDEO_W, VIDEO_H = 640, 360
IMAGE_W, IMAGE_H = 1280, 720
PEAKS_PER_SECOND = 20  # for the waveform (wavesurfer.js `peaks` option)


# ---------------------------------------------------------------- helpers


def font(size, bold=False, mono=False):
    """DejaVu if installed (Debian's fonts-dejavu-core), else Pillow's built-in font."""
    name = "DejaVuSansMono" if mono else "DejaVuSans"
    if bold:
        name += "-Bold"
    path = Path("/usr/share/fonts/truetype/dejavu") / f"{name}.ttf"
    if path.exists():
        return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size=size)


def clock(seconds):
    """00:07.40 style (minutes:seconds.centiseconds)."""
    centis = round(seconds * 100)
    return f"{centis // 6000:02d}:{centis // 100 % 60:02d}.{centis % 100:02d}"


def transcript_stamp(seconds):
    """[00:03.2] style, as a transcription model would print it."""
    tenths = round(seconds * 10)
    return f"[{tenths // 600:02d}:{tenths // 10 % 60:02d}.{tenths % 10}]"


def speak(text, voice, speed=155):
    """Speech from espeak-ng as float32 samples at SAMPLE_RATE, silence trimmed off."""
    with tempfile.TemporaryDirectory() as tmp:
        wav_path = Path(tmp) / "speech.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(wav_path), text],
            check=True,
        )
        with wave.open(str(wav_path)) as w:
            rate = w.getframerate()
            pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    samples = pcm.astype(np.float32) / 32768
    loud = np.flatnonzero(np.abs(samples) > 0.01)
    samples = samples[loud[0] : loud[-1] + 1]
    # Linear resampling to 48 kHz is plenty for synthetic speech.
    n_out = round(len(samples) * SAMPLE_RATE / rate)
    positions = np.arange(n_out) * (rate / SAMPLE_RATE)
    return np.interp(positions, np.arange(len(samples)), samples).astype(np.float32)


def tone(freq, seconds, volume, fade=0.02):
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    samples = volume * np.sin(2 * math.pi * freq * t)
    ramp = min(round(fade * SAMPLE_RATE), len(t) // 2)
    envelope = np.ones(len(t))
    envelope[:ramp] = np.linspace(0, 1, ramp)
    envelope[len(t) - ramp :] = np.linspace(1, 0, ramp)
    return (samples * envelope).astype(np.float32)


def mix_in(track, samples, start_seconds):
    start = round(start_seconds * SAMPLE_RATE)
    track[start : start + len(samples)] += samples[: len(track) - start]


def waveform_peaks(track):
    """Max absolute amplitude per 1/PEAKS_PER_SECOND s, 0..1, for wavesurfer.js."""
    bucket = SAMPLE_RATE // PEAKS_PER_SECOND
    n = math.ceil(len(track) / bucket)
    padded = np.zeros(n * bucket, dtype=np.float32)
    padded[: len(track)] = np.abs(track)
    peaks = padded.reshape(n, bucket).max(axis=1)
    peaks = peaks / max(float(peaks.max()), 1e-9)
    return {"peaks_per_second": PEAKS_PER_SECOND, "data": [round(float(p), 3) for p in peaks]}


def open_output(path, format_name):
    # bitexact: no encoder version strings, dates or random UIDs in the file.
    return av.open(str(path), "w", format=format_name, options={"fflags": "+bitexact"})


def add_opus_stream(container):
    stream = container.add_stream("libopus", rate=SAMPLE_RATE, layout="mono")
    stream.bit_rate = 48000
    stream.codec_context.options = {"flags": "+bitexact", "application": "audio"}
    return stream


def audio_frames(track):
    """20 ms Opus-sized frames of 16-bit mono PCM."""
    pcm = (np.clip(track, -1, 1) * 32767).astype(np.int16)
    size = 960
    pcm = np.concatenate([pcm, np.zeros(-len(pcm) % size, dtype=np.int16)])
    for start in range(0, len(pcm), size):
        frame = av.AudioFrame.from_ndarray(
            pcm[None, start : start + size], format="s16", layout="mono"
        )
        frame.sample_rate = SAMPLE_RATE
        frame.pts = start
        yield frame


def file_facts(path):
    data = path.read_bytes()
    return {"file_size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


# ---------------------------------------------------------------- video

SCENES = [
    # name, start, end, background colour, confidence the "model" gives the scene
    ("Intro", 0.0, 4.0, (24, 38, 84), 0.97),
    ("Interview", 4.0, 12.0, (18, 110, 110), 0.91),
    ("B-roll", 12.0, 17.0, (222, 120, 40), 0.42),
    ("Slide", 17.0, 21.0, (236, 236, 240), 0.88),
    ("Outro", 21.0, 25.0, (92, 40, 120), 0.95),
]
VIDEO_SECONDS = SCENES[-1][2]

# (start seconds, voice, speaker, text): speech placed inside its scene.
VIDEO_LINES = [
    (0.8, "en-us", "Narrator", "Welcome to the media analysis demo."),
    (4.6, "en-us+f3", "Host", "What does the review dashboard do?"),
    (7.4, "en-gb+m3", "Guest", "It shows each model result next to the media, for a quick check."),
    (17.3, "en-us", "Narrator", "Three things matter: accuracy, speed, and cost."),
    (21.6, "en-us", "Narrator", "Thanks for watching. Goodbye."),
]


def scene_at(seconds):
    for index, scene in enumerate(SCENES):
        if scene[1] <= seconds < scene[2]:
            return index, scene
    return len(SCENES) - 1, SCENES[-1]


def draw_person(draw, cx, top, color, talking):
    draw.ellipse([cx - 34, top, cx + 34, top + 68], fill=(240, 200, 160))
    mouth = 10 if talking else 2
    draw.rectangle([cx - 12, top + 44, cx + 12, top + 44 + mouth], fill=(120, 40, 40))
    draw.rounded_rectangle([cx - 60, top + 76, cx + 60, top + 200], radius=30, fill=color)


def draw_car(draw, x, y, color):
    draw.rounded_rectangle([x, y + 30, x + 170, y + 75], radius=10, fill=color)
    draw.polygon([(x + 35, y + 30), (x + 60, y), (x + 120, y), (x + 145, y + 30)], fill=color)
    draw.polygon(
        [(x + 66, y + 6), (x + 114, y + 6), (x + 132, y + 28), (x + 50, y + 28)],
        fill=(170, 210, 240),
    )
    for wheel_x in (x + 38, x + 132):
        draw.ellipse([wheel_x - 18, y + 58, wheel_x + 18, y + 94], fill=(30, 30, 30))


def draw_scene_content(draw, name, t, scene_t, speaking):
    if name == "Intro":
        draw.text(
            (320, 150),
            "Media Analysis Demo",
            font=font(40, bold=True),
            fill=(255, 255, 255),
            anchor="mm",
        )
        draw.text(
            (320, 195), "generated test footage", font=font(20), fill=(200, 210, 255), anchor="mm"
        )
    elif name == "Interview":
        draw_person(draw, 190, 90, (240, 170, 60), speaking == "Host")
        draw_person(draw, 450, 90, (70, 90, 200), speaking == "Guest")
        draw.text((190, 302), "Host", font=font(16, bold=True), fill=(255, 255, 255), anchor="mm")
        draw.text((450, 302), "Guest", font=font(16, bold=True), fill=(255, 255, 255), anchor="mm")
    elif name == "B-roll":
        draw.rectangle([0, 230, VIDEO_W, VIDEO_H], fill=(70, 70, 75))
        for dash_x in range(-40, VIDEO_W, 80):
            shift = int(scene_t * 60) % 80
            draw.rectangle([dash_x + shift, 288, dash_x + shift + 40, 294], fill=(240, 240, 240))
        draw.ellipse([500, 100, 560, 160], fill=(255, 230, 120))  # sun
        car_x = -180 + scene_t * (VIDEO_W + 200) / 5.0
        draw_car(draw, int(car_x), 190, (200, 30, 40))
    elif name == "Slide":
        draw.text((60, 70), "What matters", font=font(30, bold=True), fill=(30, 60, 160))
        for row, (label, value) in enumerate([("Accuracy", 0.92), ("Speed", 0.7), ("Cost", 0.45)]):
            y = 130 + row * 50
            draw.text((60, y), label, font=font(20), fill=(30, 30, 30))
            grown = min(1.0, scene_t / 1.5)
            draw.rectangle([200, y, 200 + int(360 * value * grown), y + 28], fill=(60, 110, 210))
    elif name == "Outro":
        draw.text(
            (320, 160),
            "Thanks for watching",
            font=font(36, bold=True),
            fill=(255, 255, 255),
            anchor="mm",
        )


def render_frame(index, captions):
    t = index / FPS
    scene_index, (name, start, _, background, _) = scene_at(t)
    speaking = None
    caption = None
    for line in captions:
        if line["start"] <= t < line["end"]:
            speaking, caption = line["speaker"], line["text"]
    image = Image.new("RGB", (VIDEO_W, VIDEO_H), background)
    draw = ImageDraw.Draw(image)
    draw_scene_content(draw, name, t, t - start, speaking)
    # Scene label, top left.
    label = f"{scene_index + 1}/{len(SCENES)}  {name}"
    draw.rounded_rectangle(
        [10, 10, 24 + draw.textlength(label, font=font(20, bold=True)), 44],
        radius=6,
        fill=(0, 0, 0),
    )
    draw.text((17, 14), label, font=font(20, bold=True), fill=(255, 255, 255))
    # Big timestamp and frame number, top right.
    draw.rounded_rectangle([398, 8, 632, 84], radius=8, fill=(0, 0, 0))
    draw.text(
        (615, 12), clock(t), font=font(44, bold=True, mono=True), fill=(255, 255, 255), anchor="ra"
    )
    draw.text(
        (615, 62), f"frame {index:03d}", font=font(16, mono=True), fill=(180, 180, 180), anchor="ra"
    )
    # Burned-in caption while someone speaks.
    if caption:
        width = draw.textlength(caption, font=font(17))
        draw.rectangle([320 - width / 2 - 8, 318, 320 + width / 2 + 8, 344], fill=(0, 0, 0))
        draw.text((320, 331), caption, font=font(17), fill=(255, 255, 120), anchor="mm")
    # Progress bar with scene boundaries.
    draw.rectangle([0, VIDEO_H - 6, VIDEO_W, VIDEO_H], fill=(0, 0, 0))
    draw.rectangle([0, VIDEO_H - 6, int(VIDEO_W * t / VIDEO_SECONDS), VIDEO_H], fill=(255, 60, 60))
    for scene in SCENES[1:]:
        x = int(VIDEO_W * scene[1] / VIDEO_SECONDS)
        draw.rectangle([x - 1, VIDEO_H - 10, x + 1, VIDEO_H], fill=(255, 255, 255))
    return image


def make_video(out_dir):
    # Sound: speech lines, a short beep at every scene change, a soft chord under the B-roll.
    track = np.zeros(round(VIDEO_SECONDS * SAMPLE_RATE), dtype=np.float32)
    captions = []
    for start, voice, speaker, text in VIDEO_LINES:
        speech = speak(text, voice)
        mix_in(track, 0.9 * speech, start)
        end = start + len(speech) / SAMPLE_RATE
        captions.append({"start": start, "end": round(end, 2), "speaker": speaker, "text": text})
    for _, start, *_ in SCENES:
        mix_in(track, tone(880, 0.12, 0.25), start)
    broll = SCENES[2]
    for freq in (220, 277.18, 329.63):
        mix_in(track, tone(freq, broll[2] - broll[1] - 0.4, 0.07, fade=0.5), broll[1] + 0.2)

    path = out_dir / "demo_video.webm"
    frame_count = round(VIDEO_SECONDS * FPS)
    with open_output(path, "webm") as container:
        video = container.add_stream("libvpx-vp9", rate=FPS)
        video.width, video.height, video.pix_fmt = VIDEO_W, VIDEO_H, "yuv420p"
        video.codec_context.gop_size = 2 * FPS  # a keyframe every 2 s keeps seeking quick
        video.codec_context.thread_count = 1
        video.codec_context.options = {
            "crf": "34",
            "b": "0",
            "deadline": "good",
            "cpu-used": "2",
            "row-mt": "0",
            "flags": "+bitexact",
        }
        audio = add_opus_stream(container)
        for index in range(frame_count):
            frame = av.VideoFrame.from_image(render_frame(index, captions)).reformat(
                format="yuv420p"
            )
            frame.pts = index
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        for frame in audio_frames(track):
            container.mux(audio.encode(frame))
        container.mux(audio.encode(None))

    segments = []
    for name, start, end, _, confidence in SCENES:
        said = [c for c in captions if start <= c["start"] < end]
        description = {
            "Intro": "Title card: 'Media Analysis Demo'.",
            "Interview": "Two people talking, host on the left, guest on the right.",
            "B-roll": "A red car drives along a road at sunset; background music.",
            "Slide": "Bar chart slide: accuracy, speed and cost.",
            "Outro": "Closing card: 'Thanks for watching'.",
        }[name]
        segments.append(
            {
                "start": start,
                "end": end,
                "label": name,
                "text": " ".join(c["text"] for c in said) or description,
                "description": description,
                "confidence": confidence,
            }
        )
    transcript = "\n".join(
        f"{transcript_stamp(c['start'])} {c['speaker']}: {c['text']}" for c in captions
    )
    return path, {
        "media_type": "video",
        "mime_type": "video/webm",
        "codecs": "vp9, opus",
        "width": VIDEO_W,
        "height": VIDEO_H,
        "fps": FPS,
        "duration_seconds": VIDEO_SECONDS,
        "frame_count": frame_count,
        "analysis_type": "video",
        "job_type": "video_analysis",
        "model_used": "demo-scene-detector-v1",
        "confidence_score": 0.83,
        "segments": segments,
        "speech": captions,
        "transcript": transcript,
        "summary": (
            "A 25-second demo clip in five scenes: a title card, a short interview about the "
            "review dashboard, B-roll of a car at sunset (low confidence), a bar-chart slide on "
            "accuracy, speed and cost, and a closing card."
        ),
        "result_data": {
            "scenes": len(SCENES),
            "speakers": sorted({c["speaker"] for c in captions}),
            "objects": [{"label": "car", "start": 12.0, "end": 17.0, "confidence": 0.87}],
        },
        "waveform": waveform_peaks(track),
    }


def make_contact_sheet(video_path, out_dir, tiles=12, columns=4):
    """Decode the encoded video and lay out `tiles` frames sampled uniformly."""
    with av.open(str(video_path)) as container:
        frames = [frame.to_image() for frame in container.decode(video=0)]
    picks = [int((i + 0.5) * len(frames) / tiles) for i in range(tiles)]
    tile_w, tile_h, label_h, pad = 320, 180, 26, 8
    rows = math.ceil(tiles / columns)
    sheet = Image.new(
        "RGB", (columns * (tile_w + pad) + pad, 40 + rows * (tile_h + label_h + pad)), (20, 20, 24)
    )
    draw = ImageDraw.Draw(sheet)
    draw.text(
        (pad, 10),
        f"{video_path.name}: {tiles} frames, uniform",
        font=font(18, bold=True),
        fill=(255, 255, 255),
    )
    for n, index in enumerate(picks):
        x = pad + (n % columns) * (tile_w + pad)
        y = 40 + (n // columns) * (tile_h + label_h + pad)
        sheet.paste(frames[index].resize((tile_w, tile_h), Image.LANCZOS), (x, y))
        label = f"{clock(index / FPS)}  (frame {index})"
        draw.text((x + 4, y + tile_h + 3), label, font=font(16, mono=True), fill=(230, 230, 230))
    path = out_dir / "demo_video_contact_sheet.jpg"
    sheet.save(path, quality=82, optimize=True)
    return path, [round(index / FPS, 2) for index in picks]


# ---------------------------------------------------------------- audio

AGENT, CUSTOMER = ("Agent", "en-us+f3"), ("Customer", "en-gb+m3")
CALL_LINES = [
    (
        AGENT,
        "Hello, thanks for calling Acme support. My name is Dana. How can I help you today?",
        0.96,
    ),
    (CUSTOMER, "Hi. I ordered a pair of headphones last week, and they arrived broken.", 0.93),
    (AGENT, "I am sorry to hear that. Could you give me your order number, please?", 0.95),
    (CUSTOMER, "Sure. It is A C M E, four two seven one.", 0.42),
    (AGENT, "Thank you. I can see the order. I will issue a full refund to your card today.", 0.94),
    (CUSTOMER, "Great. How long will the refund take?", 0.9),
    (
        AGENT,
        "It usually takes three to five business days. Is there anything else I can help with?",
        0.92,
    ),
    (CUSTOMER, "No, that is all. Thanks for your help. Goodbye.", 0.61),
]


def make_audio(out_dir):
    pieces, t, lines = [], 0.8, []
    gap = 0.7
    for (speaker, voice), text, confidence in CALL_LINES:
        speech = speak(text, voice)
        end = t + len(speech) / SAMPLE_RATE
        pieces.append((t, speech))
        lines.append(
            {
                "start": round(t, 2),
                "end": round(end, 2),
                "label": speaker,
                "text": text,
                "confidence": confidence,
            }
        )
        t = math.ceil((end + gap) * 100) / 100  # next line starts on a whole centisecond
    duration = math.ceil((t + 0.5) * 10) / 10
    track = np.zeros(round(duration * SAMPLE_RATE), dtype=np.float32)
    for start, speech in pieces:
        mix_in(track, 0.9 * speech, start)

    path = out_dir / "support_call.ogg"
    with open_output(path, "ogg") as container:
        audio = add_opus_stream(container)
        for frame in audio_frames(track):
            container.mux(audio.encode(frame))
        container.mux(audio.encode(None))

    refund = next(line for line in lines if "full refund" in line["text"])
    transcript = "\n".join(
        f"{transcript_stamp(line['start'])} {line['label']}: {line['text']}" for line in lines
    )
    return path, {
        "media_type": "audio",
        "mime_type": "audio/ogg",
        "codecs": "opus",
        "duration_seconds": duration,
        "frame_count": None,
        "analysis_type": "audio",
        "job_type": "transcription",
        "model_used": "demo-transcriber-v1",
        "confidence_score": round(sum(line["confidence"] for line in lines) / len(lines), 2),
        "segments": lines,
        "transcript": transcript,
        "summary": (
            "A customer calls Acme support because the headphones they ordered arrived broken. "
            f"The agent finds order ACME-4271 and promises a full refund at {refund['start']:.1f} s; "
            "the refund takes three to five business days."
        ),
        "result_data": {
            "speakers": ["Agent", "Customer"],
            "intent": "refund_request",
            "order_number": "ACME-4271",
            # The sentences that mention a refund (index into segments).
            "keyword_mentions": [
                {"keyword": "refund", "segment": n, "start": line["start"], "end": line["end"]}
                for n, line in enumerate(lines)
                if "refund" in line["text"]
            ],
            "sentiment": "neutral",
        },
        "waveform": waveform_peaks(track),
    }


# ---------------------------------------------------------------- images


def region(label, box, confidence):
    x0, y0, x1, y1 = box
    return {
        "label": label,
        "x": round(x0 / IMAGE_W, 4),
        "y": round(y0 / IMAGE_H, 4),
        "w": round((x1 - x0) / IMAGE_W, 4),
        "h": round((y1 - y0) / IMAGE_H, 4),
        "confidence": confidence,
    }


def make_street_scene(out_dir):
    image = Image.new("RGB", (IMAGE_W, IMAGE_H), (150, 200, 240))
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 380, IMAGE_W, IMAGE_H], fill=(90, 90, 95))  # road
    draw.rectangle([0, 360, IMAGE_W, 400], fill=(190, 190, 185))  # pavement
    for x in range(0, IMAGE_W, 160):
        draw.rectangle([x + 20, 560, x + 100, 572], fill=(245, 245, 245))
    for x, h, color in [
        (40, 220, (200, 170, 140)),
        (260, 300, (170, 130, 120)),
        (900, 260, (180, 180, 200)),
    ]:
        draw.rectangle([x, 360 - h, x + 200, 360], fill=color)
        for wy in range(380 - h, 340, 50):
            for wx in range(x + 20, x + 190, 50):
                draw.rectangle([wx, wy, wx + 26, wy + 30], fill=(240, 240, 200))

    car = (480, 430, 900, 640)
    draw.rounded_rectangle([480, 520, 900, 610], radius=20, fill=(200, 30, 40))
    draw.polygon([(560, 520), (620, 440), (780, 440), (840, 520)], fill=(200, 30, 40))
    draw.polygon([(632, 452), (770, 452), (816, 514), (588, 514)], fill=(170, 210, 240))
    for wx in (570, 810):
        draw.ellipse([wx - 45, 550, wx + 45, 640], fill=(30, 30, 30))
        draw.ellipse([wx - 20, 575, wx + 20, 615], fill=(160, 160, 160))

    person = (1080, 250, 1160, 470)
    draw.ellipse([1095, 250, 1145, 300], fill=(240, 200, 160))
    draw.rounded_rectangle([1085, 305, 1155, 400], radius=15, fill=(40, 120, 60))
    draw.rectangle([1092, 400, 1115, 470], fill=(40, 40, 90))
    draw.rectangle([1125, 400, 1148, 470], fill=(40, 40, 90))

    sign = (180, 150, 420, 380)
    draw.rectangle([293, 250, 307, 380], fill=(110, 110, 110))
    draw.rounded_rectangle(
        [180, 150, 420, 250], radius=10, fill=(20, 110, 60), outline=(255, 255, 255), width=4
    )
    draw.text((300, 200), "MAIN ST", font=font(44, bold=True), fill=(255, 255, 255), anchor="mm")

    light = (700, 130, 760, 360)
    draw.rectangle([722, 270, 738, 360], fill=(60, 60, 60))
    draw.rounded_rectangle([700, 130, 760, 270], radius=10, fill=(30, 30, 30))
    for n, color in enumerate([(90, 20, 20), (90, 80, 20), (40, 230, 80)]):
        draw.ellipse([712, 140 + n * 42, 748, 176 + n * 42], fill=color)

    path = out_dir / "street_scene.png"
    image.save(path, optimize=True)
    regions = [
        region("car", car, 0.94),
        region("person", person, 0.89),
        region("street sign", sign, 0.81),
        region("traffic light", light, 0.42),
    ]
    return path, {
        "media_type": "image",
        "mime_type": "image/png",
        "width": IMAGE_W,
        "height": IMAGE_H,
        "analysis_type": "image",
        "job_type": "object_detection",
        "model_used": "demo-detector-v1",
        "confidence_score": 0.77,
        "summary": "A street with a red car, a pedestrian, a green 'MAIN ST' sign and a traffic light.",
        "extracted_text": "MAIN ST",
        "result_data": {
            "regions": regions,
            "ocr": [{"text": "MAIN ST", **region("text", (200, 170, 400, 230), 0.9)}],
        },
    }


def make_office_desk(out_dir):
    image = Image.new("RGB", (IMAGE_W, IMAGE_H), (235, 228, 215))
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 300, IMAGE_W, IMAGE_H], fill=(150, 105, 70))  # desk
    for y in range(320, IMAGE_H, 40):
        draw.line([0, y, IMAGE_W, y + 6], fill=(135, 95, 62), width=2)

    laptop = (380, 120, 860, 560)
    draw.rounded_rectangle([420, 120, 820, 420], radius=12, fill=(50, 50, 55))
    draw.rectangle([436, 136, 804, 404], fill=(60, 120, 200))
    draw.text((620, 270), "Dashboard", font=font(36, bold=True), fill=(255, 255, 255), anchor="mm")
    draw.polygon([(380, 560), (860, 560), (820, 420), (420, 420)], fill=(170, 170, 175))

    mug = (940, 380, 1080, 540)
    draw.rounded_rectangle([940, 400, 1050, 540], radius=12, fill=(230, 230, 230))
    draw.ellipse([1030, 430, 1080, 490], outline=(230, 230, 230), width=12)
    draw.ellipse([940, 380, 1050, 420], fill=(90, 50, 30))

    phone = (150, 470, 260, 660)
    draw.rounded_rectangle([150, 470, 260, 660], radius=14, fill=(25, 25, 30))
    draw.rectangle([160, 490, 250, 640], fill=(90, 160, 110))

    note = (120, 180, 320, 360)
    draw.polygon([(120, 180), (320, 180), (320, 360), (120, 360)], fill=(255, 235, 90))
    draw.text((220, 240), "Refund", font=font(32, bold=True), fill=(40, 40, 40), anchor="mm")
    draw.text((220, 290), "#4271", font=font(32, bold=True), fill=(200, 30, 30), anchor="mm")

    path = out_dir / "office_desk.jpg"
    image.save(path, quality=85, optimize=True)
    regions = [
        region("laptop", laptop, 0.96),
        region("cup", mug, 0.88),
        region("cell phone", phone, 0.71),
        region("sticky note", note, 0.42),
    ]
    return path, {
        "media_type": "image",
        "mime_type": "image/jpeg",
        "width": IMAGE_W,
        "height": IMAGE_H,
        "analysis_type": "image",
        "job_type": "object_detection",
        "model_used": "demo-detector-v1",
        "confidence_score": 0.74,
        "summary": "A desk with an open laptop, a coffee mug, a phone and a sticky note reading 'Refund #4271'.",
        "extracted_text": "Dashboard\nRefund\n#4271",
        "result_data": {"regions": regions},
    }


# ---------------------------------------------------------------- documents

LINE_ITEMS = [
    ("AC-100", "Wireless headphones", 1, 89.00),
    ("AC-220", "USB-C charging cable", 2, 12.50),
    ("AC-305", "Carrying case", 1, 19.90),
    ("AC-410", "Extended warranty (2 years)", 1, 29.00),
    ("AC-500", "Express shipping", 1, 9.60),
]
TAX_RATE = 0.08
REFUND_POLICY = (
    "Items may be returned within 30 days of delivery for a full refund. "
    "Items that arrive damaged are refunded in full, including shipping, without being "
    "returned. Refunds are paid to the original payment method within 3 to 5 business days. "
    "Extended warranties are refundable only before the product's first repair claim."
)


class InvoicePDF(FPDF):
    @staticmethod
    def footer_text(page):
        return f"ACME Corporation - Invoice INV-2024-0427 - Page {page} of 3"

    def footer(self):
        self.set_y(-15)
        self.set_font("Helvetica", size=9)
        self.set_text_color(120, 120, 120)
        self.cell(0, 10, self.footer_text(self.page_no()), align="C")


def make_invoice(out_dir):
    pdf = InvoicePDF(format="A4")
    pdf.set_creation_date(datetime.datetime(2024, 4, 27, 12, 0, tzinfo=datetime.UTC))
    pdf.set_title("Invoice INV-2024-0427")
    pdf.set_author("ACME Corporation")
    pdf.set_creator("scripts/make_demo_media.py")
    pdf.set_producer("fpdf2")
    pdf.set_auto_page_break(False)
    pdf.set_margins(15, 15)
    pages = []

    # Page 1: header and parties.
    pdf.add_page()
    pdf.set_fill_color(24, 38, 84)
    pdf.rect(0, 0, 210, 40, style="F")
    pdf.set_text_color(255, 255, 255)
    pdf.set_font("Helvetica", "B", 28)
    pdf.set_xy(15, 12)
    pdf.cell(0, 12, "ACME Corporation")
    pdf.set_text_color(0, 0, 0)
    lines = [
        ("B", 22, "INVOICE"),
        ("", 12, "Invoice number: INV-2024-0427"),
        ("", 12, "Invoice date: 27 April 2024"),
        ("", 12, "Order number: ACME-4271"),
        ("B", 13, "From"),
        ("", 12, "ACME Corporation, 1 Demo Road, Springfield"),
        ("B", 13, "Bill to"),
        ("", 12, "Jordan Example, 42 Sample Street, Shelbyville"),
    ]
    pdf.set_xy(15, 55)
    for style, size, text in lines:
        pdf.set_font("Helvetica", style, size)
        pdf.cell(0, 10 if size > 12 else 8, text, new_x="LMARGIN", new_y="NEXT")
    pages.append(
        {
            "page": 1,
            "label": "header",
            "text": "ACME Corporation\n" + "\n".join(text for _, _, text in lines),
            "confidence": 0.98,
        }
    )

    # Page 2: line items.
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 18)
    pdf.set_xy(15, 20)
    pdf.cell(0, 10, "Line items", new_x="LMARGIN", new_y="NEXT")
    widths = (30, 85, 20, 45)
    header = ("SKU", "Description", "Qty", "Amount (USD)")
    pdf.set_font("Helvetica", "B", 12)
    pdf.set_fill_color(220, 225, 240)
    for width, text in zip(widths, header, strict=True):
        pdf.cell(width, 10, text, border=1, fill=True)
    pdf.ln()
    pdf.set_font("Helvetica", size=12)
    rows = []
    for sku, description, qty, price in LINE_ITEMS:
        row = (sku, description, str(qty), f"{qty * price:.2f}")
        rows.append(row)
        for width, text in zip(widths, row, strict=True):
            pdf.cell(width, 10, text, border=1, align="R" if text == row[3] else "L")
        pdf.ln()
    page2_text = "Line items\n" + " ".join(header) + "\n" + "\n".join(" ".join(r) for r in rows)
    pages.append({"page": 2, "label": "line items", "text": page2_text, "confidence": 0.9})

    # Page 3: totals and refund policy.
    subtotal = sum(qty * price for _, _, qty, price in LINE_ITEMS)
    tax = round(subtotal * TAX_RATE, 2)
    totals = [
        ("Subtotal", f"{subtotal:.2f}"),
        (f"Tax ({TAX_RATE:.0%})", f"{tax:.2f}"),
        ("Total due (USD)", f"{subtotal + tax:.2f}"),
    ]
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 18)
    pdf.set_xy(15, 20)
    pdf.cell(0, 10, "Totals", new_x="LMARGIN", new_y="NEXT")
    for name, value in totals:
        pdf.set_font("Helvetica", "B" if name.startswith("Total") else "", 13)
        pdf.cell(120, 9, name)
        pdf.cell(40, 9, value, align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(10)
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 10, "Refund policy", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(180, 6, REFUND_POLICY)
    totals_text = "Totals\n" + "\n".join(f"{n} {v}" for n, v in totals)
    pages.append({"page": 3, "label": "totals", "text": totals_text, "confidence": 0.93})
    pages.append({"page": 3, "label": "refund policy", "text": REFUND_POLICY, "confidence": 0.42})

    path = out_dir / "invoice.pdf"
    pdf.output(str(path))
    page_texts = [
        pages[0]["text"],
        pages[1]["text"],
        totals_text + "\nRefund policy\n" + REFUND_POLICY,
    ]
    page_texts = [f"{text}\n{InvoicePDF.footer_text(n + 1)}" for n, text in enumerate(page_texts)]
    return path, {
        "media_type": "document",
        "mime_type": "application/pdf",
        "page_count": 3,
        "analysis_type": "document",
        "job_type": "document_extraction",
        "model_used": "demo-doc-extractor-v1",
        "confidence_score": 0.88,
        "extracted_text": "\n\n".join(page_texts),
        "segments": pages,
        "summary": (
            f"Invoice INV-2024-0427 from ACME Corporation for order ACME-4271: {len(LINE_ITEMS)} "
            f"line items, total due {subtotal + tax:.2f} USD. Damaged items are refunded in full."
        ),
        "result_data": {
            "vendor": "ACME Corporation",
            "invoice_number": "INV-2024-0427",
            "invoice_date": "2024-04-27",
            "currency": "USD",
            "subtotal": round(subtotal, 2),
            "tax": tax,
            "total": round(subtotal + tax, 2),
        },
    }


MEETING_NOTES = """\
Support team weekly review - 29 April 2024

Attendees: Dana (support lead), Priya (quality), Marco (logistics), Jordan (product).

Refunds rose by twelve percent compared with last week. Most of the increase comes from \
headphones that arrived damaged in transit, such as order ACME-4271. Marco will ask the \
carrier for photos of the packaging and compare two box suppliers.

The new review dashboard is now used for every call transcript. Reviewers said the \
click-to-seek segments save time, but low-confidence segments (below 0.5) should be shown \
more clearly. Priya will collect ten examples where the model was wrong.

Jordan reminded everyone that the refund policy allows full refunds for damaged items \
without a return. Agents should say this early in the call to keep calls short.

Actions: Marco - carrier photos by Friday. Priya - ten wrong-model examples. Dana - update \
the call script with the refund sentence.
"""


def make_notes(out_dir):
    path = out_dir / "meeting_notes.txt"
    path.write_text(MEETING_NOTES, encoding="utf-8")
    paragraphs = [p for p in MEETING_NOTES.split("\n\n") if p.strip()]
    labels = ["title", "attendees", "refunds", "dashboard", "policy", "actions"]
    return path, {
        "media_type": "document",
        "mime_type": "text/plain",
        "analysis_type": "document",
        "job_type": "document_extraction",
        "model_used": "demo-doc-extractor-v1",
        "confidence_score": 0.97,
        "extracted_text": MEETING_NOTES,
        "segments": [
            {"paragraph": n + 1, "label": label, "text": text.strip(), "confidence": 0.97}
            for n, (label, text) in enumerate(zip(labels, paragraphs, strict=True))
        ],
        "summary": (
            "Weekly support review: refunds up 12% because of damaged headphones; the review "
            "dashboard is in use; three actions were assigned."
        ),
        "result_data": {"action_items": 3, "topics": ["refunds", "shipping damage", "dashboard"]},
    }


# ---------------------------------------------------------------- main


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    out_dir = parser.parse_args().out
    out_dir.mkdir(parents=True, exist_ok=True)

    entries = []
    video_path, video = make_video(out_dir)
    sheet_path, sheet_times = make_contact_sheet(video_path, out_dir)
    video.update(
        extraction_method="uniform",
        frames_extracted=len(sheet_times),
        contact_sheet=sheet_path.name,
        contact_sheet_timestamps=sheet_times,
    )
    entries.append((video_path, video))
    entries.append(make_audio(out_dir))
    entries.append(make_street_scene(out_dir))
    entries.append(make_office_desk(out_dir))
    entries.append(make_invoice(out_dir))
    entries.append(make_notes(out_dir))

    # Every entry starts with the same keys (None where they do not apply), then the rest.
    common = ("media_type", "mime_type", "duration_seconds", "frame_count")
    common += ("extraction_method", "contact_sheet")
    files = []
    for path, entry in entries:
        head = {"filename": path.name} | {key: entry.pop(key, None) for key in common}
        files.append(head | file_facts(path) | entry)
    manifest = {
        "generated_by": "scripts/make_demo_media.py",
        "licence": "CC0-1.0 (generated content, public domain dedication)",
        "contact_sheets": [
            {"filename": sheet_path.name, "mime_type": "image/jpeg", **file_facts(sheet_path)}
        ],
        "files": files,
    }
    (out_dir / "manifest.json").write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    for path in sorted(out_dir.iterdir()):
        print(f"{path.stat().st_size:>9}  {path.name}")


if __name__ == "__main__":
    main()
