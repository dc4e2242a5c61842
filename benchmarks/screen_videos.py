"""Test videos for the screen-text stage, made from real text nobody here wrote, with ground truth.

Every screen shows XQuAD paragraphs (Wikipedia via SQuAD v1.1, CC BY-SA 4.0; the attribution is
in each slide's footer), drawn with PIL in DejaVu Sans, Serif and Mono (Debian
``fonts-dejavu-core``) at several sizes, dark on light and light on dark; the narration, spoken by
espeak-ng, is a *different* XQuAD paragraph (an article 24 places away), so a question whose
answer is on a slide can only be answered by reading the screen. Video is encoded with PyAV
(h264 or VP9) and muxed with the narration. For each video a JSON file holds the ground truth:

- ``elements``: every block of text drawn (title, body, footer, menu, console line...), its
  exact lines, font, pixel size, polarity, box and the seconds it is fully visible;
- ``slides``: the screens, with their start and end;
- ``questions``: XQuAD questions whose answer is in a slide's text and not in the narration;
- ``narration``: what is said.

The videos (`VIDEOS`): a slide lecture (10 slides of 17-23 s, one held 120 s; x264 defaults),
the same at 1080p30 with a 2 s GOP (as OBS or YouTube encode), a Spanish lecture at 1080p, a
German one in VP9, caption cards changing every 2-4 s (some fading in), an editor-like screen
recording (small UI text, a console that scrolls, a mouse cursor that never stops), an 8K
lecture (memory), and a lecture whose narration reads its own slides (for the transcriber's
hints). `test_clips` writes the small clips the unit tests use (tests/data).

    python benchmarks/screen_videos.py --out benchmarks/.cache/screen_videos [--only NAME ...]
    python benchmarks/screen_videos.py --test-clips tests/data
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import tempfile
import wave
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont

XQUAD_DIR = Path(os.environ.get("XQUAD_DIR", "/work/shared/data/xquad"))
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONTS = {
    "sans": "DejaVuSans.ttf", "sans-bold": "DejaVuSans-Bold.ttf", "serif": "DejaVuSerif.ttf",
    "serif-bold": "DejaVuSerif-Bold.ttf", "mono": "DejaVuSansMono.ttf", "mono-bold": "DejaVuSansMono-Bold.ttf",
}  # fmt: skip
DARK_ON_LIGHT = ((248, 248, 244), (24, 24, 28))
LIGHT_ON_DARK = ((22, 26, 38), (236, 236, 230))
#: Bumped whenever a video or its ground truth would change (`VIDEO_VERSIONS`: one video's own).
VERSION = 2
#: lecture_en_said.mp4 3: only the first sentence of a slide is said where two do not fit (v2 cut
#: 7 of 10 narrations at the slide's end, so its reference held words never said).
VIDEO_VERSIONS = {"lecture_en_said.mp4": 3}
ATTRIBUTION = (
    "Slide text: XQuAD (deepmind/xquad; Artetxe, Ruder & Yogatama 2019), from SQuAD v1.1 and Wikipedia, "
    "CC BY-SA 4.0. Narration: other XQuAD paragraphs spoken by espeak-ng. Rendered by mediarag's "
    "benchmarks/screen_videos.py; the videos are CC BY-SA 4.0 too."
)

Color = tuple[int, int, int]


@dataclass
class Element:
    """One block of text drawn on screen, exactly as drawn."""

    id: str
    kind: str  # title | body | footer | menu | sidebar | console | editor | status | caption | name
    lines: list[str]
    font: str
    size_px: int
    polarity: str
    box: tuple[int, int, int, int]
    start: float = 0.0
    end: float = 0.0
    slide: str = ""


@dataclass
class Slide:
    id: str
    start: float
    end: float
    element_ids: list[str]
    paragraph: str = ""
    shown_text: str = ""


@dataclass
class Truth:
    video: str
    width: int
    height: int
    fps: float
    duration: float
    codec: str
    language: str
    narration: dict = field(default_factory=dict)
    elements: list[Element] = field(default_factory=list)
    slides: list[Slide] = field(default_factory=list)
    questions: list[dict] = field(default_factory=list)
    notes: str = ""
    attribution: str = ATTRIBUTION
    version: int = VERSION


# --------------------------------------------------------------------------- text


def load_xquad(language: str) -> list[dict]:
    """XQuAD's articles in one language: ``[{"title", "paragraphs": [{"context", "qas"}]}]``."""
    with open(XQUAD_DIR / f"xquad.{language}.json", encoding="utf-8") as handle:
        return json.load(handle)["data"]


