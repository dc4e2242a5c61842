#!/usr/bin/env python
"""Names and numbers: many short spoken entries that differ only in a name, a date, a quantity or
a code, and questions that name one of them.

    python benchmarks/names_numbers.py [--out benchmarks/results] [--seed 14]

The set (built under benchmarks/.cache/names_numbers/ on first use, from a fixed seed):

- five kinds of record (maintenance, shipping, lab, hotel, flight), 24 entries each; an entry is
  one sentence with a surname (names speech recognition tends to misspell: Lindqvist,
  Halvorsen, Nakamura...), a date, a quantity and a code, e.g. "On March 3, 2021, technician
  Lindqvist serviced pump KX-4471 at a pressure of 27 bar.";
- every entry spoken by espeak-ng, in one of six voices (American, British, Scottish, received
  pronunciation, Caribbean English, a female variant), as its own short clip (``clips/``), and
  the 24 entries of the first two kinds joined into one log file each, 1.5 s between entries
  (``logs/``);
- four questions per entry, each naming exactly one of its fields and asking for another: "At
  what pressure did technician Lindqvist service the pump?", "Who serviced pump KX-4471?",
  "Which pump was serviced on March 3, 2021?", "Who serviced a pump at 27 bar?" (480 questions).

Everything is ingested with `MediaQA` and default settings, so transcription is Whisper base via
the real pipeline and the names are misheard as they would be. The transcripts are kept in
benchmarks/transcripts/names_numbers.json.gz (keyed by the audio's SHA-256); with them, a re-run
transcribes nothing.

Measured, for dense, keyword (with and without fuzzy matching) and hybrid retrieval:

- clips: hit@1 / hit@5 (the right clip), with bootstrap intervals, per kind of question;
- logs: hit@1 where the top citation overlaps the right entry, and the strict form where at least
  half of the cited span lies inside the right entry (a citation spanning the log does not count);
  and how long the top citation is.
- misheard names: how each name was transcribed, and which fuzzy matches the keyword index finds.

Writes ``<out>/names_numbers.md`` and ``<out>/names_numbers.json``.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MEDIARAG_PROGRESS", "0")

import argparse  # noqa: E402
import gzip  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import wave  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

CACHE = HERE / ".cache" / "names_numbers"
SHIPPED = HERE / "transcripts" / "names_numbers.json.gz"
VOICES = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-us+f3")
RATE = 175
GAP_SECONDS = 1.5
PER_KIND = 24
#: The kinds whose entries are also joined into one log file.
LOG_KINDS = ("maintenance", "shipping")
BOOTSTRAP = 2000
_START = time.perf_counter()

NAMES = (
    "Lindqvist", "Halvorsen", "Petrov", "Nakamura", "Okonkwo", "Szymanski", "Bjornstad", "Kowalczyk",
    "Oyelaran", "Vasquez", "Dubois", "Rautenberg", "Hakkinen", "Yilmaz", "Papadopoulos", "Mahlangu",
    "Ferreira", "Castellanos", "Sorensen", "Abramowicz", "Nguyen", "Tanaka", "Ivanova", "Kaczmarek",
    "Gallagher", "Thorsen", "Eriksson", "Moreau", "Lindgren", "Kuznetsov", "Achterberg", "Quintero",
    "Ramaswamy", "Oyelowo", "Haugland", "Wojcik", "Delacroix", "Fitzgerald", "Baptiste", "Mbeki",
)  # fmt: skip
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")  # fmt: skip

#: kind -> (entry template, questions keyed by the field they name: (question, field it asks for)).
KINDS: dict[str, tuple[str, dict[str, str]]] = {
    "maintenance": (
        "On {date}, technician {name} serviced pump {code} at a pressure of {qty} bar.",
        {"name": "At what pressure did technician {name} service the pump?", "code": "Who serviced pump {code}?",
         "date": "Which pump was serviced on {date}?", "qty": "Who serviced a pump at {qty} bar?"},
    ),
    "shipping": (
        "Container {code} left on {date} with {qty} pallets, signed by {name}.",
        {"name": "Which container did {name} sign?", "code": "How many pallets were in container {code}?",
         "date": "Which container left on {date}?", "qty": "Who signed for the container with {qty} pallets?"},
    ),
    "lab": (
        "Sample {code}, analysed by doctor {name} on {date}, held {qty} milligrams of iron.",
        {"name": "Which sample did doctor {name} analyse?", "code": "How much iron did sample {code} contain?",
         "date": "Who analysed a sample on {date}?", "qty": "Which sample held {qty} milligrams of iron?"},
    ),
    "hotel": (
        "Guest {name} checked into room {code} on {date} and paid {qty} euros.",
        {"name": "Which room did guest {name} check into?", "code": "Who checked into room {code}?",
         "date": "How much did the guest who arrived on {date} pay?", "qty": "Which guest paid {qty} euros?"},
    ),
    "flight": (
        "Captain {name} flew aircraft {code} on {date} with {qty} passengers.",
        {"name": "Which aircraft did captain {name} fly?", "code": "How many passengers did aircraft {code} carry?",
         "date": "Which captain flew on {date}?", "qty": "Which aircraft carried {qty} passengers?"},
    ),
}  # fmt: skip


def log(message: str) -> None:
    print(f"[{time.perf_counter() - _START:7.1f}s] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Entry:
    kind: str
    index: int
    name: str
    date: str
    qty: str
    code: str
    voice: str
    text: str

    @property
    def clip(self) -> str:
        return f"{self.kind}-{self.index:02d}"


@dataclass(frozen=True)
class Question:
    entry: str  # Entry.clip
    kind: str
    keyed_by: str
    text: str


def make_entries(seed: int) -> list[Entry]:
    rng = random.Random(seed)
    entries = []
    for k, (kind, (template, _)) in enumerate(KINDS.items()):
        names = rng.sample(NAMES, PER_KIND)
        days = rng.sample([(m, d) for m in range(12) for d in range(1, 29)], PER_KIND)
        qtys = rng.sample(range(12, 990), PER_KIND)
        letters = "ABCDEFGHJKLMNPRSTVWXZ"
        codes = [f"{rng.choice(letters)}{rng.choice(letters)}-{rng.randint(100, 9999)}" for _ in range(PER_KIND)]
        for i in range(PER_KIND):
            m, d = days[i]
            date = f"{MONTHS[m]} {d}, {rng.choice((2019, 2020, 2021, 2022, 2023))}"
            fields = {"name": names[i], "date": date, "qty": str(qtys[i]), "code": codes[i]}
            voice = VOICES[(i + k) % len(VOICES)]
            entries.append(Entry(kind, i, voice=voice, text=template.format(**fields), **fields))
    return entries


def make_questions(entries: Sequence[Entry]) -> list[Question]:
    out = []
    for e in entries:
        for field_name, template in KINDS[e.kind][1].items():
            out.append(Question(e.clip, e.kind, field_name, template.format(**asdict(e))))
    return out


# ---------------------------------------------------------------------------------------------
# Audio
# ---------------------------------------------------------------------------------------------


def speak(text: str, voice: str, path: Path) -> None:
    with tempfile.NamedTemporaryFile(suffix=".wav") as tmp:
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(RATE), "-w", tmp.name, text], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        with wave.open(tmp.name) as w:
            rate, samples = w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), np.int16)
    write_wav(path, resample(samples, rate))


def resample(samples: np.ndarray, rate: int, target: int = 16_000) -> np.ndarray:
    if rate == target:
        return samples
    n = int(round(len(samples) * target / rate))
    x = np.interp(np.linspace(0, len(samples) - 1, n), np.arange(len(samples)), samples.astype(np.float32))
    return x.astype(np.int16)


def write_wav(path: Path, samples: np.ndarray, rate: int = 16_000) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.wav")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype(np.int16).tobytes())
    os.replace(tmp, path)


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), np.int16)


def build_audio(entries: Sequence[Entry]) -> dict[str, tuple[float, float]]:
    """Clips and logs on disk; returns each entry's span in its kind's log (seconds)."""
    spans: dict[str, tuple[float, float]] = {}
    for e in entries:
        path = CACHE / "clips" / f"{e.clip}.wav"
        if not path.is_file():
            speak(e.text, e.voice, path)
    gap = np.zeros(int(GAP_SECONDS * 16_000), np.int16)
    for kind in LOG_KINDS:
        parts, t = [gap], GAP_SECONDS
        for e in (x for x in entries if x.kind == kind):
            clip = read_wav(CACHE / "clips" / f"{e.clip}.wav")
            spans[e.clip] = (t, t + len(clip) / 16_000)
            parts += [clip, gap]
            t += len(clip) / 16_000 + GAP_SECONDS
        path = CACHE / "logs" / f"{kind}-log.wav"
        if not path.is_file():
            write_wav(path, np.concatenate(parts))
    return spans


# ---------------------------------------------------------------------------------------------
# Ingest, with shipped transcripts
# ---------------------------------------------------------------------------------------------


class ShippedTranscriber:
    """The default transcriber, except for audio whose transcript ships with the benchmark."""

    def __init__(self, inner: Any, shipped: dict[str, dict]) -> None:
        self.inner = inner
        self.shipped = shipped
        self.new: dict[str, dict] = {}

    def warm_up(self) -> None:
        pass

    def check_language(self, language: str | None) -> None:
        self.inner.check_language(language)

    def transcribe(self, audio: Any, **kwargs: Any) -> Any:
        from mediarag.schema import Transcript

        key = hashlib.sha256(np.ascontiguousarray(audio.samples).tobytes()).hexdigest()
        if key in self.shipped:
            return Transcript.model_validate(self.shipped[key])
        self.inner.warm_up()
        transcript = self.inner.transcribe(audio, **kwargs)
        self.new[key] = json.loads(transcript.model_dump_json())
        return transcript


def ingest(mode_root: Path) -> Any:
    """The MediaQA over every clip and log (ingested once; the index is kept in the cache)."""
    from mediarag import MediaQA, Settings
    from mediarag.transcribe import make_transcriber

    shipped = {}
    if SHIPPED.is_file():
        with gzip.open(SHIPPED, "rt", encoding="utf-8") as handle:
            shipped = json.load(handle)
    settings = Settings(index_dir=mode_root)
    transcriber = ShippedTranscriber(make_transcriber(settings.transcription), shipped)
    qa = MediaQA(settings=settings, transcriber=transcriber)
    paths = sorted((CACHE / "clips").glob("*.wav")) + sorted((CACHE / "logs").glob("*.wav"))
    log(f"ingesting {len(paths)} files ({len(shipped)} transcripts shipped)")
    report = qa.ingest(paths)
    if report.failed:
        raise SystemExit(f"ingest failed: {report.failed}")
    if transcriber.new:
        SHIPPED.parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(SHIPPED, "wt", encoding="utf-8") as handle:
            json.dump({**shipped, **transcriber.new}, handle, sort_keys=True)
        log(f"{len(transcriber.new)} new transcripts written to {SHIPPED}")
    return qa


# ---------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------


def bootstrap(values: np.ndarray) -> list[float]:
    rng = np.random.default_rng(0)
    means = values[rng.integers(0, len(values), size=(BOOTSTRAP, len(values)))].mean(axis=1)
    return [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))]


def evaluate(qa: Any, questions: Sequence[Question], spans: dict[str, tuple[float, float]]) -> dict[str, Any]:
    from mediarag.retrieve.hybrid import HybridRetriever
    from mediarag.store import FaissStore
    from mediarag.store.keywords import FuzzyMatch

    store: FaissStore = qa.store
    clips = {Path(s).stem: s for s in store.sources() if "/clips/" in s}
    logs = {Path(s).stem.removesuffix("-log"): s for s in store.sources() if "/logs/" in s}
    # Two indexes: the clips alone, the logs alone (the same entries; questions go to each).
    views = {"clips": [s for s in store.sources() if s not in clips.values()],
             "logs": [s for s in store.sources() if s not in logs.values()]}  # fmt: skip
    modes = {
        "dense": dict(mode="dense"),
        "keyword (exact)": dict(mode="keyword", fuzzy=FuzzyMatch(min_similarity=1.01)),
        "keyword": dict(mode="keyword"),
        "hybrid (exact)": dict(mode="hybrid", fuzzy=FuzzyMatch(min_similarity=1.01)),
        **{f"hybrid (fuzzy {t:g})": dict(mode="hybrid", fuzzy=FuzzyMatch(min_similarity=t)) for t in (0.7, 0.75, 0.85, 0.9)},
        "hybrid": dict(mode="hybrid"),
    }
    out: dict[str, Any] = {}
    for view, hidden in views.items():
        for source in hidden:
            store.delete_source(source)
        asked = questions if view == "clips" else [q for q in questions if q.kind in LOG_KINDS]
        vectors = qa.embedder.embed_queries([q.text for q in asked])
        per_mode = {}
        for mode, options in modes.items():
            retriever = HybridRetriever(store, qa.embedder, candidates=50, **{k: v for k, v in options.items() if k != "mode"},
                                        mode="keyword" if options["mode"] == "keyword" else "hybrid")  # fmt: skip
            hit1, hit5, strict, length, refused = [], [], [], [], []
            by_key: dict[str, list[float]] = {}
            for q, vec in zip(asked, vectors):
                if options["mode"] == "dense":
                    ranking = [h.chunk for h in store.search(vec, k=5)]
                else:
                    dense = [] if retriever.mode == "keyword" else store.search(vec, k=retriever.candidates)
                    keyword = store.keyword_search(q.text, retriever.candidates, fuzzy=retriever.fuzzy)
                    evidence = retriever.combine(dense, keyword, store.keyword_index().missing(q.text))
                    ranking = [c.chunk for c in evidence.candidates[:5]]
                    refused.append(float(not retriever.answers(evidence)))
                kind = q.entry.split("-")[0]
                if view == "clips":
                    right = [c.source == clips[q.entry] for c in ranking]
                    tight = right[:1]
                else:
                    lo, hi = spans[q.entry]
                    right = [c.source == logs[kind] and min(c.end, hi) > max(c.start, lo) for c in ranking]
                    tight = [bool(right and right[0]) and
                             (min(ranking[0].end, hi) - max(ranking[0].start, lo)) >= 0.5 * (ranking[0].end - ranking[0].start)]
                    length.append(ranking[0].end - ranking[0].start if ranking else 0.0)
                hit1.append(float(bool(right) and right[0]))
                hit5.append(float(any(right)))
                strict.append(float(bool(tight) and tight[0]))
                by_key.setdefault(q.keyed_by, []).append(strict[-1])
            h1, h5, st = np.array(hit1), np.array(hit5), np.array(strict)
            per_mode[mode] = {
                "hit@1": float(h1.mean()), "hit@1_ci": bootstrap(h1), "hit@5": float(h5.mean()), "hit@5_ci": bootstrap(h5),
                "strict@1": float(st.mean()), "strict@1_ci": bootstrap(st),
                "by_field": {k: float(np.mean(v)) for k, v in by_key.items()},
                "citation_seconds": float(np.mean(length)) if length else None,
                "refused": float(np.mean(refused)) if refused else None,
                "_strict": strict,
            }  # fmt: skip
        for mode in per_mode:
            a, b = np.array(per_mode[mode].pop("_strict")), None
            per_mode[mode]["_vector"] = a
        dense = per_mode["dense"]["_vector"]
        for mode in per_mode:
            a = per_mode[mode].pop("_vector")
            rng = np.random.default_rng(0)
            idx = rng.integers(0, len(a), size=(BOOTSTRAP, len(a)))
            d = (a[idx] - dense[idx]).mean(axis=1)
            per_mode[mode]["minus_dense"] = [float(a.mean() - dense.mean()), float(np.percentile(d, 2.5)), float(np.percentile(d, 97.5))]
        out[view] = per_mode
        store.rollback()
    return out


def misheard(qa: Any, entries: Sequence[Entry]) -> list[dict[str, Any]]:
    """How each clip's name came out of Whisper, and whether fuzzy matching reaches it: the
    clip's own term closest to the typed name, and its similarity (1 - edits / length)."""
    from rapidfuzz.distance import Levenshtein

    from mediarag.store.keywords import FuzzyMatch
    from mediarag.text.analysis import analyze

    store = qa.store
    clips = {Path(s).stem: s for s in store.sources() if "/clips/" in s}
    cutoff = FuzzyMatch().min_similarity
    rows = []
    for e in entries:
        text = " ".join(c.text for c in store.chunks(clips[e.clip]))
        term = analyze(e.name, "en")[0]
        own = set(analyze(text, "en"))
        best = max(own, key=lambda t: Levenshtein.normalized_similarity(term, t), default="")
        similarity = Levenshtein.normalized_similarity(term, best) if best else 0.0
        rows.append({"clip": e.clip, "name": e.name, "voice": e.voice, "heard_exactly": term in own, "transcript": text,
                     "closest": best, "similarity": similarity, "fuzzy_reaches": term not in own and similarity >= cutoff})  # fmt: skip
    return rows


