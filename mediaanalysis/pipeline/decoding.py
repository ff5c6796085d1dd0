"""What PyAV (FFmpeg's libraries, bundled in its wheel) tells of a media file: a probe of its
streams, and the waveform peaks of its audio."""

import math
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

# Peaks: the audio is cut into blocks of 10 ms; each block keeps its largest and smallest
# sample; the blocks are then grouped into between MIN_PEAKS and MAX_PEAKS buckets (about ten
# a second), each the sample of greatest magnitude, sign kept, as wavesurfer.js's own
# exportPeaks() makes them. One hour decodes to 360,000 blocks (3 MB), not 690 MB of samples.
BLOCKS_PER_SECOND = 100
MIN_PEAKS, MAX_PEAKS, PEAKS_PER_SECOND = 2000, 8000, 10
PRECISION = 4  # decimals, like wavesurfer's default
CHUNK_SECONDS = 2  # samples gathered before numpy works on them: fewer, larger calls


class NoAudio(Exception):
    """The media has no audio stream."""


class Undecodable(Exception):
    """FFmpeg could not read the media."""


def open_media(source: str, timeout: float = 20):
    """Open a path or URL; FFmpeg's errors become Undecodable."""
    try:
        return av.open(source, timeout=timeout)
    except (av.FFmpegError, OSError, ValueError, UnicodeError) as error:
        raise Undecodable(describe(error)) from error


def describe(error: Exception) -> str:
    message = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return message.split("; last error log")[0][:300]


def probe(source: str) -> dict:
    """Duration (s), frame count, codecs and picture size of a media file."""
    with open_media(source) as container:
        try:
            video = next(iter(container.streams.video), None)
            audio = next(iter(container.streams.audio), None)
            duration = container.duration / av.time_base if container.duration else None
            frames = None
            if video is not None:
                # Containers such as WebM do not record a count: count the packets (no decoding).
                frames = video.frames or sum(1 for p in container.demux(video) if p.size)
            return {
                "duration": duration,
                "frame_count": frames,
                "video_codec": video.codec_context.name if video else None,
                "audio_codec": audio.codec_context.name if audio else None,
                "width": video.codec_context.width if video else None,
                "height": video.codec_context.height if video else None,
                "has_audio": audio is not None,
            }
        except (av.FFmpegError, OSError, ValueError) as error:
            raise Undecodable(describe(error)) from error


def peak_count(duration: float, blocks: int) -> int:
    return min(blocks, max(MIN_PEAKS, min(MAX_PEAKS, math.ceil(duration * PEAKS_PER_SECOND))))


def decode_peaks(source: str) -> dict:
    """The waveform of the first audio stream, mixed down to mono.

    Returns {"duration", "peaks": [[...]], "length", "sample_rate"} (sample_rate: peaks per
    second), the shape wavesurfer.js 7 takes as its `peaks` and `duration` options.
    Raises NoAudio or Undecodable.
    """
    with open_media(source) as container:
        stream = next(iter(container.streams.audio), None)
        if stream is None:
            raise NoAudio
        rate = stream.rate or stream.codec_context.sample_rate
        if not rate:
            raise Undecodable("the audio stream has no sample rate")
        block = max(1, rate // BLOCKS_PER_SECOND)
        # Planar float, mono, at the stream's own rate: FFmpeg's resampler mixes the channels.
        resampler = av.AudioResampler(format="fltp", layout="mono", rate=rate)
        highs, lows, pending, pending_size, total = [], [], [], 0, 0
        chunk = block * BLOCKS_PER_SECOND * CHUNK_SECONDS

        def take(samples: np.ndarray) -> np.ndarray:
            """Fold whole blocks into highs and lows; return what is left over."""
            whole = len(samples) - len(samples) % block
            if whole:
                blocks = samples[:whole].reshape(-1, block)
                highs.append(blocks.max(axis=1))
                lows.append(blocks.min(axis=1))
            return samples[whole:]

        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    pending.append(out.to_ndarray()[0])
                    pending_size += out.samples
                if pending_size >= chunk:
                    samples = np.concatenate(pending)
                    total += len(samples)
                    rest = take(samples)
                    pending, pending_size = [rest], len(rest)
                    total -= len(rest)
            for out in resampler.resample(None):
                pending.append(out.to_ndarray()[0])
        except (av.FFmpegError, OSError, ValueError) as error:
            raise Undecodable(describe(error)) from error
        samples = np.concatenate(pending) if pending else np.zeros(0, np.float32)
        total += len(samples)
        rest = take(samples)
        if len(rest):
            highs.append(rest.max(keepdims=True))
            lows.append(rest.min(keepdims=True))
    high = np.concatenate(highs) if highs else np.zeros(0, np.float32)
    low = np.concatenate(lows) if lows else np.zeros(0, np.float32)
    duration = total / rate
    length = peak_count(duration, len(high))
    if length:
        edges = np.linspace(0, len(high), length + 1).astype(np.int64)[:-1]
        high, low = np.maximum.reduceat(high, edges), np.minimum.reduceat(low, edges)
    peaks = np.clip(np.where(high >= -low, high, low), -1, 1).astype(np.float64).round(PRECISION)
    return {
        "duration": round(duration, 3),
        "peaks": [peaks.tolist()],
        "length": length,
        "sample_rate": round(length / duration, 3) if duration else None,
    }


def make_test_audio(path, minutes: int, rate: int = 48000) -> None:
    """Ogg/Opus audio `minutes` long, for benchmarks: one minute of a tone that steps in
    loudness every second, under a little noise, encoded once and muxed `minutes` times
    (encoding a whole hour would take longer than decoding it)."""
    minute = f"{path}.minute.ogg"
    with av.open(minute, "w") as out:
        stream = out.add_stream("libopus", rate=rate, layout="mono")
        stream.bit_rate = 24000
        noise = np.random.default_rng(7)
        for second in range(60):
            t = (np.arange(rate) + second * rate) / rate
            level = 0.2 + 0.6 * (second % 10) / 10
            samples = level * np.sin(2 * np.pi * 220 * t) + 0.03 * noise.standard_normal(rate)
            frame = av.AudioFrame.from_ndarray(
                samples.astype(np.float32).reshape(1, -1), format="flt", layout="mono"
            )
            frame.sample_rate, frame.pts, frame.time_base = rate, second * rate, Fraction(1, rate)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    with av.open(minute) as source, av.open(str(path), "w") as out:
        template = source.streams.audio[0]
        stream = out.add_stream_from_template(template)
        step = round(60 / template.time_base)
        for lap in range(minutes):
            source.seek(0)
            for packet in source.demux(template):
                if packet.dts is None:
                    continue
                packet.pts += lap * step
                packet.dts += lap * step
                packet.stream = stream
                out.mux(packet)
    Path(minute).unlink()