def sentences(text: str) -> list[str]:
    """A paragraph's sentences, split at '. ', '? ', '! ' (enough for Wikipedia prose)."""
    out, current = [], []
    for token in text.split(" "):
        current.append(token)
        if token.endswith((".", "?", "!")) and len(token) > 2 and not token[-2].isupper():
            out.append(" ".join(current))
            current = []
    if current:
        out.append(" ".join(current))
    return out


def font(name: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_DIR / FONTS[name]), size)


def wrap(text: str, face: ImageFont.FreeTypeFont, max_width: int) -> list[str]:
    """Greedy word wrap: no line wider than ``max_width`` pixels."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        trial = f"{current} {word}".strip()
        if face.getlength(trial) <= max_width or not current:
            current = trial
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    return lines


def fit_paragraph(text: str, face: ImageFont.FreeTypeFont, max_width: int, max_lines: int) -> list[str]:
    """As many whole sentences of ``text`` as fit in ``max_lines`` wrapped lines (at least one)."""
    best: list[str] = []
    shown = ""
    for sentence in sentences(text):
        shown = f"{shown} {sentence}".strip()
        lines = wrap(shown, face, max_width)
        if len(lines) > max_lines:
            break
        best = lines
    return best or wrap(text, face, max_width)[:max_lines]


def only_on_screen(qas: list[dict], shown: str, narration: str) -> list[dict]:
    """Questions whose answer is in the shown text and not in the narration (ignoring case)."""
    out = []
    for qa in qas:
        answer = qa["answers"][0]["text"].strip()
        if len(answer) >= 2 and answer.lower() in shown.lower() and answer.lower() not in narration.lower():
            out.append({"id": qa["id"], "question": qa["question"], "answer": answer})
    return out


# --------------------------------------------------------------------------- drawing


class Canvas:
    """A PIL image and the elements drawn on it."""

    def __init__(self, width: int, height: int, background: Color) -> None:
        self.image = Image.new("RGB", (width, height), background)
        self.draw = ImageDraw.Draw(self.image)
        self.elements: list[Element] = []

    def rect(self, box: tuple[int, int, int, int], fill: Color) -> None:
        self.draw.rectangle(box, fill=fill)

    def text_block(self, eid: str, kind: str, lines: Sequence[str], face_name: str, size: int,
                   xy: tuple[int, int], fill: Color, background: Color, line_gap: float = 1.35) -> Element:  # fmt: skip
        """Draw ``lines`` with their top-left at ``xy``; record them as one element."""
        face = font(face_name, size)
        x, y = xy
        x1, y1 = x, y
        for i, line in enumerate(lines):
            top = y + round(i * size * line_gap)
            self.draw.text((x, top), line, font=face, fill=fill)
            box = self.draw.textbbox((x, top), line, font=face)
            x1, y1 = max(x1, box[2]), max(y1, box[3])
        polarity = "dark-on-light" if sum(background) > sum(fill) else "light-on-dark"
        element = Element(eid, kind, list(lines), face_name, size, polarity, (x, y, x1, y1))
        self.elements.append(element)
        return element

    def array(self) -> np.ndarray:
        return np.asarray(self.image)


def draw_cursor(image: np.ndarray, x: int, y: int) -> np.ndarray:
    """A copy of ``image`` with a 12x19 px arrow cursor (white, black outline) at (x, y)."""
    picture = Image.fromarray(image)
    points = [(x, y), (x, y + 17), (x + 4, y + 13), (x + 7, y + 19), (x + 9, y + 18), (x + 6, y + 12), (x + 12, y + 12)]
    ImageDraw.Draw(picture).polygon(points, fill=(255, 255, 255), outline=(0, 0, 0))
    return np.asarray(picture)


# --------------------------------------------------------------------------- audio and encoding


def espeak(text: str, voice: str, wpm: int = 165) -> np.ndarray:
    """``text`` spoken by espeak-ng: 16 kHz mono float32 samples."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(wpm), "-w", str(path), "--stdin"],
                       input=text.encode("utf-8"), check=True, capture_output=True)  # fmt: skip
        with wave.open(str(path)) as w:
            rate, data = w.getframerate(), w.readframes(w.getnframes())
    pcm = np.frombuffer(data, "<i2").astype(np.float32) / 32768.0
    if rate != 16000:
        n = int(len(pcm) * 16000 / rate)
        pcm = np.interp(np.linspace(0, len(pcm) - 1, n), np.arange(len(pcm)), pcm).astype(np.float32)
    return pcm