def report(data: dict[str, Any], command: str) -> str:
    lines = ["# Names and numbers", "", f"Command: `{command}`  ", f"Date: {time.strftime('%Y-%m-%dT%H:%M:%S%z')}", "",
             f"{data['entries']} entries ({len(KINDS)} kinds x {PER_KIND}), {data['questions']} questions (each names one "
             "field of one entry: its surname, date, quantity or code). Spoken by espeak-ng in "
             f"{len(VOICES)} voices ({', '.join(VOICES)}), transcribed by Whisper base through `MediaQA.ingest` "
             "(default settings). Clips: one entry per file, a hit is the right file. Logs (" + ", ".join(LOG_KINDS)
             + "): the 24 entries of a kind "
             f"in one file ({GAP_SECONDS} s apart), a hit is a top citation overlapping the right entry; "
             "'strict' also needs at least half of the cited span inside that entry.", ""]  # fmt: skip
    for view in ("clips", "logs"):
        lines += [f"### {view}", "", "| mode | hit@1 [95 % CI] | hit@5 | strict hit@1 [95 % CI] | strict - dense | "
                  "by field (strict): name / date / qty / code | top citation s | refused |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for mode, r in data["results"][view].items():
            f = r["by_field"]
            d, lo, hi = r["minus_dense"]
            sec = f"{r['citation_seconds']:.1f}" if r["citation_seconds"] is not None else "-"
            lines.append(
                f"| {mode} | {r['hit@1']:.3f} [{r['hit@1_ci'][0]:.3f}, {r['hit@1_ci'][1]:.3f}] | {r['hit@5']:.3f} | "
                f"{r['strict@1']:.3f} [{r['strict@1_ci'][0]:.3f}, {r['strict@1_ci'][1]:.3f}] | {d:+.3f} [{lo:+.3f}, {hi:+.3f}] | "
                f"{f.get('name', 0):.2f} / {f.get('date', 0):.2f} / {f.get('qty', 0):.2f} / {f.get('code', 0):.2f} | {sec} | "
                + (f"{r['refused']:.3f} |" if r["refused"] is not None else "- |")
            )
        lines.append("")
    names = data["misheard"]
    wrong = [r for r in names if not r["heard_exactly"]]
    found = [r for r in wrong if r["fuzzy_reaches"]]
    empty = [r for r in names if not r["transcript"].strip()]
    lines += ["### Misheard names", "",
              f"{len(names) - len(wrong)} of {len(names)} clip names are in their clip's transcript as typed; of the "
              f"{len(wrong)} others, fuzzy matching (similarity >= 0.8) reaches the misheard form for {len(found)}; "
              f"{len(empty)} clips have no transcript at all (Whisper returned nothing). Examples:", "",
              "| name | voice | closest term in the clip (similarity) | fuzzy reaches it | transcript |",
              "|---|---|---|---|---|"]  # fmt: skip
    for r in wrong[:30]:
        lines.append(f"| {r['name']} | {r['voice']} | {r['closest'] or '-'} ({r['similarity']:.2f}) | "
                     f"{'yes' if r['fuzzy_reaches'] else 'no'} | {r['transcript'][:100]} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args(argv)
    entries = make_entries(args.seed)
    questions = make_questions(entries)
    log(f"{len(entries)} entries, {len(questions)} questions; synthesizing what is missing")
    spans = build_audio(entries)
    qa = ingest(CACHE / "index")
    data = {"entries": len(entries), "questions": len(questions), "results": evaluate(qa, questions, spans),
            "misheard": misheard(qa, entries)}  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "names_numbers.json").write_text(json.dumps(data, indent=1))
    command = "python benchmarks/names_numbers.py " + " ".join(argv if argv is not None else sys.argv[1:])
    (args.out / "names_numbers.md").write_text(report(data, command.strip()))
    log(f"wrote {args.out / 'names_numbers.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
