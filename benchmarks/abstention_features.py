#!/usr/bin/env python
"""Would more evidence figures make "I don't know" more reliable? Extra features for the
abstention model of `mediarag.retrieve.hybrid`, on the rankings benchmarks/hybrid.py recorded.

    python benchmarks/abstention_features.py [--asked benchmarks/.cache/hybrid/asked-24.json]
                                             [--out benchmarks/results]

Reads both rankings (dense and keyword, 50 each) of every spoken XQuAD question of the five
set-ups of benchmarks/hybrid.py (en, es, de over speech of their language; English over Spanish
and German speech), asked with its article indexed (answerable) and left out (unanswerable);
run ``python benchmarks/hybrid.py --only quality`` first. The product's features
(`mediarag.retrieve.hybrid.FEATURES`) and each extra one are fed to hybrid.py's logistic model:

- **tune / held-out**: fit on articles 0-11 (threshold: 90 % of the answerable kept, leave one
  article out within them), applied to articles 12-23; and, to compare the features apart from
  where a threshold lands, the share refused on 12-23 at the threshold keeping 90 % there;
- **all, leave one article out** (as hybrid.py reports the product's figure).

Extra features: the margin between the best and second cosine; the same for the relative
keyword score; the cosine of the keyword side's best passage; the keyword rank of the dense best
passage (log); whether the dense best is in the keyword top 5; whether the keyword best is from
the dense best's file. (Two more were tried here and joined the product's features: whether the
question is in another language than the best passage, and the share of the dense top 5 from the
best passage's file.) Then, as an upper bound of what a perfect guess of the question's
language would give (the product guesses it from function words, `mediarag.terms.guess_language`):
whether the question is in another language than the speech, known from the set-up, alone and
with its products with the product's features; and separate models for the monolingual set-ups
and for the cross-language ones, each with its own threshold. 95 % bootstrap intervals.
Writes ``<out>/abstention_features.md``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import hybrid  # noqa: E402

EXTRA = ("dense margin", "keyword margin", "cosine of the keyword best", "keyword rank of the dense best (log)",
         "dense best in keyword top 5", "keyword best from the best's file")  # fmt: skip


def extra_features(a: hybrid.Asked) -> list[float]:
    dense, keyword = [x[3] for x in a.dense], [x[3] for x in a.keyword]
    ids_dense, ids_keyword = a.chunk_ids
    rank = ids_keyword.index(ids_dense[0]) if ids_dense and ids_dense[0] in ids_keyword else 50
    top = a.dense[0][0] if a.dense else None
    return [
        dense[0] - dense[1] if len(dense) > 1 else 0.0,
        keyword[0] - keyword[1] if len(keyword) > 1 else (keyword[0] if keyword else 0.0),
        a.keyword_cosines[0] if a.keyword_cosines else -1.0,
        float(np.log1p(rank)),
        float(rank < 5),
        float(bool(a.keyword) and a.keyword[0][0] == top),
    ]


def cross_validated(x: np.ndarray, y: np.ndarray, art: np.ndarray, articles: range) -> np.ndarray:
    out = np.full(len(y), np.nan)
    pool = np.isin(art, list(articles))
    for a in articles:
        train, test = pool & (art != a), art == a
        out[test] = hybrid.predict(hybrid.fit_logistic(x[train], y[train]), x[test])
    return out


def evaluate(x: np.ndarray, y: np.ndarray, art: np.ndarray, setup: np.ndarray) -> dict:
    tune, held = art < 12, art >= 12
    cv = cross_validated(x, y, art, range(12))
    t = hybrid.threshold_for(cv[tune & (y == 1)], 0.90)
    p = hybrid.predict(hybrid.fit_logistic(x[tune], y[tune]), x[held])
    yh = y[held]
    kept, refused = p[yh == 1] >= t, p[yh == 0] < t
    t_held = hybrid.threshold_for(p[yh == 1], 0.90)
    refused_at_90 = p[yh == 0] < t_held
    loao = cross_validated(x, y, art, range(24))
    t_all = hybrid.threshold_for(loao[y == 1], 0.90)
    refused_all = loao[y == 0] < t_all
    per_setup = {}
    for name in dict.fromkeys(setup):
        m = setup == name
        t_own = hybrid.threshold_for(loao[m & (y == 1)], 0.90)
        per_setup[name] = float((loao[m & (y == 0)] < t_own).mean())
    ci = lambda v: [float(v.mean()), *hybrid.bootstrap(v.astype(float))]  # noqa: E731
    return {"held_kept": ci(kept), "held_refused": ci(refused), "held_refused_at_90": ci(refused_at_90),
            "all_refused": ci(refused_all), "all_kept": float((loao[y == 1] >= t_all).mean()), "own_threshold": per_setup}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--asked", type=Path, default=hybrid.CACHE / "asked-24.json")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args(argv)
    asked, _ = hybrid.load_asked(args.asked)
    rows = [(name, a.article, y, hybrid.features(a), extra_features(a))
            for name, parts in asked.items() for label, y in (("answerable", 1.0), ("unanswerable", 0.0)) for a in parts[label]]  # fmt: skip
    setup = np.array([r[0] for r in rows])
    art = np.array([r[1] for r in rows])
    y = np.array([r[2] for r in rows])
    base = np.array([r[3] for r in rows])
    extra = np.array([r[4] for r in rows])
    runs = {"product features": base}
    runs |= {f"+ {name}": np.hstack([base, extra[:, [i]]]) for i, name in enumerate(EXTRA)}
    runs["+ all six"] = np.hstack([base, extra])
    cross = np.array([[float("->" in name)] for name in setup])
    runs["+ cross-language (oracle)"] = np.hstack([base, cross])
    runs["+ cross-language (oracle), its products with the product's features, all six"] = np.hstack([base, cross, cross * base, extra])
    lines = pooled_table(
        "# Extra evidence for \"I don't know\" (spoken XQuAD, five set-ups pooled)",
        f"`python benchmarks/abstention_features.py` over `{args.asked.name}`", runs, y, art, setup,
    )
    lines += ["", "Separate models (each fit, thresholded and evaluated on its own set-ups only):", "",
              "| set-ups, features | held-out (12-23): kept, tune threshold | refused, tune threshold | refused at 90 % kept on 12-23 | all, leave one article out: refused at 90 % kept |",
              "|---|---|---|---|---|"]  # fmt: skip
    for group, m in (("monolingual (en, es, de)", cross[:, 0] == 0), ("cross-language (en->es, en->de)", cross[:, 0] == 1)):
        for label, x in (("product features", base), ("+ all six", np.hstack([base, extra]))):
            r = evaluate(x[m], y[m], art[m], setup[m])
            lines.append(f"| {group}, {label} | {_cell(r['held_kept'])} | {_cell(r['held_refused'])} | {_cell(r['held_refused_at_90'])} | {_cell(r['all_refused'])} |")
            print(lines[-1], flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "abstention_features.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


def _cell(v: Any) -> str:
    return f"{v[0]:.3f} [{v[1]:.3f}, {v[2]:.3f}]"


def pooled_table(
    title: str, command: str, runs: dict[str, np.ndarray], y: np.ndarray, art: np.ndarray, setup: np.ndarray
) -> list[str]:
    """A report's lines: ``title``, what ``command`` read, and a row per feature set of ``runs``
    (`evaluate` on the pooled set-ups: held-out with the tune threshold, at 90 % kept, leave one
    article out, and each set-up at its own 90 %), each row also printed as it comes."""
    names = list(dict.fromkeys(setup))
    lines = [
        title,
        "",
        f"{command} (benchmarks/hybrid.py's rankings): "
        f"{int(y.sum())} answerable and {int((1 - y).sum())} unanswerable questions. Target: >= 0.70 refused at "
        ">= 0.90 kept. 95 % bootstrap intervals.",
        "",
        "| features | held-out (12-23): kept, tune threshold | refused, tune threshold | refused at 90 % kept on 12-23 "
        "| all, leave one article out: refused at 90 % kept | " + " | ".join(f"{n}: refused at its own 90 %" for n in names) + " |",
        "|---|---|---|---|---|" + "---|" * len(names),
    ]
    for label, x in runs.items():
        r = evaluate(x, y, art, setup)
        lines.append(f"| {label} | {_cell(r['held_kept'])} | {_cell(r['held_refused'])} | {_cell(r['held_refused_at_90'])} | "
                     f"{_cell(r['all_refused'])} | " + " | ".join(f"{r['own_threshold'][n]:.3f}" for n in names) + " |")  # fmt: skip
        print(lines[-1], flush=True)
    return lines


if __name__ == "__main__":
    sys.exit(main())