def narration(paragraphs: Sequence[str], voice: str, duration: float) -> tuple[np.ndarray, str]:
    """Paragraphs spoken one after another, 0.8 s apart, as many whole ones as fit in
    ``duration`` (then silence), so that the text returned is what is said; only a first
    paragraph longer than ``duration`` is cut."""
    parts: list[np.ndarray] = []
    said: list[str] = []
    total, need, gap = 0, int(duration * 16000), np.zeros(int(0.8 * 16000), np.float32)
    for paragraph in paragraphs:
        pcm = espeak(paragraph, voice)
        if said and total + len(pcm) > need:
            break
        parts += [pcm, gap]
        said.append(paragraph)
        total += len(pcm) + len(gap)
    audio = np.concatenate(parts) if parts else np.zeros(need, np.float32)
    return np.pad(audio, (0, max(0, need - len(audio))))[:need], " ".join(said)


@dataclass
class Timeline:
    """What is on screen: (start, end, frame function of t) pieces, in order."""

    pieces: list[tuple[float, float, Callable[[float], np.ndarray]]] = field(default_factory=list)

    def add(self, start: float, end: float, frame_at: Callable[[float], np.ndarray]) -> None:
        self.pieces.append((start, end, frame_at))

    @property
    def duration(self) -> float:
        return self.pieces[-1][1] if self.pieces else 0.0

    def frame(self, t: float) -> np.ndarray:
        for start, end, frame_at in self.pieces:
            if start <= t < end:
                return frame_at(t)
        return self.pieces[-1][2](t)


def encode(path: Path, timeline: Timeline, fps: float, codec: str, audio: np.ndarray | None,
           options: dict[str, str] | None = None, size: tuple[int, int] | None = None) -> None:  # fmt: skip
    """Encode the timeline (and 16 kHz mono ``audio``) with PyAV, interleaved."""
    with av.open(str(path), "w") as out:
        video = out.add_stream(codec, rate=round(fps))
        first = timeline.frame(0.0)
        video.width, video.height = size or (first.shape[1], first.shape[0])
        video.pix_fmt = "yuv420p"
        video.options = options or {}
        sound = None
        frames: list[av.AudioFrame] = []
        if audio is not None:
            sound = out.add_stream("aac" if path.suffix == ".mp4" else "libopus", rate=16000 if path.suffix == ".mp4" else 48000)
            sound.layout = "mono"
            frames = _audio_frames(audio, sound.format.name, sound.rate)
        done = 0
        for i in range(int(round(timeline.duration * fps))):
            frame = av.VideoFrame.from_ndarray(timeline.frame(i / fps), format="rgb24")
            if frame.width != video.width:
                frame = frame.reformat(width=video.width, height=video.height)
            frame.pts = i
            for packet in video.encode(frame):
                out.mux(packet)
            while sound is not None and done < len(frames) and frames[done].pts / frames[done].sample_rate <= (i + 1) / fps:
                for packet in sound.encode(frames[done]):
                    out.mux(packet)
                done += 1
        for packet in video.encode():
            out.mux(packet)
        if sound is not None:
            for frame in frames[done:]:
                for packet in sound.encode(frame):
                    out.mux(packet)
            for packet in sound.encode():
                out.mux(packet)


def _audio_frames(audio: np.ndarray, fmt: str, rate: int, chunk: int = 16000) -> list[av.AudioFrame]:
    resampler = av.AudioResampler(format=fmt, layout="mono", rate=rate, frame_size=1024 if rate == 16000 else 960)
    pcm = (np.clip(audio, -1, 1) * 32767).astype(np.int16)
    frames: list[av.AudioFrame] = []
    for a in range(0, len(pcm), chunk):
        frame = av.AudioFrame.from_ndarray(pcm[None, a : a + chunk], format="s16", layout="mono")
        frame.sample_rate, frame.pts = 16000, a
        frames += resampler.resample(frame)
    frames += resampler.resample(None)
    pts = 0
    for frame in frames:
        frame.pts = pts
        pts += frame.samples
    return frames


# --------------------------------------------------------------------------- slide lectures


@dataclass
class SlideStyle:
    title_font: str
    title_px: int
    body_font: str
    body_px: int
    colors: tuple[Color, Color]


def slide_styles(scale: float = 1.0) -> list[SlideStyle]:
    """Fonts, sizes (titles 48-64 px, body 24-36 px at 720p) and polarities, in rotation."""
    base = [
        ("sans-bold", 64, "sans", 32, DARK_ON_LIGHT), ("serif-bold", 56, "serif", 28, LIGHT_ON_DARK),
        ("sans-bold", 48, "mono", 24, DARK_ON_LIGHT), ("serif-bold", 60, "sans", 36, LIGHT_ON_DARK),
        ("sans-bold", 52, "serif", 26, DARK_ON_LIGHT), ("mono-bold", 48, "mono", 28, LIGHT_ON_DARK),
        ("serif-bold", 64, "serif", 34, DARK_ON_LIGHT), ("sans-bold", 56, "sans", 24, LIGHT_ON_DARK),
    ]  # fmt: skip
    return [SlideStyle(tf, round(tp * scale), bf, round(bp * scale), c) for tf, tp, bf, bp, c in base]


def render_slide(sid: str, title: str, paragraph: str, footer: str, style: SlideStyle,
                 width: int, height: int) -> tuple[np.ndarray, list[Element]]:  # fmt: skip
    """A slide: title, the paragraph's sentences that fit, a small footer."""
    s = width / 1280
    background, ink = style.colors
    canvas = Canvas(width, height, background)
    margin, top = round(64 * s), round(40 * s)
    accent = (200, 70, 40) if background == DARK_ON_LIGHT[0] else (240, 180, 60)
    title_px = style.title_px
    while title_px > 24 and font(style.title_font, title_px).getlength(title) > width - 2 * margin:
        title_px -= 2  # a long title is drawn smaller, never off the slide
    canvas.text_block(f"{sid}.title", "title", [title], style.title_font, title_px, (margin, top), ink, background)
    rule = top + round(style.title_px * 1.25)
    canvas.rect((margin, rule, width - margin, rule + max(2, round(4 * s))), accent)
    body_top = top + round(style.title_px * 1.6)
    max_lines = max(1, int((height - body_top - round(60 * s)) / (style.body_px * 1.35)))
    lines = fit_paragraph(paragraph, font(style.body_font, style.body_px), width - 2 * margin, max_lines)
    canvas.text_block(f"{sid}.body", "body", lines, style.body_font, style.body_px, (margin, body_top), ink, background)
    canvas.text_block(f"{sid}.footer", "footer", [footer], "sans", round(14 * s), (margin, height - round(34 * s)), ink, background)
    for element in canvas.elements:
        element.slide = sid
    return canvas.array(), canvas.elements


def build_lecture(name: str, language: str, voice: str, durations: Sequence[float], width: int = 1280,
                  height: int = 720, fps: float = 5, codec: str = "libx264", first_article: int = 0,
                  narrate_slides: bool = False, first_paragraph: int = 0) -> tuple[Timeline, Truth, np.ndarray]:  # fmt: skip
    """One XQuAD paragraph per slide (article ``first_article + i``, paragraph
    ``first_paragraph + i``), hard cuts; the narration is other articles' paragraphs, or
    (``narrate_slides``) the first two sentences of each slide, said while it is shown."""
    articles = load_xquad(language)
    styles = slide_styles(width / 1280)
    timeline = Timeline()
    truth = Truth(name, width, height, fps, float(sum(durations)), codec, language)
    t = 0.0
    paragraphs = []
    for i, seconds in enumerate(durations):
        article = articles[(first_article + i) % len(articles)]
        paragraph = article["paragraphs"][(first_paragraph + i) % 5]
        sid = f"s{i + 1:02d}"
        title = article["title"].replace("_", " ")
        footer = f"Wikipedia: {title} · XQuAD (CC BY-SA 4.0) · slide {i + 1}/{len(durations)}"
        image, elements = render_slide(sid, title, paragraph["context"], footer, styles[i % len(styles)], width, height)
        for element in elements:
            element.start, element.end = t, t + seconds
        truth.elements += elements
        shown = " ".join(" ".join(e.lines) for e in elements)
        where = f"{article['title']}/{(first_paragraph + i) % 5}"
        truth.slides.append(Slide(sid, t, t + seconds, [e.id for e in elements], where, shown))
        timeline.add(t, t + seconds, lambda _t, im=image: im)
        paragraphs.append(paragraph)
        t += seconds
    if narrate_slides:
        audio, said = _slide_narration(truth, voice)
    else:
        others = [articles[(first_article + 24 + k) % len(articles)]["paragraphs"][k % 5]["context"] for k in range(20)]
        audio, said = narration(others, voice, truth.duration)
    truth.narration = {"language": language, "voice": voice, "text": said}
    for slide, paragraph in zip(truth.slides, paragraphs):
        for q in only_on_screen(paragraph["qas"], slide.shown_text, said):
            truth.questions.append({**q, "slide": slide.id, "start": slide.start, "end": slide.end})
    return timeline, truth, audio


def _slide_narration(truth: Truth, voice: str) -> tuple[np.ndarray, str]:
    """Each slide's first two body sentences, or only the first where two do not fit, spoken from
    1 s after it appears (cut at its end only where even the first does not fit: ``complete``)."""
    audio = np.zeros(int(truth.duration * 16000), np.float32)
    said = []
    for slide in truth.slides:
        body = next(e for e in truth.elements if e.id == f"{slide.id}.body")
        first = sentences(" ".join(body.lines))
        room = int((slide.end - slide.start - 1.0) * 16000)
        text = " ".join(first[:2])
        pcm = espeak(text, voice)
        if len(pcm) > room and len(first) > 1:
            text = first[0]
            pcm = espeak(text, voice)
        a = int((slide.start + 1.0) * 16000)
        b = min(len(audio), a + len(pcm), int(slide.end * 16000))
        audio[a:b] = pcm[: b - a]
        said.append({"slide": slide.id, "start": slide.start + 1.0, "end": b / 16000, "text": text,
                     "complete": a + len(pcm) <= b})  # fmt: skip
    truth.notes = "narration: each slide's first two sentences, from 1 s after it appears"
    return audio, json.dumps(said, ensure_ascii=False)


# --------------------------------------------------------------------------- caption cards


def build_captions(name: str, duration: float = 60.0, fps: float = 10, seed: int = 7) -> tuple[Timeline, Truth, np.ndarray]:
    """Caption cards that change every 2-4 s (every third fades in over 0.4 s), with a
    lower-third "Answer: ..." strip: a screen that changes every few seconds."""
    rng = random.Random(seed)
    articles = load_xquad("en")
    width, height = 1280, 720
    timeline = Timeline()
    truth = Truth(name, width, height, fps, duration, "libvpx-vp9", "en")
    pool = [qa for a in articles[10:30] for p in a["paragraphs"] for qa in p["qas"]]
    sizes, faces = [32, 40, 48, 36, 44], ["sans", "serif", "sans-bold", "mono", "serif-bold"]
    t, k = 0.0, 0
    while t < duration - 2.0:
        seconds = min(round(rng.uniform(2.0, 4.0) * fps) / fps, duration - t)
        qa = pool[(k * 7) % len(pool)]
        background, ink = (DARK_ON_LIGHT, LIGHT_ON_DARK)[k % 2]
        sid = f"c{k + 1:02d}"
        canvas = Canvas(width, height, background)
        size, face = sizes[k % len(sizes)], faces[k % len(faces)]
        lines = wrap(qa["question"], font(face, size), width - 160)
        canvas.text_block(f"{sid}.caption", "caption", lines, face, size, (80, 200), ink, background)
        strip = (40, 60, 120) if k % 2 == 0 else (250, 200, 60)
        canvas.rect((0, 560, width, 640), strip)
        strip_ink = (255, 255, 255) if k % 2 == 0 else (20, 20, 20)
        canvas.text_block(f"{sid}.name", "name", [f"Answer: {qa['answers'][0]['text']}"], "sans-bold", 28, (80, 582), strip_ink, strip)
        image = canvas.array()
        fade = 0.4 if k % 3 == 2 else 0.0
        before = timeline.pieces[-1][2](t) if timeline.pieces else np.zeros_like(image)
        for element in canvas.elements:
            element.start, element.end, element.slide = t + fade, t + seconds, sid
        truth.elements += canvas.elements
        truth.slides.append(Slide(sid, t, t + seconds, [e.id for e in canvas.elements], "",
                                  " ".join(" ".join(e.lines) for e in canvas.elements)))  # fmt: skip
        timeline.add(t, t + seconds, _fader(before, image, t, fade))
        t += seconds
        k += 1
    truth.duration = t
    audio, said = narration([articles[40 + j]["paragraphs"][0]["context"] for j in range(3)], "en-us", t)
    truth.narration = {"language": "en", "voice": "en-us", "text": said}
    truth.notes = "every third card fades in over 0.4 s (its elements start after the fade)"
    return timeline, truth, audio


def _fader(before: np.ndarray, after: np.ndarray, t0: float, fade: float) -> Callable[[float], np.ndarray]:
    def at(t: float) -> np.ndarray:
        if fade <= 0 or t >= t0 + fade:
            return after
        a = (t - t0) / fade
        return (before * (1 - a) + after * a).astype(np.uint8)

    return at


# --------------------------------------------------------------------------- screen recording


def build_screen(name: str, duration: float = 180.0, fps: float = 10, seed: int = 3) -> tuple[Timeline, Truth, np.ndarray]:
    """An editor and console recording: 14 px menu bar, 12-13 px sidebar, a 16 px mono document
    (another every 30 s), a 15 px console gaining a command with an ``s3://`` bucket every 6 s
    (6 lines visible, scrolling), a 12 px status bar, and a mouse cursor that never stops."""
    rng = random.Random(seed)
    articles = load_xquad("en")
    width, height = 1280, 720
    truth = Truth(name, width, height, fps, duration, "libx264", "en")
    menu_bg, side_bg, edit_bg, console_bg = (236, 236, 236), (246, 246, 248), (30, 30, 36), (12, 12, 12)
    docs = [articles[30 + j] for j in range(6)]
    files = [d["title"].lower() + ".md" for d in docs]
    buckets = [f"s3://xquad-{re.sub('[^a-z0-9]+', '-', d['title'].lower())[:18].strip('-')}-{2020 + j}" for j, d in enumerate(docs)]
    commands = []
    for j, doc in enumerate(docs):
        commands += [f"$ aws s3 cp {files[j]} {buckets[j]}/notes/", f"upload: ./{files[j]} to {buckets[j]}/notes/{files[j]}",
                     f"$ aws s3 ls {buckets[j]}/notes/ --human-readable", f"$ grep -c '{doc['title'].split('_')[0]}' {files[j]}",
                     f"{rng.randint(3, 40)}"]  # fmt: skip
    cache: dict[tuple[int, int], tuple[np.ndarray, list[Element]]] = {}

    def screen(doc_i: int, shown_n: int) -> tuple[np.ndarray, list[Element]]:
        if (doc_i, shown_n) in cache:
            return cache[(doc_i, shown_n)]
        canvas = Canvas(width, height, edit_bg)
        canvas.rect((0, 0, width, 28), menu_bg)
        canvas.text_block("menu", "menu", ["File   Edit   Selection   View   Go   Run   Terminal   Help"], "sans", 14, (12, 6), (30, 30, 30), menu_bg)
        canvas.rect((0, 28, 240, height - 24), side_bg)
        canvas.text_block("side.head", "sidebar", ["EXPLORER: XQUAD-NOTES"], "sans-bold", 12, (14, 40), (40, 40, 48), side_bg)
        canvas.text_block("side.files", "sidebar", files, "sans", 13, (24, 66), (40, 40, 48), side_bg, line_gap=1.7)
        canvas.text_block("tab", "editor", [files[doc_i]], "sans", 13, (256, 36), (220, 220, 210), edit_bg)
        text = docs[doc_i]["paragraphs"][doc_i % 5]["context"]
        lines = fit_paragraph(text, font("mono", 16), width - 240 - 48, 11)
        canvas.text_block(f"doc{doc_i}", "editor", lines, "mono", 16, (256, 64), (220, 220, 210), edit_bg, line_gap=1.45)
        canvas.rect((240, 450, width, height - 24), console_bg)
        canvas.text_block("cons.head", "console", ["TERMINAL"], "sans-bold", 12, (256, 456), (160, 160, 160), console_bg)
        first = max(0, shown_n - 6)
        for li, line in enumerate(commands[first:shown_n]):
            canvas.text_block(f"cmd{first + li}", "console", [line], "mono", 15, (256, 478 + li * 26), (190, 235, 190), console_bg)
        canvas.rect((0, height - 24, width, height), (0, 110, 200))
        canvas.text_block("status", "status", [f"Ln {doc_i * 7 + 1}, Col 1   UTF-8   Markdown   main"], "sans", 12, (12, height - 19), (255, 255, 255), (0, 110, 200))
        cache[(doc_i, shown_n)] = (canvas.array(), canvas.elements)
        return cache[(doc_i, shown_n)]

    timeline = Timeline()
    open_elements: dict[str, Element] = {}
    step, t = 6.0, 0.0
    while t < duration:
        doc_i, shown_n = min(int(t // 30), len(docs) - 1), int(t // step) + 1
        image, elements = screen(doc_i, shown_n)
        end = min(t + step, duration)
        view = f"v{int(t // step):02d}"
        for element in elements:
            key = f"{element.id}|{' '.join(element.lines)}"  # a console line that scrolls up stays one interval
            if key in open_elements and abs(open_elements[key].end - t) < 1e-6:
                open_elements[key].end = end
            else:
                copy = Element(**{**asdict(element), "start": t, "end": end, "box": tuple(element.box), "slide": view})
                open_elements[key] = copy
                truth.elements.append(copy)
        truth.slides.append(Slide(view, t, end, [e.id for e in elements], f"{docs[doc_i]['title']}/{doc_i % 5}",
                                  " ".join(" ".join(e.lines) for e in elements)))  # fmt: skip
        path = [(rng.randint(260, 1200), rng.randint(60, 700)) for _ in range(2)]
        timeline.add(t, end, _cursor_mover(image, path, t, end))
        t = end
    audio, said = narration([articles[44 + j]["paragraphs"][1]["context"] for j in range(4)], "en-us", duration)
    truth.narration = {"language": "en", "voice": "en-us", "text": said}
    for slide in truth.slides[:: int(30 // step)]:
        doc = next(d for d in docs if d["title"] == slide.paragraph.split("/")[0])
        paragraph = doc["paragraphs"][int(slide.paragraph.split("/")[1])]
        for q in only_on_screen(paragraph["qas"], slide.shown_text, said):
            truth.questions.append({**q, "slide": slide.id, "start": slide.start, "end": min(duration, slide.start + 30)})
    truth.notes = "a cursor moves all the time; console lines scroll (6 visible); the document changes every 30 s"
    return timeline, truth, audio


def _cursor_mover(image: np.ndarray, path: list[tuple[int, int]], t0: float, t1: float) -> Callable[[float], np.ndarray]:
    def at(t: float) -> np.ndarray:
        a = (t - t0) / max(1e-6, t1 - t0)
        (xa, ya), (xb, yb) = path
        return draw_cursor(image, int(xa + (xb - xa) * a), int(ya + (yb - ya) * a))

    return at


# --------------------------------------------------------------------------- building


def scale_truth(truth: Truth, name: str, width: int, height: int, fps: float, codec: str) -> Truth:
    """The same screens encoded at another size: boxes and sizes scaled."""
    s = width / truth.width
    scaled = Truth(**{**asdict(truth), "elements": [], "slides": list(truth.slides)})
    scaled.video, scaled.width, scaled.height, scaled.fps, scaled.codec = name, width, height, fps, codec
    for element in truth.elements:
        copy = Element(**asdict(element))
        copy.box = tuple(round(v * s) for v in element.box)  # type: ignore[assignment]
        copy.size_px = round(element.size_px * s)
        scaled.elements.append(copy)
    return scaled


def write_truth(out: Path, truth: Truth) -> None:
    (out / f"{Path(truth.video).stem}.json").write_text(json.dumps(asdict(truth), ensure_ascii=False, indent=1), encoding="utf-8")


X264 = {"crf": "23", "preset": "medium"}
VP9 = {"crf": "32", "b": "0", "deadline": "realtime", "cpu-used": "8"}
LECTURE_SECONDS = [20, 18, 22, 120, 20, 17, 23, 19, 21, 20]
#: The benchmark's videos, in the order they are built.
VIDEOS = ("lecture_en.mp4", "lecture_en_1080p30.mp4", "lecture_es_1080.mp4", "lecture_de.webm", "captions_en.webm",
          "screen_en.mp4", "lecture_en_8k.mp4", "lecture_en_said.mp4", "lecture_en_other.mp4")  # fmt: skip


def build_video(name: str, out: Path) -> None:
    """Write one of `VIDEOS` and its ground truth into ``out``."""
    if name in ("lecture_en.mp4", "lecture_en_1080p30.mp4"):
        timeline, truth, audio = build_lecture("lecture_en.mp4", "en", "en-us", LECTURE_SECONDS)
        if name == "lecture_en.mp4":
            truth.notes = "x264 defaults (keyint 250, scenecut on); slide s04 is held 120 s"
            encode(out / name, timeline, 5, "libx264", audio, X264)
        else:
            truth = scale_truth(truth, name, 1920, 1080, 30, "libx264")
            truth.notes = "lecture_en upscaled to 1920x1080, 30 fps, keyint 60 (2 s), preset veryfast"
            gop = {"crf": "23", "preset": "veryfast", "g": "60", "keyint_min": "60"}
            encode(out / name, timeline, 30, "libx264", audio, gop, (1920, 1080))
    elif name == "lecture_es_1080.mp4":
        timeline, truth, audio = build_lecture(name, "es", "es", [20, 22, 18, 20, 20], 1920, 1080, 5, first_article=3)
        encode(out / name, timeline, 5, "libx264", audio, X264)
    elif name == "lecture_de.webm":
        timeline, truth, audio = build_lecture(name, "de", "de", [20, 22, 18, 20, 20], codec="libvpx-vp9", first_article=8)
        encode(out / name, timeline, 5, "libvpx-vp9", audio, VP9)
    elif name == "captions_en.webm":
        timeline, truth, audio = build_captions(name)
        encode(out / name, timeline, 10, "libvpx-vp9", audio, VP9)
    elif name == "screen_en.mp4":
        timeline, truth, audio = build_screen(name)
        encode(out / name, timeline, 10, "libx264", audio, X264)
    elif name == "lecture_en_8k.mp4":
        timeline, truth, audio = build_lecture(name, "en", "en-us", [6, 6], 7680, 4320, 2, first_article=15)
        truth.notes = "8K memory test: 2 slides, 2 fps"
        encode(out / name, timeline, 2, "libx264", audio, {"crf": "28", "preset": "ultrafast"})
    elif name == "lecture_en_said.mp4":
        seconds = [18, 16, 18, 16, 17, 18, 16, 17, 18, 16]
        timeline, truth, audio = build_lecture(name, "en", "en-us", seconds, narrate_slides=True, first_paragraph=1)
        encode(out / name, timeline, 5, "libx264", audio, X264)
    elif name == "lecture_en_other.mp4":  # articles the spoken XQuAD corpus does not read (24-47)
        timeline, truth, audio = build_lecture(name, "en", "en-us", [8] * 24, first_article=24)
        encode(out / name, timeline, 5, "libx264", audio, X264)
    else:
        raise ValueError(f"unknown screen video {name!r}; known: {', '.join(VIDEOS)}")
    truth.version = VIDEO_VERSIONS.get(name, VERSION)
    write_truth(out, truth)


def build(out: Path, only: Sequence[str] | None = None) -> list[Path]:
    """Build the videos (``only`` these names) under ``out`` unless already built at this
    `VERSION`; the paths of their videos."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in VIDEOS:
        if only and name not in only:
            continue
        video, truth = out / name, out / f"{Path(name).stem}.json"
        if not (video.is_file() and truth.is_file() and json.loads(truth.read_text()).get("version") == VIDEO_VERSIONS.get(name, VERSION)):
            build_video(name, out)
        paths.append(video)
    return paths


def test_clips(out: Path) -> None:
    """The small clips of tests/data, with their ground truth: ``slides_en.mp4`` (three 6 s
    slides narrated with another paragraph), ``said_en.mp4`` (one slide whose first sentences
    are said over it) and ``slides_8k.mp4`` (two 8K frames of one slide, one second of silence)."""
    small = {"crf": "30", "preset": "medium"}
    timeline, truth, audio = build_lecture("slides_en.mp4", "en", "en-us", [6, 6, 6], first_article=1)
    encode(out / truth.video, timeline, 5, "libx264", audio, small)
    write_truth(out, truth)
    timeline, truth, audio = build_lecture("said_en.mp4", "en", "en-us", [17], first_article=1, narrate_slides=True, first_paragraph=1)
    encode(out / truth.video, timeline, 5, "libx264", audio, small)
    write_truth(out, truth)
    timeline, truth, _ = build_lecture("slides_8k.mp4", "en", "en-us", [1.0], 7680, 4320, 2, first_article=5)
    truth.narration = {"language": "en", "voice": None, "text": ""}
    encode(out / truth.video, timeline, 2, "libx264", np.zeros(16000, np.float32), {"crf": "35", "preset": "ultrafast"})
    write_truth(out, truth)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/.cache/screen_videos"))
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--test-clips", type=Path, help="write the unit tests' clips into this folder instead")
    args = parser.parse_args()
    if args.test_clips:
        test_clips(args.test_clips)
    else:
        for path in build(args.out, args.only):
            print(path)


if __name__ == "__main__":
    main()
